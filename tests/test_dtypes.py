"""Default dtype behaviour with JAX's x64 mode off (as a user gets it), in a subprocess."""

import subprocess
import sys
import textwrap


def test_default_mode_computes_in_float32_and_leaves_the_x64_flag_alone():
    script = textwrap.dedent("""
        import jax, numpy as np
        from bayesgmm import GaussianMixture, datasets
        X = datasets.load("faithful").data          # float64 NumPy data
        model = GaussianMixture(2, random_state=0).fit(X)
        assert not jax.config.jax_enable_x64, "bayesgmm flipped the x64 flag"
        assert model.means_.dtype == np.float32, model.means_.dtype
        assert model.predict_proba(X).dtype == np.float32
        assert np.isfinite(model.lower_bound_)
        reference = GaussianMixture(2, random_state=0).fit(X.astype(np.float32))
        assert np.array_equal(model.means_, reference.means_)
        print("ok", model.lower_bound_)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("ok")
