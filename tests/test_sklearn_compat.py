"""scikit-learn citizenship: Pipeline, clone, GridSearchCV with a BIC scorer, and
scikit-learn's own estimator checks. Skipped when scikit-learn is not installed; bayesgmm
never needs it at run time (the subprocess test below checks that it is never imported)."""

import re
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

from bayesgmm import ConvergenceWarning, GaussianMixture, GaussianMixtureIC

sklearn = pytest.importorskip("sklearn")
from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

# Checks of sklearn.utils.estimator_checks.check_estimator that do not apply, with the
# reason; they are passed as expected failures, and the test fails if one of them starts
# passing (so that these lists stay true) or if any other check fails.
# README.md, "scikit-learn compatibility", says the same.
#
# The default estimator (n_components=1): every check applies and passes.
NOT_APPLICABLE = {}
# With two or more components (slow test below, all four covariance types):
NOT_APPLICABLE_MIXTURE = {
    "check_sample_weight_equivalence_on_dense_data":
        "the random initialisation (k-means++ seeding) draws rows by position, so weighted "
        "data and the same data with rows repeated start from different parameters and may "
        "reach different optima or label orders; from the same start, weights equal repeats "
        "(test_sample_weights_equal_repeated_rows_from_the_same_start)",
}

# Checks that scikit-learn itself skips here, with its reason.
SKIPPED = {
    # Runs only with the environment variable SCIPY_ARRAY_API=1 (set before scikit-learn is
    # imported); run that way it passes (bayesgmm declares no array-API support, tag
    # array_api_support=False, and takes NumPy-convertible input).
    "check_array_api_input": "SCIPY_ARRAY_API is not set",
}


