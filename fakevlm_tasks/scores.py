"""Per-sample side results of the ``fakevlm`` adapter, shared with the tasks in-process.

lmms-eval passes only the answer text from a model to a task's ``process_results``.
The adapter publishes what else it learns about each sample here, keyed by task name
and the document's ``id`` field (the lmms-eval doc index when a document has no
``id``), and the tasks read it back:

* a **verdict score** (:class:`VerdictScore`): the probabilities of "real" and "fake"
  at the position where the generated answer states its verdict, read from the
  generation logits (no second forward pass); what FF++ AUC needs;
* a **failure** (:class:`SampleFailure`): why a sample got an empty answer (missing or
  corrupt image, empty prompt, out of memory, no text generated), so that a task can
  count failures as a metric instead of silently scoring them as wrong.

API (every function is thread-safe; ``process_results`` runs in a thread pool)::

    publish_score(task, key, VerdictScore(...) | None)  # a sample was answered
    get_score(task, key) -> VerdictScore | None
    record_failure(task, key, reason, stage="generate")
    get_failure(task, key) -> SampleFailure | None
    failure_count(task=None) -> int          # all tasks when task is None
    failures(task=None) -> list[SampleFailure]
    clear(task=None)                         # forget one task's entries, or all

Keys are compared as strings (``get_score(t, 7)`` finds ``publish_score(t, "7", ...)``).
Reading never removes an entry, so a retried ``process_results`` sees the same value.
Under multi-GPU data parallelism each process holds the entries of the documents it
evaluated, which are exactly the documents its ``process_results`` calls receive.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

_lock = threading.Lock()
_scores: dict[tuple[str, str], "VerdictScore"] = {}
_failures: dict[tuple[str, str], "SampleFailure"] = {}


@dataclass(frozen=True)
class VerdictScore:
    """Probabilities of the verdict words at the verdict position of one answer.

    ``p_real`` / ``p_fake``: softmax probability mass (over the whole vocabulary) of the
    tokens that spell "real" / "fake" (with and without a leading space, either case).
    ``step``: index of the generated token that states the verdict, or ``None`` when
    the answer never produced a verdict token and the step where the two words had the
    most mass was used instead (``found`` is then False).
    """

    p_real: float
    p_fake: float
    step: int | None
    found: bool = True

    @property
    def real_score(self) -> float:
        """P(real) / (P(real) + P(fake)): the AUC score with REAL as the positive class; 0.5 if both are 0."""
        total = self.p_real + self.p_fake
        return self.p_real / total if total > 0 else 0.5

    @property
    def fake_score(self) -> float:
        """1 - ``real_score``: the AUC score with FAKE as the positive class."""
        return 1.0 - self.real_score


@dataclass(frozen=True)
class SampleFailure:
    """Why one sample was answered with an empty string."""

    task: str
    key: str
    reason: str
    stage: str = "generate"


def publish_score(task: str, key, score: VerdictScore | None) -> None:
    """Record a sample that was answered: its score (``None``: no score), replacing any earlier failure."""
    with _lock:
        _failures.pop((task, str(key)), None)
        if score is None:
            _scores.pop((task, str(key)), None)
        else:
            _scores[(task, str(key))] = score


def get_score(task: str, key) -> VerdictScore | None:
    with _lock:
        return _scores.get((task, str(key)))


def record_failure(task: str, key, reason: str, stage: str = "generate") -> SampleFailure:
    """Record a sample answered with an empty string and why, replacing any earlier score."""
    failure = SampleFailure(task=task, key=str(key), reason=reason, stage=stage)
    with _lock:
        _scores.pop((task, str(key)), None)
        _failures[(task, str(key))] = failure
    return failure


def get_failure(task: str, key) -> SampleFailure | None:
    with _lock:
        return _failures.get((task, str(key)))


def failures(task: str | None = None) -> list[SampleFailure]:
    with _lock:
        return [f for (t, _), f in _failures.items() if task is None or t == task]


def failure_count(task: str | None = None) -> int:
    return len(failures(task))


def clear(task: str | None = None) -> None:
    with _lock:
        for store in (_scores, _failures):
            for k in [k for k in store if task is None or k[0] == task]:
                del store[k]
