"""Data from the Hub: `fakevlm-data download` and a task's first use, through huggingface_hub's real client.

The client talks to tests/hub_server.py on 127.0.0.1 (HF_ENDPOINT), which serves miniature repos in the official
layouts of lingcco/FakeClue and bczhou/LOKI. huggingface_hub reads HF_ENDPOINT and HF_HUB_OFFLINE when it is
imported, so every download runs in a subprocess with its own environment; no request leaves the machine.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from hub_server import HubServer
from official_formats import fakeclue_record, loki_open_ended, loki_tf_pair

FAKECLUE = [
    ("animal/real/0.png", 1, "animal", "This is a real image. Natural fur."),
    ("doc/fake/1.png", 0, "doc", "This is a fake image. Garbled text."),
    ("human/real/2.png", 1, "human", "This is a real image. Consistent pores."),
]
CLI = "import sys; from fakevlm_tasks.data.cli import main; sys.exit(main())"
FIRST_USE = "from fakevlm_tasks.glue.docs import read_prepared; print('records', len(read_prepared({!r})))"


def png_bytes(color=(10, 20, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(out, format="PNG")
    return out.getvalue()


def zip_bytes(members: dict[str, bytes], compression=zipfile.ZIP_STORED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out.getvalue()


def fakeclue_files(nest: str = "test/test/", pad: int = 0) -> dict[str, bytes]:
    """lingcco/FakeClue's layout: data_json/test.json and test.zip, the images nested under ``nest`` in the zip."""
    records = [fakeclue_record(*r) for r in FAKECLUE]
    members = {nest + path: png_bytes((40 * i, 90, 90)) for i, (path, *_) in enumerate(FAKECLUE)}
    if pad:  # incompressible filler, so that a throttled transfer of the archive takes a while
        members[nest + "filler.bin"] = os.urandom(pad)
    return {"README.md": b"# FakeClue\n", "data_json/test.json": json.dumps(records).encode(),
            "data_json/train.json": json.dumps(records[:1]).encode(), "test.zip": zip_bytes(members),
            "train.zip": zip_bytes({"train/" + FAKECLUE[0][0]: png_bytes()})}


def loki_annotations() -> tuple[list, list]:
    return loki_tf_pair("r1", "real", "sence") + loki_tf_pair("f1", "fake", "doc"), [loki_open_ended("o1", "Flat.", ["Smeared."])]


def loki_media(tf, oe) -> bytes:
    """bczhou/LOKI's media_data.zip: the annotations' media_data/ is the archive's loki_media_aggregate/."""
    paths = {r["image_path"] for r in tf + oe}
    return zip_bytes({p.replace("media_data/", "loki_media_aggregate/", 1): png_bytes() for p in paths})


@pytest.fixture
def hub():
    with HubServer() as server:
        yield server


def hub_env(hub: HubServer, tmp: Path, **extra: str) -> dict:
    env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_HUB_OFFLINE": "0", "TRANSFORMERS_OFFLINE": "0",
           "HF_HOME": str(tmp / "hf"), "FAKEVLM_DATA_DIR": str(tmp / "data"), "HF_HUB_DISABLE_XET": "1",
           "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_ETAG_TIMEOUT": "5", "HF_HUB_DOWNLOAD_TIMEOUT": "5", **extra}
    for inherited in ("HF_TOKEN", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "FAKEVLM_AUTO_DOWNLOAD"):
        if inherited not in extra:
            env.pop(inherited, None)
    return env


def run(code: str, env: dict, *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=timeout)


def download(env: dict, *args: str) -> subprocess.CompletedProcess:
    return run(CLI, env, "download", *args)


def records(tmp: Path, name: str = "fakeclue") -> list[dict]:
    path = tmp / "data" / name / "test.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def manifest(tmp: Path, name: str = "fakeclue") -> dict:
    return json.loads((tmp / "data" / name / "manifest.json").read_text())


# ------------------------------------------------------------------ download and prepare