def test_pipeline_after_standard_scaler(faithful):
    pipe = make_pipeline(StandardScaler(), GaussianMixture(3, random_state=0)).fit(faithful)
    scaled = StandardScaler().fit_transform(faithful)
    direct = GaussianMixture(3, random_state=0).fit(scaled)
    np.testing.assert_array_equal(pipe.predict(faithful), direct.predict(scaled))
    np.testing.assert_allclose(pipe.score(faithful), direct.score(scaled), rtol=1e-12)
    np.testing.assert_allclose(pipe.predict_proba(faithful).sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(pipe.score_samples(faithful), direct.score_samples(scaled),
                               rtol=1e-12)


def test_clone_copies_parameters_not_the_fit(faithful):
    means = faithful[:2].copy()
    model = GaussianMixture(2, covariance_type="diag", means_init=means, random_state=3)
    model.fit(faithful)
    copy = clone(model)
    assert copy is not model and type(copy) is GaussianMixture
    assert copy.get_params().keys() == model.get_params().keys()
    assert copy.covariance_type == "diag" and copy.random_state == 3
    np.testing.assert_array_equal(copy.means_init, means)
    assert not hasattr(copy, "means_")  # unfitted
    np.testing.assert_array_equal(copy.fit(faithful).means_, model.means_)


def test_grid_search_with_a_bic_scorer_picks_the_lowest_bic(faithful):
    grid = {"n_components": [1, 2, 3], "covariance_type": ["full", "tied"]}
    everything = np.arange(len(faithful))
    # One "split" whose training and test sets are all the data: the scorer sees the BIC of
    # each fitted model on the data it was fitted to.
    search = GridSearchCV(GaussianMixture(random_state=0), grid,
                          scoring=lambda est, X, y=None: -est.bic(X),
                          cv=[(everything, everything)]).fit(faithful)
    bics = {(k, ct): GaussianMixture(k, covariance_type=ct, random_state=0).fit(faithful)
            .bic(faithful) for k in grid["n_components"] for ct in grid["covariance_type"]}
    k, ct = min(bics, key=bics.get)
    assert search.best_params_ == {"n_components": k, "covariance_type": ct}
    np.testing.assert_allclose(-search.best_score_, bics[k, ct], rtol=1e-10)
    assert search.best_estimator_.n_components == k
    np.testing.assert_allclose(search.best_estimator_.bic(faithful), bics[k, ct], rtol=1e-10)


def test_not_fitted_error_is_scikit_learns_once_it_is_imported(faithful):
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted
    with pytest.raises(NotFittedError, match="not fitted yet"):
        GaussianMixture(2).predict(faithful)
    with pytest.raises(NotFittedError):
        check_is_fitted(GaussianMixture(2))
    check_is_fitted(GaussianMixture(2, random_state=0).fit(faithful))


def test_scikit_learn_is_not_imported_by_bayesgmm():
    script = textwrap.dedent("""
        import sys
        import bayesgmm
        from bayesgmm import GaussianMixture, NotFittedError
        try:
            GaussianMixture(2).predict([[0.0]])
        except NotFittedError as err:
            assert isinstance(err, (ValueError, AttributeError))
        print(repr(GaussianMixture(2)), "sklearn" in sys.modules)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["GaussianMixture(n_components=2)", "False"]


def run_check_estimator(estimator, not_applicable, min_passed=40):
    # on_fail=None (results as a list) and expected_failed_checks are new in 1.6
    pytest.importorskip("sklearn", minversion="1.6")
    from sklearn.utils import estimator_checks
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # deliberate: bayesgmm does not depend on scikit-learn (see ParamsMixin)
        warnings.filterwarnings("ignore", "Estimator .* does not inherit")
        results = estimator_checks.check_estimator(
            estimator, expected_failed_checks=not_applicable, on_fail=None, on_skip=None)
    status = {r["check_name"]: r["status"] for r in results}
    failed = {r["check_name"]: repr(r["exception"]) for r in results
              if r["status"] == "failed"}
    assert not failed, failed
    assert {n: status[n] for n in not_applicable} == {n: "xfail" for n in not_applicable}
    assert {n for n, s in status.items() if s == "skipped"} <= set(SKIPPED)
    # the checks really ran: scikit-learn 1.9 runs 48 on GaussianMixture, 39 on the others
    assert sum(s == "passed" for s in status.values()) >= min_passed, status


def test_check_estimator():
    run_check_estimator(GaussianMixture(random_state=0), NOT_APPLICABLE)


@pytest.mark.slow
@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_check_estimator_with_two_components(covariance_type):
    run_check_estimator(GaussianMixture(2, covariance_type=covariance_type, random_state=0),
                        NOT_APPLICABLE_MIXTURE)


# GaussianMixtureIC and BayesianGMM: every check applies and passes (scikit-learn 1.9: 39
# checks by name each; check_array_api_input skipped as above). Slow: each check fits a sweep or a
# posterior on new shapes (about 3 and 7 minutes on 2 cores). BayesianGMM is checked with
# SVI, short runs; with NUTS (10 + 10 draws, one chain) every check passed too when run by
# hand (5 minutes): the same front end (validation, fitted attributes, predict/score).
NOT_APPLICABLE_IC = {}
NOT_APPLICABLE_BAYES = {}


@pytest.mark.slow
def test_check_estimator_gaussian_mixture_ic():
    run_check_estimator(GaussianMixtureIC([1, 2], covariance_type=["full", "diag"],
                                          random_state=0), NOT_APPLICABLE_IC, min_passed=39)


@pytest.mark.slow
def test_check_estimator_bayesian_gmm():
    from bayesgmm import BayesianGMM
    run_check_estimator(BayesianGMM(method="svi", num_steps=30, num_samples=10, random_state=0,
                                    posterior_predictive=False), NOT_APPLICABLE_BAYES,
                        min_passed=39)


def test_gaussian_mixture_ic_defaults_are_plain_types():
    # scikit-learn's check_parameters_default_constructible, the one check that failed
    # (a range default); the slow test above runs them all
    from sklearn.utils.estimator_checks import check_parameters_default_constructible
    check_parameters_default_constructible("GaussianMixtureIC", GaussianMixtureIC())
    assert GaussianMixtureIC().n_components == tuple(range(1, 10))


def test_sample_weights_equal_repeated_rows_from_the_same_start():
    # check_sample_weight_equivalence_on_dense_data's data, with the start fixed
    rng = np.random.RandomState(42)
    X = rng.rand(15, 30)
    rng.randint(0, 3, size=15)  # the check's y, drawn to keep its weights
    weights = rng.randint(0, 5, size=15)
    start = dict(weights_init=[0.5, 0.5], means_init=X[:2], precisions_init=np.ones((2, 30)))
    repeated = GaussianMixture(2, covariance_type="diag", **start).fit(
        X.repeat(weights, axis=0))
    order = np.random.RandomState(0).permutation(15)
    weighted = GaussianMixture(2, covariance_type="diag", **start).fit(
        X[order], sample_weight=weights[order])
    assert repeated.n_iter_ == weighted.n_iter_
    np.testing.assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X),
                               atol=1e-12)
    np.testing.assert_allclose(weighted.means_, repeated.means_, rtol=1e-10)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_max_iter_zero_returns_the_initialisation_as_scikit_learn_does(faithful,
                                                                       covariance_type):
    # No EM iteration: the fitted attributes are the starting parameters, n_iter_ = 0,
    # converged_ False, lower_bound_ -inf, no warning (scikit-learn warns only when
    # max_iter > 0). One component, so that the k-means start has no label order to differ
    # in (with several, each library pairs the given means with its own k-means labels; and
    # scikit-learn 1.x fails with max_iter=0 when precisions_init is given).
    from sklearn.mixture import GaussianMixture as SklearnGaussianMixture
    start = dict(n_components=1, covariance_type=covariance_type, max_iter=0,
                 means_init=[[3.0, 70.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = GaussianMixture(**start).fit(faithful)
        reference = SklearnGaussianMixture(**start).fit(faithful)
    assert ours.n_iter_ == reference.n_iter_ == 0
    assert not ours.converged_ and not reference.converged_
    assert ours.lower_bound_ == reference.lower_bound_ == -np.inf
    assert ours.lower_bounds_.shape == (0,)
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        np.testing.assert_allclose(getattr(ours, name), getattr(reference, name),
                                   rtol=1e-10, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(ours.score_samples(faithful), reference.score_samples(faithful),
                               rtol=1e-10)


def test_max_iter_zero_keeps_a_given_start(faithful):
    precisions = np.stack([np.eye(2), 2 * np.eye(2)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = GaussianMixture(2, max_iter=0, weights_init=[0.4, 0.6],
                                means_init=[[2.0, 55.0], [4.3, 80.0]],
                                precisions_init=precisions).fit(faithful)
    assert model.n_iter_ == 0 and not model.converged_ and model.lower_bound_ == -np.inf
    np.testing.assert_allclose(model.weights_, [0.4, 0.6])
    np.testing.assert_allclose(model.means_, [[2.0, 55.0], [4.3, 80.0]])
    np.testing.assert_allclose(model.precisions_, precisions, rtol=1e-12)


def sklearn_start(X, k):
    # A start both libraries take as given: k-means-free, deterministic.
    means = X[np.linspace(0, len(X) - 1, k).astype(int)]
    return dict(weights_init=np.full(k, 1.0 / k), means_init=means,
                precisions_init=np.stack([np.linalg.inv(np.cov(X.T))] * k))


@pytest.mark.parametrize("max_iter", [1, 3])
def test_warm_start_continues_the_convergence_test_as_scikit_learn_does(faithful, max_iter):
    # fit() called again and again with warm_start and a small max_iter: each call's first
    # convergence test compares against the previous call's lower bound, so the sequence
    # ends converged after as many calls and iterations as scikit-learn's.
    from sklearn.mixture import GaussianMixture as SklearnGaussianMixture
    settings = dict(n_components=3, warm_start=True, max_iter=max_iter, tol=1e-6,
                    **sklearn_start(faithful, 3))
    runs = {}
    for cls in (GaussianMixture, SklearnGaussianMixture):
        model, calls = cls(**settings), []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", sklearn.exceptions.ConvergenceWarning)
            while len(calls) < 200 and not getattr(model, "converged_", False):
                model.fit(faithful)
                calls.append((model.n_iter_, model.lower_bound_))
        runs[cls] = model, calls
    (ours, our_calls), (reference, reference_calls) = runs.values()
    assert ours.converged_ and reference.converged_
    assert len(our_calls) == len(reference_calls) > 1
    assert [n for n, _ in our_calls] == [n for n, _ in reference_calls]
    np.testing.assert_allclose([b for _, b in our_calls], [b for _, b in reference_calls],
                               rtol=1e-10)
    np.testing.assert_allclose(ours.means_, reference.means_, rtol=1e-8)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_monotonic_likelihood_one_iteration_at_a_time(faithful, covariance_type):
    # scikit-learn's test_monotonic_likelihood: one EM iteration per warm-started fit, the
    # training log-likelihood never decreases (exactly, not to a tolerance) until the fit
    # reports convergence. Past convergence (tol=0) the likelihood wobbles at the last bit
    # in scikit-learn too: EM sits at a fixed point and only rounding moves it.
    model = GaussianMixture(3, covariance_type=covariance_type, reg_covar=0, warm_start=True,
                            max_iter=1, tol=1e-7, random_state=0)
    current = -np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(600):
            previous, current = current, model.fit(faithful).score(faithful)
            assert current >= previous
            if model.converged_:
                break
    assert model.converged_ and model.n_iter_ == 1


def test_warm_start_after_max_iter_zero_reports_no_lower_bound(faithful):
    model = GaussianMixture(2, warm_start=True, random_state=0).fit(faithful)
    model.set_params(max_iter=0)
    means = model.means_.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(faithful)
    assert model.n_iter_ == 0 and not model.converged_ and model.lower_bound_ == -np.inf
    np.testing.assert_array_equal(model.means_, means)


def test_convergence_warning_is_scikit_learns_once_it_is_imported(faithful):
    from sklearn.exceptions import ConvergenceWarning as SklearnConvergenceWarning
    model = GaussianMixture(2, max_iter=1, random_state=0)
    with pytest.warns(SklearnConvergenceWarning, match="did not converge") as record:
        model.fit(faithful)
    assert all(isinstance(w.message, ConvergenceWarning) for w in record)
    # a filter on scikit-learn's class silences it; one on bayesgmm's class too
    for category in (SklearnConvergenceWarning, ConvergenceWarning):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            warnings.simplefilter("ignore", category)
            model.fit(faithful)


def test_shape_messages_use_scikit_learns_wording(faithful):
    # scikit-learn's names ('weights', 'means', '<type> precision'), then the argument's
    bad = {"weights_init": (np.full((2, 1), 0.5), "weights", "(2,)", "(2, 1)"),
           "means_init": (np.zeros((3, 2)), "means", "(2, 2)", "(3, 2)")}
    for argument, (value, name, want, got) in bad.items():
        message = (f"The parameter '{name}' should have the shape of {want}, but got {got} "
                   f"({argument})")
        with pytest.raises(ValueError, match=re.escape(message)):
            GaussianMixture(2, **{argument: value}).fit(faithful)
    for covariance_type, shape in (("full", (3, 2, 2)), ("tied", (3, 3)), ("diag", (3, 2)),
                                   ("spherical", (3,))):
        message = f"The parameter '{covariance_type} precision' should have the shape of"
        with pytest.raises(ValueError, match=re.escape(message)):
            GaussianMixture(2, covariance_type=covariance_type,
                            precisions_init=np.ones(shape)).fit(faithful)


def test_data_frame_column_names_follow_scikit_learns_rules():
    pd = pytest.importorskip("pandas")
    from sklearn.utils.estimator_checks import check_dataframe_column_names_consistency
    # scikit-learn's own check of feature_names_in_ (not among check_estimator's checks)
    check_dataframe_column_names_consistency("GaussianMixture", GaussianMixture(random_state=0))
    check_dataframe_column_names_consistency(
        "GaussianMixtureIC", GaussianMixtureIC([1, 2], covariance_type="diag", random_state=0))
    # and the same behaviour as scikit-learn's GaussianMixture, case by case
    from sklearn.mixture import GaussianMixture as SklearnGaussianMixture
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(40, 3)), columns=["a", "b", "c"])
    cases = {"reordered": frame[["b", "a", "c"]], "renamed": frame.rename(columns={"a": "z"}),
             "unnamed": frame.to_numpy(), "same": frame}
    for cls in (GaussianMixture, SklearnGaussianMixture):
        model = cls(2, random_state=0).fit(frame)
        np.testing.assert_array_equal(model.feature_names_in_, ["a", "b", "c"])
        assert model.feature_names_in_.dtype == object
        outcome = {}
        for case, X in cases.items():
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    model.predict(X)
                    outcome[case] = [str(w.message).replace(cls.__name__, "GM")
                                     for w in caught if w.category is UserWarning]
                except ValueError as err:
                    outcome[case] = str(err)
        outcome["refit unnamed"] = hasattr(cls(2, random_state=0).fit(frame).fit(
            frame.to_numpy()), "feature_names_in_")
        if cls is GaussianMixture:
            ours = outcome
    assert ours == outcome, (ours, outcome)
    assert "same order" in ours["reordered"] and "- z" in ours["renamed"]
    assert ours["unnamed"] == ["X does not have valid feature names, but GM was fitted with "
                               "feature names"]
    with pytest.raises(TypeError, match="only supported if all input features have string"):
        GaussianMixture(1).fit(pd.DataFrame(rng.normal(size=(5, 2)), columns=["a", 1]))
