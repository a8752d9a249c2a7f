"""A stand-in for the Hugging Face Hub on 127.0.0.1, speaking the HTTP protocol huggingface_hub's client downloads by.

Tests point ``HF_ENDPOINT`` at it and run the real client. It serves dataset repos held in memory, each publish a
new commit, with what huggingface_hub 2.x reads (``file_download.py``, ``hf_api.py``):

* ``HEAD``/``GET /datasets/<repo>/resolve/<revision>/<path>``: ``X-Repo-Commit``, ``ETag`` (git's blob id, or the
  sha256 for an LFS file, also as ``X-Linked-Etag`` with ``X-Linked-Size``), ``Content-Length``, byte ranges
  (``Range: bytes=N-`` answered 206 with ``Content-Range``); ``X-Error-Code`` ``RepoNotFound`` /
  ``RevisionNotFound`` / ``EntryNotFound`` on a 404;
* ``GET /api/datasets/<repo>/revision/<revision>``: the repo info (``sha``, ``siblings``);
* ``POST /api/datasets/<repo>/paths-info/<revision>``: size, ``oid`` and ``lfs`` of each path asked for that exists.

Faults a test can inject: ``drop_after[path] = n`` ends the next full download of ``path`` after ``n`` bytes (the
connection closes mid-body), ``throttle[path] = s`` sleeps ``s`` seconds per 64 KiB sent, ``misreport[path] = h``
reports hash ``h`` for ``path`` whatever its bytes. Every request is logged in ``requests``. Requests are bounded:
each socket times out after 10 s and after ``MAX_REQUESTS`` the server answers 503.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

MAX_REQUESTS = 2000
CHUNK = 64 << 10


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Commit:
    sha: str
    files: dict[str, bytes]
    lfs: set[str]


@dataclass
class Request:
    method: str
    path: str  # the repo file (or API path) asked for
    range: str | None
    sent: int = 0  # body bytes sent


@dataclass
class HubServer:
    """Start with ``with HubServer() as hub:``; ``hub.url`` is the ``HF_ENDPOINT``."""

    repos: dict[str, list[Commit]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    drop_after: dict[str, int] = field(default_factory=dict)
    throttle: dict[str, float] = field(default_factory=dict)
    misreport: dict[str, str] = field(default_factory=dict)

    def publish(self, repo_id: str, files: dict[str, bytes], lfs_suffixes=(".zip",)) -> str:
        """Make ``files`` the repo's new head commit; returns its sha."""
        history = self.repos.setdefault(repo_id, [])
        sha = hashlib.sha1(f"{repo_id}:{len(history)}".encode()).hexdigest()
        history.append(Commit(sha, dict(files), {p for p in files if p.endswith(tuple(lfs_suffixes))}))
        return sha

    def downloads(self, path: str) -> list[Request]:
        """The GET requests for repo file ``path``."""
        return [r for r in self.requests if r.method == "GET" and r.path == path]

    # -------------------------------------------------------------- lifecycle

    def __enter__(self) -> HubServer:
        server = self

        class Handler(_Handler):
            hub = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    # -------------------------------------------------------------- what the handler asks

    def commit(self, repo_id: str, revision: str) -> Commit | None:
        history = self.repos.get(repo_id, [])
        if revision == "main":
            return history[-1] if history else None
        return next((c for c in history if c.sha == revision), None)

    def etag(self, commit: Commit, path: str) -> str:
        data = commit.files[path]
        if path in self.misreport:
            return self.misreport[path]
        return hashlib.sha256(data).hexdigest() if path in commit.lfs else git_blob_id(data)