def test_download_prepares_fakeclue_with_every_image_found(hub, tmp_path):
    hub.publish("lingcco/FakeClue", fakeclue_files())
    proc = download(hub_env(hub, tmp_path), "fakeclue")
    assert proc.returncode == 0, proc.stderr
    recs = records(tmp_path)
    assert sorted(r["source_image"] for r in recs) == sorted(r[0] for r in FAKECLUE)
    assert all(Path(r["image"]).is_file() for r in recs)


@pytest.mark.slow
def test_the_manifest_records_the_hub_revision_and_file_hashes(hub, tmp_path):
    files = fakeclue_files()
    commit = hub.publish("lingcco/FakeClue", files)
    assert download(hub_env(hub, tmp_path), "fakeclue").returncode == 0
    source = manifest(tmp_path)["sources"]["hub"]
    assert source["repo"] == "lingcco/FakeClue" and source["revision"] == commit
    assert source["files"]["test.zip"] == hashlib.sha256(files["test.zip"]).hexdigest()


@pytest.mark.slow
@pytest.mark.parametrize("nest", ["", "test/", "test/test/"])
def test_the_image_root_is_found_however_deep_the_archive_nests_it(hub, tmp_path, nest):
    hub.publish("lingcco/FakeClue", fakeclue_files(nest=nest))
    assert download(hub_env(hub, tmp_path), "fakeclue").returncode == 0
    assert len(records(tmp_path)) == len(FAKECLUE)


@pytest.mark.slow
def test_a_second_download_gets_no_file_again(hub, tmp_path):
    hub.publish("lingcco/FakeClue", fakeclue_files())
    env = hub_env(hub, tmp_path)
    assert download(env, "fakeclue").returncode == 0
    proc = download(env, "fakeclue")
    assert proc.returncode == 0, proc.stderr
    assert len(hub.downloads("test.zip")) == 1 and len(hub.downloads("data_json/test.json")) == 1
    assert "extracting" not in proc.stderr  # the first run's extraction of the same archive is reused


@pytest.mark.slow
def test_the_train_split_is_extracted_for_training_and_the_test_set_left_alone(hub, tmp_path):
    hub.publish("lingcco/FakeClue", fakeclue_files())
    env = hub_env(hub, tmp_path)
    assert download(env, "fakeclue").returncode == 0
    before = (tmp_path / "data" / "fakeclue" / "test.jsonl").read_bytes()
    proc = download(env, "fakeclue", "--split", "train")
    assert proc.returncode == 0, proc.stderr
    assert "not prepared" in proc.stdout and "train.json" in proc.stdout
    assert (tmp_path / "data" / ".hub" / "fakeclue" / "train" / FAKECLUE[0][0]).is_file()
    assert (tmp_path / "data" / "fakeclue" / "test.jsonl").read_bytes() == before


# ------------------------------------------------------------------ interrupted, corrupt, mismatched


@pytest.mark.slow
def test_a_connection_dropped_mid_archive_resumes_where_it_stopped(hub, tmp_path):
    files = fakeclue_files(pad=12_000_000)  # huggingface_hub writes in 10 MiB chunks: a resume needs one written
    hub.publish("lingcco/FakeClue", files)
    hub.drop_after["test.zip"] = 11_000_000
    proc = download(hub_env(hub, tmp_path), "fakeclue")
    assert proc.returncode == 0, proc.stderr
    first, second = hub.downloads("test.zip")
    assert first.range is None and first.sent == 11_000_000
    resumed_at = int(second.range.removeprefix("bytes=").rstrip("-"))
    assert 0 < resumed_at <= first.sent  # not from byte 0
    assert second.sent == len(files["test.zip"]) - resumed_at
    assert len(records(tmp_path)) == len(FAKECLUE)


