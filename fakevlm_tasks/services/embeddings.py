"""The CSS sentence encoder: which model, precision and backend, who it is, and a disk cache of its embeddings.

:func:`css_scores` is what the lmms-eval glue calls; :func:`fakevlm_tasks.scoring.metrics.css` does the maths.
Settings, read when used: ``$FAKEVLM_CSS_MODEL`` (hub id or local folder), ``$FAKEVLM_CSS_PRECISION``
(``float32`` | ``bfloat16``), ``$FAKEVLM_CSS_BACKEND`` (``torch`` | ``openvino``), ``$FAKEVLM_CSS_CACHE``
(the cache's directory, default ``~/.cache/fakevlm-eval/embeddings`` on Linux, the user cache dir
elsewhere; ``off`` switches it off).

Backends, measured by ``benchmarks/css_backends.py`` on its 5,000 answer/reference pairs (9,692
distinct texts, all-MiniLM-L6-v2, 2 CPU cores shared with other work; set-up / encoding wall /
CPU seconds, mean CSS x100, largest per-sample difference from torch float32):

    runtime                   set-up s   wall s   cpu s   CSS x100   max |diff|
    torch float32 (default)        0.0    514.7   360.1     86.718   0
    ONNX Runtime float32           1.9    317.1   344.3     86.718   < 0.00001
    ONNX Runtime int8              4.9    231.0   237.9     85.948   0.060
    OpenVINO float32               8.4    373.0   259.8     86.718   < 0.00001
    OpenVINO int8 (NNCF)          53.4    427.9   308.1     86.326   0.051

Both int8 variants move the mean CSS by 0.4-0.8 points, so neither is offered. OpenVINO float32
gives torch's scores (every per-sample score within 4e-7) with 28% less CPU time here; run as
two streams with a batch in flight each (:class:`OpenVINORunner`), it encodes the 5,000 answers
of a second run in ``benchmarks/metrics_bench.py`` in 62.5 s against torch's 72.3 s: it is the
``openvino`` backend (the ``openvino`` extra). torch stays the default: the conversion costs
2-8 s per process, more than it saves on a small run. ONNX Runtime float32 saves little.
sentence-transformers' own onnx/openvino backends need optimum-onnx or optimum-intel, which
require transformers < 5.6, so this module converts the loaded weights itself. bfloat16 autocast
took 8.2x the CPU time of float32 (``css_backends.py --n 300``) on this CPU without bf16 instructions.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from loguru import logger

from fakevlm_tasks.scoring import metrics
from fakevlm_tasks.services import cache as sqlite_cache

#: Default CSS embedding model (LEGION / FakeShield name it); ``$FAKEVLM_CSS_MODEL`` overrides it.
DEFAULT_CSS_MODEL = "sentence-transformers/paraphrase-MiniLM-L6-v2"
CSS_MODEL_ENV = "FAKEVLM_CSS_MODEL"
#: ``float32`` (default) or ``bfloat16`` (torch backend only: autocast).
CSS_PRECISION_ENV = "FAKEVLM_CSS_PRECISION"
#: ``torch`` (default) or ``openvino``; see :data:`BACKENDS`.
CSS_BACKEND_ENV = "FAKEVLM_CSS_BACKEND"
#: A directory for the embedding cache, or ``off``; default ``<user cache dir>/fakevlm-eval/embeddings``.
CSS_CACHE_ENV = "FAKEVLM_CSS_CACHE"

PRECISIONS = ("float32", "bfloat16")
DEFAULT_PRECISION = "float32"
#: How the transformer runs. ``torch``: sentence-transformers as loaded. ``openvino``: the same
#: weights converted in memory by OpenVINO and run on the CPU (the ``openvino`` extra).
#: Tokenisation, pooling and normalisation are sentence-transformers' own modules either way.
BACKENDS = ("torch", "openvino")
DEFAULT_BACKEND = "torch"
_OFF = frozenset({"off", "0", "false", "no", "none"})
_BATCH_SIZE = 32  # sentence-transformers' default; on 2 CPU cores ~10% faster than 64
#: OpenVINO's batch: one per stream; 16 beat 8, 24 and 32 by 2-8% on 2 cores (5,000 texts).
_OPENVINO_BATCH_SIZE = 16


def _setting(value: str | None, env: str, default: str, allowed: Sequence[str]) -> str:
    value = value or os.environ.get(env) or default
    if value not in allowed:
        raise ValueError(f"${env} / argument = {value!r}: expected one of {', '.join(allowed)}")
    return value


# ------------------------------------------------------------------------------- identity


@dataclass(frozen=True)
class EncoderIdentity:
    """What decides an embedding: the model (name + revision: a hub commit or a hash of the local
    folder's files), the precision and the backend."""

    name: str
    revision: str
    precision: str
    backend: str

    @property
    def cache_key(self) -> str:
        return f"{self.name}@{self.revision}|{self.precision}|{self.backend}"

    @property
    def description(self) -> str:
        """One line for results: name, revision, precision, backend."""
        return f"{self.name} ({self.revision[:19]}), {self.precision}, {self.backend}"


# Files that do not change what the model computes: a model card, git metadata, and the
# exports the hub ships for other backends.
_NOT_HASHED_NAMES = frozenset({"README.md", ".gitattributes"})
_NOT_HASHED_DIRS = frozenset({"onnx", "openvino", ".git", ".cache"})


def folder_hash(folder: str | Path) -> str:
    """``sha256:<hex>`` over the relative path and bytes of every file that defines the model."""
    root = Path(folder)
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root)
        if rel.name in _NOT_HASHED_NAMES or _NOT_HASHED_DIRS & set(rel.parts[:-1]):
            continue
        digest.update(rel.as_posix().encode() + b"\0")
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0")
    return f"sha256:{digest.hexdigest()}"


