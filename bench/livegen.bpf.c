// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * livegen's XDP program, run by BPF_PROG_RUN with BPF_F_TEST_XDP_LIVE_FRAMES:
 * every run redirects the frame out of tx_ifindex (set by user space before
 * load), so the kernel transmits it for real (on a veth: into the peer's
 * receive ring).
 *
 * With sport_range > 1 the UDP source port of the frame cycles through
 * sport_base .. sport_base + sport_range - 1, one step per frame, and the UDP
 * checksum is updated incrementally (RFC 1624) from whatever port the frame
 * holds now: live-mode pages are recycled and may keep an earlier run's
 * rewrite, so the program never assumes the original value.
 *
 * The frame is the one livegen builds: Ethernet + IPv4 without options + UDP.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

const volatile __u32 tx_ifindex = 0;
const volatile __u32 sport_base = 0;	/* host order */
const volatile __u32 sport_range = 0;	/* 0 or 1: the port is left alone */

/* next port offset; livegen runs on one CPU, so one plain counter will do */
__u32 next_off = 0;

#define L2_LEN 14
#define L3_LEN 20

static __always_inline __u16 csum_fold(__u32 s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)s;
}

SEC("xdp")
int livegen_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct udphdr *udp = data + L2_LEN + L3_LEN;
	__u16 old, new;
	__u32 off, s;

	if (sport_range > 1 && (void *)(udp + 1) <= data_end) {
		off = next_off;
		if (off >= sport_range)
			off = 0;
		next_off = off + 1;

		old = udp->source;
		new = bpf_htons((__u16)(sport_base + off));
		udp->source = new;
		if (udp->check) {	/* 0: no checksum, stays 0 */
			s = (__u16)~udp->check;
			s += (__u16)~old;
			s += new;
			new = (__u16)~csum_fold(s);
			udp->check = new ?: 0xffff;
		}
	}
	return bpf_redirect(tx_ifindex, 0);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
