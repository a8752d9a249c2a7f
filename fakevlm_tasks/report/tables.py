"""The leaderboard's data model: a :class:`Row` per model (or paper), a :class:`Table` of rows x columns."""

from __future__ import annotations

from dataclasses import dataclass, field

MEASURED = "measured"


@dataclass
class Row:
    """One model's scores: task -> metric -> value (a number, or a dict for ``per_category``).

    ``marks``: task -> what a reader must know about its values (``n=12 of 5,000`` for a run over part of the set).
    """

    model: str
    source: str = MEASURED
    scores: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)  # task -> the results JSON its scores come from
    marks: dict = field(default_factory=dict)

    def get(self, task: str, metric: str):
        return self.scores.get(task, {}).get(metric)


@dataclass
class Table:
    """A rendered table: ``cells[i][j]`` is row i's value in column j, ``None`` when missing."""

    slug: str
    title: str
    columns: list[str]
    rows: list[Row]
    cells: list[list[float | None]]
    keys: list[tuple[str, str]] | None = None  # (task, metric) of each column, where a cell can have an interval
    task: str | None = None  # the one task of a table without keys (a breakdown)

    def marks(self, row: Row) -> list[str | None]:
        """Each cell's mark: the row's mark (``n=12 of 5,000``) for the task of the cell's column."""
        if self.keys is None:
            return [row.marks.get(self.task)] * len(self.columns)
        return [row.marks.get(task) for task, _ in self.keys]