def model_revision(name: str) -> str | None:
    """A local folder's :func:`folder_hash`; for a hub id, the commit of its cached snapshot
    (what sentence-transformers loaded). None when neither can be found."""
    if Path(name).is_dir():
        return folder_hash(name)
    from huggingface_hub import try_to_load_from_cache

    try:
        cached = try_to_load_from_cache(name, "config.json")
    except ValueError:  # not a valid hub id either (a folder that does not exist)
        return None
    if not isinstance(cached, str):  # None (not cached) or the "known missing" sentinel
        return None
    return f"commit:{Path(cached).parent.name}"  # <cache>/models--org--name/snapshots/<commit>/config.json


# ------------------------------------------------------------------------------- encoder


class Encoder:
    """A loaded sentence-transformers model run at one precision on one backend.

    ``encode(texts)`` returns float32 L2-normalised embeddings, one row per text, in order.
    """

    def __init__(self, model, identity: EncoderIdentity, token_embeddings: Callable[[dict], np.ndarray] | None = None,
                 batch_size: int = _BATCH_SIZE) -> None:
        """``token_embeddings`` (features -> batch x tokens x hidden array) replaces the model's own
        transformer, as another runtime runs it; None runs the model as loaded, in torch."""
        self.model = model
        self.identity = identity
        self.batch_size = batch_size
        self._token_embeddings = token_embeddings

    @property
    def description(self) -> str:
        return self.identity.description

    @functools.cached_property
    def dimension(self) -> int:
        """The length of this encoder's vectors, as it encodes them (what a cached vector must have)."""
        return int(self.encode(["dimension"]).shape[1])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        if self._token_embeddings is None:
            return self._encode_torch(texts)
        return self._encode_converted(texts)

    def _encode_torch(self, texts: list[str]) -> np.ndarray:
        import torch

        context = contextlib.nullcontext()
        if self.identity.precision == "bfloat16":
            context = torch.autocast(device_type=torch.device(self.model.device).type, dtype=torch.bfloat16)
        with context, torch.inference_mode():
            vectors = self.model.encode(texts, batch_size=self.batch_size, convert_to_numpy=True,
                                        normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)

    def _encode_converted(self, texts: list[str]) -> np.ndarray:
        import torch

        # Longest first, as sentence-transformers batches, so that each batch pads little.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        batches = [order[start : start + self.batch_size] for start in range(0, len(order), self.batch_size)]
        features = (_preprocess(self.model, [texts[i] for i in rows]) for rows in batches)  # tokenised as they are run
        # A runner with ``imap`` keeps several batches in flight (OpenVINO's streams); else one at a time.
        runner = self._token_embeddings
        done = runner.imap(features) if hasattr(runner, "imap") else ((f, runner(f)) for f in features)
        out = None
        for rows, (batch, tokens) in zip(batches, done, strict=True):
            batch["token_embeddings"] = torch.from_numpy(tokens)
            with torch.inference_mode():
                for module in list(self.model)[1:]:  # pooling (+ normalize, dense ...) as the model defines them
                    batch = module(batch)
            vectors = torch.nn.functional.normalize(batch["sentence_embedding"].float(), dim=-1).numpy()
            if out is None:
                out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
            out[rows] = vectors
        return out


