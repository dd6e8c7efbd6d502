#!/usr/bin/python3
"""Plot make bench's JSON lines: per-packet cost and the drop ladder.
Usage: bench/plot.py RESULTS_DIR OUT.png"""
import json
import sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt


def lines(path):
    try:
        with open(path) as f:
            return [json.loads(l) for l in f if l.strip().startswith("{")]
    except FileNotFoundError:
        return []


def main():
    res, out = sys.argv[1], sys.argv[2]
    cost = [r for r in lines(f"{res}/cost.jsonl") if "miss-worst" not in r["frame"]]
    best = {}
    for r in lines(f"{res}/ladder.jsonl"):
        if r.get("measured") and r.get("processed_pps", 0) > best.get(r["contestant"], {}).get("processed_pps", -1):
            best[r["contestant"]] = r
    ladder = list(best.values())
    fig, (a, b) = plt.subplots(1, 2, figsize=(14, 5))

    frames = sorted({r["frame"] for r in cost})
    who = []
    for r in cost:
        if r["contestant"] not in who:
            who.append(r["contestant"])
    width = 0.8 / max(len(who), 1)
    for i, c in enumerate(who):
        ys = [next((r["ns_min"] for r in cost if r["contestant"] == c and r["frame"] == f), 0)
              for f in frames]
        a.bar([x + i * width for x in range(len(frames))], ys, width, label=c)
    a.set_xticks([x + 0.4 - width / 2 for x in range(len(frames))])
    a.set_xticklabels(frames, rotation=45, ha="right", fontsize=8)
    a.set_ylabel("ns per packet (BPF_PROG_TEST_RUN, min of rounds)")
    a.set_title("per-packet cost")
    a.legend(fontsize=7)

    names = [r["contestant"] for r in ladder]
    b.bar(names, [r["processed_pps"] / 1e6 for r in ladder], color="tab:green")
    b.set_ylabel("frames processed, Mpps (one receiver core)")
    b.set_title("drop ladder: 64-byte UDP flood, matching drop rule")
    b.tick_params(axis="x", rotation=30, labelsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    main()
