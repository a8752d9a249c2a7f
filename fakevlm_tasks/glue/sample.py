"""What a model learnt about one sample beyond its text, carried with the answer itself.

lmms-eval hands a task's ``process_results`` only the answer text: its
``GenerationResult`` has a text and token counts and no field for anything else, and
its response cache stores the text alone. A verdict score (the probabilities of "real"
and "fake" where the answer states its verdict, what AUC and calibration need) or the
reason a sample could not be answered has no channel of the host's own. This module is
the one workaround, kept small:

* an adapter answers with :class:`Answer`, a ``str`` that also carries a
  :class:`VerdictScore` and/or a :class:`SampleFailure`. It travels through the host's
  own request list, filters and thread pool to ``process_results`` of exactly the task
  and doc that asked (variants under other names included); nothing is stored between
  runs, so a second model evaluated in the same process can never see the first
  model's scores. ``Answer.strip`` keeps the payload, because lmms-eval strips every
  answer after removing reasoning tags;
* :func:`install_reasoning_tag_persistence` makes lmms-eval's removal of reasoning blocks
  (``<think>...</think>``: ``--reasoning_tags``, on by default, and the ``strip_thinking``
  filter) keep the payload: it slices the answer, and a slice of a ``str`` subclass is a
  plain ``str``;
* :func:`install_cache_persistence` makes lmms-eval's response cache (``--use_cache``)
  store the payload beside the text and rebuild the :class:`Answer` on a hit, so a run
  served from the cache scores exactly as the fresh one did. Should the host change so
  that the patch cannot apply, cached answers arrive as plain text: the tasks then report
  the missing scores (``score_coverage``) and withhold the metrics that need them.

Those are all the transformations lmms-eval applies to an answer on its way to
``process_results`` (this project's tasks add no filters of their own). A task reads the
payload with :func:`verdict_score_of` and :func:`failure_of`.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass
from typing import Any

from loguru import logger

from fakevlm_tasks.scoring.metrics import MAX_LOG_ODDS, bounded

#: Marks a response-cache entry written by :func:`install_cache_persistence`.
_CACHE_TAG = "fakevlm_answer"
_PATCH_MARK = "_fakevlm_answer_persistence"


@dataclass(frozen=True)
class VerdictScore:
    """Probabilities of the verdict words at the verdict position of one answer.

    ``p_real`` / ``p_fake``: probability mass (softmax over the whole vocabulary) of the
    tokens that spell "real" / "fake"; for a classifier, its P(real) and 1 - P(real).
    ``step``: index of the generated token that states the verdict, or ``None`` when
    there is no such token (a classifier head) or the answer never produced one; then
    ``found`` says whether the verdict position was located at all. ``recorded_log_odds``:
    log-odds another run recorded (a replayed prediction file), kept as they are because
    probabilities rebuilt from them do not give back the same float, and AUC ranks by it.
    """

    p_real: float
    p_fake: float
    step: int | None = None
    found: bool = True
    recorded_log_odds: float | None = None

    @property
    def real_score(self) -> float:
        """P(real) / (P(real) + P(fake)): the score with REAL as the positive class; 0.5 if both are 0."""
        total = self.p_real + self.p_fake
        return self.p_real / total if total > 0 else 0.5

    @property
    def fake_score(self) -> float:
        """1 - ``real_score``: the score with FAKE as the positive class."""
        return 1.0 - self.real_score

    @property
    def log_odds(self) -> float | None:
        """log P(real) - log P(fake), bounded to +-1e6; None when neither word has any mass.

        Log-odds rank exactly like ``real_score`` but do not saturate at 0 or 1 in floating
        point, so a confident model's scores stay distinct for AUC.
        """
        if self.recorded_log_odds is not None:
            return self.recorded_log_odds
        if not (self.p_real > 0 or self.p_fake > 0):
            return None
        if self.p_fake <= 0:
            return MAX_LOG_ODDS
        if self.p_real <= 0:
            return -MAX_LOG_ODDS
        return bounded(math.log(self.p_real) - math.log(self.p_fake))


@dataclass(frozen=True)
class SampleFailure:
    """Why one sample got no answer (``stage``: ``generate`` or ``loglikelihood``)."""

    reason: str
    stage: str = "generate"


class Answer(str):
    """An answer text that also carries its verdict score and/or failure.

    Behaves as the plain text everywhere (comparisons, JSON, the samples file); only
    :func:`verdict_score_of` and :func:`failure_of` look further.
    """

    verdict: VerdictScore | None
    failure: SampleFailure | None

    def __new__(cls, text: str, verdict: VerdictScore | None = None, failure: SampleFailure | None = None):
        self = super().__new__(cls, text)
        self.verdict = verdict
        self.failure = failure
        return self

    @classmethod
    def failed(cls, reason: str, stage: str = "generate") -> "Answer":
        """The empty answer of a sample that could not be answered, and why."""
        return cls("", failure=SampleFailure(reason=reason, stage=stage))

    def strip(self, chars: str | None = None) -> "Answer":  # noqa: D401 - same contract as str.strip
        return Answer(str.strip(self, chars), self.verdict, self.failure)

    def __reduce__(self):  # pickling (multiprocessing, deepcopy) keeps the payload
        return (Answer, (str(self), self.verdict, self.failure))

    def to_json(self) -> dict[str, Any]:
        return {
            _CACHE_TAG: 1,
            "text": str(self),
            "verdict": asdict(self.verdict) if self.verdict is not None else None,
            "failure": asdict(self.failure) if self.failure is not None else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Answer":
        verdict = VerdictScore(**data["verdict"]) if data.get("verdict") else None
        failure = SampleFailure(**data["failure"]) if data.get("failure") else None
        return cls(data["text"], verdict, failure)


def _first(results):
    """The first response of a doc's results (lmms-eval passes one per request)."""
    if isinstance(results, (list, tuple)):
        return results[0] if results else None
    return results


def verdict_score_of(results) -> VerdictScore | None:
    """The verdict score carried by a doc's answer; None for plain text (a model that gives none, or a cache hit without persistence)."""
    return getattr(_first(results), "verdict", None)


def failure_of(results) -> SampleFailure | None:
    """The failure carried by a doc's answer, if the adapter recorded one."""
    return getattr(_first(results), "failure", None)


# ------------------------------------------------------------------ response cache


class CachePersistenceError(RuntimeError):
    """lmms-eval's response cache changed in a way this patch does not understand."""


def install_cache_persistence() -> None:
    """Idempotently make lmms-eval's ``ResponseCache`` keep an :class:`Answer`'s payload.

    The host reduces a ``GenerationResult`` to its text before it stores it
    (``ResponseCache._extract_cacheable``) and returns the stored JSON on a hit
    (``ResponseCache._lookup``). We store an :class:`Answer` that has a payload as a
    tagged JSON object and turn such an object back into an :class:`Answer` on lookup;
    every other response passes through untouched. Cache keys already separate models
    (the host fingerprints the model and its arguments), so an entry is only ever read
    back for the model that wrote it.
    """
    from lmms_eval.caching.response_cache import ResponseCache

    if getattr(ResponseCache._lookup, _PATCH_MARK, False):
        return
    for name in ("_extract_cacheable", "_lookup"):
        if not callable(getattr(ResponseCache, name, None)):
            raise CachePersistenceError(f"lmms-eval's ResponseCache has no {name}; verdict scores will not survive --use_cache")

    original_extract = ResponseCache._extract_cacheable
    original_lookup = ResponseCache._lookup

    @functools.wraps(original_extract)
    def _extract_cacheable(response):
        text = getattr(response, "text", response)
        if isinstance(text, Answer) and (text.verdict is not None or text.failure is not None):
            return text.to_json()
        return original_extract(response)

    @functools.wraps(original_lookup)
    def _lookup(self, cache_key):
        stored = original_lookup(self, cache_key)
        if isinstance(stored, dict) and stored.get(_CACHE_TAG) == 1:
            try:
                return Answer.from_json(stored)
            except (KeyError, TypeError) as exc:
                logger.warning(f"fakevlm-eval: unreadable cached answer ({exc}); it is generated again")
                return None
        return stored

    setattr(_lookup, _PATCH_MARK, True)
    ResponseCache._extract_cacheable = staticmethod(_extract_cacheable)
    ResponseCache._lookup = _lookup


def cache_persistence_installed() -> bool:
    from lmms_eval.caching.response_cache import ResponseCache

    return bool(getattr(ResponseCache._lookup, _PATCH_MARK, False))


# ------------------------------------------------------------------ reasoning tags

_REASONING_MODULES = ("lmms_eval.evaluator", "lmms_eval.filters.transformation")


def install_reasoning_tag_persistence() -> None:
    """Idempotently make lmms-eval's reasoning-tag removal keep an :class:`Answer`'s payload.

    The host removes reasoning blocks with ``lmms_eval.api.reasoning.strip_reasoning_tags``
    (``text[:start] + text[end:]``, ``text.rsplit(end_tag)``): the result is a plain ``str``,
    and a reasoning model's verdict score would be gone before ``process_results`` (every AUC
    then withheld for the task). The wrapper gives the stripped text of an :class:`Answer` the
    same payload; any other text passes through untouched. It replaces the function in its
    module and wherever the host already imported it by name (the evaluator, the
    ``strip_thinking`` filter); a module loaded later imports the wrapped one.
    """
    import sys

    from lmms_eval.api import reasoning

    if getattr(reasoning.strip_reasoning_tags, _PATCH_MARK, False):
        return
    original = reasoning.strip_reasoning_tags

    @functools.wraps(original)
    def strip_reasoning_tags(text, tag_pairs):
        stripped = original(text, tag_pairs)
        if isinstance(text, Answer) and not isinstance(stripped, Answer):
            return Answer(stripped, text.verdict, text.failure)
        return stripped

    setattr(strip_reasoning_tags, _PATCH_MARK, True)
    reasoning.strip_reasoning_tags = strip_reasoning_tags
    for name in _REASONING_MODULES:
        module = sys.modules.get(name)
        if module is not None and getattr(module, "strip_reasoning_tags", None) is original:
            module.strip_reasoning_tags = strip_reasoning_tags