class _Handler(BaseHTTPRequestHandler):
    hub: HubServer
    timeout = 10

    def log_message(self, *args) -> None:  # the tests read hub.requests instead
        pass

    def do_HEAD(self) -> None:
        self._route("HEAD")

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def _route(self, method: str) -> None:
        hub = self.hub
        parts = [unquote(p) for p in urlsplit(self.path).path.split("/") if p]
        request = Request(method, "/".join(parts), self.headers.get("Range"))
        hub.requests.append(request)
        if len(hub.requests) > MAX_REQUESTS:
            return self._error(503, "TooManyRequests", "request budget spent")
        if len(parts) >= 6 and parts[0] == "datasets" and parts[3] == "resolve":
            repo_id, revision, path = f"{parts[1]}/{parts[2]}", parts[4], "/".join(parts[5:])
            request.path = path
            return self._resolve(method, repo_id, revision, path, request)
        if len(parts) == 6 and parts[:2] == ["api", "datasets"] and parts[4] in ("revision", "paths-info"):
            commit = self._commit(f"{parts[2]}/{parts[3]}", parts[5])
            if commit is None:
                return None
            if parts[4] == "revision" and method == "GET":
                return self._json({"id": f"{parts[2]}/{parts[3]}", "sha": commit.sha, "private": False,
                                   "siblings": [{"rfilename": p} for p in commit.files]})
            if parts[4] == "paths-info" and method == "POST":
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                asked = parse_qs(body).get("paths", [])
                return self._json([self._path_info(commit, p) for p in asked if p in commit.files])
        return self._error(404, "RepoNotFound", f"no route {self.path}")

    def _commit(self, repo_id: str, revision: str) -> Commit | None:
        if repo_id not in self.hub.repos:
            self._error(404, "RepoNotFound", f"no repo {repo_id}")
            return None
        commit = self.hub.commit(repo_id, revision)
        if commit is None:
            self._error(404, "RevisionNotFound", f"no revision {revision}")
        return commit

    def _path_info(self, commit: Commit, path: str) -> dict:
        data = commit.files[path]
        info = {"type": "file", "path": path, "size": len(data), "oid": git_blob_id(data)}
        if path in commit.lfs:
            info["lfs"] = {"oid": self.hub.etag(commit, path), "size": len(data), "pointerSize": 134}
        elif path in self.hub.misreport:
            info["oid"] = self.hub.misreport[path]
        return info

    def _resolve(self, method: str, repo_id: str, revision: str, path: str, request: Request) -> None:
        commit = self._commit(repo_id, revision)
        if commit is None:
            return
        if path not in commit.files:
            return self._error(404, "EntryNotFound", f"no {path}", {"X-Repo-Commit": commit.sha})
        data, etag = commit.files[path], self.hub.etag(commit, path)
        start = 0
        if request.range and request.range.startswith("bytes="):
            start = int(request.range[len("bytes="):].split("-")[0] or 0)
        body = data[start:]
        self.send_response(206 if start else 200)
        headers = {"X-Repo-Commit": commit.sha, "ETag": f'"{etag}"', "Content-Length": str(len(body)),
                   "Accept-Ranges": "bytes", "Content-Type": "application/octet-stream"}
        if path in commit.lfs:
            headers |= {"X-Linked-Etag": f'"{etag}"', "X-Linked-Size": str(len(data))}
        if start:
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if method != "GET":
            return
        cut = self.hub.drop_after.pop(path, None) if not start else None
        for i in range(0, len(body), CHUNK):
            if cut is not None and request.sent >= cut:
                self.close_connection = True
                return  # the connection ends mid-body, as a network drop does
            chunk = body[i:i + CHUNK] if cut is None else body[i:min(i + CHUNK, cut)]
            if path in self.hub.throttle:
                time.sleep(self.hub.throttle[path])
            try:
                self.wfile.write(chunk)
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                return  # the client went away (a test killed it)
            request.sent += len(chunk)

    def _json(self, value) -> None:
        body = json.dumps(value).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, code: str, message: str, extra: dict | None = None) -> None:
        body = json.dumps({"error": message}).encode()
        self.send_response(status)
        self.send_header("X-Error-Code", code)
        self.send_header("X-Error-Message", message)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
