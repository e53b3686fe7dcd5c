"""Out-of-core EM (bayesgmm.outofcore): peak memory on a file larger than memory allows, and
time per pass against the in-memory fit.

Two parts (pick with --part):

``compare``: a float32 data set that fits in memory (default N = 2,000,000, d = 16, K = 8,
full), the same initial parameters, ``tol = 0``: the time of one EM iteration of the compiled
in-memory ``fit_em`` and of one pass of ``fit_em_chunks`` over the same rows served from
memory (``array_chunks``) and from a ``.npy`` file (``npy_chunks``). Per-iteration time is
``(t(max_iter = 1 + R) - t(max_iter = 1)) / R``, so compilation, the first survey pass and
the initialisation cancel; medians over ``--repeats``.

``rss``: writes a float32 ``.npy`` file of ``--gigabytes`` GB (default 20; d = 16) into a new
folder under ``--dir`` (deleted afterwards), then fits it out of core in a fresh interpreter
(``--max-iter`` passes, default 2) and reports that interpreter's peak resident set size
(``ru_maxrss``), the survey pass and the time per EM pass.

Usage: python benchmarks/outofcore.py [--part compare|rss|both] [--gigabytes G] [--dir /tmp]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

N_FEATURES = 16


def make_block(rng, centres, n):
    labels = rng.integers(0, len(centres), n)
    X = rng.standard_normal((n, centres.shape[1]), dtype=np.float32)
    X += centres[labels]
    return X


def write_npy(path, n_rows, n_features, seed=0, block=1 << 20):
    """A C-ordered float32 .npy written by plain file writes (no memory map)."""
    rng = np.random.default_rng(seed)
    centres = (rng.normal(scale=4.0, size=(8, n_features)) + 100.0).astype(np.float32)
    # The file repeats one simulated block: drawing 20 GB of fresh normal numbers took far
    # longer than the fit on the shared 2-core machine, and repeated rows serve as well for
    # memory and time per pass (EM on them is EM with integer weights).
    data = make_block(rng, centres, min(block, n_rows))
    with open(path, "wb") as f:
        np.lib.format.write_array_header_2_0(
            f, {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)),
                "fortran_order": False, "shape": (n_rows, n_features)})
        done = 0
        while done < n_rows:
            n = min(block, n_rows - done)
            data[:n].tofile(f)
            done += n
    return centres


def start_params(centres, n_features):
    K = len(centres)
    return dict(weights_init=np.full(K, 1.0 / K, np.float32),
                means_init=centres + 0.5,
                precisions_init=np.broadcast_to(np.eye(n_features, dtype=np.float32),
                                                (K, n_features, n_features)).copy())


def compare(args):
    import jax

    from bayesgmm import em, outofcore
    rng = np.random.default_rng(0)
    centres = (rng.normal(scale=4.0, size=(args.n_components, N_FEATURES)) + 100.0
               ).astype(np.float32)
    X = make_block(rng, centres, args.n_samples)
    start = start_params(centres, N_FEATURES)
    key = jax.random.key(0)
    tmp = tempfile.mkdtemp(prefix="bayesgmm-ooc-", dir=args.dir)
    try:
        path = os.path.join(tmp, "x.npy")
        np.save(path, X)

        def in_memory(max_iter):
            return em.fit_em(key, X, n_components=args.n_components, tol=0.0,
                             max_iter=max_iter, **start).lower_bound.block_until_ready()

        def out_of_core(source):
            def run(max_iter):
                return outofcore.fit_em_chunks(key, source, n_components=args.n_components,
                                               tol=0.0, max_iter=max_iter, progress=False,
                                               **start).lower_bound
            return run

        rows = {}
        for name, fit in (("in-memory fit_em", in_memory),
                          ("out-of-core, array_chunks", out_of_core(
                              outofcore.array_chunks(X, rows=1 << 16))),
                          ("out-of-core, npy_chunks", out_of_core(outofcore.npy_chunks(path)))):
            fit(1)
            fit(1 + args.iters)  # compile both loop lengths (fit_em: max_iter is static)
            per_iter = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                fit(1)
                t1 = time.perf_counter()
                fit(1 + args.iters)
                t2 = time.perf_counter()
                per_iter.append(((t2 - t1) - (t1 - t0)) / args.iters)
            rows[name] = statistics.median(per_iter)
            print(f"{name:28s} {1e3 * rows[name]:8.0f} ms per iteration (median of "
                  f"{args.repeats})", flush=True)
        base = rows["in-memory fit_em"]
        for name, t in rows.items():
            print(f"{name:28s} ratio to in-memory {t / base:5.2f}")
        print(f"(N = {args.n_samples}, d = {N_FEATURES}, K = {args.n_components}, full, "
              f"float32, {X.nbytes / 2**30:.2f} GiB)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


CHILD = """
import json, resource, sys, time
import numpy as np
import jax
from bayesgmm import outofcore
path, K, max_iter, covariance_type = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
reader = outofcore.npy_chunks(path)
starts = []  # the chunk source is called once per pass: its call times mark the passes


