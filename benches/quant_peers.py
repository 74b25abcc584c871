#!/usr/bin/env python3
"""Quantized-ANN peers for Cairn's quantized HNSW: recall@k / single-thread QPS / memory per vector.

Same conventions as ../shared/tools/ann_peers.py (dataset layout, recall@k, JSON lines with
phase build/search, qps_median, medians over --reps), but focused on quantized indexes.
Every peer runs in its own child process (clean RSS accounting); the driver prints every JSON
line to stdout (and appends it to --out if given), progress to stderr.

Dataset: DIR/base.f32, DIR/query.f32 (little-endian float32, row-major, D columns),
DIR/groundtruth.i32 (exact neighbour ids, by inner product). Vectors are unit length, so
cosine = inner product, and L2 ranks exactly like inner product (|x-q|^2 = 2 - 2<x,q>).

Peers (M = --m, ef_construction = --efc, build on --build-threads threads, search on 1 thread):
  hnswlib                     hnswlib.Index(space='ip'), f32, random_seed=100
  faiss_hnsw_sq8              faiss.IndexHNSWSQ(d, QT_8bit, M, METRIC_INNER_PRODUCT), trained on the base set
  faiss_hnsw_rabitq           faiss.IndexHNSWRaBitQ(d, M, nb_bits=--rabitq-bits, METRIC_L2). faiss 1.15.1
                              refuses any metric but L2 for this class (L2 = IP ranking on unit vectors).
                              The graph is built from the compressed codes; the query is quantized to
                              qb bits (storage.qb, faiss default 4; --qb overrides; qb=0 = fp32 query,
                              which is ~20-40x slower). nb_bits >= 2 switches faiss to its staged
                              RaBitQ search (HNSW.search_method = SM_RABITQ).
  faiss_hnsw_rabitq_refine    the same inside faiss.IndexRefineFlat (exact f32 re-rank of
                              base_k = k * --k-factor candidates). faiss HNSW keeps
                              max(efSearch, base_k) candidates but stops after efSearch, so
                              ef < base_k still searches less than ef = base_k (not clamped).
  (all faiss HNSW peers: efSearch = max(ef, k), as in ann_peers.py; reported as efSearch)
  faiss_ivf_rabitq_fs_refine  faiss.IndexIVFRaBitQFastScan(IndexFlat quantizer, d, nlist, metric,
                              bbs=32, nb_bits=--rabitq-bits) inside faiss.IndexRefineFlat(k_factor).
                              nlist = --nlist, default 2^round(log2(4*sqrt(n))) (1024 for n = 100k).
                              The ef sweep becomes an nprobe sweep: --nprobe LIST if given, else
                              nprobe = ef (clamped to nlist). Query bits qb: faiss default 8.
                              Metric --ivf-metric l2 (default; better recall than ip with the
                              residual codes, same ranking on unit vectors) or ip.
  usearch_i8                  usearch Index(metric='cos', dtype='i8') (usearch scales unit vectors to int8).
  usearch_b1                  usearch Index(metric='hamming', dtype='b1'). usearch b1 takes only
                              bit-packed uint8 rows (ndim/8 bytes; float or bool rows fail with
                              "The number of vector dimensions doesn't match!"), so we binarize
                              ourselves: bit = x > 0 (or x > mean(base) with --b1-center), np.packbits,
                              queries the same way. Bitwise metrics are hamming, tanimoto, sorensen
                              (sorensen has no SIMD kernel: 10x slower); usearch also accepts ip and
                              cos with b1 but they return nonsense (cos: recall 0).
  usearch_b1_refine           usearch_b1 searched for k * --k-factor candidates, then re-ranked
                              exactly against the f32 base in numpy (timed, inside the QPS).

Output: one build line {"lib", "phase": "build", "build_s", "build_cpu_s", "bytes_per_vector",
"bytes_source", "rss_delta_mb", library settings...}, then one search line per knob value
{"lib", "phase": "search", "ef", "recall", "qps_median", "qps_all", "cpu_qps_all", ...}: hnswlib and
usearch add ef_effective (the ef really set: max(ef, k), or max(ef, k*k_factor) for
usearch_b1_refine, which asks usearch for k*k_factor hits); faiss HNSW adds efSearch and base_k; the IVF peer
has "knob": "nprobe", "nprobe" and "ef" = the same value. Warm-up: one search pass at the first
knob value before any timing; QPS = 1000 queries in one call on 1 thread, median over --reps.
Non-default settings get their own lib name (the plot keys curves by lib): _b<bits>, _qb<qb>,
_ip, _kf<k_factor>, _centered; --tag NAME overrides.

Memory: every build line has rss_delta_mb (VmRSS after build - before build, after the dataset
is loaded) and bytes_per_vector with bytes_source saying where it comes from:
  faiss: len(faiss.serialize_index(index)) / n  (for *_refine also base_bytes_per_vector = the
         quantized index without the f32 refine store),
  usearch: index.memory_usage / n (what usearch allocated, including the slack of its capacity,
         which grows in powers of two: 131072 slots for n = 100k; above the RSS delta for i8); serialized_bytes_per_vector =
         index.serialized_length / n is the tight size; usearch_b1_refine adds 4*dim for the f32
         re-rank vectors (base_bytes_per_vector without them),
  hnswlib: its documented layout, exact from the index state: size_data_per_element * n
         (4*dim vector + 4 + 4*2M level-0 links + 8 label) + bytes of the upper-layer link lists
         + 4 (element level) + 8 (link-list pointer) per element; the label hash map and the
         per-element mutexes are not counted.

usage:
  /tmp/venv/bin/python benches/quant_peers.py --data /tmp/data/minilm384-dev --dim 384 \\
      [--peers hnswlib,faiss_hnsw_sq8,...] [--ef 10,20,40,80,160,320] [--reps 3] \\
      [--build-threads 2] [--m 16] [--efc 200] [--k 10] [--k-factor 4] [--nprobe 4,8,16,32,64] \\
      [--out results.jsonl]
  one peer only, in this process:  ... --worker faiss_hnsw_rabitq
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

SEARCH_ENV = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                                "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")}
ALL_PEERS = ["hnswlib", "faiss_hnsw_sq8", "faiss_hnsw_rabitq", "faiss_hnsw_rabitq_refine",
             "faiss_ivf_rabitq_fs_refine", "usearch_i8", "usearch_b1", "usearch_b1_refine"]


def emit(obj):
    print(json.dumps(obj), flush=True)


def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def load(data, dim):
    import numpy as np
    base = np.fromfile(os.path.join(data, "base.f32"), dtype="<f4").reshape(-1, dim)
    query = np.fromfile(os.path.join(data, "query.f32"), dtype="<f4").reshape(-1, dim)
    gt = np.fromfile(os.path.join(data, "groundtruth.i32"), dtype="<i4").reshape(query.shape[0], -1)
    return np.ascontiguousarray(base), np.ascontiguousarray(query), gt


def recall_at_k(ids, gt, k):
    hits = 0
    for row, truth in zip(ids, gt[:, :k]):
        hits += len(set(int(x) for x in row[:k]) & set(int(x) for x in truth))
    return hits / (gt.shape[0] * k)


def default_nlist(n):
    return max(1, 2 ** round(math.log2(4 * math.sqrt(n))))


# ----------------------------------------------------------------------------- peers
# Each builder returns (search(knob) -> (labels, extra search-line fields), build-line fields,
# measure() -> memory fields for the build line; called after the RSS reading).

def build_hnswlib(args, base):
    import numpy as np
    import hnswlib
    n, d = base.shape
    index = hnswlib.Index(space="ip", dim=d)
    index.init_index(max_elements=n, ef_construction=args.efc, M=args.m, random_seed=100)
    index.set_num_threads(args.build_threads)
    index.add_items(base, np.arange(n), num_threads=args.build_threads)
    index.set_num_threads(1)
    k = args.k

    def search(ef):
        index.set_ef(max(ef, k))
        labels, _ = index.knn_query(args.query, k=k, num_threads=1)
        return labels, {"ef_effective": max(ef, k)}

    def layout_bytes():
        st = index.__getstate__()[0]  # copies the index once; called after the RSS reading
        total = (st["size_data_per_element"] * st["cur_element_count"] + len(st["link_lists"])
                 + (4 + 8) * st["cur_element_count"])
        return {"bytes_per_vector": total / n,
                "bytes_source": "hnswlib layout: size_data_per_element*n + upper-layer links + 12 B/element",
                "size_data_per_element": int(st["size_data_per_element"]),
                "upper_link_bytes_per_vector": len(st["link_lists"]) / n, "max_level": int(st["max_level"])}
    info = {"lib_version": getattr(hnswlib, "__version__", "0.8.0"), "metric": "ip"}
    return search, info, layout_bytes


def build_faiss(args, base):
    import faiss
    n, d = base.shape
    lib = args.worker
    k = args.k
    faiss.omp_set_num_threads(args.build_threads)
    info = {"lib_version": faiss.__version__}
    refine = lib.endswith("_refine")
    inner = None
    if lib == "faiss_hnsw_sq8":
        index = faiss.IndexHNSWSQ(d, faiss.ScalarQuantizer.QT_8bit, args.m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = args.efc
        hnsw = index
        info.update(metric="ip", quantizer="QT_8bit")
    elif lib in ("faiss_hnsw_rabitq", "faiss_hnsw_rabitq_refine"):
        # faiss 1.15.1: "IndexHNSWRaBitQ supports only the L2 metric".
        hnsw = faiss.IndexHNSWRaBitQ(d, args.m, args.rabitq_bits, faiss.METRIC_L2)
        hnsw.hnsw.efConstruction = args.efc
        storage = faiss.downcast_index(hnsw.storage)
        if args.qb >= 0:
            storage.qb = args.qb
        inner = hnsw
        index = faiss.IndexRefineFlat(hnsw) if refine else hnsw
        info.update(metric="l2", nb_bits=args.rabitq_bits, qb=int(storage.qb),
                    code_size=int(storage.code_size))
    elif lib == "faiss_ivf_rabitq_fs_refine":
        metric = faiss.METRIC_L2 if args.ivf_metric == "l2" else faiss.METRIC_INNER_PRODUCT
        nlist = args.nlist or default_nlist(n)
        quantizer = faiss.IndexFlat(d, metric)
        ivf = faiss.IndexIVFRaBitQFastScan(quantizer, d, nlist, metric, 32, True, args.rabitq_bits)
        ivf.own_fields = True
        quantizer.this.disown()  # the IVF index frees its quantizer
        if args.qb >= 0:
            ivf.qb = args.qb
        inner = ivf
        hnsw = None
        index = faiss.IndexRefineFlat(ivf)
        info.update(metric=args.ivf_metric, nlist=nlist, nb_bits=args.rabitq_bits, qb=int(ivf.qb),
                    bbs=int(ivf.bbs), by_residual=bool(ivf.by_residual), code_size=int(ivf.code_size))
    else:
        raise SystemExit(f"unknown faiss peer {lib}")
    if refine:
        index.k_factor = float(args.k_factor)
        info["k_factor"] = args.k_factor
    if not index.is_trained:
        index.train(base)
    index.add(base)
    faiss.omp_set_num_threads(1)

    if lib == "faiss_ivf_rabitq_fs_refine":
        nlist = inner.nlist

        def search(ef):
            nprobe = min(ef, nlist)  # the knob: --nprobe values, or else nprobe = ef
            inner.nprobe = nprobe
            _, labels = index.search(args.query, k)
            return labels, {"nprobe": nprobe, "knob": "nprobe"}
    else:
        kk = int(k * args.k_factor) if refine else k

        def search(ef):
            # faiss sizes the candidate heap max(efSearch, k') (k' = k * k_factor under the refine)
            # but stops on efSearch, so efSearch < k' is NOT the same as efSearch = k' (lower
            # recall); like ann_peers.py we set efSearch = max(ef, k) and report k'.
            hnsw.hnsw.efSearch = max(ef, k)
            _, labels = index.search(args.query, k)
            return labels, {"efSearch": max(ef, k), "base_k": kk}

    def lib_bytes():
        o = {"bytes_per_vector": int(faiss.serialize_index(index).nbytes) / n,
             "bytes_source": "faiss.serialize_index nbytes / n"}
        if refine:  # the quantized index alone, without the f32 refine store
            o["base_bytes_per_vector"] = int(faiss.serialize_index(inner).nbytes) / n
        return o
    return search, info, lib_bytes


def build_usearch(args, base):
    import numpy as np
    import usearch
    from usearch.index import Index
    n, d = base.shape
    lib = args.worker
    k = args.k
    info = {"lib_version": usearch.__version__}
    if lib == "usearch_i8":
        index = Index(ndim=d, metric="cos", dtype="i8", connectivity=args.m, expansion_add=args.efc,
                      expansion_search=64)
        index.add(np.arange(n), base, threads=args.build_threads)
        q = args.query
        info.update(metric="cos")
    else:
        thr = base.mean(axis=0) if args.b1_center else 0.0
        bits = np.packbits(base > thr, axis=1)
        q = np.packbits(args.query > thr, axis=1)
        index = Index(ndim=d, metric="hamming", dtype="b1", connectivity=args.m, expansion_add=args.efc,
                      expansion_search=64)
        index.add(np.arange(n), bits, threads=args.build_threads)
        del bits
        info.update(metric="hamming", binarize="x > mean(base)" if args.b1_center else "x > 0")
    info["simd"] = str(index.hardware_acceleration)
    info["dtype"] = str(index.dtype)
    refine = lib.endswith("_refine")
    kk = int(k * args.k_factor) if refine else k
    if refine:
        info["k_factor"] = args.k_factor
        info["refine"] = "numpy exact inner product over k*k_factor candidates (timed)"

    def search(ef):
        index.expansion_search = max(ef, kk)
        keys = index.search(q, kk, threads=1).keys
        if refine:
            cand = keys.astype(np.int64)
            cand[cand < 0] = 0  # (fewer than kk hits: never happens at these sizes)
            scores = np.einsum("qkd,qd->qk", base[cand], args.query)
            order = np.argsort(-scores, axis=1)[:, :k]
            keys = np.take_along_axis(cand, order, axis=1)
        return keys, {"ef_effective": max(ef, kk)}

    def lib_bytes():
        own = index.memory_usage / n
        o = {"bytes_per_vector": own + (4 * d if refine else 0),
             "bytes_source": "usearch memory_usage / n" + (" + 4*dim f32 re-rank vectors" if refine else ""),
             "serialized_bytes_per_vector": int(index.serialized_length) / n,
             "capacity": int(index.capacity)}
        if refine:  # the f32 re-rank vectors are the loaded dataset: not in rss_delta_mb
            o["base_bytes_per_vector"] = own
        return o
    return search, info, lib_bytes


def worker(args):
    import numpy as np
    lib = args.worker
    base, query, gt = load(args.data, args.dim)
    args.query = query
    n, d = base.shape
    k = args.k
    info = {"lib": lib, "phase": "build", "n": n, "dim": d, "m": args.m, "efc": args.efc,
            "build_threads": args.build_threads}
    # non-default RaBitQ settings get their own curve name (the plot keys curves by lib)
    if "rabitq" in lib and args.rabitq_bits != 1:
        lib = f"{lib}_b{args.rabitq_bits}"
    if "rabitq" in lib and args.qb >= 0:
        lib = f"{lib}_qb{args.qb}"
    if lib.startswith("faiss_ivf") and args.ivf_metric != "l2":
        lib = f"{lib}_{args.ivf_metric}"
    if lib.endswith("_refine") and args.k_factor != 4.0:
        lib = f"{lib}_kf{args.k_factor:g}"
    if args.worker.startswith("usearch_b1") and args.b1_center:
        lib = f"{lib}_centered"
    info["lib"] = lib
    if args.tag:
        info["lib"] = lib = args.tag
    # import the library before the first RSS reading, so rss_delta_mb is the index only
    __import__({"hnswlib": "hnswlib"}.get(args.worker, args.worker.split("_")[0]))
    rss0 = rss_mb()
    t0, c0 = time.perf_counter(), time.process_time()
    if args.worker == "hnswlib":
        search, extra, measure = build_hnswlib(args, base)
    elif args.worker.startswith("faiss_"):
        search, extra, measure = build_faiss(args, base)
    elif args.worker.startswith("usearch_"):
        search, extra, measure = build_usearch(args, base)
    else:
        raise SystemExit(f"unknown peer {args.worker}")
    info["build_s"] = time.perf_counter() - t0
    info["build_cpu_s"] = time.process_time() - c0
    rss1 = rss_mb()
    info.update(extra)
    info.update(rss_before_mb=rss0, rss_after_mb=rss1, rss_delta_mb=rss1 - rss0)
    info.update(measure())
    emit(info)

    search(args.efs[0])  # warm-up
    for ef in args.efs:
        qps, cqps, rec, more = [], [], None, {}
        for _ in range(args.reps):
            t, c = time.perf_counter(), time.process_time()
            labels, more = search(ef)
            el, cel = time.perf_counter() - t, time.process_time() - c
            qps.append(query.shape[0] / el)
            cqps.append(query.shape[0] / max(cel, 1e-9))
            rec = recall_at_k(np.asarray(labels), gt, k)
        rec_line = {"lib": lib, "phase": "search", "ef": ef}
        rec_line.update(more)
        rec_line.update({"k": k, "recall": rec, "qps_median": float(np.median(qps)), "qps_all": qps,
                         "cpu_qps_all": cqps, "search_threads": 1})
        emit(rec_line)


# ----------------------------------------------------------------------------- driver
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--dim", type=int, required=True)
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--efc", type=int, default=200)
    ap.add_argument("--ef", default="10,20,40,80,160,320")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--build-threads", type=int, default=2)
    ap.add_argument("--peers", default=",".join(ALL_PEERS))
    ap.add_argument("--k-factor", type=float, default=4.0,
                    help="refine variants: candidates = k * k_factor (default 4)")
    ap.add_argument("--nprobe", default=None,
                    help="IVF peer: sweep these nprobe values instead of nprobe = each --ef value")
    ap.add_argument("--nlist", type=int, default=0, help="IVF peer: lists (default 2^round(log2(4 sqrt n)))")
    ap.add_argument("--ivf-metric", choices=("l2", "ip"), default="l2")
    ap.add_argument("--rabitq-bits", type=int, default=1, help="faiss RaBitQ nb_bits (default 1)")
    ap.add_argument("--qb", type=int, default=-1,
                    help="faiss RaBitQ query bits (default: faiss's own: 4 for HNSW, 8 for IVF fast-scan)")
    ap.add_argument("--b1-center", action="store_true", help="usearch_b1: binarize x > mean(base) instead of x > 0")
    ap.add_argument("--tag", default=None, help="worker: override the lib name in the output")
    ap.add_argument("--out", default=None, help="also append the JSON lines to this file")
    ap.add_argument("--timeout", type=int, default=3600)
    ap.add_argument("--worker", help="run one peer in this process")
    args = ap.parse_args()
    args.efs = [int(x) for x in args.ef.split(",")]
    if args.worker:
        if args.worker == "faiss_ivf_rabitq_fs_refine" and args.nprobe:
            args.efs = [int(x) for x in args.nprobe.split(",")]  # the sweep is over nprobe
        return worker(args)

    env = dict(os.environ, **SEARCH_ENV)
    me = [sys.executable, os.path.abspath(__file__)] + [a for a in sys.argv[1:]]
    # drop the driver-only options from the child command line
    clean, skip = [], False
    for a in me:
        if skip:
            skip = False
            continue
        if a in ("--peers", "--out", "--timeout"):
            skip = True
            continue
        if a.startswith(("--peers=", "--out=", "--timeout=")):
            continue
        clean.append(a)
    out = open(args.out, "a") if args.out else None
    rc = 0
    for p in args.peers.split(","):
        print(f"[{time.strftime('%H:%M:%S')}] {p} load {os.getloadavg()[0]:.2f}", file=sys.stderr, flush=True)
        t = time.time()
        try:
            proc = subprocess.run(clean + ["--worker", p], env=env, capture_output=True, text=True,
                                  timeout=args.timeout)
            stdout, stderr, code = proc.stdout, proc.stderr, proc.returncode
        except subprocess.TimeoutExpired as e:
            stdout = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
            stderr, code = f"timeout after {args.timeout} s", -1
        lines = [ln.strip() for ln in stdout.splitlines() if ln.strip().startswith("{")]
        if code != 0:
            rc = 1
            lines.append(json.dumps({"lib": p, "phase": "error", "rc": code, "stderr": stderr[-2000:]}))
        for ln in lines:
            print(ln, flush=True)
            if out:
                out.write(ln + "\n")
                out.flush()
        print(f"    {p}: {len(lines)} lines in {time.time() - t:.0f} s, rc {code}", file=sys.stderr, flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
