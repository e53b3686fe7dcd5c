"""mclust's whole model sweep: bayesgmm against R's mclust, on the same data, in one run.

The sweep is mclust's default ``mclustBIC(X)``: the 14 covariance models (E and V in 1-D),
K = 1..9, hierarchical start (hcVVV on the SVD coordinates, a 2000-row subset for larger N),
EM stopped by the relative change 1e-5 of the log-likelihood. bayesgmm runs the same sweep:
``bic_sweep(key, X, covariance_types=MCLUST_MODELS, init_params="hc", tol="mclust")``.

Timed, each as the median of ``--repeats`` runs:

- cold: a fresh interpreter per run, up to the end of the first sweep (bayesgmm: import,
  tracing and XLA compilation of the programs, with the persistent compilation cache off,
  ``BAYESGMM_CACHE_DIR=off``; mclust: R's start and library(mclust));
- warm: the same sweep again in the same process (bayesgmm: compiled programs reused).

R runs through ``Rscript`` in a subprocess when it is installed (``apt-get install
r-base-core r-cran-mclust``); without it only bayesgmm's side is printed. Both sides print
their chosen model and its BIC (scikit-learn's sign). The machines are shared and noisy: read
the ratios, not the absolute times.

``--models four``: the four models both tools share (VII, VVI, EEE, VVV; bayesgmm's spherical,
diag, tied, full) with each tool's own single start: mclust's hc partition, bayesgmm's
scikit-learn defaults (one k-means start, tol 1e-3).

Usage: python benchmarks/mclust_sweep.py [--n-samples N] [--n-features D] [--repeats R]
                                         [--skip-large] [--skip-faithful] [--models four]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np

R_SCRIPT = textwrap.dedent("""
    args <- commandArgs(trailingOnly = TRUE)
    start <- proc.time()[["elapsed"]]
    suppressMessages(library(mclust))
    X <- as.matrix(read.csv(args[1]))
    if (ncol(X) == 1) X <- drop(X)
    repeats <- as.integer(args[2])
    times <- numeric(repeats)
    for (r in seq_len(repeats)) {
      t0 <- proc.time()[["elapsed"]]
      set.seed(0)
      if (args[3] == "all") bic <- mclustBIC(X, G = 1:9, verbose = FALSE)
      else bic <- mclustBIC(X, G = 1:9, modelNames = strsplit(args[3], ",")[[1]],
                            verbose = FALSE)
      times[r] <- proc.time()[["elapsed"]] - t0
      if (r == 1) first <- proc.time()[["elapsed"]] - start
    }
    best <- summary(bic, X)
    cat(sprintf('{"first": %.6f, "times": [%s], "model": "%s", "K": %d, "bic": %.6f}\\n',
                first, paste(sprintf("%.6f", times), collapse = ", "), best$modelName,
                best$G, -best$bic))
""")

BAYESGMM_SCRIPT = textwrap.dedent("""
    import json, sys, time
    start = time.perf_counter()
    import jax
    jax.config.update("jax_enable_x64", True)
    import numpy as np
    import bayesgmm
    X = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1, ndmin=2)
    repeats = int(sys.argv[2])
    if sys.argv[3] == "all":
        options = dict(covariance_types=bayesgmm.MCLUST_MODELS if X.shape[1] > 1
                       else bayesgmm.MCLUST_MODELS_1D, init_params="hc", tol="mclust")
    else:
        options = dict(covariance_types=sys.argv[3].split(","))
    times = []
    for r in range(repeats):
        t0 = time.perf_counter()
        result = bayesgmm.bic_sweep(jax.random.key(0), X, **options)
        times.append(time.perf_counter() - t0)
        if r == 0:
            first = time.perf_counter() - start
    print(json.dumps({"first": first, "times": times, "model": result.best_covariance_type,
                      "K": result.best_n_components,
                      "bic": float(result.table["bic"][result.best_index])}))
""")


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_json(command):
    # From the repository root, so that the bayesgmm of this checkout is the one imported;
    # without bayesgmm's persistent compilation cache, so that cold means compiling.
    out = subprocess.run(command, capture_output=True, text=True, check=True, cwd=REPO,
                         env=dict(os.environ, BAYESGMM_CACHE_DIR="off"))
    return json.loads(out.stdout.strip().splitlines()[-1])


FOUR = {"mclust": "VII,VVI,EEE,VVV", "bayesgmm": "spherical,diag,tied,full"}


def bench(path, repeats, rscript, models="all"):
    """Cold (fresh process, first sweep) and warm (later sweeps in that process) medians."""
    sides = {"bayesgmm": [sys.executable, "-c", BAYESGMM_SCRIPT, path]}
    if rscript:
        script = os.path.join(os.path.dirname(path), "sweep.R")
        with open(script, "w") as f:
            f.write(R_SCRIPT)
        sides["mclust"] = [rscript, script, path]
    out = {}
    for name, command in sides.items():
        cold, warm = [], []
        for _ in range(repeats):
            res = run_json(command + [str(2), models if models == "all" else FOUR[name]])
            cold.append(res["first"])
            warm.append(res["times"][1])
        out[name] = dict(cold=statistics.median(cold), warm=statistics.median(warm),
                         model=res["model"], K=res["K"], bic=res["bic"])
    return out


def report(label, out):
    print(f"\n{label}")
    for name, r in out.items():
        print(f"  {name:9s} cold {r['cold']:8.2f} s   warm {r['warm']:8.2f} s   chooses "
              f"{r['model']}, K = {r['K']}, BIC {r['bic']:.3f}")
    if "mclust" in out:
        b, m = out["bayesgmm"], out["mclust"]
        print(f"  ratio bayesgmm / mclust: cold {b['cold'] / m['cold']:.2f}, "
              f"warm {b['warm'] / m['warm']:.2f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=100_000)
    parser.add_argument("--n-features", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-large", action="store_true",
                        help="only Old Faithful")
    parser.add_argument("--skip-faithful", action="store_true",
                        help="only the large synthetic data")
    parser.add_argument("--models", choices=["all", "four"], default="all",
                        help="mclust's 14 models, or the four both tools share")
    args = parser.parse_args(argv)
    rscript = shutil.which("Rscript")
    if rscript is None:
        print("Rscript not found: bayesgmm's side only (apt-get install r-base-core "
              "r-cran-mclust for the comparison)")
    from bayesgmm import datasets
    label = "14 models" if args.models == "all" else "4 models (VII, VVI, EEE, VVV)"
    with tempfile.TemporaryDirectory() as tmp:
        faithful = os.path.join(tmp, "faithful.csv")
        np.savetxt(faithful, datasets.load("faithful").data, delimiter=",",
                   header="eruptions,waiting", comments="")
        if not args.skip_faithful:
            report(f"Old Faithful (N = 272, d = 2), {label} x K = 1..9",
                   bench(faithful, args.repeats, rscript, args.models))
        if not args.skip_large:
            rng = np.random.default_rng(0)
            n, d = args.n_samples, args.n_features
            centres = rng.normal(scale=3.0, size=(4, d))
            X = centres[rng.integers(0, 4, n)] + rng.normal(size=(n, d))
            large = os.path.join(tmp, "large.csv")
            np.savetxt(large, X, delimiter=",", header=",".join(f"x{i}" for i in range(d)),
                       comments="")
            report(f"Four Gaussian clusters (N = {n}, d = {d}), {label} x K = 1..9",
                   bench(large, args.repeats, rscript, args.models))


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"\n(benchmark ran {time.perf_counter() - start:.0f} s)")
