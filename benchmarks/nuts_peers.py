"""NUTS head to head: BayesianGMM against a hand-written NumPyro model and PyMC + nutpie.

The setting of issue 13: Old Faithful (272 x 2), K = 3, full covariance, the same priors on
every side (weights ~ Dirichlet(1); means ~ Normal(data mean, data range) per feature;
per-feature component scales ~ LogNormal(log data sd, 2); LKJ(2) correlations), 4 chains x
(1000 warmup + 1000 draws). Each fit runs in a fresh process, so that it pays its own
compilation as a user's first fit does; the wall time is the fit's (model building,
compilation, warmup, sampling; not the imports). ESS is the bulk effective sample size of the
total log-likelihood of every draw, which does not depend on the component labels, computed by
this script with the same code for every tool.

Tools:
- ``numpyro``: the model a user would write (``MixtureSameFamily``), NUTS, 4 chains with
  ``chain_method="parallel"`` over 4 host devices (``numpyro.set_host_device_count(4)``).
- ``bayesgmm``: ``BayesianGMM(3, method="nuts", num_chains=4, ...)`` in a process with one
  CPU device (JAX's default), and ``bayesgmm-4dev`` in a process started with 4 host devices
  (``XLA_FLAGS=--xla_force_host_platform_device_count=4``), as the NumPyro peer has. Each
  process also fits a second time (same shapes, another seed): ``second`` is that fit's wall.
- ``pymc``: PyMC's model compiled and sampled by nutpie (4 chains), in its own virtual
  environment (benchmark-only dependencies)::

      python3.12 -m venv /tmp/peers && /tmp/peers/bin/pip install pymc nutpie

  then pass ``--peers-python /tmp/peers/bin/python`` (skipped when absent).

Usage: python benchmarks/nuts_peers.py [--seeds 0 1 2] [--tools numpyro bayesgmm pymc]
Prints one row per run and the medians over seeds, with the ratios to the hand-written model.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
DATA = ROOT / "bayesgmm" / "datasets" / "faithful.csv"
K, NUM_WARMUP, NUM_SAMPLES, NUM_CHAINS = 3, 1000, 1000, 4

COMMON = r"""
import json, sys, time
import numpy as np
X = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1)
seed, out = int(sys.argv[2]), sys.argv[3]
K, NUM_WARMUP, NUM_SAMPLES, NUM_CHAINS = 3, 1000, 1000, 4
mean, data_range, sd = X.mean(0), np.ptp(X, 0), X.std(0)
"""

NUMPYRO = COMMON + r"""
import numpyro
numpyro.set_host_device_count(NUM_CHAINS)
import jax, jax.numpy as jnp
import numpyro.distributions as dist
from numpyro.infer import MCMC, NUTS

def model(X):
    d = X.shape[1]
    w = numpyro.sample("w", dist.Dirichlet(jnp.ones(K)))
    mu = numpyro.sample("mu", dist.Normal(mean, data_range).expand([K, d]).to_event(2))
    scale = numpyro.sample("scale", dist.LogNormal(jnp.log(sd), 2.0).expand([K, d]).to_event(2))
    corr = numpyro.sample("corr", dist.LKJCholesky(d, 2.0).expand([K]).to_event(1))
    tril = scale[..., None] * corr
    numpyro.sample("x", dist.MixtureSameFamily(
        dist.Categorical(w), dist.MultivariateNormal(mu, scale_tril=tril)), obs=X)

X32 = jnp.asarray(X, jnp.float32)
start = time.perf_counter()
mcmc = MCMC(NUTS(model), num_warmup=NUM_WARMUP, num_samples=NUM_SAMPLES,
            num_chains=NUM_CHAINS, chain_method="parallel", progress_bar=False)
mcmc.run(jax.random.key(seed), X32, extra_fields=("diverging",))
s = mcmc.get_samples(group_by_chain=True)
jax.block_until_ready(s)
wall = time.perf_counter() - start
tril = np.asarray(s["scale"])[..., None] * np.asarray(s["corr"])
np.savez(out, weights=s["w"], means=s["mu"], covariances=tril @ np.swapaxes(tril, -1, -2))
print(json.dumps({"wall": wall, "second": None,
                  "divergences": int(np.sum(mcmc.get_extra_fields()["diverging"]))}))
"""

BAYESGMM = COMMON + r"""
import jax
from bayesgmm import BayesianGMM

def fit(seed):
    start = time.perf_counter()
    model = BayesianGMM(K, covariance_type="full", method="nuts", num_chains=NUM_CHAINS,
                        num_warmup=NUM_WARMUP, num_samples=NUM_SAMPLES,
                        random_state=seed).fit(X.astype(np.float32))
    return model, time.perf_counter() - start

model, wall = fit(seed)
_, second = fit(seed + 1000)
params = model.draws_.params
from bayesgmm.params import covariances
cov = np.asarray(covariances(params, "full"))
np.savez(out, weights=params.weights, means=params.means, covariances=cov)
print(json.dumps({"wall": wall, "second": second,
                  "divergences": int(model.num_divergences_),
                  "chain_method": getattr(model, "chain_method_", None),
                  "devices": len(jax.devices())}))
"""

PYMC = COMMON + r"""
import pymc as pm
import nutpie

