"""Two overlapping height distributions: soft assignment of a 170 cm person.

The walkthrough's numbers: women N(165, 6^2) (40 people) and men N(178, 7^2) (60 people); only
the heights are observed. A two-component mixture recovers the groups, and a person of 170 cm
gets a probability for each instead of a hard label.

Usage: python examples/heights.py [--out DIR] [--seed S]
"""

import argparse
import pathlib

import numpy as np

from bayesgmm import GaussianMixture
from bayesgmm.plots import new_figure, save_figure


def normal_pdf(x, mean, sd):
    return np.exp(-0.5 * ((x - mean) / sd) ** 2) / (sd * np.sqrt(2 * np.pi))


def main(args):
    rng = np.random.default_rng(args.seed)
    heights = np.concatenate([rng.normal(165, 6, 40), rng.normal(178, 7, 60)])[:, None]
    model = GaussianMixture(2, n_init=5, random_state=args.seed).fit(heights)
    order = np.argsort(model.means_[:, 0])  # component 0 = the shorter group
    print("component   mean     sd    weight")
    for name, k in zip(("shorter", "taller"), order):
        print(f"{name:>9} {model.means_[k, 0]:7.1f} {np.sqrt(model.covariances_[k, 0, 0]):6.1f} "
              f"{model.weights_[k]:8.2f}")
    probe = np.array([[160.0], [170.0], [185.0]])
    resp = model.predict_proba(probe)[:, order]
    # The same question answered with the true parameters, to show what 100 people can tell.
    true_joint = np.stack([0.4 * normal_pdf(probe[:, 0], 165, 6),
                           0.6 * normal_pdf(probe[:, 0], 178, 7)], axis=1)
    true_resp = true_joint / true_joint.sum(1, keepdims=True)
    for (h,), (p_short, p_tall), (t_short, _) in zip(probe, resp, true_resp):
        print(f"{h:.0f} cm: P(shorter group) = {p_short:.2f}, P(taller group) = {p_tall:.2f}"
              f"   (true parameters: P(women) = {t_short:.2f})")

    grid = np.linspace(140, 205, 400)[:, None]
    density = np.exp(model.score_samples(grid))
    parts = model.predict_proba(grid) * density[:, None]
    fig = new_figure(figsize=(7, 6))
    top, bottom = fig.subplots(2, 1, sharex=True)
    top.hist(heights[:, 0], bins=25, density=True, color="0.85", label="observed heights")
    top.plot(grid, density, "k", label="mixture density")
    for k, colour in zip(order, ("tab:red", "tab:blue")):
        top.plot(grid, parts[:, k], color=colour, ls="--")
    top.legend()
    top.set_ylabel("density")
    for k, colour, name in zip(order, ("tab:red", "tab:blue"), ("shorter", "taller")):
        bottom.plot(grid, model.predict_proba(grid)[:, k], color=colour, label=f"P({name} | x)")
    bottom.axvline(170, color="0.4", ls=":")
    bottom.annotate(f"170 cm: {resp[1, 0]:.2f} / {resp[1, 1]:.2f}", (170, 0.5),
                    xytext=(175, 0.55))
    bottom.set_xlabel("height (cm)")
    bottom.set_ylabel("responsibility")
    bottom.legend()
    path = save_figure(fig, pathlib.Path(args.out) / "heights.png")
    print(f"figure: {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="examples/out")
    parser.add_argument("--seed", type=int, default=0)
    main(parser.parse_args())
