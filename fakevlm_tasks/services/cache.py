"""One SQLite table as a cache that processes and threads share, bypassed with one warning when unusable.

The CSS encoder's embeddings and the judge's replies are kept this way. A cache only saves work
(encoding, paid requests), so a file that is damaged, truncated, read-only, locked for too long or
on a full disk must never lose a run: the first SQLite or OS error logs one warning naming the file,
then reads go on from what could still be read and writes go to memory, so that this process still
asks each distinct question once. Each connection lives for one operation (threads may share a
:class:`SQLiteCache`), in WAL mode so that readers and the writer do not block one another, and each
write is one transaction: a writer killed mid-way leaves the file as it was.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from loguru import logger

#: What a broken cache raises: SQLite's errors, the OS's (a folder that cannot be made), and a
#: value SQLite cannot bind.
CACHE_ERRORS = (sqlite3.Error, OSError, ValueError, OverflowError)
_CHUNK = 500  # keys per SELECT, under SQLite's limit on bound parameters


class SQLiteCache:
    """The rows of ``table`` in the SQLite file ``path``, looked up by the ``key`` column (within
    fixed values of the ``scope`` columns) for their ``value`` column.

    ``schema`` is the table's column list as ``CREATE TABLE`` takes it; ``what`` names the cache in
    the warning, and ``remedy`` says what the user can do about it.
    """

    def __init__(self, path: str | Path, *, what: str, table: str, schema: str, key: str, value: str,
                 scope: Sequence[str] = (), without_rowid: bool = False, remedy: str = "",
                 timeout_s: float = 60.0) -> None:
        self.path = Path(path)
        self.what, self.table, self.key, self.value, self.scope = what, table, key, value, tuple(scope)
        self.remedy, self.timeout_s = remedy, timeout_s
        self._create = f"CREATE TABLE IF NOT EXISTS {table} ({schema}){' WITHOUT ROWID' if without_rowid else ''}"
        self._readable = self._writable = True
        self._created = False
        self._memory: dict[tuple, object] = {}  # what could not be written, for the rest of this process
        self._lock = threading.Lock()

    @property
    def usable(self) -> bool:
        """Whether the file is still read and written (False once it has failed)."""
        return self._readable and self._writable

    def _connect(self) -> contextlib.closing[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")  # readers never block the writer, nor it them
            db.execute("PRAGMA synchronous=NORMAL")  # WAL stays consistent; a power loss may lose the last commits
            if not self._created:
                db.execute(self._create)
                self._created = True
        except BaseException:
            db.close()
            raise
        return contextlib.closing(db)

    def _failed(self, doing: str, exc: BaseException, *, readable: bool) -> None:
        with self._lock:
            first = self.usable
            self._writable = False
            self._readable = self._readable and readable
        if first:
            logger.warning(
                f"{self.what} {self.path} could not be {doing} ({type(exc).__name__}: {exc}); going on without it "
                f"(this run's entries are kept in memory only){'; ' + self.remedy if self.remedy else ''}")

    def get(self, keys: Iterable, scope: Sequence = ()) -> dict:
        """{key: value} for the keys stored under these ``scope`` values (one per scope column)."""
        keys = list(dict.fromkeys(keys))
        scope = tuple(scope)
        found: dict = {}
        if self._readable and keys:
            where = "".join(f"{column} = ? AND " for column in self.scope)
            try:
                with self._connect() as db:
                    for start in range(0, len(keys), _CHUNK):
                        chunk = keys[start : start + _CHUNK]
                        found.update(db.execute(
                            f"SELECT {self.key}, {self.value} FROM {self.table} "
                            f"WHERE {where}{self.key} IN ({','.join('?' * len(chunk))})", [*scope, *chunk]))
            except CACHE_ERRORS as exc:
                self._failed("read", exc, readable=False)
                found = {}
        with self._lock:
            found.update({key: self._memory[scope + (key,)] for key in keys if scope + (key,) in self._memory})
        return found

    def put(self, rows: Sequence[Mapping]) -> None:
        """Store rows (column -> value, the same columns in each) in one transaction, replacing
        rows of the same primary key; in memory once the file has failed."""
        if not rows:
            return
        if self._writable:
            columns = list(rows[0])
            try:
                with self._connect() as db:
                    db.execute("BEGIN IMMEDIATE")
                    try:
                        db.executemany(
                            f"INSERT OR REPLACE INTO {self.table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                            [[row[c] for c in columns] for row in rows])
                    except BaseException:
                        db.execute("ROLLBACK")
                        raise
                    db.execute("COMMIT")
                return
            except CACHE_ERRORS as exc:
                self._failed("written", exc, readable=self._readable)
        with self._lock:
            for row in rows:
                self._memory[tuple(row[c] for c in self.scope) + (row[self.key],)] = row[self.value]

    def count(self, scope: Sequence = ()) -> int:
        """Rows in the file under these scope values (all rows with none); 0 when it cannot be read."""
        where = " AND ".join(f"{column} = ?" for column in self.scope[: len(scope)])
        try:
            with self._connect() as db:
                return db.execute(f"SELECT COUNT(*) FROM {self.table}{' WHERE ' + where if where else ''}",
                                  tuple(scope)).fetchone()[0]
        except CACHE_ERRORS as exc:
            self._failed("read", exc, readable=False)
            return 0


_shared: dict[tuple[str, str], SQLiteCache] = {}
_shared_lock = threading.Lock()


def shared(path: str | Path, **spec) -> SQLiteCache:
    """The process's one :class:`SQLiteCache` for this file and table, so that its warning is logged
    once and what it keeps in memory serves every later call."""
    key = (str(Path(path).expanduser().absolute()), spec["table"])
    with _shared_lock:
        cache = _shared.get(key)
        if cache is None:
            cache = _shared[key] = SQLiteCache(Path(key[0]), **spec)
        return cache