def source():
    starts.append(time.perf_counter())
    return reader()


t0 = time.perf_counter()
result = outofcore.fit_em_chunks(jax.random.key(0), source, n_components=K,
                                 covariance_type=covariance_type, max_iter=max_iter, tol=0.0,
                                 progress=True)
end = time.perf_counter()
marks = starts + [end]
print("RESULT" + json.dumps(dict(
    total_s=end - t0, pass_s=[b - a for a, b in zip(marks[:-1], marks[1:])],
    n_iter=int(result.n_iter), lower_bounds=np.asarray(result.lower_bounds).tolist(),
    peak_rss_gib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20)))
"""


def rss(args):
    n_rows = int(args.gigabytes * 1e9) // (4 * N_FEATURES)
    tmp = tempfile.mkdtemp(prefix="bayesgmm-ooc-rss-", dir=args.dir)
    try:
        path = os.path.join(tmp, "big.npy")
        t0 = time.perf_counter()
        write_npy(path, n_rows, N_FEATURES)
        size = os.path.getsize(path)
        print(f"wrote {size / 1e9:.1f} GB ({n_rows} rows x {N_FEATURES} float32) in "
              f"{time.perf_counter() - t0:.0f} s", flush=True)
        print("load before fit:", os.getloadavg(), flush=True)
        proc = subprocess.run([sys.executable, "-c", CHILD, path, str(args.n_components),
                               str(args.max_iter), args.covariance_type],
                              capture_output=True, text=True)
        if proc.returncode:
            print(proc.stderr[-3000:])
            raise SystemExit("the out-of-core fit failed")
        line = [s for s in proc.stdout.splitlines() if s.startswith("RESULT")][-1]
        fit = json.loads(line[len("RESULT"):])
        survey, passes = fit["pass_s"][0], fit["pass_s"][1:]
        per_pass = statistics.median(passes)
        print(f"file {size / 1e9:.1f} GB, K = {args.n_components}, {args.covariance_type}, "
              f"float32: total {fit['total_s']:.0f} s; survey pass + init {survey:.0f} s; "
              f"EM passes {[round(t) for t in passes]} s, median {per_pass:.0f} s "
              f"({size / 1e9 / per_pass:.3f} GB/s); peak RSS {fit['peak_rss_gib']:.2f} GiB; "
              f"lower bounds {fit['lower_bounds']}")
        print("load after fit:", os.getloadavg())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=("compare", "rss", "both"), default="both")
    parser.add_argument("--n-samples", type=int, default=2_000_000)
    parser.add_argument("--n-components", type=int, default=8)
    parser.add_argument("--iters", type=int, default=3, help="timed iterations (compare)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--gigabytes", type=float, default=20.0)
    parser.add_argument("--max-iter", type=int, default=2, help="EM passes (rss)")
    parser.add_argument("--covariance-type", default="diag", help="(rss)")
    parser.add_argument("--dir", default=tempfile.gettempdir(),
                        help="where the temporary folder with the data file goes")
    args = parser.parse_args()
    if args.part in ("compare", "both"):
        compare(args)
    if args.part in ("rss", "both"):
        rss(args)


if __name__ == "__main__":
    main()