def _preprocess(model, texts: list[str]) -> dict:
    # sentence-transformers 6 renamed tokenize() to preprocess().
    prepare = getattr(model, "preprocess", None) or model.tokenize
    return dict(prepare(texts))


def token_embedding_module(model):
    """``model``'s transformer as a module from positional tensors to token embeddings, for an
    export: (module, the input names in order, sample features to trace it with)."""
    import torch

    transformer = model.transformers_model
    if transformer is None:
        raise ValueError("converting the CSS encoder needs a sentence-transformers model built on a transformers model")
    sample = _preprocess(model, ["An example sentence for the conversion.", "Another, a little longer, for the trace."])
    names = [k for k, v in sample.items() if isinstance(v, torch.Tensor)]

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, *tensors):
            return self.inner(**dict(zip(names, tensors))).last_hidden_state

    return TokenEmbeddings(transformer.eval()), names, sample


def openvino_model(model):
    """``model``'s transformer converted by OpenVINO from its loaded weights, in memory and offline
    (a few CPU seconds for MiniLM): (openvino.Model, its input names in order)."""
    try:
        import openvino
    except ImportError as exc:
        raise ImportError("the openvino CSS backend needs OpenVINO: pip install 'fakevlm-eval[openvino]'") from exc
    import torch

    module, names, sample = token_embedding_module(model)
    with warnings.catch_warnings(), torch.no_grad():
        # The tracer warns about Python branches on shapes; in an encoder they only compare the
        # mask's length with the sequence's, equal for every input (the tests check other shapes).
        warnings.simplefilter("ignore")
        converted = openvino.convert_model(
            module, example_input=tuple(sample[n] for n in names),
            input=[(openvino.PartialShape([-1, -1]), openvino.Type.i64)] * len(names),  # batch x tokens, any size
        )
    return converted, names


class OpenVINORunner:
    """An OpenVINO model compiled for the CPU: ``runner(features)`` -> token embeddings of one
    batch, and :meth:`imap` for many, with one batch in flight per stream.

    Compiled with the THROUGHPUT hint (on 2 cores: 2 streams of 1 thread, which encoded 10-20%
    more texts per second than one stream of 2 threads in ``benchmarks/metrics_bench.py``) and an
    explicit float32 inference precision: on CPUs with bf16 units (AVX-512 BF16, AMX) OpenVINO
    would otherwise run the float32 model in bf16, and the scores would change silently.
    """

    def __init__(self, converted, names: list[str], config: dict | None = None) -> None:
        import openvino

        self.names = list(names)
        config = {"PERFORMANCE_HINT": "THROUGHPUT", "INFERENCE_PRECISION_HINT": "f32", **(config or {})}
        self.compiled = openvino.Core().compile_model(converted, "CPU", config)
        self.requests = max(1, int(self.compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))

    def _inputs(self, features: dict) -> list[np.ndarray]:
        return [np.asarray(features[n]) for n in self.names]  # in the order traced

    def __call__(self, features: dict) -> np.ndarray:
        # share_inputs=False: OpenVINO copies the inputs. Shared (its default here), the compiled
        # model's own request keeps pointing at arrays that are freed or reused after the call, and
        # a later inference in the process overwrote a batch's token ids and the heap
        # (OpenVINO 2026.4, CPU; tests/test_embeddings.py runs that sequence).
        return self.compiled(self._inputs(features), share_inputs=False)[0]

    def imap(self, batches):
        """``(features, token embeddings)`` of each features dict in ``batches``, in order; up to
        :attr:`requests` batches run at once, and ``batches`` is read as requests come free. A
        failed inference raises here."""
        import openvino

        queue = openvino.AsyncInferQueue(self.compiled, self.requests)
        sent: dict[int, dict] = {}
        done: dict[int, np.ndarray] = {}
        queue.set_callback(lambda request, index: done.__setitem__(index, request.get_output_tensor(0).data.copy()))
        ready = 0

        def finished():  # the batches done so far, in order
            nonlocal ready
            while ready in done:
                yield sent.pop(ready), done.pop(ready)
                ready += 1

        for index, features in enumerate(batches):
            sent[index] = features
            queue.start_async(self._inputs(features), index)  # waits while every request is busy
            yield from finished()
        queue.wait_all()
        yield from finished()
        if sent:
            raise RuntimeError(f"OpenVINO returned {ready} of {ready + len(sent)} batches of the CSS encoder")


