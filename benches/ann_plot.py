#!/usr/bin/env python3
"""Recall@10 vs single-thread QPS curves of Cairn and its ANN peers: a PNG and a text table.

Inputs (any number, any mix):
  * JSON lines from benches/quant_peers.py (or ../shared/tools/ann_peers.py): every
    {"phase": "search", "lib": L, "recall": R, "qps_median": Q, "ef": E} line is a point of curve L;
    the {"phase": "build"} line gives build_s and bytes_per_vector. With --name FILE=NAME the
    curves of that file are called NAME/L. The same (curve, ef) seen twice (rounds, several files)
    becomes one point: median recall, median QPS.
  * Text output of Cairn's benches (cairn-ann-bench, the cairn-vector `ann` example): every line
    with ef=N (or nprobe=N), recall@K=R (or recall=R) and qps=Q is a point, e.g.
        ef=40 recall@10=0.9540 qps=8029
        mode=sql ef=40 recall@10=0.9512 qps=7011 sql/api=0.873
    The words before ef= are a label: the curve is "NAME LABEL" (for mode=X / phase=X / label=X
    the label is X), else NAME. NAME is --name FILE=NAME, or else the file's stem. Any other
    key=value is kept as curve metadata (build_s, bytes_per_vector, hot_bytes_per_vector, ...;
    the last value seen wins) and shown in the table.

Outputs:
  * --out PNG: recall@10 on x, QPS on a log y axis, one curve per name (Cairn curves solid,
    peers dashed), dashed vertical lines at the targets (0.95 and 0.99).
  * stdout: for each curve, the QPS at each target, interpolated between the two points that
    bracket the target with log(QPS) linear in recall; "≥ Q (lower bound)" when every point is
    already above the target (Q = the QPS of the lowest-recall point); "n/a (max recall X)" when no
    point reaches it; and the ratio to the --ref curve (default hnswlib).

usage:
  /tmp/venv/bin/python benches/ann_plot.py peers.jsonl cairn-sq8.txt cairn-rabitq.txt \\
      --name cairn-sq8.txt=cairn_sq8 --ref hnswlib --out plot.png [--title "..."] [--targets 0.95,0.99] \\
      [--annotate]
"""
import argparse
import json
import math
import os
import re
import statistics as st
import sys
from collections import OrderedDict

KV = re.compile(r"^([^\s=]+)=(\S+)$")
LABEL_KEYS = ("mode", "phase", "label", "lib", "name")
KNOB_KEYS = ("ef", "nprobe")


def num(v):
    try:
        return float(v.rstrip(",;)"))
    except ValueError:
        return None


class Curve:
    def __init__(self, name, cairn):
        self.name = name
        self.cairn = cairn
        self.raw = OrderedDict()  # knob -> ([recall], [qps])
        self.meta = {}

    def add(self, knob, recall, qps):
        r, q = self.raw.setdefault(knob, ([], []))
        r.append(recall)
        q.append(qps)

    def points(self):
        """[(recall, qps, knob)] sorted by recall, then by QPS descending."""
        pts = [(st.median(r), st.median(q), kn) for kn, (r, q) in self.raw.items()]
        return sorted(pts, key=lambda p: (p[0], -p[1]))


def read_json(path, prefix, curves):
    found = False
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                continue
            found = True
            lib = r.get("lib")
            if r.get("phase") == "error":
                print(f"warning: {path}: {lib} failed: {str(r.get('stderr', ''))[-300:]}", file=sys.stderr)
                continue
            if lib is None:
                continue
            name = f"{prefix}/{lib}" if prefix else lib
            c = curves.setdefault(name, Curve(name, cairn=False))
            if r.get("phase") == "search" and "recall" in r and ("qps_median" in r or "qps" in r):
                knob = r.get("ef", r.get("nprobe", len(c.raw)))
                c.add(knob, float(r["recall"]), float(r.get("qps_median", r.get("qps"))))
            elif r.get("phase") == "build":
                for key in ("build_s", "bytes_per_vector", "base_bytes_per_vector", "rss_delta_mb"):
                    if key in r:
                        c.meta[key] = r[key]
    return found


def read_text(path, name, curves):
    order = []
    with open(path) as f:
        for line in f:
            toks = line.split()
            kv = [(i, KV.match(t)) for i, t in enumerate(toks)]
            keys = {m.group(1): m.group(2) for _, m in kv if m}
            knob_i = next((i for i, m in kv if m and m.group(1) in KNOB_KEYS), None)
            rec_key = next((k for k in keys if k == "recall" or k.startswith("recall@")), None)
            if knob_i is not None and rec_key and "qps" in keys and num(keys["qps"]) is not None:
                label = []
                for t in toks[:knob_i]:
                    m = KV.match(t)
                    label.append(m.group(2) if m and m.group(1) in LABEL_KEYS else t)
                cname = " ".join([name] + label)
                c = curves.get(cname)
                if c is None:
                    c = curves[cname] = Curve(cname, cairn=True)
                    order.append(c)
                c.add(num(kv[knob_i][1].group(2)), num(keys[rec_key]), num(keys["qps"]))
                continue
            for k, v in keys.items():  # any other key=value: metadata of the file's curves
                x = num(v)
                meta_of_file[name][k] = x if x is not None else v
    return order


meta_of_file = {}


