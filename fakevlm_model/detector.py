"""The ``detector`` lmms-eval model: an image classifier's P(fake) as verdicts, verdict scores and loglikelihoods.

Model args (``--model_args key=value,...``), defaults in brackets. The classifier is one of:

* ``pretrained``: a folder or hub id holding an ``AutoModelForImageClassification``: a
  checkpoint of this project's expert baselines (``fakevlm-train`` with
  ``training/configs/npr_resnet50.yaml`` or ``univfd_clip_vitl14.yaml``), or any Hugging
  Face image classifier, read through its own image processor; ``fake_label`` names its
  class for fake images [the one label spelled fake, ai, generated, synthetic, ...];
* ``arch=torchvision:<name>`` or ``arch=timm:<name>`` with ``checkpoint=<file>``: that
  network with one output logit (log-odds of fake, e.g. CNNDetection's ResNet-50), weights
  from the file; ``residual=npr`` feeds it the NPR residual; ``image_size`` [224] centre
  crop, ``resize`` [none: the pixels are kept, which resampling traces need], ImageNet
  normalisation;
* ``arch=probe`` with ``encoder=<CLIP or SigLIP checkpoint>`` and ``checkpoint=<linear
  head file>`` (UnivFD's ``fc_weights.pth`` with ``encoder=openai/clip-vit-large-patch14``),
  preprocessing as the encoder's image processor does.

Also ``device`` [``cuda`` if available, else ``cpu``; the local GPU under ``accelerate
launch``], ``dtype`` [float32], ``batch_size`` [1; lmms-eval's ``--batch_size``] and
``revision``. Unknown model args are refused.

Supported tasks, by what their benchmark declares they ask (``Benchmark.asks``): the detection question
(``fakeclue``, ``loki``, ``ffpp``, ``ffpp_gen``, ``dmimage`` and the robustness variants) and a yes/no judgment
of whether the image is real or fake (``loki_judgment``). Generation answers "This is a real image." or "This is a fake image."
(``loki_judgment``: "Yes." / "No." to what the question asks) by P(fake) >= 0.5 and carries
P(real) = 1 - P(fake) as the answer's verdict score; loglikelihood of a continuation that
names "real" or "fake" is log P(that class). A task with other questions (``ddvqa``'s
questions about parts of a face, multiple choice) is refused with an error naming these
tasks. A sample whose image cannot be read is answered empty with the reason (loglikelihood:
-inf) and the run goes on.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from torch.nn import functional as F
from loguru import logger
from lmms_eval.api.instance import GenerationResult, TokenCounts
from lmms_eval.api.model import lmms

from fakevlm_model import classifiers, loading
from fakevlm_model.rows import describe
from fakevlm_tasks.glue import benchmarks
from fakevlm_tasks.glue.prepared import FAKECLUE_QUESTION
from fakevlm_tasks.scoring.parsing import FAKE, REAL
from fakevlm_tasks.glue.sample import Answer, VerdictScore

#: What the detector can answer, said by kind of question (the benchmarks are discovered, not listed here).
SUPPORTED_TASKS = ("tasks that ask the detection question or a yes/no judgment of whether the image is real or fake "
                   "(their benchmark declares which: Benchmark.asks)")
VERDICT_SENTENCES = {REAL: "This is a real image.", FAKE: "This is a fake image."}
#: Labels a Hugging Face classifier may give its fake class (compared lower-cased).
FAKE_LABEL_NAMES = ("fake", "ai", "artificial", "generated", "ai-generated", "ai_generated", "synthetic", "deepfake")


class UnsupportedRequest(ValueError):
    """A request a real/fake classifier cannot answer: the whole run is refused."""


# ------------------------------------------------------------------ what is asked


def question_kind(task: str, doc) -> str:
    """``verdict`` for the detection question, ``yes_no`` for a yes/no judgment (the doc says what it ``asks``),
    as the task's benchmark declares what it asks (:func:`fakevlm_tasks.glue.benchmarks.question_kind`).

    Raises :class:`UnsupportedRequest` for any other question.
    """
    if not isinstance(doc, Mapping):
        raise UnsupportedRequest("its request carries no document")
    declared = benchmarks.question_kind(task) or "detection"
    if declared == "judgment":
        if doc.get("asks") in (REAL, FAKE):
            return "yes_no"
        raise UnsupportedRequest(f"its doc does not say whether it asks about {REAL} or {FAKE} ('asks')")
    if declared != "detection":
        raise UnsupportedRequest(f"it asks a question of the kind {declared!r}")
    question = str(doc.get("question", "")).replace("<image>", "").strip()
    if question == FAKECLUE_QUESTION:  # a detection task may still ask other questions (ddvqa's, about parts of a face)
        return "verdict"
    raise UnsupportedRequest(f"its question is {question!r}")


def named_class(continuation: str) -> str | None:
    """The one class a loglikelihood continuation names ("This is a fake" -> fake), else None."""
    words = set(continuation.lower().replace(".", " ").split())
    named = [c for c in (REAL, FAKE) if c in words]
    return named[0] if len(named) == 1 else None


def answer_text(kind: str, verdict: str, doc) -> str:
    if kind == "yes_no":
        return "Yes." if verdict == doc["asks"] else "No."
    return VERDICT_SENTENCES[verdict]


def _refusal(task, doc_id, why: str) -> UnsupportedRequest:
    return UnsupportedRequest(
        f"detector: task {task!r} cannot be answered by a real/fake image classifier (doc {doc_id}: {why}). "
        f"It answers the detection question {FAKECLUE_QUESTION!r} and yes/no judgments ({SUPPORTED_TASKS}); "
        "not free questions (about parts of a face, say) or multiple choice."
    )


# ------------------------------------------------------------------- the classifier


@dataclass
class Classifier:
    """A loaded classifier: ``prepare`` turns one PIL image into its input tensor; ``fake_index``
    is the fake class among several outputs, or None for one logit (log-odds of fake)."""

    model: torch.nn.Module
    prepare: Callable
    fake_index: int | None = None

    def log_probs(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(log P(fake), log P(real)) per image, each computed directly so neither saturates."""
        with torch.inference_mode():
            logits = self.model(pixel_values=pixels).logits.float()
        if self.fake_index is None:
            return F.logsigmoid(logits[:, 0]), F.logsigmoid(-logits[:, 0])
        logp = logits.log_softmax(-1)
        others = torch.cat([logp[:, : self.fake_index], logp[:, self.fake_index + 1 :]], dim=-1)
        return logp[:, self.fake_index], others.logsumexp(-1)