@pytest.mark.slow
def test_a_download_killed_mid_archive_leaves_nothing_prepared_and_a_rerun_finishes(hub, tmp_path):
    hub.publish("lingcco/FakeClue", fakeclue_files(pad=2_000_000))
    hub.throttle["test.zip"] = 0.05  # ~1.6 s for the archive
    env = hub_env(hub, tmp_path)
    proc = subprocess.Popen([sys.executable, "-c", CLI, "download", "fakeclue"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not any(r.sent for r in hub.downloads("test.zip")) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert any(r.sent for r in hub.downloads("test.zip")), "the archive's transfer never started"
    assert not (tmp_path / "data" / "fakeclue").exists()
    hub.throttle.clear()
    rerun = download(env, "fakeclue")
    assert rerun.returncode == 0, rerun.stderr
    assert len(records(tmp_path)) == len(FAKECLUE)


@pytest.mark.slow
def test_an_extraction_killed_midway_is_started_over(hub, tmp_path):
    hub.publish("lingcco/FakeClue", fakeclue_files())
    partial = tmp_path / "data" / ".hub" / "fakeclue" / "test.partial"
    (partial / "animal" / "real").mkdir(parents=True)
    (partial / "animal" / "real" / "0.png").write_bytes(b"half an image")  # what a killed extraction leaves
    proc = download(hub_env(hub, tmp_path), "fakeclue")
    assert proc.returncode == 0, proc.stderr
    assert not partial.exists()
    assert manifest(tmp_path)["skipped"] == 0  # the half-written image was not used


@pytest.mark.slow
def test_a_corrupt_archive_is_an_error_naming_it_and_keeps_the_prepared_set(hub, tmp_path):
    hub.publish("lingcco/FakeClue", fakeclue_files())
    env = hub_env(hub, tmp_path)
    assert download(env, "fakeclue").returncode == 0
    prepared = (tmp_path / "data" / "fakeclue" / "test.jsonl").read_bytes()
    broken = dict(fakeclue_files())
    broken["test.zip"] = b"PK\x03\x04" + os.urandom(2000)
    hub.publish("lingcco/FakeClue", broken)
    proc = download(env, "fakeclue")
    assert proc.returncode == 2
    assert "corrupt archive lingcco/FakeClue/test.zip" in proc.stderr
    assert (tmp_path / "data" / "fakeclue" / "test.jsonl").read_bytes() == prepared
    assert all(Path(r["image"]).is_file() for r in records(tmp_path))  # the earlier extraction is still there


@pytest.mark.slow
def test_a_checksum_mismatch_is_an_error_naming_the_file(hub, tmp_path):
    hub.publish("lingcco/FakeClue", fakeclue_files())
    hub.misreport["test.zip"] = "0" * 64
    proc = download(hub_env(hub, tmp_path), "fakeclue")
    assert proc.returncode == 2
    assert "checksum mismatch: lingcco/FakeClue/test.zip" in proc.stderr and "--force-download" in proc.stderr
    assert not (tmp_path / "data" / "fakeclue").exists()


@pytest.mark.slow
def test_an_archive_with_a_member_leaving_its_folder_is_refused_and_nothing_lands_outside(hub, tmp_path):
    files = fakeclue_files()
    files["test.zip"] = zip_bytes({"test/" + FAKECLUE[0][0]: png_bytes(), "../../../../../escaped.txt": b"out"})
    hub.publish("lingcco/FakeClue", files)
    proc = download(hub_env(hub, tmp_path), "fakeclue")
    assert proc.returncode == 2
    assert "refused to extract lingcco/FakeClue/test.zip" in proc.stderr and "leaves the folder" in proc.stderr
    assert not list(tmp_path.parent.rglob("escaped.txt"))
    assert not (tmp_path / "data" / "fakeclue").exists()


# ------------------------------------------------------------------ safe extraction (no Hub needed)


def _symlink(name: str, target: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


@pytest.mark.parametrize("member, why", [
    ("../outside.txt", "leaves the folder"),
    ("/tmp/absolute.txt", "an absolute path"),
    ("link", "a symbolic link"),
    ("bomb.bin", "archive bomb"),
])
def test_an_unsafe_member_refuses_the_archive_with_nothing_written(tmp_path, member, why):
    from fakevlm_tasks.glue import hub

    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("img/0.png", png_bytes())
        if member == "link":
            zf.writestr(_symlink("link", "/etc/passwd"), "/etc/passwd")
        elif member == "bomb.bin":
            zf.writestr(member, b"\0" * (8 << 20))
        else:
            zf.writestr(member, b"x")
    dest = tmp_path / "box" / "out"
    with pytest.raises(hub.HubError, match=why) as err:
        hub.extract(archive, dest, ["img/0.png"])
    assert "nothing written" in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.zip"]


def test_a_member_over_the_size_limit_refuses_the_archive(tmp_path):
    from fakevlm_tasks.glue import hub

    archive = tmp_path / "a.zip"
    archive.write_bytes(zip_bytes({"img/0.png": png_bytes(), "img/big.png": os.urandom(5000)}))
    with pytest.raises(hub.HubError, match="over the 4096-byte limit"):
        hub.extract(archive, tmp_path / "out", ["img/0.png"], max_member=4096)
    assert not (tmp_path / "out").exists()


def test_the_root_found_maps_a_renamed_top_folder_onto_the_annotations_prefix():
    from fakevlm_tasks.glue.hub import find_root

    names = ["loki_media_aggregate/image/a.jpg", "loki_media_aggregate/image/b.png", "loki_media_aggregate/video/c.mp4"]
    assert find_root(names, ["media_data/image/a.jpg", "media_data/image/b.png"]) == ("loki_media_aggregate", "media_data")


# ------------------------------------------------------------------ offline, opt-out, first use, two ranks


@pytest.mark.slow
def test_offline_the_task_prepares_from_a_hub_cache_that_holds_the_files(hub, tmp_path):
    hub.publish("lingcco/FakeClue", fakeclue_files())
    env = hub_env(hub, tmp_path)
    assert download(env, "fakeclue").returncode == 0
    fresh = tmp_path / "fresh-data"
    proc = run(FIRST_USE.format("fakeclue"), dict(env, HF_HUB_OFFLINE="1", FAKEVLM_DATA_DIR=str(fresh),
                                                  HF_ENDPOINT="http://127.0.0.1:9"))
    assert proc.returncode == 0, proc.stderr
    assert f"records {len(FAKECLUE)}" in proc.stdout


def test_offline_with_an_empty_cache_fails_at_once_naming_the_command(hub, tmp_path):
    hub.publish("lingcco/FakeClue", fakeclue_files())
    started = time.monotonic()
    proc = run(FIRST_USE.format("fakeclue"), hub_env(hub, tmp_path, HF_HUB_OFFLINE="1"))
    assert proc.returncode != 0
    assert "HF_HUB_OFFLINE is set" in proc.stderr and "fakevlm-data download fakeclue" in proc.stderr
    assert hub.requests == [] and time.monotonic() - started < 30


@pytest.mark.slow
def test_auto_download_off_fails_naming_the_command(hub, tmp_path):
    hub.publish("lingcco/FakeClue", fakeclue_files())
    proc = run(FIRST_USE.format("fakeclue"), hub_env(hub, tmp_path, FAKEVLM_AUTO_DOWNLOAD="0"))
    assert proc.returncode != 0
    assert "FAKEVLM_AUTO_DOWNLOAD=0" in proc.stderr and "fakevlm-data download fakeclue" in proc.stderr
    assert hub.requests == []


@pytest.mark.slow
def test_a_tasks_first_use_downloads_and_prepares_with_a_log_line(hub, tmp_path):
    hub.publish("lingcco/FakeClue", fakeclue_files())
    proc = run(FIRST_USE.format("fakeclue"), hub_env(hub, tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert f"records {len(FAKECLUE)}" in proc.stdout
    assert "downloading lingcco/FakeClue (test split) from the Hugging Face Hub" in proc.stderr


@pytest.mark.slow
def test_two_processes_at_once_download_and_extract_once(hub, tmp_path):
    hub.publish("lingcco/FakeClue", fakeclue_files(pad=1_000_000))
    hub.throttle["test.zip"] = 0.03
    env = hub_env(hub, tmp_path)
    ranks = [subprocess.Popen([sys.executable, "-c", FIRST_USE.format("fakeclue")], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    outs = [rank.communicate(timeout=120) for rank in ranks]
    assert [rank.returncode for rank in ranks] == [0, 0], outs
    assert all(f"records {len(FAKECLUE)}" in out for out, _ in outs)
    assert len(hub.downloads("test.zip")) == 1
    assert sum(err.count("extracting lingcco/FakeClue/test.zip") for _, err in outs) == 1
    assert sum("another process is downloading it" in err for _, err in outs) == 1


# ------------------------------------------------------------------ LOKI: media on the Hub, annotations in its repo


def _write_annotations(folder: Path, tf, oe) -> Path:
    folder.mkdir(parents=True)
    (folder / "true_or_false.json").write_text(json.dumps(tf))
    (folder / "open_ended_vqa.json").write_bytes(json.dumps(oe).encode("utf-16"))
    return folder


@pytest.mark.slow
def test_loki_media_from_the_hub_with_the_annotations_given(hub, tmp_path):
    tf, oe = loki_annotations()
    hub.publish("bczhou/LOKI", {"README.md": b"# LOKI\n", "media_data.zip": loki_media(tf, oe)})
    ann = _write_annotations(tmp_path / "LOKI" / "data_json" / "image", tf, oe)
    proc = download(hub_env(hub, tmp_path), "loki", "--annotations", str(ann))
    assert proc.returncode == 0, proc.stderr
    assert len(records(tmp_path, "loki")) == 3 and len(records(tmp_path, "loki_judgment")) == 4
    assert all(Path(r["image"]).is_file() for r in records(tmp_path, "loki"))


@pytest.mark.slow
def test_loki_without_annotations_on_the_hub_names_the_clone_command(hub, tmp_path):
    tf, oe = loki_annotations()
    hub.publish("bczhou/LOKI", {"README.md": b"# LOKI\n", "media_data.zip": loki_media(tf, oe)})
    proc = run(FIRST_USE.format("loki"), hub_env(hub, tmp_path))
    assert proc.returncode != 0
    assert "git clone https://github.com/opendatalab/LOKI" in proc.stderr
    assert "fakevlm-data download loki --annotations LOKI/data_json/image" in proc.stderr
    assert hub.downloads("media_data.zip") == []  # nothing big is fetched before the annotations are there


@pytest.mark.slow
def test_loki_uses_the_hub_copy_of_the_annotations_when_the_repo_carries_them(hub, tmp_path):
    tf, oe = loki_annotations()
    hub.publish("bczhou/LOKI", {"media_data.zip": loki_media(tf, oe),
                                "data_json/image/true_or_false.json": json.dumps(tf).encode(),
                                "data_json/image/open_ended_vqa.json": json.dumps(oe).encode("utf-16")})
    proc = run(FIRST_USE.format("loki"), hub_env(hub, tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "records 3" in proc.stdout


@pytest.mark.slow
def test_downloading_a_benchmark_not_on_the_hub_prints_how_to_prepare_it(tmp_path):
    proc = run(CLI, dict(os.environ, FAKEVLM_DATA_DIR=str(tmp_path)), "download", "ddvqa")
    assert proc.returncode == 2
    assert "not on the Hugging Face Hub" in proc.stderr and "fakevlm-data prepare ddvqa" in proc.stderr


# ------------------------------------------------------------------ the headline command, for real


@pytest.mark.slow
def test_lmms_eval_on_a_fresh_data_dir_downloads_prepares_and_scores_then_downloads_nothing(hub, tmp_path, tiny_llava):
    from lmms_runs import LMMS_EVAL, results_of

    hub.publish("lingcco/FakeClue", fakeclue_files())
    env = hub_env(hub, tmp_path, HF_DATASETS_OFFLINE="1")
    args = ["--model", "fakevlm", "--model_args", f"pretrained={tiny_llava},device=cpu,max_new_tokens=8",
            "--tasks", "fakeclue", "--batch_size", "4", "--log_samples"]
    first = subprocess.run([*LMMS_EVAL, *args, "--output_path", str(tmp_path / "out1")], env=env,
                           capture_output=True, text=True, timeout=600)
    results = results_of(tmp_path / "out1", first)["results"]["fakeclue"]
    assert results["failed_rate,none"] == 0.0 and 0.0 <= results["acc,none"] <= 100.0
    assert "downloading lingcco/FakeClue" in first.stdout + first.stderr
    asked = len(hub.requests)
    second = subprocess.run([*LMMS_EVAL, *args, "--output_path", str(tmp_path / "out2")], env=env,
                            capture_output=True, text=True, timeout=600)
    results_of(tmp_path / "out2", second)
    assert len(hub.requests) == asked  # prepared: the second run asks the Hub nothing