start = time.perf_counter()
with pm.Model() as pymc_model:
    w = pm.Dirichlet("w", a=np.ones(K))
    mu = pm.Normal("mu", mu=mean, sigma=data_range, shape=(K, X.shape[1]))
    components, chols = [], []
    for k in range(K):
        chol, _, _ = pm.LKJCholeskyCov(
            f"chol{k}", n=X.shape[1], eta=2.0, compute_corr=True,
            sd_dist=pm.LogNormal.dist(mu=np.log(sd), sigma=2.0, shape=X.shape[1]))
        components.append(pm.MvNormal.dist(mu=mu[k], chol=chol))
    pm.Mixture("x", w=w, comp_dists=components, observed=X)
compiled = nutpie.compile_pymc_model(pymc_model)
trace = nutpie.sample(compiled, draws=NUM_SAMPLES, tune=NUM_WARMUP, chains=NUM_CHAINS,
                      seed=seed, progress_bar=False)
wall = time.perf_counter() - start
post = trace.posterior
chol = np.stack([np.asarray(post[f"chol{k}"]) for k in range(K)], axis=2)
d = X.shape[1]
tril = np.zeros(chol.shape[:3] + (d, d))
tril[..., np.tril_indices(d)[0], np.tril_indices(d)[1]] = chol
stats = trace.sample_stats
print(json.dumps({"wall": wall, "second": None,
                  "divergences": int(np.sum(np.asarray(stats["diverging"])))}))
np.savez(out, weights=np.asarray(post["w"]), means=np.asarray(post["mu"]),
         covariances=tril @ np.swapaxes(tril, -1, -2))
"""


def total_log_likelihood(X, weights, means, covariances):
    """Total log-likelihood of every draw, shape (chain, draw): NumPy, the same for all tools."""
    chol = np.linalg.cholesky(covariances)                          # (c, s, K, d, d)
    diff = X[None, None, None] - means[..., None, :]                # (c, s, K, N, d)
    z = np.linalg.solve(chol, np.swapaxes(diff, -1, -2))            # (c, s, K, d, N)
    log_det = np.sum(np.log(np.diagonal(chol, axis1=-2, axis2=-1)), axis=-1)
    d = X.shape[1]
    log_comp = (-0.5 * np.sum(z ** 2, axis=-2) - log_det[..., None]
                - 0.5 * d * np.log(2 * np.pi))                       # (c, s, K, N)
    log_mix = np.log(weights)[..., None] + log_comp
    top = log_mix.max(axis=2, keepdims=True)
    per_row = top[:, :, 0] + np.log(np.exp(log_mix - top).sum(axis=2))
    return per_row.sum(axis=-1)


def run(tool, seed, peers_python):
    script = {"numpyro": NUMPYRO, "bayesgmm": BAYESGMM, "bayesgmm-4dev": BAYESGMM,
              "pymc": PYMC}[tool]
    python = peers_python if tool == "pymc" else sys.executable
    env = dict(os.environ)
    if tool == "bayesgmm-4dev":
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "")
                            + f" --xla_force_host_platform_device_count={NUM_CHAINS}").strip()
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "draws.npz"
        proc = subprocess.run([python, "-c", script, str(DATA), str(seed), str(out)],
                              capture_output=True, text=True, env=env, cwd=ROOT)
        if proc.returncode != 0:
            raise RuntimeError(f"{tool} failed:\n{proc.stderr[-3000:]}")
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        draws = dict(np.load(out))
    from numpyro.diagnostics import effective_sample_size
    X = np.loadtxt(DATA, delimiter=",", skiprows=1)
    log_lik = total_log_likelihood(X, draws["weights"], draws["means"], draws["covariances"])
    row["ess"] = float(effective_sample_size(log_lik))
    row["ess_per_s"] = row["ess"] / row["wall"]
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--tools", nargs="+",
                        default=["numpyro", "bayesgmm", "bayesgmm-4dev", "pymc"])
    parser.add_argument("--peers-python", default="/tmp/peers/bin/python",
                        help="a Python with pymc and nutpie installed")
    args = parser.parse_args(argv)
    tools = [t for t in args.tools
             if t != "pymc" or pathlib.Path(args.peers_python).exists()]
    print(f"{'tool':>14} {'seed':>4} {'wall s':>7} {'2nd s':>6} {'ESS':>6} {'ESS/s':>6} "
          f"{'div':>4}")
    rows = {tool: [] for tool in tools}
    for seed in args.seeds:  # tools interleaved, so that machine load hits them alike
        for tool in tools:
            row = run(tool, seed, args.peers_python)
            rows[tool].append(row)
            second = "-" if row["second"] is None else f"{row['second']:.1f}"
            print(f"{tool:>14} {seed:>4} {row['wall']:>7.1f} {second:>6} {row['ess']:>6.0f} "
                  f"{row['ess_per_s']:>6.1f} {row['divergences']:>4}", flush=True)
    print("\nmedians over seeds (ratios: the hand-written NumPyro model's wall / the tool's, "
          "the tool's ESS/s / NumPyro's)")
    med = {tool: {key: float(np.median([r[key] for r in rs]))
                  for key in ("wall", "ess", "ess_per_s")} for tool, rs in rows.items()}
    for tool, m in med.items():
        line = f"{tool:>14} wall {m['wall']:6.1f} s  ESS/s {m['ess_per_s']:6.1f}"
        seconds = [r["second"] for r in rows[tool] if r["second"] is not None]
        if seconds:
            line += f"  second fit {np.median(seconds):5.1f} s ({m['wall'] / np.median(seconds):.1f}x)"
        if "numpyro" in med:
            line += (f"  speed vs numpyro {med['numpyro']['wall'] / m['wall']:.2f}x, "
                     f"ESS/s vs numpyro {m['ess_per_s'] / med['numpyro']['ess_per_s']:.2f}x")
        print(line)
    return med


if __name__ == "__main__":
    main()
