"""One Gaussian mixture fitted on data spread over several hosts, with jax.distributed.

Every host (process) runs this same script. Each one

1. joins the cluster with ``jax.distributed.initialize``, from the environment:
   ``BAYESGMM_COORDINATOR`` (``host:port`` of process 0), ``BAYESGMM_NUM_PROCESSES`` and
   ``BAYESGMM_PROCESS_ID``. With one process (the default, no coordinator) the call is
   skipped, so the script also runs as it is on one machine;
2. loads only its own slice of the rows: rows ``[start, stop)`` of ``--data`` (a ``.npy``
   file every host can read; ``np.load(..., mmap_mode="r")`` reads just that slice), or of
   a synthetic data set when no file is given;
3. pads its slice to the common per-process row count with zero rows of weight zero (the
   global row count must split evenly over the devices; zero-weight rows change nothing);
4. makes the global arrays with ``jax.make_array_from_process_local_data`` on a mesh of all
   devices of all hosts, rows sharded over the mesh axis ``"samples"``;
5. calls ``bayesgmm.em.fit_em`` on them. ``fit_em`` sees a ``NamedSharding`` with a sharded
   sample axis and runs each EM pass on every device's own rows, summing the statistics
   across all devices (``psum``) inside one compiled program. The k-means initialisation
   needs all rows: it runs on the rows gathered onto every device. For data too large for
   that, give ``weights_init``/``means_init``/``precisions_init`` (say from a fit on a
   sample) and no row ever leaves its host.

Two processes on one machine, for a try (each gets its own CPU device)::

    BAYESGMM_COORDINATOR=localhost:12355 BAYESGMM_NUM_PROCESSES=2 BAYESGMM_PROCESS_ID=0 \\
        python examples/multihost.py &
    BAYESGMM_COORDINATOR=localhost:12355 BAYESGMM_NUM_PROCESSES=2 BAYESGMM_PROCESS_ID=1 \\
        python examples/multihost.py

Usage: python examples/multihost.py [--data X.npy] [--n-samples N] [--n-components K]
                                    [--seed S] [--out DIR]
"""

import argparse
import json
import os

import jax
import numpy as np


def join_cluster():
    """``jax.distributed.initialize`` from the environment; skipped for a single process.
    Must run before anything else touches JAX's devices."""
    num_processes = int(os.environ.get("BAYESGMM_NUM_PROCESSES", "1"))
    coordinator = os.environ.get("BAYESGMM_COORDINATOR")
    if num_processes > 1 or coordinator:
        if not coordinator:
            raise SystemExit("BAYESGMM_NUM_PROCESSES > 1 needs BAYESGMM_COORDINATOR=host:port")
        jax.distributed.initialize(coordinator_address=coordinator,
                                   num_processes=num_processes,
                                   process_id=int(os.environ["BAYESGMM_PROCESS_ID"]))


def synthetic_data(n_samples, seed):
    """A stand-in for a data set on shared storage: every process can produce any row range."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [6.0, 1.0], [2.0, 7.0]])
    labels = rng.integers(0, len(centres), n_samples)
    return centres[labels] + rng.normal(size=(n_samples, 2))


def main(args):
    join_cluster()
    from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

    from bayesgmm import em

    if args.data:
        rows = np.load(args.data, mmap_mode="r")  # maps the file; only our slice is read
    else:
        rows = synthetic_data(args.n_samples, args.seed)
    n_samples = rows.shape[0]

    # Rows split evenly over processes, each process's share padded to the same length.
    n_proc, proc = jax.process_count(), jax.process_index()
    n_devices = jax.device_count()
    per_process = -(-n_samples // n_devices) * (n_devices // n_proc)
    start, stop = min(proc * per_process, n_samples), min((proc + 1) * per_process, n_samples)
    local = np.zeros((per_process, rows.shape[1]))
    local[:stop - start] = rows[start:stop]
    local_weight = np.zeros(per_process)
    local_weight[:stop - start] = 1.0  # padding rows weigh nothing

    mesh = Mesh(np.array(jax.devices()), ("samples",))
    X = jax.make_array_from_process_local_data(NamedSharding(mesh, P("samples", None)), local)
    weight = jax.make_array_from_process_local_data(NamedSharding(mesh, P("samples")),
                                                    local_weight)
    result = em.fit_em(jax.random.key(args.seed), X, n_components=args.n_components,
                       sample_weight=weight, n_init=2)

    if proc == 0:
        print(f"{n_proc} process(es), {n_devices} device(s), {n_samples} rows "
              f"({per_process} per process, {per_process * n_proc - n_samples} padding)")
        print(f"lower bound {float(result.lower_bound):.6f} after {int(result.n_iter)} "
              f"iterations (converged: {bool(result.converged)})")
        order = np.argsort(np.asarray(result.params.means)[:, 0])
        for k in order:
            print(f"  weight {float(result.params.weights[k]):.3f}  mean "
                  f"{np.round(np.asarray(result.params.means[k]), 3)}")
        if args.out:
            os.makedirs(args.out, exist_ok=True)
            path = os.path.join(args.out, "multihost.json")
            with open(path, "w") as f:
                json.dump(dict(processes=n_proc, devices=n_devices, n_samples=n_samples,
                               lower_bound=float(result.lower_bound),
                               n_iter=int(result.n_iter),
                               weights=np.asarray(result.params.weights).tolist(),
                               means=np.asarray(result.params.means).tolist()), f, indent=1)
            print(f"wrote {path}")
    return result


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", help=".npy file of shape (N, d) readable by every host")
    parser.add_argument("--n-samples", type=int, default=100_000,
                        help="rows of the synthetic data (without --data)")
    parser.add_argument("--n-components", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="folder for multihost.json (process 0 writes it)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    main(parse_args())
