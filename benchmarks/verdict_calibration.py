"""How often each rule for "A better / B better" is wrong, and how many draws and training runs a
contrast needs (issue 39). Simulated cells: per-sentence differences A - B made of a test-set
effect (the test sentences are a sample of their population), a training-run effect, a draw
effect shared by every run (the same data sample and seed), run-by-draw noise and each model's own
sentence noise; a corpus score is the mean over sentences (as dev loss is; BLEU behaves alike at
these sizes).

    python benchmarks/verdict_calibration.py calibrate     # false verdicts under no difference
    python benchmarks/verdict_calibration.py power --draw-sd 0.5 --run-sd 0.3 --sentence-se 0.2

``calibrate`` compares, at a true difference of 0: today's rule before issue 39 (draws concatenated,
sentences resampled as independent rows, percentile interval), a two-stage bootstrap (draws, then
sentences, percentile), the t interval without removing the sentence noise counted twice, and
``evaluation.verdicts`` (the rule metanmt uses). ``power`` gives, for the measured spreads of a
contrast, the chance of a verdict at each effect size for runs x draws.
"""

from __future__ import annotations

import argparse

import numpy as np

from metanmt.evaluation.verdicts import between_units, combine, resample_counts, unit_difference

SENTENCES, RESAMPLES = 300, 200


def cell(rng, truth, runs, draws, run_sd, draw_sd, test_set_sd=3.0, own_sd=8.0, crossed_sd=0.1):
    x = (
        rng.normal(truth, test_set_sd, SENTENCES)[:, None, None]
        + rng.normal(0, run_sd, runs)[None, :, None]
        + rng.normal(0, draw_sd, draws)[None, None, :]
        + rng.normal(0, crossed_sd, (runs, draws))[None]
        + rng.normal(0, own_sd, (SENTENCES, runs, draws))
    )
    counts = resample_counts(SENTENCES, RESAMPLES, seed=int(rng.integers(2**32)))
    resampled = (counts @ x.reshape(SENTENCES, -1) / SENTENCES).reshape(RESAMPLES, runs, draws)
    return x, x.mean(0), resampled, counts


def outside(low: float, high: float) -> bool:
    return low > 0 or high < 0


def rules(rng, x, values, resampled, counts) -> dict[str, bool]:
    """Whether each rule declares a difference on one cell."""
    rows = x.reshape(-1)
    concatenated = rows[rng.integers(0, len(rows), (RESAMPLES, len(rows)))].mean(1)
    units = values.size
    flat = x.reshape(SENTENCES, units)
    picked = rng.integers(0, units, (RESAMPLES, units))  # stage one: units; two: sentences
    two_stage = np.array(
        [(counts[b] @ flat[:, picked[b]]).mean() / SENTENCES for b in range(RESAMPLES)]
    )
    naive_variance = float(resampled.reshape(RESAMPLES, -1).mean(1).var(ddof=1))
    naive = combine(values.mean(), between_units(values), naive_variance, SENTENCES, values)
    metanmt = unit_difference(values, resampled, SENTENCES)
    return {
        "concatenated draws, sentences resampled (before)": outside(
            *np.percentile(concatenated, [2.5, 97.5])
        ),
        "two-stage bootstrap (draws, then sentences)": outside(
            *np.percentile(two_stage, [2.5, 97.5])
        ),
        "t, sentence noise counted twice": naive.p < 0.05,
        "t, Satterthwaite (metanmt)": metanmt.p < 0.05,
    }


def calibrate(args) -> None:
    designs = [(1, 3, 0.0, 0.0), (1, 3, 0.0, 0.4), (1, 3, 0.0, 0.8), (1, 6, 0.0, 0.4)]
    designs += [(3, 3, 0.3, 0.4), (2, 6, 0.3, 0.4)]
    print(f"false verdicts at p < 0.05 over {args.repetitions} cells with no true difference")
    print("| runs x draws | run sd | draw sd | " + " | ".join(rules_names()) + " |")
    print("|---|---:|---:|" + "---:|" * len(rules_names()))
    for runs, draws, run_sd, draw_sd in designs:
        rng = np.random.default_rng(args.seed)
        found = np.zeros(len(rules_names()))
        for _ in range(args.repetitions):
            outcome = rules(rng, *cell(rng, 0.0, runs, draws, run_sd, draw_sd))
            found += [outcome[name] for name in rules_names()]
        rates = " | ".join(f"{100 * f / args.repetitions:.1f}%" for f in found)
        print(f"| {runs} x {draws} | {run_sd} | {draw_sd} | {rates} |")


def rules_names() -> list[str]:
    return [
        "concatenated draws, sentences resampled (before)",
        "two-stage bootstrap (draws, then sentences)",
        "t, sentence noise counted twice",
        "t, Satterthwaite (metanmt)",
    ]


def power(args) -> None:
    """Chance of a verdict (p < 0.05) for each effect and runs x draws, by simulation through
    ``unit_difference``: draw and run spreads as measured, the test-set standard error as
    measured (its own-noise part folded into the draw spread). Effect 0 gives the false
    verdicts: with one run, its luck (the run effect) is taken for the method's."""
    effects = [0.0] + [float(e) for e in args.effects.split(",")]  # 0: false verdicts
    print(
        f"power at p < 0.05 (draw sd {args.draw_sd}, run sd {args.run_sd}, test-set se "
        f"{args.sentence_se}; {args.repetitions} cells each)"
    )
    print("| runs x draws | " + " | ".join(f"effect {e:g}" for e in effects) + " |")
    print("|---|" + "---:|" * len(effects))
    for runs, draws in [(1, 3), (1, 6), (2, 3), (2, 6), (3, 3), (3, 6), (4, 4)]:
        rng = np.random.default_rng(args.seed)
        row = []
        for effect in effects:
            hits = 0
            for _ in range(args.repetitions):
                _, values, resampled, _ = cell(
                    rng,
                    effect,
                    runs,
                    draws,
                    args.run_sd,
                    args.draw_sd,
                    test_set_sd=args.sentence_se * np.sqrt(SENTENCES),
                    own_sd=0.0,
                    crossed_sd=0.0,
                )
                hits += unit_difference(values, resampled, SENTENCES).p < 0.05
            row.append(f"{hits / args.repetitions:.2f}")
        print(f"| {runs} x {draws} | " + " | ".join(row) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("calibrate", "power"):
        sub = commands.add_parser(name)
        sub.add_argument("--repetitions", type=int, default=2000 if name == "calibrate" else 400)
        sub.add_argument("--seed", type=int, default=0)
        if name == "power":
            sub.add_argument("--draw-sd", type=float, required=True)
            sub.add_argument("--run-sd", type=float, default=0.0)
            sub.add_argument("--sentence-se", type=float, default=0.0)
            sub.add_argument("--effects", default="0.5,1.0,1.5,2.5")
    args = parser.parse_args()
    calibrate(args) if args.command == "calibrate" else power(args)


if __name__ == "__main__":
    main()