_models: dict[str, object] = {}
_encoders: dict[tuple[str, str, str], Encoder] = {}
_lock = threading.Lock()


def get_encoder(name: str | None = None, *, precision: str | None = None, backend: str | None = None) -> Encoder:
    """The CSS encoder, loaded on first use and kept per (name, precision, backend).

    ``name`` (hub id or local folder) defaults to ``$FAKEVLM_CSS_MODEL``, else
    :data:`DEFAULT_CSS_MODEL`; ``precision`` to ``$FAKEVLM_CSS_PRECISION``, else float32;
    ``backend`` to ``$FAKEVLM_CSS_BACKEND``, else torch. The variables are read at call time.
    Thread-safe: concurrent first calls load once. Loading errors propagate.
    """
    name = name or os.environ.get(CSS_MODEL_ENV) or DEFAULT_CSS_MODEL
    precision = _setting(precision, CSS_PRECISION_ENV, DEFAULT_PRECISION, PRECISIONS)
    backend = _setting(backend, CSS_BACKEND_ENV, DEFAULT_BACKEND, BACKENDS)
    if precision != "float32" and backend != "torch":
        raise ValueError(f"precision {precision} is a torch option; the {backend} backend runs in float32")
    key = (name, precision, backend)
    with _lock:  # held during the load so that a second caller waits, not loads
        encoder = _encoders.get(key)
        if encoder is None:
            model = _models.get(name)
            if model is None:
                model = _models[name] = _load_sentence_transformer(name)
            revision = model_revision(name) or "unknown"
            identity = EncoderIdentity(name, revision, precision, backend)
            if backend == "openvino":
                encoder = Encoder(model, identity, OpenVINORunner(*openvino_model(model)), _OPENVINO_BATCH_SIZE)
            else:
                encoder = Encoder(model, identity)
            _encoders[key] = encoder
    return encoder


def _load_sentence_transformer(name: str):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(name)


# ------------------------------------------------------------------------------- cache


def cache_dir() -> Path | None:
    """Where embeddings are cached: ``$FAKEVLM_CSS_CACHE`` (a directory, or ``off`` for no cache),
    else ``<user cache dir>/fakevlm-eval/embeddings`` (``~/.cache/...`` on Linux). Read at call time."""
    value = os.environ.get(CSS_CACHE_ENV, "").strip()
    if value.lower() in _OFF:
        return None
    if value:
        return Path(value).expanduser()
    from platformdirs import user_cache_path

    return user_cache_path("fakevlm-eval") / "embeddings"


