#!/usr/bin/python3
"""Plot make bench's JSON lines: per-packet cost (hits and misses of every
contestant; every frame kind of the large pinwall sets, log scale) and the
drop ladder (when its results are there).
Usage: bench/plot.py RESULTS_DIR OUT.png"""
import json
import sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

LARGE = ("pinwall@100k+100k", "pinwall@64ord+sets")
KINDS = ("hit", "miss", "miss-worst", "worst")


def lines(path):
    try:
        with open(path) as f:
            return [json.loads(l) for l in f if l.strip().startswith("{")]
    except FileNotFoundError:
        return []


def order(rows, key):
    seen = []
    for r in rows:
        if r[key] not in seen:
            seen.append(r[key])
    return seen


def bars(ax, rows, groups, gkey, series, skey):
    width = 0.8 / max(len(series), 1)
    for i, s in enumerate(series):
        ys = [next((r["ns_min"] for r in rows if r[skey] == s and r[gkey] == g), 0) for g in groups]
        ax.bar([x + i * width for x in range(len(groups))], ys, width, label=s)
    ax.set_xticks([x + 0.4 - width / 2 for x in range(len(groups))])
    ax.set_xticklabels(groups, rotation=45, ha="right", fontsize=8)
    ax.legend(fontsize=7)


def main():
    res, out = sys.argv[1], sys.argv[2]
    cost = lines(f"{res}/cost.jsonl")
    best = {}
    for r in lines(f"{res}/ladder.jsonl"):
        if r.get("measured") and r.get("processed_pps", 0) > best.get(r["contestant"], {}).get("processed_pps", -1):
            best[r["contestant"]] = r
    ladder = list(best.values())
    n = 3 if ladder else 2
    fig, axes = plt.subplots(1, n, figsize=(7 * n, 5.5))

    a = axes[0]
    typical = [r for r in cost if r["kind"] in ("hit", "miss")]
    bars(a, typical, sorted({r["frame"] for r in typical}), "frame", order(typical, "contestant"), "contestant")
    a.set_ylabel("ns per packet (BPF_PROG_TEST_RUN, min of rounds)")
    a.set_title("per-packet cost: hits and misses")

    b = axes[1]
    # grouped by family and transport ("v4-tcp"), one bar per contestant and kind
    large = [dict(r, group="-".join(r["frame"].split("-")[:2]), who=f'{r["contestant"]} {r["kind"]}')
             for r in cost if r["contestant"] in LARGE and r["kind"] in KINDS]
    series = [f"{c} {k}" for c in LARGE for k in KINDS
              if any(r["who"] == f"{c} {k}" for r in large)]
    bars(b, large, order(large, "group"), "group", series, "who")
    b.set_yscale("log")
    b.set_ylabel("ns per packet (log scale)")
    b.set_title("worst frames: most hash probes (worst = a constructed prefix chain)")

    if ladder:
        c = axes[2]
        names = [r["contestant"] for r in ladder]
        c.bar(names, [r["processed_pps"] / 1e6 for r in ladder], color="tab:green")
        c.set_ylabel("frames processed, Mpps (one receiver core)")
        c.set_title("drop ladder: 64-byte UDP flood, matching drop rule")
        c.tick_params(axis="x", rotation=30, labelsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=100)


if __name__ == "__main__":
    main()
