"""NUTS on a three-component mixture: wall time, compile time and ESS per second.

Setup (issue 4): d = 2, K = 3, full covariance, 4 chains, N = 1,000 and 100,000, with
chain_method "vectorized" and "sequential"; float64. Every configuration runs in a fresh
process, so that each pays its own compilation, as a user's first fit does.

- wall: seconds of ``run_nuts`` (EM start, compilation, warmup and sampling).
- compile: seconds JAX spent tracing, lowering and compiling (``jax.monitoring`` events), and
  the number of XLA compilations.
- ESS/s: bulk effective sample size of the relabelled means (the smallest over components and
  features, and the median) divided by the wall time.

Usage: python benchmarks/nuts.py [--num-warmup 500] [--num-samples 500] [--repeats 1]
"""

import argparse
import json
import subprocess
import sys

WORKER = r"""
import collections, json, sys, time
import jax
jax.config.update("jax_enable_x64", True)
import jax.monitoring
events = collections.Counter()
count = collections.Counter()
def listen(name, seconds, **kwargs):
    events[name] += seconds
    count[name] += 1
jax.monitoring.register_event_duration_secs_listener(listen)
import numpy as np
from numpyro.diagnostics import effective_sample_size
from bayesgmm.bayes import relabel, run_nuts

n, chain_method, num_warmup, num_samples = (int(sys.argv[1]), sys.argv[2], int(sys.argv[3]),
                                            int(sys.argv[4]))
rng = np.random.default_rng(0)
means = np.array([[0.0, 0.0], [4.0, 4.0], [-4.0, 4.0]])
labels = rng.choice(3, n, p=[0.3, 0.3, 0.4])
X = means[labels] + rng.normal(size=(n, 2)) @ np.array([[1.0, 0.3], [0.0, 0.8]])
start = time.perf_counter()
draws = run_nuts(jax.random.key(0), X, n_components=3, covariance_type="full",
                 num_warmup=num_warmup, num_samples=num_samples, num_chains=4,
                 chain_method=chain_method)
jax.block_until_ready(draws)
wall = time.perf_counter() - start
relabelled, _ = relabel(draws, "full")
ess = np.asarray(effective_sample_size(np.asarray(relabelled.params.means))).reshape(-1)
compile_s = sum(v for k, v in events.items() if k.startswith("/jax/core/compile/"))
print(json.dumps(dict(
    n=n, chain_method=chain_method, wall_s=wall, compile_s=compile_s,
    n_compiles=count["/jax/core/compile/backend_compile_duration"],
    ess_min=float(ess.min()), ess_median=float(np.median(ess)),
    ess_per_s_min=float(ess.min() / wall), ess_per_s_median=float(np.median(ess) / wall),
    divergences=int(np.asarray(draws.num_divergences).sum()))))
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-warmup", type=int, default=500)
    parser.add_argument("--num-samples", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 100_000])
    parser.add_argument("--chain-methods", nargs="+", default=["vectorized", "sequential"])
    args = parser.parse_args(argv)
    header = (f"{'N':>8} {'chain_method':>12} {'wall s':>8} {'compile s':>9} {'#comp':>6} "
              f"{'ESS min':>8} {'ESS/s min':>9} {'ESS/s med':>9} {'div':>4}")
    print(header)
    rows = []
    for n in args.sizes:
        for method in args.chain_methods:
            for _ in range(args.repeats):
                out = subprocess.run(
                    [sys.executable, "-c", WORKER, str(n), method, str(args.num_warmup),
                     str(args.num_samples)], capture_output=True, text=True, check=True)
                row = json.loads(out.stdout.strip().splitlines()[-1])
                rows.append(row)
                print(f"{n:>8} {method:>12} {row['wall_s']:>8.1f} {row['compile_s']:>9.1f} "
                      f"{row['n_compiles']:>6} {row['ess_min']:>8.0f} "
                      f"{row['ess_per_s_min']:>9.1f} {row['ess_per_s_median']:>9.1f} "
                      f"{row['divergences']:>4}", flush=True)
    return rows


if __name__ == "__main__":
    main()
