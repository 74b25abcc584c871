"""Recall@10 vs single-thread QPS for Cairn and its peers, from one session's
outputs: the JSON lines of ../shared/tools/ann_peers.py and the text output
of `cairn-ann-bench`.

    /tmp/venv/bin/pip install matplotlib
    /tmp/venv/bin/python research/plot_ann.py --peers peers.jsonl [more.jsonl ...] \
        --cairn cairn-ann.txt --out research/ann-glove50.png
"""

import argparse
import json
import re
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def peer_curves(paths):
    curves = defaultdict(list)
    for line in (ln for path in paths for ln in open(path)):
        if True:
            line = line.strip()
            if not line.startswith("{"):
                continue
            r = json.loads(line)
            if r.get("phase") != "search" or r.get("lib", "").startswith("flat"):
                continue
            curves[r["lib"]].append((r["recall"], r["qps_median"], r["ef"]))
    # Several rounds: keep the best QPS per (lib, ef).
    out = {}
    for lib, pts in curves.items():
        best = {}
        for rec, qps, ef in pts:
            if ef not in best or qps > best[ef][1]:
                best[ef] = (rec, qps)
        out[lib] = [best[ef] for ef in sorted(best)]
    return out


LINE = re.compile(r"^(mode=(?P<mode>\w+) )?(phase=\S+ )?ef=(?P<ef>\d+) recall@10=(?P<r>[\d.]+) qps=(?P<q>\d+)")


def cairn_curves(path):
    curves = defaultdict(list)
    with open(path) as f:
        for line in f:
            if line.startswith("phase=") or "selectivity" in line:
                continue
            m = LINE.match(line.strip())
            if m:
                name = "cairn (SQL)" if m.group("mode") == "sql" else "cairn (API)"
                curves[name].append((float(m.group("r")), float(m.group("q"))))
    return curves


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--peers", required=True, nargs="+")
    ap.add_argument("--cairn", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--title", default="GloVe-6B-50d, 399k x 50, cosine, M=16, efC=200, 1 search thread")
    a = ap.parse_args()
    fig, ax = plt.subplots(figsize=(8, 5.5))
    for lib, pts in sorted(peer_curves(a.peers).items()):
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "o--", label=lib, alpha=0.8)
    for lib, pts in sorted(cairn_curves(a.cairn).items()):
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "s-", label=lib, linewidth=2)
    ax.set_yscale("log")
    ax.set_xlabel("recall@10")
    ax.set_ylabel("queries per second (log)")
    ax.axvline(0.95, color="grey", linewidth=0.8, linestyle=":")
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(a.title, fontsize=10)
    ax.legend()
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)


if __name__ == "__main__":
    main()