def fake_class_index(id2label: Mapping, fake_label: str | None = None) -> int:
    """The index of the fake class among a classifier's labels (``fake_label`` when given)."""
    labels = {int(i): str(name) for i, name in id2label.items()}
    wanted = [fake_label.lower()] if fake_label else list(FAKE_LABEL_NAMES)
    found = [i for i, name in labels.items() if name.lower() in wanted]
    if len(found) != 1:
        raise ValueError(
            f"detector: cannot tell which of the classifier's labels {sorted(labels.values())} is the fake class; "
            "pass fake_label=<label>"
        )
    return found[0]


def load_classifier(
    pretrained: str | None = None,
    arch: str | None = None,
    checkpoint: str | None = None,
    encoder: str | None = None,
    residual: str | None = None,
    image_size: int = 224,
    resize: int | None = None,
    fake_label: str | None = None,
    revision: str | None = None,
) -> Classifier:
    """The classifier the model args describe (see the module docstring)."""
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    if (pretrained is None) == (arch is None):
        raise ValueError("detector: give either pretrained=<classifier folder or hub id> or arch=<torchvision:NAME|timm:NAME|probe>")
    if pretrained is not None:
        if checkpoint or encoder or residual:
            raise ValueError("detector: checkpoint, encoder and residual go with arch=, not with pretrained=")
        model = AutoModelForImageClassification.from_pretrained(pretrained, revision=revision)
        if isinstance(model, classifiers.FakeImageDetector):
            return Classifier(model, classifiers.image_transform(model.config))
        processor = AutoImageProcessor.from_pretrained(pretrained, revision=revision)
        fake_index = None if model.config.num_labels == 1 else fake_class_index(model.config.id2label, fake_label)
        return Classifier(model, lambda image: processor(images=[image], return_tensors="pt")["pixel_values"][0], fake_index)
    if not checkpoint:
        raise ValueError(f"detector: arch={arch} needs checkpoint=<weights file>")
    if arch == classifiers.PROBE:
        if not encoder:
            raise ValueError("detector: arch=probe needs encoder=<CLIP or SigLIP checkpoint>")
        model = classifiers.probe_with_encoder(*classifiers.load_encoder(encoder, revision))
    else:
        config = classifiers.FakeDetectorConfig(backbone=arch, residual=residual, image_size=image_size, resize=resize)
        model = classifiers.FakeImageDetector(config)
    classifiers.load_external_weights(model, checkpoint)
    return Classifier(model, classifiers.image_transform(model.config))


# ---------------------------------------------------------------------- the model


@dataclass
class _Request:
    index: int
    payload: object  # gen kwargs, or the continuation
    doc_to_visual: Callable
    doc_id: int
    task: str
    split: str
    doc: object = None
    kind: str = ""


