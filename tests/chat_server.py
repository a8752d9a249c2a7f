"""An OpenAI-compatible chat server on 127.0.0.1 for tests: it answers, fails or hangs per image colour.

``tests/test_baselines.py`` runs lmms-eval's ``openai`` adapter against it;
``tests/test_batch.py`` also uses it as the worker of an exported batch.
"""

from __future__ import annotations

import base64
import io
import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image


class FakeChatServer(ThreadingHTTPServer):
    """An OpenAI-compatible ``/v1/chat/completions`` on 127.0.0.1 that acts per image colour.

    ``plan[colour]`` lists what to do on the 1st, 2nd, ... call for that image (the last
    entry repeats): an answer string, ``"500"`` (a server error) or ``"hang"`` (no reply
    until ``hang_s`` has passed or the server stops). At most ``max_calls`` calls are served.
    """

    daemon_threads = True

    def __init__(self, plan: dict, hang_s: float, max_calls: int = 40):
        super().__init__(("127.0.0.1", 0), _ChatHandler)
        self.plan, self.hang_s, self.max_calls = plan, hang_s, max_calls
        self.calls: Counter = Counter()
        self.texts: list[str] = []
        self.bodies: list[dict] = []  # each request's JSON body, in arrival order
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _ChatHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        server: FakeChatServer = self.server
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        (message,) = body["messages"]
        text = next(p["text"] for p in message["content"] if p["type"] == "text")
        url = next(p["image_url"]["url"] for p in message["content"] if p["type"] == "image_url")
        header, data = url.split(",", 1)
        assert header.startswith("data:image/") and header.endswith(";base64")
        with Image.open(io.BytesIO(base64.b64decode(data))) as im:
            colour = im.convert("RGB").getpixel((0, 0))
        with server.lock:
            attempt = server.calls[colour]
            server.calls[colour] += 1
            server.texts.append(text)
            server.bodies.append(body)
            over_budget = sum(server.calls.values()) > server.max_calls
        steps = server.plan[colour]
        action = "500" if over_budget else steps[min(attempt, len(steps) - 1)]
        if action == "hang":
            server.stopping.wait(server.hang_s)  # the client gives up first; no reply is sent
            return
        if action == "500":
            self._send(500, {"error": {"message": "internal error", "type": "server_error"}})
            return
        self._send(200, {
            "id": f"chatcmpl-{attempt}", "object": "chat.completion", "created": 0, "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": action}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 8, "total_tokens": 18},
        })

    def _send(self, status: int, payload: dict):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass
