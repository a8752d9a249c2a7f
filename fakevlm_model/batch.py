"""``fakevlm-batch export``: a task's requests as an OpenAI Batch API input file, exactly as ``--model openai`` sends them.

The requests are built by lmms-eval's own ``openai`` adapter, whose client is replaced by
a recorder that keeps each request body instead of sending it: prompt, image data URL and
generation settings are the live adapter's by construction, not a copy of its code. Each
line is ``{"custom_id": <doc id>, "method": "POST", "url": "/v1/chat/completions", "body": ...}``;
the Batch API's output file then goes back through ``--model replay`` (:mod:`fakevlm_model.replay`),
which matches each answer to its doc by ``custom_id``.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

#: The lmms-eval adapter whose requests are exported, and the Batch API endpoint they go to.
ADAPTER = "openai"
ENDPOINT = "/v1/chat/completions"
FAMILIES = ("api", "general", "fakevlm")


class _RecordingClient:
    """Stands in for the adapter's OpenAI client: keeps each request body and answers with its number.

    The answer's number tells which request of the adapter's (threaded, reordered) dispatch
    each body belongs to, since the adapter hands answers back in request order.
    """

    def __init__(self):
        self.bodies: list[dict] = []
        self._lock = threading.Lock()
        self.chat = SimpleNamespace(completions=SimpleNamespace(create=self._create))

    def _create(self, **payload):
        with self._lock:
            self.bodies.append(payload)
            number = len(self.bodies) - 1
        message = SimpleNamespace(content=str(number))
        return SimpleNamespace(choices=[SimpleNamespace(message=message)], usage=None)


def _batch_body(payload: dict) -> dict:
    """The HTTP body the client would post: ``extra_body`` is merged into it, as openai-python does."""
    body = {k: v for k, v in payload.items() if k != "extra_body"}
    body.update(payload.get("extra_body") or {})
    return body


def export_requests(task: str, model_version: str, family: str = "api", limit: int | None = None) -> list[dict]:
    """The Batch API lines for ``task``: one per doc, in doc order, as lmms-eval's ``openai`` adapter builds them."""
    from lmms_eval.models import get_model  # loads this package's plugin, which registers the tasks
    from lmms_eval.tasks import TaskManager, get_task_dict

    if family not in FAMILIES:
        raise ValueError(f"--model-family {family!r}: choose one of {', '.join(FAMILIES)}")
    adapter = get_model(ADAPTER).create_from_arg_string(f"model_version={model_version},api_key=unused,base_url=http://127.0.0.1:9/v1", {})
    recorder = _RecordingClient()
    adapter.client = recorder
    task_type = "simple" if adapter.is_simple else "chat"
    # This package's tasks alone index in a fraction of a second; with lmms-eval's own (3,000+ YAML files) it
    # takes seconds, so those are indexed only for a task that is not ours.
    manager = TaskManager("WARNING", include_defaults=False, model_name=ADAPTER)
    if task not in manager.all_tasks:
        manager = TaskManager("WARNING", model_name=ADAPTER)
    task_obj = get_task_dict([task], manager, task_type)[task]
    if isinstance(task_obj, tuple):  # a task inside a group
        task_obj = task_obj[1]
    if task_obj.lmms_eval_specific_kwargs is not None:
        task_obj.lmms_eval_specific_kwargs["family"] = family
    if task_obj.get_config("num_fewshot") is None:  # as the evaluator sets it
        task_obj.set_config(key="num_fewshot", value=0)
    adapter.task_dict = {task: task_obj.dataset}
    task_obj.build_all_requests(limit=limit, rank=0, world_size=1)
    requests = [r for r in task_obj.instances if r.request_type == "generate_until"]
    if len(requests) != len(task_obj.instances):
        raise ValueError(f"{task}: only generate_until tasks can go through a batch API (it asks for {task_obj.instances[0].request_type})")
    answers = adapter.generate_until(requests)
    lines = []
    for request, answer in zip(requests, answers):
        doc_id, split = request.args[3], request.args[5]
        doc = task_obj.dataset[split][doc_id]
        body = _batch_body(recorder.bodies[int(answer.text)])
        lines.append({"custom_id": str(doc.get("id", doc_id)), "method": "POST", "url": ENDPOINT, "body": body})
    ids = [line["custom_id"] for line in lines]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{task}: its doc ids are not unique, so a batch output could not be matched back by custom_id")
    return lines


def write_jsonl(lines: list[dict], out: Path) -> None:
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
    tmp.replace(out)


def _cause(exc: BaseException) -> BaseException:
    """The error to show: lmms-eval retries loading a task's docs and raises tenacity's RetryError around the real one."""
    last = getattr(exc, "last_attempt", None)
    return (last.exception() if last is not None else None) or exc


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="fakevlm-batch", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    export = sub.add_parser("export", help="write a task's requests in the OpenAI Batch API's JSONL format")
    export.add_argument("--task", required=True, help="an lmms-eval task of this project (fakeclue, loki, dmimage, ...)")
    export.add_argument("--model-version", required=True, help="the API model, as --model_args model_version= names it")
    export.add_argument("--model-family", default="api", choices=FAMILIES,
                        help="the prompt family (the task template's `family`); api is what --model openai is asked [api]")
    export.add_argument("--limit", type=int, default=None, help="only the first N docs, as lmms-eval's --limit")
    export.add_argument("--out", required=True, type=Path, help="the JSONL file to write")
    args = parser.parse_args(argv)
    if args.out.is_dir() or not args.out.parent.is_dir():
        print(f"fakevlm-batch: --out {args.out} must be a file in an existing folder", file=sys.stderr)
        return 2
    from tenacity import RetryError

    try:
        lines = export_requests(args.task, args.model_version, args.model_family, args.limit)
    except (ValueError, KeyError, FileNotFoundError, RetryError) as exc:  # unknown task, data not prepared, a non-generative task
        print(f"fakevlm-batch: {_cause(exc)}", file=sys.stderr)
        return 2
    write_jsonl(lines, args.out)
    print(
        f"wrote {len(lines)} requests of {args.task} for {args.model_version} ({args.model_family} prompt) to {args.out}\n"
        f"Submit it to the Batch API ({ENDPOINT}); score its output file with:\n"
        f"  lmms-eval --model replay --model_args predictions=<output.jsonl>,name=<label> --tasks {args.task}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
