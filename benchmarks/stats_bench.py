"""Time the leaderboard's statistics: intervals for every headline metric of 5,000 docs x 10 models, and one paired comparison.

Synthetic FakeClue-sized runs (36% real, verdict log-odds, per-doc ROUGE-L and CSS) through
the calls ``fakevlm-leaderboard`` makes, with its defaults (2,000 resamples, seed 0).
Prints seconds per part, the total (headline intervals + the comparison) and its ratio to
the 30 s target, and beside it the leaderboard's full per-run set (with calibration and
TPR at FPR).
Run: ``python benchmarks/stats_bench.py [--docs 5000] [--models 10] [--resamples 2000]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from fakevlm_tasks.scoring import stats

TARGET_S = 30.0
#: Acc, F1 (real and fake positive), balanced Acc, AUC, ROUGE-L, CSS; and what the leaderboard adds beside AUC.
HEADLINE = ("acc", "f1", "f1_fake", "balanced_acc", "auc", "rouge_l", "css")
CALIBRATION = ("tpr_at_fpr_1", "tpr_at_fpr_5", "ece", "brier")


def synthetic_run(n: int, skill: float, seed: int) -> stats.PerDoc:
    """One model's per-doc results: log-odds that separate the classes by ``skill``, verdicts read from them."""
    rng = np.random.default_rng(seed)
    truth = np.random.default_rng(0).random(n) < 0.36  # the same docs for every model
    log_odds = rng.normal(size=n) + skill * np.where(truth, 1.0, -1.0)
    verdicts = np.where(log_odds > 0.2, "real", np.where(log_odds < -0.2, "fake", "unknown"))
    return stats.per_doc(np.where(truth, "real", "fake"), verdicts, log_odds=log_odds,
                         rouge_l=rng.beta(3, 3, n), css=rng.beta(6, 2, n),
                         categories=np.random.default_rng(1).choice(["animal", "doc", "human", "scene"], n))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=5000)
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--resamples", type=int, default=stats.DEFAULT_RESAMPLES)
    args = parser.parse_args(argv)

    runs = [synthetic_run(args.docs, skill=0.6 + 0.1 * k, seed=k) for k in range(args.models)]

    def timed(call):
        start = time.perf_counter()
        out = call()
        return out, time.perf_counter() - start

    headline, t_headline = timed(lambda: [stats.intervals(d, HEADLINE, n_resamples=args.resamples) for d in runs])
    paired, t_compare = timed(lambda: stats.compare(runs[-1], runs[-2], HEADLINE, n_resamples=args.resamples))
    # What fakevlm-leaderboard computes per run: the headline metrics and, beside AUC, calibration and TPR at FPR.
    full, t_full = timed(lambda: [stats.intervals(d, HEADLINE + CALIBRATION, n_resamples=args.resamples) for d in runs])
    assert all(isinstance(iv, stats.Interval) for out in headline + full for iv in out.values())
    assert all(isinstance(c, stats.Comparison) for c in paired.values())

    total = t_headline + t_compare
    print(f"{args.docs} docs x {args.models} models, {args.resamples} resamples, seed {stats.DEFAULT_SEED}")
    print(f"  intervals, {len(HEADLINE)} headline metrics        {t_headline:7.2f} s  ({t_headline / args.models:.2f} s per model)")
    print(f"  one paired comparison, {len(HEADLINE)} metrics     {t_compare:7.2f} s")
    print(f"  total                                  {total:7.2f} s  target {TARGET_S:.0f} s: {total / TARGET_S:.2f}x of target")
    print(f"  leaderboard's per-run set ({len(HEADLINE) + len(CALIBRATION)} metrics) {t_full:7.2f} s  ({t_full / args.models:.2f} s per model)")
    acc, c_acc, c_auc = headline[-1]["acc"], paired["acc"], paired["auc"]
    print(f"  e.g. model {args.models}: acc {100 * acc.value:.2f} [{100 * acc.low:.2f}, {100 * acc.high:.2f}]; "
          f"minus model {args.models - 1}: acc {100 * c_acc.diff:+.2f} [{100 * c_acc.low:+.2f}, {100 * c_acc.high:+.2f}], "
          f"p {c_acc.p_value:.3g} ({c_acc.test}); AUC {100 * c_auc.diff:+.2f}, p {c_auc.p_value:.3g} ({c_auc.test})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
