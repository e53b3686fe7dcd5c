"""Latency of small fits: a three-fit script in fresh processes, and refits in one process.

Issue 12's cases, each side on the same data (Old Faithful, 272 x 2):

1. ``script``: ``import`` + three small fits (K = 3 full with n_init = 10; K = 4 diag; K = 3 on
   the first 200 rows), each in a fresh interpreter, wall time of the whole process.
   bayesgmm runs it twice per repeat: first with an empty compilation cache folder (a new
   user's first run), then again with that folder (the repeat run, the library's defaults).
2. ``refit``: in one process, after a first fit, refits that change only N (271 rows),
   n_init (5) or max_iter (200): the time of each refit and how many programs it compiled.
3. ``shared``: what the program that scikit-learn's four types share on small data
   (``bayesgmm.em.shares_program``) costs at run time, at the largest sizes it serves
   (padded rows x padded K x d^2 = 2^20): warm diag and spherical fits (n_init = 10) in it,
   in the type's own program, and in scikit-learn, synthetic data, one process.

Usage: python benchmarks/latency.py [--repeats 5] [--part script refit shared] [--x64]
Prints medians of ``--repeats`` runs and ratios to scikit-learn.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

SCRIPT = """
import warnings
warnings.simplefilter("ignore")
{imports}
import numpy as np
X = np.loadtxt({path!r}, delimiter=",", skiprows=1)
GaussianMixture(3, n_init=10, random_state=0).fit(X)
GaussianMixture(4, covariance_type="diag", random_state=0).fit(X)
GaussianMixture(3, random_state=0).fit(X[:200])
"""


def _faithful_path():
    import bayesgmm.datasets
    return os.path.join(os.path.dirname(bayesgmm.datasets.__file__), "faithful.csv")


def _imports(which, x64):
    if which == "sklearn":
        return "from sklearn.mixture import GaussianMixture"
    x64_line = "import jax; jax.config.update('jax_enable_x64', True)\n" if x64 else ""
    return x64_line + "from bayesgmm import GaussianMixture"


def _wall(code, env):
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    return time.perf_counter() - start


def script(repeats, x64):
    path = _faithful_path()
    sk_code = SCRIPT.format(imports=_imports("sklearn", x64), path=path)
    ours_code = SCRIPT.format(imports=_imports("bayesgmm", x64), path=path)
    sk, first, repeat = [], [], []
    for _ in range(repeats):
        sk.append(_wall(sk_code, dict(os.environ)))
        with tempfile.TemporaryDirectory() as cache:
            env = dict(os.environ, BAYESGMM_CACHE_DIR=cache)
            first.append(_wall(ours_code, env))
            repeat.append(_wall(ours_code, env))
    sk, first, repeat = (statistics.median(t) for t in (sk, first, repeat))
    print(f"\n1. Three-fit script, fresh process, medians of {repeats} "
          f"({'float64' if x64 else 'default float32'} for bayesgmm):")
    print(f"   scikit-learn                      {sk:6.2f} s")
    for label, seconds in (("first run (empty cache)", first), ("repeat run", repeat)):
        print(f"   bayesgmm {label:<24} {seconds:6.2f} s  = {seconds / sk:.2f}x scikit-learn")


REFITS = {
    "N = 271": lambda X: (X[:271], {}),
    "n_init = 5": lambda X: (X, {"n_init": 5}),
    "max_iter = 200": lambda X: (X, {"max_iter": 200}),
    "N = 200, n_init = 3, max_iter = 50": lambda X: (X[:200], {"n_init": 3, "max_iter": 50}),
}


def refit(repeats, x64):
    import jax
    if x64:
        jax.config.update("jax_enable_x64", True)
    import numpy as np
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    from bayesgmm import GaussianMixture

    X = np.loadtxt(_faithful_path(), delimiter=",", skiprows=1)
    compiles = []
    jax.monitoring.register_event_duration_secs_listener(
        lambda event, duration, **kw: compiles.append(event)
        if event == "/jax/core/compile/backend_compile_duration" else None)
    GaussianMixture(3, random_state=0).fit(X)
    print(f"\n2. Refits after GaussianMixture(3).fit(faithful), one process, medians of "
          f"{repeats} ({'float64' if x64 else 'default float32'}):")
    for name, change in REFITS.items():
        data, params = change(X)
        times, n_compiles = [], []
        for r in range(repeats):
            before = len(compiles)
            start = time.perf_counter()
            GaussianMixture(3, random_state=r, **params).fit(data)
            times.append(time.perf_counter() - start)
            n_compiles.append(len(compiles) - before)
        sk = statistics.median(
            _time(lambda: SkGaussianMixture(3, random_state=r, **params).fit(data))
            for r in range(repeats))
        ours = statistics.median(times)
        print(f"   {name:<36} bayesgmm {ours * 1e3:7.1f} ms (first {times[0] * 1e3:7.1f} ms, "
              f"{n_compiles[0]} compilations)  scikit-learn {sk * 1e3:6.1f} ms  "
              f"ratio {ours / sk:.2f}")


SHARED_CASES = ((30_000, 2, 8), (16_000, 4, 4), (4_000, 8, 4), (1_000, 16, 4))  # N, d, K


def shared(repeats, x64):
    import jax
    if x64:
        jax.config.update("jax_enable_x64", True)
    import numpy as np
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    from bayesgmm import GaussianMixture, em

    limit = em.SHARED_PROGRAM_MAX_SIZE
    print(f"\n3. Warm fits (n_init = 10) in the shared program and in the type's own, medians of "
          f"{repeats} ({'float64' if x64 else 'default float32'}):")
    for n, d, k in SHARED_CASES:
        X = np.random.default_rng(0).normal(size=(n, d)) + np.repeat(
            np.arange(k), -(-n // k))[:n, None] * 3.0
        assert em.shares_program("diag", em.row_bucket(n), em.kmeans_bucket(k), d)
        for ctype in ("diag", "spherical"):
            def fit(r):
                return GaussianMixture(k, covariance_type=ctype, n_init=10,
                                       random_state=r).fit(X)
            times = {}
            for label, size in (("shared", limit), ("own", 0)):
                em.SHARED_PROGRAM_MAX_SIZE = size
                fit(0)  # compile
                times[label] = statistics.median(_time(lambda: fit(r)) for r in range(repeats))
            em.SHARED_PROGRAM_MAX_SIZE = limit
            sk = statistics.median(_time(lambda: SkGaussianMixture(
                k, covariance_type=ctype, n_init=10, random_state=r).fit(X))
                for r in range(repeats))
            print(f"   N = {n:>6}, d = {d:>2}, K = {k}, {ctype:<9}  shared "
                  f"{times['shared'] * 1e3:7.1f} ms  own {times['own'] * 1e3:7.1f} ms  "
                  f"(shared/own {times['shared'] / times['own']:.2f})  scikit-learn "
                  f"{sk * 1e3:7.1f} ms")


def _time(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--part", nargs="+", default=["script", "refit"],
                        choices=["script", "refit", "shared"])
    parser.add_argument("--x64", action="store_true", help="bayesgmm in float64")
    args = parser.parse_args()
    if "script" in args.part:
        script(args.repeats, args.x64)
    if "refit" in args.part:
        refit(args.repeats, args.x64)
    if "shared" in args.part:
        shared(args.repeats, args.x64)


if __name__ == "__main__":
    main()
