"""``fakevlm-batch export``: the OpenAI Batch API input a task would be, and its output replayed.

The fast tests read what ``export_requests`` writes for the FakeClue miniature (solid-colour
images): prompt, image, settings and ids. The slow ones run lmms-eval's ``openai`` adapter
live against the local chat server (tests/chat_server.py), export the same task, compare the
two request by request, let the server work through the exported batch and replay its output
with ``--model replay``: same answers, same metrics.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import urllib.request
from pathlib import Path

import pytest
from PIL import Image

from chat_server import FakeChatServer
from fakevlm_model import batch
from fakevlm_tasks.glue.prepared import FAKECLUE_QUESTION
from fakevlm_tasks.glue.prompts import DETECTION_PROMPTS
from lmms_runs import data_dir, offline_env, results_of, run_cli, samples_of
from official_formats import prepare_coloured_fakeclue

MODEL = "gpt-4o-2024-08-06"
RED, GREEN, BLUE = (200, 30, 30), (30, 200, 30), (30, 30, 200)
FAKECLUE = [  # (image, label, category, reference, colour)
    ("animal/fake/0.png", 0, "animal", "This is a fake image. Smeared fur.", RED),
    ("animal/real/1.png", 1, "animal", "This is a real image. Natural fur.", GREEN),
    ("doc/fake/2.png", 0, "doc", "This is a fake image. Garbled text.", BLUE),
]
COLOUR_OF = {image: colour for image, *_, colour in FAKECLUE}
PLAN = {  # one answer per image, the same every time it is asked: the live run and the batch get the same
    RED: ["This is a fake image. The fur is smeared."],
    GREEN: ["This is a real image. The noise is natural."],
    BLUE: ["This is a real image. The text looks printed."],
}


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return prepare_coloured_fakeclue(tmp_path_factory.mktemp("batch"), FAKECLUE)


@pytest.fixture(scope="module")
def exported(data_root) -> list[dict]:
    with data_dir(data_root):
        return batch.export_requests("fakeclue", MODEL)


def _colour(body: dict) -> tuple:
    url = next(p["image_url"]["url"] for p in body["messages"][0]["content"] if p["type"] == "image_url")
    with Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))) as im:
        return im.convert("RGB").getpixel((0, 0))


def test_one_request_per_doc_named_by_the_doc_id(exported):
    assert [line["custom_id"] for line in exported] == [image for image, *_ in FAKECLUE]


def test_each_line_is_a_batch_api_chat_completion_request(exported):
    assert {(line["method"], line["url"]) for line in exported} == {("POST", "/v1/chat/completions")}


def test_the_request_asks_the_api_familys_prompt_with_the_docs_image(exported):
    for line in exported:
        (message,) = line["body"]["messages"]
        texts = [p["text"] for p in message["content"] if p["type"] == "text"]
        assert texts == [FAKECLUE_QUESTION + DETECTION_PROMPTS["api"]]
        assert _colour(line["body"]) == COLOUR_OF[line["custom_id"]]


def test_the_settings_are_greedy_with_the_tasks_token_budget(exported):
    for line in exported:
        body = line["body"]
        assert (body["model"], body["temperature"], body["max_tokens"]) == (MODEL, 0, 256)


def test_another_family_gets_its_own_prompt(data_root):
    with data_dir(data_root):
        (line, *_) = batch.export_requests("fakeclue", MODEL, family="general", limit=1)
    text = next(p["text"] for p in line["body"]["messages"][0]["content"] if p["type"] == "text")
    assert text == FAKECLUE_QUESTION + DETECTION_PROMPTS["general"]


def test_the_cli_writes_the_requests_file(data_root, tmp_path, capsys):
    out = tmp_path / "requests.jsonl"
    with data_dir(data_root):
        assert batch.main(["export", "--task", "fakeclue", "--model-version", MODEL, "--out", str(out)]) == 0
    assert len(out.read_text().splitlines()) == len(FAKECLUE)
    assert "--model replay" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["requests.jsonl"]  # no temp file left


def test_the_cli_refuses_an_out_folder_that_does_not_exist(data_root, tmp_path, capsys):
    assert batch.main(["export", "--task", "fakeclue", "--model-version", MODEL, "--out", str(tmp_path / "no" / "r.jsonl")]) == 2
    assert "existing folder" in capsys.readouterr().err


@pytest.mark.slow
def test_the_cli_says_how_to_prepare_unprepared_data(tmp_path, capsys):
    with data_dir(tmp_path / "empty"):
        assert batch.main(["export", "--task", "fakeclue", "--model-version", MODEL, "--out", str(tmp_path / "r.jsonl")]) == 2
    assert "fakevlm-data prepare fakeclue" in capsys.readouterr().err


# -------------------------------------------- live, then batch and replay, against the local server


class _Serving:
    def __init__(self):
        self.server = FakeChatServer(PLAN, hang_s=1.0)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeChatServer:
        self.thread.start()
        return self.server

    def __exit__(self, *exc):
        self.server.stopping.set()
        self.server.shutdown()
        self.server.server_close()


def work_through(server: FakeChatServer, requests: list[dict], out: Path) -> Path:
    """What the Batch API does with an input file: each body posted, each reply written as an output line."""
    lines = []
    for i, line in enumerate(requests):
        req = urllib.request.Request(server.base_url.removesuffix("/v1") + line["url"], data=json.dumps(line["body"]).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as reply:
            body = json.loads(reply.read())
        lines.append({"id": f"batch_req_{i}", "custom_id": line["custom_id"], "error": None,
                      "response": {"status_code": 200, "request_id": f"req_{i}", "body": body}})
    out.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory, data_root, exported):
    """The live ``openai`` run and the replayed batch, each through the lmms-eval CLI, and the bodies the server got live."""
    tmp = tmp_path_factory.mktemp("batch_runs")
    env = offline_env(data_root)
    with _Serving() as server:
        proc = run_cli(["--model", "openai", "--model_args", f"model_version={MODEL},base_url={server.base_url},api_key=sk-local-test",
                        "--tasks", "fakeclue", "--output_path", str(tmp / "live"), "--log_samples"], env)
        live = results_of(tmp / "live", proc)
        live_bodies = list(server.bodies)
        output = work_through(server, exported, tmp / "batch_output.jsonl")
    proc = run_cli(["--model", "replay", "--model_args", f"predictions={output},name={MODEL} (batch)", "--tasks", "fakeclue",
                    "--output_path", str(tmp / "replayed"), "--log_samples"], env)
    replayed = results_of(tmp / "replayed", proc)
    return {"live": live, "replayed": replayed, "live_bodies": live_bodies, "dirs": (tmp / "live", tmp / "replayed")}


@pytest.mark.slow
def test_the_export_is_what_the_live_adapter_sends_request_by_request(runs, exported):
    live = {_colour(body): body for body in runs["live_bodies"]}
    assert len(live) == len(exported)
    for line in exported:
        assert line["body"] == live[COLOUR_OF[line["custom_id"]]]


@pytest.mark.slow
def test_the_replayed_batch_gives_the_live_runs_answers(runs):
    live_dir, replayed_dir = runs["dirs"]

    def answers(out):
        return {s["acc"]["id"]: s["filtered_resps"] for s in samples_of(out, "fakeclue")}

    assert answers(replayed_dir) == answers(live_dir)


@pytest.mark.slow
def test_the_replayed_batch_gives_the_live_runs_metrics(runs):
    assert runs["replayed"]["results"]["fakeclue"] == runs["live"]["results"]["fakeclue"]
