"""An OpenAI-compatible chat server for the judge tests, on 127.0.0.1, scripted per answer and bounded in requests."""

from __future__ import annotations

import json
import threading
from collections import Counter
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from fakevlm_tasks.services.judge import JudgeConfig

QUESTION = "<image>Does the image looks real/fake?"
HANG_S = 3.0  # how long a "hang" withholds its reply; far past the client's timeout
TIMEOUT_S = 0.5


class JudgeServer(ThreadingHTTPServer):
    """``/v1/chat/completions`` scripted per answer.

    ``plan[answer]`` lists what the 1st, 2nd, ... request about that answer gets (the last
    entry repeats): a reply text, an HTTP status (int), ``"hang"`` (nothing until
    ``HANG_S`` has passed), ``"not-json"`` or ``"no-choices"`` (a 200 that is not a chat
    completion); ``plan[None]``, if given, serves any other answer. It serves at most
    ``max_requests`` requests, then shuts itself down.
    """

    daemon_threads = True

    def __init__(self, plan: dict, max_requests: int = 40):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.plan, self.max_requests = plan, max_requests
        self.calls: Counter = Counter()
        self.bodies: list[dict] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    @property
    def requests(self) -> int:
        return len(self.bodies)


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        server: JudgeServer = self.server
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        content = body["messages"][-1]["content"]  # a string, or text and image parts
        prompt = content if isinstance(content, str) else "".join(p.get("text", "") for p in content)
        answer = next((a for a in server.plan if a is not None and f"<<<\n{a}\n>>>" in prompt), None)
        with server.lock:
            attempt = server.calls[answer]
            server.calls[answer] += 1
            server.bodies.append(body)
            if len(server.bodies) >= server.max_requests:
                threading.Thread(target=server.shutdown, daemon=True).start()
        steps = server.plan[answer]
        action = steps[min(attempt, len(steps) - 1)]
        if action == "hang":
            server.stopping.wait(HANG_S)
        elif isinstance(action, int):
            self._send(action, b'{"error": {"message": "scripted failure", "type": "server_error"}}')
        elif action == "not-json":
            self._send(200, b"<html>gateway says hello</html>", "text/html")
        elif action == "no-choices":
            self._send(200, b'{"id": "x", "object": "chat.completion", "choices": null}')
        else:
            self._send(200, json.dumps({
                "id": f"chatcmpl-{attempt}", "object": "chat.completion", "created": 0, "model": body["model"],
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": action}}],
            }).encode())

    def _send(self, status: int, data: bytes, content_type: str = "application/json"):
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up first

    def log_message(self, *args):
        pass


@contextmanager
def running(plan: dict, max_requests: int = 40):
    """A JudgeServer serving ``plan`` for the block, stopped after it."""
    server = JudgeServer(plan, max_requests)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield server
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()


def config_for(server: JudgeServer, tmp_path, **overrides) -> JudgeConfig:
    settings = dict(model="judge-test", base_url=server.base_url, api_key_env="FAKEVLM_TEST_NO_SUCH_KEY",
                    timeout=TIMEOUT_S, retries=2, retry_delay=0, cache_path=tmp_path / "judge.sqlite")
    return JudgeConfig(**{**settings, **overrides})


def point_judge_at(monkeypatch, server: JudgeServer, cache) -> None:
    """The judge's FAKEVLM_JUDGE_* variables pointed at ``server``: no retries, no key, its cache at ``cache``."""
    monkeypatch.setenv("FAKEVLM_JUDGE_MODEL", "judge-test")
    monkeypatch.setenv("FAKEVLM_JUDGE_BASE_URL", server.base_url)
    monkeypatch.setenv("FAKEVLM_JUDGE_CACHE", str(cache))
    monkeypatch.setenv("FAKEVLM_JUDGE_RETRY_DELAY", "0")
    monkeypatch.setenv("FAKEVLM_JUDGE_RETRIES", "0")
    monkeypatch.setenv("FAKEVLM_JUDGE_API_KEY_ENV", "FAKEVLM_TEST_NO_SUCH_KEY")
