"""docs/protocol.md is the documentation a clone has: it defines every reported metric, and every pointer to it resolves."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from fakevlm_tasks import TASKS_DIR

ROOT = Path(__file__).resolve().parents[1]
PROTOCOL = ROOT / "docs" / "protocol.md"
#: What a user's clone or installed package shows them. Tests are only checked for pointers to
#: the maintainers' notes, since some read the maintainers' data files when they are present.
USER_FACING = ("fakevlm_tasks", "fakevlm_model", "fakevlm_toys", "training", "benchmarks", "docs", "README.md", "CONTRIBUTING.md")
TEXT_SUFFIXES = {".py", ".md", ".yaml", ".txt", ""}


class _Tagged(yaml.SafeLoader):
    """Reads a task YAML without importing its hooks; ``!function x`` becomes the string ``x``."""


_Tagged.add_multi_constructor("!", lambda loader, suffix, node: loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode) else None)


def metric_entries() -> list[tuple[str, str, str | None]]:
    """(file, metric, its group or None) of every ``metric_list`` entry in the task folder, the template included."""
    entries = []
    for path in sorted(TASKS_DIR.rglob("*yaml")):
        config = yaml.load(path.read_text(), Loader=_Tagged) or {}
        for entry in config.get("metric_list") or []:
            entries.append((str(path.relative_to(TASKS_DIR)), entry["metric"], entry.get("group")))
    return entries


def group_kind(metric: str, group: str) -> str:
    """``acc`` of ``acc_animal``: a per-group metric's name less its group's part (metric_lists.slug)."""
    return metric.removesuffix("_" + re.sub(r"[^a-z0-9]", "", group.lower()))


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def headings() -> dict[str, str]:
    """{anchor: heading text} of docs/protocol.md."""
    found = re.findall(r"^#{1,6}\s+(.+?)\s*$", PROTOCOL.read_text(), re.MULTILINE)
    return {github_slug(h): h.replace("`", "") for h in found}


def user_facing_files():
    for name in USER_FACING:
        path = ROOT / name
        yield from [path] if path.is_file() else (p for p in sorted(path.rglob("*")) if p.is_file() and p.suffix in TEXT_SUFFIXES)


def test_every_metric_a_task_reports_is_defined_in_the_protocol_page():
    text = PROTOCOL.read_text()
    undefined = sorted({(f, m) for f, m, group in metric_entries() if group is None and f"`{m}`" not in text})
    assert metric_entries() and not undefined, f"docs/protocol.md does not define: {undefined}"


def test_every_kind_of_per_group_metric_is_defined_in_the_protocol_page():
    section = PROTOCOL.read_text().split("## Per-group metrics", 1)[1]
    kinds = {group_kind(m, group) for _, m, group in metric_entries() if group is not None}
    assert kinds and not {k for k in kinds if f"`{k}_<group>`" not in section}, kinds


def _lines_with(paths, needles):
    return [f"{p.relative_to(ROOT)}:{i}" for p in paths
            for i, line in enumerate(p.read_text(errors="replace").splitlines(), 1) if any(n in line for n in needles)]


def test_no_user_facing_file_points_at_notes_outside_the_repository():
    assert not _lines_with(user_facing_files(), ("PROTOCOL.md", "../shared", "shared/data"))
    tests = [p for p in sorted((ROOT / "tests").glob("*.py")) if p != Path(__file__)]
    assert not _lines_with(tests, ("PROTOCOL.md",))


def test_every_reference_to_a_section_of_the_protocol_page_names_one_that_exists():
    anchors = headings()
    broken = []
    for path in [*user_facing_files(), *sorted((ROOT / "tests").glob("*.py"))]:
        text = path.read_text(errors="replace")
        linked = re.findall(r"protocol\.md#([\w-]+)", text) + (re.findall(r"\]\(#([\w-]+)\)", text) if path == PROTOCOL else [])
        named = re.findall(r"protocol\.md\)?\s*[,(]\s*\[?\"([^\"]+)\"", text)
        broken += [(str(path.relative_to(ROOT)), a) for a in linked if a not in anchors]
        broken += [(str(path.relative_to(ROOT)), n) for n in named if n not in anchors.values()]
    assert not broken, f"{broken}; sections: {sorted(anchors.values())}"
