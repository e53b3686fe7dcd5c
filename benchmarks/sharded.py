"""Sharded EM: scaling of one compiled EM iteration from 1 to 2 (or more) CPU devices.

Each device count runs in a fresh interpreter with
``XLA_FLAGS=--xla_force_host_platform_device_count=D`` (the device count is fixed when JAX
starts). Every run fits the same data (default N = 1,000,000, d = 16, K = 8, full, float32)
from the same initial parameters with ``fit_em(..., devices=jax.devices())`` and ``tol = 0``;
the time per iteration is ``(t(max_iter = 1 + R) - t(max_iter = 1)) / R`` after compilation,
median of ``--repeats``. Prints the times, the speed-up over one device, and the lower bounds
(which must agree).

Forced host devices split one process's CPU threads: the speed-up is bounded by the cores
XLA's per-device work could not already use (one EM chunk loop is largely single-threaded on
CPU), and on a loaded machine by what the other jobs leave.

Usage: python benchmarks/sharded.py [--devices 1 2] [--n-samples N] [--repeats R]
"""

import argparse
import json
import os
import subprocess
import sys

CHILD = """
import json, statistics, sys, time
import jax
import numpy as np
from bayesgmm import em
n, d, K, iters, repeats = (int(a) for a in sys.argv[1:6])
rng = np.random.default_rng(0)
centres = (rng.normal(scale=4.0, size=(K, d)) + 100.0).astype(np.float32)
X = centres[rng.integers(0, K, n)] + rng.standard_normal((n, d), dtype=np.float32)
start = dict(weights_init=np.full(K, 1.0 / K, np.float32), means_init=centres + 0.5,
             precisions_init=np.broadcast_to(np.eye(d, dtype=np.float32), (K, d, d)).copy())
devices = jax.devices()
X = em.shard_rows(X, None, *em.sample_mesh(None, devices))[0]


def fit(max_iter):
    return em.fit_em(jax.random.key(0), X, n_components=K, tol=0.0, max_iter=max_iter,
                     devices=devices, **start).lower_bound.block_until_ready()


fit(1), fit(1 + iters)  # compile
per_iter = []
for _ in range(repeats):
    t0 = time.perf_counter(); fit(1); t1 = time.perf_counter()
    bound = fit(1 + iters); t2 = time.perf_counter()
    per_iter.append(((t2 - t1) - (t1 - t0)) / iters)
print("RESULT" + json.dumps(dict(devices=len(devices), per_iter=statistics.median(per_iter),
                                 all=per_iter, lower_bound=float(bound))))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--n-samples", type=int, default=1_000_000)
    parser.add_argument("--n-features", type=int, default=16)
    parser.add_argument("--n-components", type=int, default=8)
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print("load average:", os.getloadavg(), flush=True)
    results = {}
    for count in args.devices:
        env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={count}",
                   JAX_PLATFORMS="cpu")
        proc = subprocess.run([sys.executable, "-c", CHILD, str(args.n_samples),
                               str(args.n_features), str(args.n_components), str(args.iters),
                               str(args.repeats)], env=env, capture_output=True, text=True)
        if proc.returncode:
            print(proc.stderr[-3000:])
            raise SystemExit(f"the run with {count} devices failed")
        line = [s for s in proc.stdout.splitlines() if s.startswith("RESULT")][-1]
        results[count] = json.loads(line[len("RESULT"):])
        r = results[count]
        print(f"{count} device(s): {1e3 * r['per_iter']:7.0f} ms per iteration (median of "
              f"{args.repeats}: {[round(1e3 * t) for t in r['all']]}), lower bound "
              f"{r['lower_bound']:.6f}", flush=True)
    base = results[args.devices[0]]["per_iter"]
    for count, r in results.items():
        print(f"{count} device(s): speed-up {base / r['per_iter']:.2f}x over "
              f"{args.devices[0]} device(s)")
    print(f"(N = {args.n_samples}, d = {args.n_features}, K = {args.n_components}, full, "
          f"float32; load average after: {os.getloadavg()})")


if __name__ == "__main__":
    main()
