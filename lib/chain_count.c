// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Counting a chained program's verdicts. A tail call never returns to
 * pinwall, and fexit (like every trampoline program) is refused by the
 * kernels pinwall runs on (docs/CHAINING.md), so the count is made by the
 * chained program itself: before libbpf relocates it, each exit of its
 * main function becomes a jump to an epilogue appended after that
 * function, which adds one to the per-CPU slot of the verdict in
 * pw_chain_stats and returns the verdict unchanged. Subprograms are
 * appended by libbpf after the epilogue and keep their own exits.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"

#define EPILOGUE_LEN 15

static struct bpf_insn insn(__u8 code, __u8 dst, __u8 src, __s16 off, __s32 imm)
{
	return (struct bpf_insn){ .code = code, .dst_reg = dst, .src_reg = src, .off = off,
				  .imm = imm };
}

/* r6 = verdict; slot = min(verdict, PW_CHAIN_VERDICTS - 1); stats[slot]++;
 * return r6. The frame is ending: r1-r9 and the stack word used are free. */
static void epilogue(struct bpf_insn *e, int stats_fd)
{
	int i = 0;

	e[i++] = insn(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_6, BPF_REG_0, 0, 0);
	e[i++] = insn(BPF_ALU | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_0, 0, 0);
	e[i++] = insn(BPF_JMP32 | BPF_JLE | BPF_K, BPF_REG_1, 0, 1, PW_CHAIN_VERDICTS - 1);
	e[i++] = insn(BPF_ALU | BPF_MOV | BPF_K, BPF_REG_1, 0, 0, PW_CHAIN_VERDICTS - 1);
	e[i++] = insn(BPF_STX | BPF_MEM | BPF_W, BPF_REG_10, BPF_REG_1, -4, 0);
	e[i++] = insn(BPF_LD | BPF_DW | BPF_IMM, BPF_REG_1, BPF_PSEUDO_MAP_FD, 0, stats_fd);
	e[i++] = insn(0, 0, 0, 0, 0);
	e[i++] = insn(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_2, BPF_REG_10, 0, 0);
	e[i++] = insn(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_2, 0, 0, -4);
	e[i++] = insn(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem);
	e[i++] = insn(BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_0, 0, 3, 0);
	e[i++] = insn(BPF_LDX | BPF_MEM | BPF_DW, BPF_REG_1, BPF_REG_0, 0, 0);
	e[i++] = insn(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_1, 0, 0, 1);
	e[i++] = insn(BPF_STX | BPF_MEM | BPF_DW, BPF_REG_0, BPF_REG_1, 0, 0);
	e[i++] = insn(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_0, BPF_REG_6, 0, 0);
	/* the exit is the 16th: EPILOGUE_LEN counts the instructions before it */
}

int pw_chain_count_insns(struct pw_ctx *ctx, struct bpf_program *prog, int stats_fd)
{
	size_t n = bpf_program__insn_cnt(prog), total = n + EPILOGUE_LEN + 1;
	const struct bpf_insn *old = bpf_program__insns(prog);
	struct bpf_insn *ni;
	int err;

	if (!old || !n || total > 32767)
		return pw_fail(ctx, E2BIG, "program '%s' is too large to count its verdicts (%zu instructions)",
			       bpf_program__name(prog), n);
	ni = calloc(total, sizeof(*ni));
	if (!ni)
		return pw_fail(ctx, ENOMEM, "out of memory");
	memcpy(ni, old, n * sizeof(*ni));
	for (size_t i = 0; i < n; i++) {
		if (ni[i].code != (BPF_JMP | BPF_EXIT))
			continue;
		ni[i] = insn(BPF_JMP | BPF_JA, 0, 0, (__s16)(n - i - 1), 0);
	}
	epilogue(ni + n, stats_fd);
	ni[n + EPILOGUE_LEN] = insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	err = bpf_program__set_insns(prog, ni, total);
	free(ni);
	if (err)
		return pw_fail(ctx, err, "cannot add the verdict count to program '%s': %s",
			       bpf_program__name(prog), strerror(-err));
	return 0;
}