class Detector(lmms):
    """A real/fake image classifier as an lmms-eval model: ``generate_until`` and ``loglikelihood``."""

    def __init__(
        self,
        pretrained: str | None = None,
        arch: str | None = None,
        checkpoint: str | None = None,
        encoder: str | None = None,
        residual: str | None = None,
        image_size: int = 224,
        resize: int | None = None,
        fake_label: str | None = None,
        device: str | None = None,
        dtype: str = "float32",
        batch_size: int | str = 1,
        revision: str | None = None,
        max_batch_size: int | None = None,  # passed by lmms-eval's CLI; batches are fixed-size here
        **unknown,
    ) -> None:
        super().__init__()
        if unknown:
            raise TypeError(f"detector: unknown model args {sorted(unknown)}; see fakevlm_model.detector for the list")
        try:
            self.batch_size_per_gpu = int(batch_size)
        except (TypeError, ValueError):
            raise ValueError(f"detector: batch_size={batch_size!r} must be a whole number") from None
        if self.batch_size_per_gpu < 1:
            raise ValueError(f"detector: batch_size must be at least 1, got {batch_size}")
        residual = None if str(residual).lower() in ("none", "") else residual

        from accelerate import Accelerator

        self.accelerator = Accelerator()
        placement = loading.plan_placement(self.accelerator.state, device, torch.cuda.is_available())
        self._device, self._rank, self._world_size = placement.device, placement.rank, placement.world_size
        self.dtype = loading.resolve_dtype(dtype, self._device)
        self.classifier = load_classifier(pretrained, arch, checkpoint, encoder, residual, int(image_size), resize, fake_label, revision)
        self.classifier.model.to(self._device, dtype=self.dtype).eval()
        logger.info(f"detector: {pretrained or arch} on {self._device} ({self.dtype}), batch_size={self.batch_size_per_gpu}")

    @property
    def model(self):
        return self.classifier.model

    @property
    def device(self):
        return self._device

    @property
    def batch_size(self):
        return self.batch_size_per_gpu

    # ---------------------------------------------------------------- requests

    def _unpack(self, index: int, args: tuple) -> _Request:
        if len(args) != 6:  # lmms-eval's unconditional multiple-choice request: text only, no image
            raise UnsupportedRequest(f"detector: a text-only request cannot be answered by an image classifier; it answers {SUPPORTED_TASKS}")
        _, payload, doc_to_visual, doc_id, task, split = args
        req = _Request(index, payload, doc_to_visual, doc_id, task, split)
        req.doc = self.task_dict[task][split][doc_id]
        try:
            req.kind = question_kind(task, req.doc)
        except UnsupportedRequest as exc:
            raise _refusal(task, doc_id, str(exc)) from None
        return req

    def _image(self, req: _Request):
        visuals = req.doc_to_visual(req.doc) or []
        if len(visuals) != 1 or not hasattr(visuals[0], "convert"):
            raise ValueError(f"expects exactly one image, got {len(visuals)} visual(s)")
        return visuals[0].convert("RGB")

    def _classify(self, reqs: list[_Request]) -> dict[tuple, tuple[float, float] | str]:
        """(log P(fake), log P(real)) per document, each document classified once; a string says why it could not be."""
        docs: dict[tuple, _Request] = {}
        for req in reqs:
            docs.setdefault((req.task, req.split, req.doc_id), req)
        out: dict[tuple, tuple[float, float] | str] = {}
        ready: list[tuple[tuple, torch.Tensor]] = []
        for key, req in docs.items():
            try:
                ready.append((key, self.classifier.prepare(self._image(req))))
            except Exception as exc:  # one unreadable image must not stop the run
                out[key] = f"could not read the image: {describe(exc)}"
                logger.error(f"detector: {req.task} doc {req.doc_id}: {out[key]}")
        for start in range(0, len(ready), self.batch_size_per_gpu):
            chunk = ready[start : start + self.batch_size_per_gpu]
            pixels = torch.stack([pixels for _, pixels in chunk]).to(self._device, dtype=self.dtype)
            log_fake, log_real = self.classifier.log_probs(pixels)
            for (key, _), lf, lr in zip(chunk, log_fake.tolist(), log_real.tolist()):
                out[key] = (lf, lr)
        return out

    def generate_until(self, requests) -> list[GenerationResult]:
        reqs = [self._unpack(i, r.args) for i, r in enumerate(requests)]
        scores = self._classify(reqs)
        results = []
        for req in reqs:
            score = scores[(req.task, req.split, req.doc_id)]
            if isinstance(score, str):
                results.append(GenerationResult(Answer.failed(score), TokenCounts()))
                continue
            p_fake, p_real = math.exp(score[0]), math.exp(score[1])
            verdict = FAKE if p_fake >= 0.5 else REAL
            answer = Answer(answer_text(req.kind, verdict, req.doc), verdict=VerdictScore(p_real=p_real, p_fake=p_fake))
            results.append(GenerationResult(answer, TokenCounts()))
        return results

    def loglikelihood(self, requests) -> list[tuple[float, bool]]:
        reqs = [self._unpack(i, r.args) for i, r in enumerate(requests)]
        classes = []
        for req in reqs:
            continuation = req.payload(req.doc) if callable(req.payload) else str(req.payload)
            named = named_class(continuation)
            if named is None:
                raise _refusal(req.task, req.doc_id, f"the continuation {continuation!r} names neither real nor fake")
            classes.append(named)
        scores = self._classify(reqs)
        results = []
        for req, named in zip(reqs, classes):
            score = scores[(req.task, req.split, req.doc_id)]
            if isinstance(score, str):
                results.append((float("-inf"), False))
                continue
            log_p = score[0] if named == FAKE else score[1]
            results.append((log_p, log_p >= math.log(0.5)))
        return results

    def generate_until_multi_round(self, requests):
        raise UnsupportedRequest(f"detector: multi-round requests cannot be answered by an image classifier; it answers {SUPPORTED_TASKS}")
