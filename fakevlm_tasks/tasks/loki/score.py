"""LOKI's scoring rules, as its ``lm_evaluate/tasks/loki.py`` (commit 251b4f6) applies them: its reading of a
yes/no answer and its per-category score.

Pure (numpy only). The score has one implementation, :func:`weighted_score`: the tasks' aggregations call it at
unit weight (:func:`loki_score`) and the leaderboard's bootstrap on every resample (:func:`statistic`, the kernel
the benchmark declares to :mod:`fakevlm_tasks.scoring.stats`).
"""

from __future__ import annotations

import numpy as np

from fakevlm_tasks.scoring.parsing import FAKE, REAL
from fakevlm_tasks.scoring.stats import Unavailable

YES, NO, OTHER = "yes", "no", "other"


def yes_no(text: str | None) -> str:
    """LOKI's reading of a judgment answer: ``yes``, ``no`` or ``other`` (scored wrong).

    Lower-cased, stripped, every "." removed; exactly "yes"/"no" is itself; a single
    character answer is yes for "y", no for "n", other for anything else; otherwise "yes"
    within the first four characters (tested first), then "no", else other.
    """
    answer = (text or "").lower().strip().replace(".", "")
    if answer in (YES, NO):
        return answer
    if len(answer) == 1:
        return {"y": YES, "n": NO}.get(answer, OTHER)
    head = answer[:4]
    if YES in head:
        return YES
    if NO in head:
        return NO
    return OTHER


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def weighted_score(W: np.ndarray, fake: np.ndarray, hit: np.ndarray, categories) -> np.ndarray:
    """LOKI's score under doc weights ``W`` (n docs x B columns, a column per resample): B values, nan where no
    question on a fake image weighs.

    Per category c: ``fake_acc_c`` over its questions on fake images, ``real_acc_c`` over those on real images;
    ``bal_c = (fake_acc_c + real_acc_c) / 2``, or ``fake_acc_c`` alone when c has no question on a real image;
    the score is ``sum_c n_fake_c * bal_c / sum_c n_fake_c`` (a category without a fake question does not count).
    When the questions on real images all belong to one category, LOKI's code uses that category's real accuracy
    for every category (a branch written for its 3D set, whose real items share one type; on images it decides
    subsets such as a ``--limit`` run).
    """
    W = np.asarray(W, dtype=float)
    fake, hit = np.asarray(fake, dtype=bool), np.asarray(hit, dtype=bool)
    _, codes = np.unique(np.asarray([str(c) for c in categories], dtype=object), return_inverse=True)
    k = int(codes.max()) + 1 if len(codes) else 0
    members = np.zeros((k, len(codes)))
    members[codes, np.arange(len(codes))] = 1.0

    def weight(mask):  # (k, B): per category, the weight of the docs in ``mask``
        return members @ (W * mask[:, None])

    n_fake, n_real = weight(fake), weight(~fake)
    fake_acc, real_acc = _ratio(weight(fake & hit), n_fake), _ratio(weight(~fake & hit), n_real)
    single = (n_real > 0).sum(axis=0) == 1  # per column: the real questions all lie in one category
    all_real = n_real.sum(axis=0)
    real_acc = np.where(single, _ratio(weight(~fake & hit).sum(axis=0), all_real), real_acc)
    has_real = np.where(single, all_real > 0, n_real > 0)
    balanced = np.where(has_real, (fake_acc + real_acc) / 2, fake_acc)
    return _ratio(np.where(n_fake > 0, n_fake * balanced, 0.0).sum(axis=0), n_fake.sum(axis=0))


def loki_score(labels, correct, categories) -> float:
    """LOKI's judgment score of questions given as ``labels`` (the image's class: for a multiple-choice question
    "fake" marks one asking for the generated image among real ones), ``correct`` (one bool per question) and
    ``categories``; nan when no question is on a fake image (LOKI's code divides by zero)."""
    labels, correct, categories = list(labels), list(correct), list(categories)
    if not len(labels) == len(correct) == len(categories):
        raise ValueError(f"labels, correct and categories differ in length ({len(labels)}, {len(correct)}, "
                         f"{len(categories)})")
    if bad := [x for x in labels if x not in (REAL, FAKE)]:
        raise ValueError(f"labels must be {REAL!r} or {FAKE!r}, got {bad[0]!r}")
    fake = np.array([x == FAKE for x in labels], dtype=bool)
    hit = np.array([bool(c) for c in correct], dtype=bool)
    return float(weighted_score(np.ones((len(labels), 1)), fake, hit, categories)[0])


def statistic(d, w) -> np.ndarray:
    """:func:`weighted_score` as a :mod:`fakevlm_tasks.scoring.stats` kernel: (PerDoc, Weights) -> one value per
    resample, over the docs that count (``detection``), right where ``hit``."""
    if not d.detection.any():
        raise Unavailable("no doc counts in the detection metrics")
    return weighted_score(w.W * d.detection[:, None], ~d.label_real, d.hit, d.category)