class EmbeddingCache:
    """Embeddings in one SQLite database (:class:`fakevlm_tasks.services.cache.SQLiteCache`): rows keyed
    by (encoder key, sha256 of the text), float32 vectors. Several processes may read and write at
    once; a file that cannot be used is bypassed with one warning per process."""

    FILE = "embeddings.sqlite3"

    def __init__(self, directory: str | Path, timeout_s: float = 60.0) -> None:
        self.path = Path(directory) / self.FILE
        self._table = sqlite_cache.shared(
            self.path, what="CSS embedding cache", table="embeddings", key="text_sha256", value="vector",
            schema="encoder TEXT NOT NULL, text_sha256 BLOB NOT NULL, vector BLOB NOT NULL, PRIMARY KEY (encoder, text_sha256)",
            scope=("encoder",), without_rowid=True, timeout_s=timeout_s,
            remedy=f"the scores are unaffected; delete the file, or set ${CSS_CACHE_ENV} to another folder or off")

    @staticmethod
    def _key(text: str) -> bytes:
        return hashlib.sha256(text.encode("utf-8")).digest()

    def get(self, encoder_key: str, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """{text: vector} for the texts already cached for this encoder; a stored value that is not
        float32 bytes reads as an empty vector (so that :func:`cached_encode` re-encodes it)."""
        by_key = {self._key(t): t for t in texts}
        found = self._table.get(by_key, (encoder_key,))
        return {by_key[key]: _decoded(blob) for key, blob in found.items()}

    def put(self, encoder_key: str, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Store one vector per text, in one transaction (replacing what was stored for the same text)."""
        self._table.put([{"encoder": encoder_key, "text_sha256": self._key(t), "vector": np.asarray(v, dtype="<f4").tobytes()}
                         for t, v in zip(texts, vectors)])

    def count(self, encoder_key: str | None = None) -> int:
        return self._table.count(() if encoder_key is None else (encoder_key,))


def _decoded(blob) -> np.ndarray:
    if not isinstance(blob, bytes) or len(blob) % 4:
        return np.zeros(0, dtype=np.float32)
    return np.frombuffer(blob, dtype="<f4")


def cached_encode(encoder: Encoder, cache: EmbeddingCache | None, texts: Sequence[str]) -> np.ndarray:
    """``encoder.encode(texts)``, reading and adding to ``cache`` (None: no cache).

    Each distinct text missing from the cache is encoded once and stored, and so is each whose
    stored vector is not a finite one of the encoder's :attr:`Encoder.dimension` (a damaged or
    tampered row, replaced). A cache that cannot be read or written is bypassed with a warning
    (:mod:`fakevlm_tasks.services.cache`): the scores are computed all the same. An encoder of
    unknown revision is never cached.
    """
    texts = list(texts)
    if cache is None or not texts or encoder.identity.revision == "unknown":
        return encoder.encode(texts)
    key = encoder.identity.cache_key
    found = cache.get(key, texts)
    bad = sorted(t for t, v in found.items() if v.shape != (encoder.dimension,) or not np.isfinite(v).all())
    if bad:
        logger.warning(f"CSS embedding cache {cache.path}: {len(bad)} stored vector(s) of {key} are not "
                       f"{encoder.dimension} finite floats; encoding them again")
    missing = sorted({t for t in texts if t not in found} | set(bad))
    if missing:
        vectors = encoder.encode(missing)
        cache.put(key, missing, vectors)
        found.update(zip(missing, vectors))
    return np.stack([found[t] for t in texts]).astype(np.float32, copy=False)


def open_cache() -> EmbeddingCache | None:
    """The cache at :func:`cache_dir`, or None if it is off."""
    directory = cache_dir()
    return None if directory is None else EmbeddingCache(directory)


# ------------------------------------------------------------------------------- glue


def css_scores(predictions, references) -> tuple[list[float], str]:
    """Per-sample CSS (see :func:`fakevlm_tasks.scoring.metrics.css`) with the encoder that the settings
    name, and that encoder's description (name, revision, precision, backend) for the results.

    References go through the disk cache (:func:`cache_dir`), so each dataset's references are
    encoded once per encoder; predictions are encoded once per call and not stored.
    Loading errors of the model propagate.
    """
    encoder = get_encoder()
    cache = open_cache()
    scores = metrics.css(predictions, references, model=encoder,
                         reference_model=lambda texts: cached_encode(encoder, cache, texts))
    return scores, encoder.description