def qps_at(points, target):
    """(value, kind): kind 'interp' | 'lower' (every point above target) | 'na' (max recall)."""
    if not points:
        return None, "na"
    if points[0][0] >= target:
        return points[0][1], "exact" if points[0][0] == target else "lower"
    for (r0, q0, _), (r1, q1, _) in zip(points, points[1:]):
        if r0 < target <= r1:
            f = (target - r0) / (r1 - r0)
            return math.exp(math.log(q0) + f * (math.log(q1) - math.log(q0))), "interp"
    return points[-1][0], "na"


def fmt_qps(v, kind):
    if kind == "na":
        return f"n/a (max recall {v:.4f})"
    if kind == "lower":
        return f"lower bound ≥ {v:,.0f}"
    return f"{v:,.0f}"


def fmt_ratio(a, ref):
    (v, kind), (rv, rkind) = a, ref
    if kind == "na" or rkind in ("na", None) or rv is None:
        return "—"
    x = v / rv
    if kind == "lower" and rkind == "lower":
        return "?"
    if kind == "lower":
        return f"≥ {x:.2f}×"
    if rkind == "lower":
        return f"≤ {x:.2f}×"
    return f"{x:.2f}×"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+")
    ap.add_argument("--name", action="append", default=[], metavar="FILE=NAME",
                    help="curve name for FILE (a Cairn text file) or name prefix (a JSON file)")
    ap.add_argument("--ref", default="hnswlib", help="reference curve for the ratios")
    ap.add_argument("--out", default="plot.png")
    ap.add_argument("--title", default="recall@10 vs single-thread QPS")
    ap.add_argument("--targets", default="0.95,0.99")
    ap.add_argument("--annotate", action="store_true", help="write the ef / nprobe value next to each point")
    a = ap.parse_args()
    targets = [float(t) for t in a.targets.split(",")]
    names = {}
    for spec in a.name:
        f, _, n = spec.rpartition("=")
        if not f:
            ap.error(f"--name wants FILE=NAME, got {spec!r}")
        names[os.path.abspath(f)] = n
        names[f] = n

    curves = OrderedDict()
    for path in a.files:
        given = names.get(path, names.get(os.path.abspath(path)))
        if read_json(path, given, curves):
            continue
        name = given or os.path.splitext(os.path.basename(path))[0]
        meta_of_file.setdefault(name, {})
        made = read_text(path, name, curves)
        if not made:
            print(f"warning: no ef=/recall=/qps= lines in {path}", file=sys.stderr)
        for c in made:
            c.meta = meta_of_file[name]
    curves = OrderedDict((k, c) for k, c in curves.items() if c.raw)
    if not curves:
        sys.exit("no curves found")

    # --- plot
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(9, 6))
    palette = list(plt.get_cmap("tab10").colors) + list(plt.get_cmap("Dark2").colors)
    for i, c in enumerate(curves.values()):
        pts = sorted(c.points(), key=lambda p: (p[2] if isinstance(p[2], (int, float)) else 0, p[0]))
        style = dict(linestyle="-", marker="s", linewidth=2.2) if c.cairn else \
            dict(linestyle="--", marker="o", linewidth=1.3, alpha=0.85)
        color = palette[i % len(palette)]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], label=c.name, color=color, **style)
        if a.annotate:
            for r, q, kn in pts:
                ax.annotate(f"{kn:g}" if isinstance(kn, (int, float)) else str(kn), (r, q), fontsize=6,
                            color=color, xytext=(3, 3), textcoords="offset points")
    for t in targets:
        ax.axvline(t, color="grey", linewidth=1.0, linestyle="--")
    ax.set_yscale("log")
    ax.set_xlabel("recall@10")
    ax.set_ylabel("queries per second, 1 thread (log)")
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(a.title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)

    # --- table
    ref = curves.get(a.ref)
    ref_at = {t: qps_at(ref.points(), t) if ref else (None, None) for t in targets}
    hdr = ["curve", "points", "max recall"]
    for t in targets:
        hdr += [f"QPS@{t:g}", f"vs {a.ref}"]
    hdr += ["build_s", "bytes/vec", "hot bytes/vec"]
    rows = []
    for c in curves.values():
        pts = c.points()
        row = [c.name, str(len(pts)), f"{max(p[0] for p in pts):.4f}"]
        for t in targets:
            v = qps_at(pts, t)
            row += [fmt_qps(*v), fmt_ratio(v, ref_at[t]) if ref else "—"]
        m = c.meta

        def g(key):
            x = m.get(key)
            return "" if x is None else (f"{x:.1f}" if isinstance(x, float) else str(x))
        hot = m.get("hot_bytes_per_vector", m.get("base_bytes_per_vector"))
        row += [g("build_s"), g("bytes_per_vector"),
                "" if hot is None else (f"{hot:.1f}" if isinstance(hot, float) else str(hot))]
        rows.append(row)
    print("| " + " | ".join(hdr) + " |")
    print("|" + "---|" * len(hdr))
    for r in rows:
        print("| " + " | ".join(r) + " |")
    if not ref:
        print(f"(reference curve {a.ref!r} not found: ratios left out)")
    print("QPS@target: log(QPS) interpolated linearly in recall between the two bracketing points; "
          "hot bytes/vec = Cairn's hot_bytes_per_vector, or a peer's quantized index without its f32 re-rank store.")
    print(f"wrote {a.out}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
