"""``fakevlm-leaderboard RESULTS... --html DIR``: the leaderboard as a static site, with a sample explorer per task.

Plain HTML tables (sorted in the page by ``site_assets/board.js``), heat maps as coloured cells,
matplotlib PNGs for the robustness curves beside the reliability diagrams of ``--out``; each
task's samples are one script of column arrays over a deduplicated string table, which
``site_assets/explorer.js`` filters and pages. Everything, JPEG thumbnails included, is written
into DIR: the site opens from file:// and publishes on any static host as it is.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import io
import json
import math
import os
import re
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from fakevlm_tasks.report import files, leaderboard, logged_samples
from fakevlm_tasks.scoring import parsing
from fakevlm_tasks.report.tables import MEASURED, Row, Table
from fakevlm_tasks.glue.benchmarks import question_kind, task_benchmark
from fakevlm_tasks.glue.perturb import split_task_name

ASSETS = Path(__file__).with_name("site_assets")
TEMPLATES = Path(__file__).with_name("templates")
#: Longest side of a thumbnail, in pixels, and its JPEG quality.
THUMB_SIZE = 96
THUMB_QUALITY = 80
#: Which reading of an answer is scored, and which is shown beside it, per kind of question the task asks
#: (its benchmark's declaration); ``{own}`` is the benchmark's own rule, named by its title.
READINGS = {
    "detection": ("robust parser", "official parser"),
    "judgment": ("{own}", "robust parser"),
    "choice": ("{own}", "rule used"),
}
LEGEND = ("Values x100. ± is half the width of the 95% bootstrap interval from the logged samples (hover a cell "
          "for the interval and n). Bold: the best measured model on the benchmark's headline metric; ≈: a paired "
          "test cannot tell it from the best (p ≥ 0.05), which is not evidence that the two are equal. Rows marked "
          "paper are the numbers a paper reports, not measured here. Click a column header to sort.")


# ------------------------------------------------------------------ what the leaderboard measured


@dataclass
class Notes:
    """leaderboard.json, looked up by (model, task, metric): each value's row (interval, n) and its test against the
    best; and the name each model is shown by (:func:`short_names`)."""

    marks: leaderboard.Uncertainty
    rows: dict = field(default_factory=dict)
    names: dict = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path, models: list[str]) -> Notes:
        data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        rows, significance = data.get("rows") or [], data.get("significance") or []
        return cls(leaderboard.Uncertainty(rows=rows, significance=significance),
                   {(r["model"], r["task"], r["metric"]): r for r in rows}, short_names(models))

    def test(self, model: str, task: str, metric: str) -> dict | None:
        return next((s for s in self.marks.significance if (s["model"], s["task"], s["metric"]) == (model, task, metric)), None)


_LOCAL_CHECKPOINT = re.compile(r"(?:/|\.{1,2}/|~/).*/(?P<name>[^/]+ \([^()/]+\))")


def short_names(models: list[str]) -> dict[str, str]:
    """How each model is shown: a checkpoint given by its local path by its folder's name and the adapter
    ("/tmp/x/runs/ckpt (fakevlm)" -> "ckpt (fakevlm)") where no two models would then look the same; others as named."""
    short = {m: match["name"] if (match := _LOCAL_CHECKPOINT.fullmatch(m)) else m for m in models}
    counts = {name: list(short.values()).count(name) for name in short.values()}
    return {m: name if counts[name] == 1 else m for m, name in short.items()}


def _family(rows: list[Row], base: str) -> list[Row]:
    """The rows with only ``base`` and its perturbed variants, so the leaderboard's table builders make one benchmark's tables."""
    return [Row(r.model, r.source, {t: v for t, v in r.scores.items() if split_task_name(t)[0] == base}, r.files, r.marks)
            for r in rows]


@dataclass
class Section:
    """One benchmark's part of the index page."""

    task: str
    title: str
    main: Table
    breakdowns: list[Table]
    robustness: list[Table]
    reliability: list[tuple[str, str]]  # (task, image name under img/)
    explorers: list[str]  # tasks with a sample explorer


# ------------------------------------------------------------------------------- HTML
# The pages are jinja2 templates (templates/, autoescaped); the functions below only say what goes in them.


@functools.cache
def _templates():
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def render(template: str, **context) -> str:
    return _templates().get_template(template).render(**context)


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


#: What ``score_table`` reads of a cell: its sort value, text, bold?, class, style, title and partial-run mark.
EMPTY_CELL = {"v": "", "text": "", "strong": False, "cls": "", "style": "", "title": "", "partial": None}


def _score_cell(value, row: Row, key: tuple[str, str] | None, notes: Notes, partial: str | None = None) -> dict:
    """A value with ``± half-width`` of its interval, bold if best, "≈" if tied with the best; the interval in its title."""
    if value is None:
        return EMPTY_CELL
    measured = row.source == MEASURED and key is not None
    info = notes.rows.get((row.model, *key)) if measured else None
    mark = notes.marks.mark(row.model, *key) if measured else None
    text, title = _fmt(value), []
    ci = (info or {}).get("ci95")
    if ci:
        text += f" ± {(ci[1] - ci[0]) / 2:.1f}"
        clusters = f", {info['n_clusters']} clusters" if info.get("n_clusters") and info["n_clusters"] != info["n"] else ""
        title.append(f"95% interval [{ci[0]:.1f}, {ci[1]:.1f}], n = {info['n']}{clusters}")
    elif info and info.get("reason"):
        title.append(f"no interval: {info['reason']}")
    cls = ""
    if mark == "best":
        cls = "best"
    elif mark == "tied":
        test = notes.test(row.model, *key) or {}
        text, cls = f"{text} ≈", "tied"
        title.append(f"cannot be told from the best ({test.get('test')}, p = {test.get('p_value', float('nan')):.3g})")
    if partial:
        title.append(f"from a run over part of the set ({partial})")
    return {**EMPTY_CELL, "v": repr(value), "text": text, "strong": mark == "best", "cls": cls, "title": "; ".join(title),
            "partial": partial}


def _heat_colour(value: float) -> str:
    """Red (0) to green (100) through yellow, lightened so that black text stays readable."""
    from matplotlib import colormaps

    r, g, b, _ = colormaps["RdYlGn"](min(max(value, 0.0), 100.0) / 100.0)
    return "#{:02x}{:02x}{:02x}".format(*(int(255 * (0.55 * c + 0.45)) for c in (r, g, b)))


def _heat_cell(value, partial: str | None = None) -> dict:
    if value is None:
        return EMPTY_CELL
    return {**EMPTY_CELL, "v": repr(value), "text": _fmt(value), "cls": "heat", "style": f"background:{_heat_colour(value)}",
            "title": f"from a run over part of the set ({partial})" if partial else "", "partial": partial}


def table_view(table: Table, notes: Notes, *, table_id: str, headers: list[str], heat: bool = False,
               extra: dict | None = None) -> dict:
    """What ``macros.html``'s ``score_table`` shows of ``table``: its rows with a value, a column per header;
    ``extra``: {header: a value per row}."""
    extra = extra or {}
    keys = table.keys or [None] * len(table.columns)
    rows = []
    for i, (row, cells) in enumerate(zip(table.rows, table.cells)):
        if all(c is None for c in cells):
            continue
        partial = table.marks(row)
        shown = [_heat_cell(c, p) if heat else _score_cell(c, row, k, notes, p) for c, k, p in zip(cells, keys, partial)]
        shown += [_score_cell(column[i], row, None, notes) for column in extra.values()]
        name = notes.names.get(row.model, row.model)
        rows.append({"paper": row.source != MEASURED, "name": name, "full": row.model if name != row.model else None,
                     "source": row.source, "cells": shown})
    return {"id": table_id, "caption": table.title, "heat": heat, "headers": [*headers, *extra], "rows": rows}


def _explorer_link(task: str) -> dict:
    return {"task": task, "href": explorer_page(task)}


def explorer_page(task: str) -> str:
    """The explorer page of ``task`` (a name from a results file, so made safe)."""
    return files.safe_name(f"samples_{task}") + ".html"


def section_view(s: Section, notes: Notes) -> dict:
    main_headers = [leaderboard.metric_label(m, t) for t, m in s.main.keys]
    unknown = [leaderboard._number(r.get(s.task, "unknown_rate")) if r.source == MEASURED else None for r in s.main.rows]
    return {
        "task": s.task, "title": s.title, "explorers": [_explorer_link(t) for t in s.explorers],
        "main": table_view(s.main, notes, table_id=f"t-{s.task}-main", headers=main_headers,
                           extra={"unknown %": unknown} if any(v is not None for v in unknown) else None),
        "breakdowns": [table_view(t, notes, table_id=f"t-{t.slug}", headers=t.columns, heat=True) for t in s.breakdowns],
        "robustness": [{"image": f"img/{files.safe_name(t.slug)}.png",
                        "table": table_view(t, notes, table_id=f"t-{t.slug}", headers=t.columns)} for t in s.robustness],
        "reliability": [{"image": f"img/{name}", "task": task} for task, name in s.reliability],
    }


def index_html(sections: list[Section], notes: Notes, *, n_results: int, extra_explorers: list[str]) -> str:
    return render("index.html", title="FakeVLM leaderboard", scripts=["assets/board.js"], n_results=n_results,
                  legend=LEGEND, sections=[section_view(s, notes) for s in sections],
                  others=[_explorer_link(t) for t in extra_explorers])


EXPLORER_FILTERS = (("wrong", "wrong"), ("unknown", "unknown verdict"), ("failed", "failed"), ("disagree", "models disagree"))


def explorer_html(task: str, title: str, readings: tuple[str, str]) -> str:
    return render("explorer.html", title=f"{title}: samples", heading=title, readings=readings, checks=EXPLORER_FILTERS,
                  scripts=[f"data/{files.safe_name(task)}.js", "assets/explorer.js"])


# --------------------------------------------------------------------------------- charts


def robustness_png(table: Table, notes: Notes, path: Path) -> None:
    """Each model's metric clean and under each perturbation, with its 95% interval as error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    names = [c.split(" (")[0] for c in table.columns]
    for i, (row, cells) in enumerate(zip(table.rows, table.cells)):
        points = [(x, v, (notes.rows.get((row.model, *k)) or {}).get("ci95"))
                  for x, (v, k) in enumerate(zip(cells, table.keys)) if v is not None]
        if not points:
            continue
        xs, ys, cis = zip(*points)
        low = [y - ci[0] if ci else 0.0 for y, ci in zip(ys, cis)]
        high = [ci[1] - y if ci else 0.0 for y, ci in zip(ys, cis)]
        ax.errorbar(xs, ys, yerr=[low, high], marker="o", capsize=3, label=notes.names.get(row.model, row.model),
                    color=plt.cm.tab10.colors[i % 10])
    ax.set_xticks(range(len(names)), names)
    ax.set_ylim(0, 100)
    ax.set_ylabel("x100")
    ax.set_title(table.title, fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ------------------------------------------------------------------------ the sample explorer


class Strings:
    """A string table: each distinct string stored once, referred to by its index (-1 for None)."""

    def __init__(self):
        self.index: dict[str, int] = {}

    def __call__(self, text) -> int:
        if text is None:
            return -1
        return self.index.setdefault(str(text), len(self.index))

    def table(self) -> list[str]:
        return list(self.index)


def readings(task: str, kind: str) -> tuple[str, str]:
    """The names of the scored reading of an answer and of the one shown beside it (:data:`READINGS`)."""
    bench = task_benchmark(task)
    own = f"{bench.title}'s rule" if bench else "the task's own rule"
    return tuple(name.format(own=own) for name in READINGS.get(kind, READINGS["detection"]))


def _number(v) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) else None


def _image_source(line: dict):
    """The doc's image as lmms-eval logged it (``input_media``: a path or a data URL; older files: ``doc.image``)."""
    media, doc = line.get("input_media"), line.get("doc")
    media = [m for m in media if isinstance(m, str)] if isinstance(media, list) else []
    doc_image = doc.get("image") if isinstance(doc, dict) else None
    for source in [*media, *([doc_image] if isinstance(doc_image, str) else [])]:
        if source.startswith("data:image/"):
            try:
                return base64.b64decode(source.split(",", 1)[1], validate=True)
            except (binascii.Error, IndexError):
                continue
        try:
            if Path(source).is_file():
                return Path(source)
        except (OSError, ValueError):  # a NUL byte, a name too long: not a file
            continue
    return None


@dataclass
class Thumb:
    """One thumbnail to write: where the image is (a path, or its bytes) and the perturbation its task applies."""

    source: Path | bytes
    perturbation: object = None
    doc_id: str = ""

    @property
    def name(self) -> str:
        if isinstance(self.source, bytes):
            origin = hashlib.sha1(self.source).hexdigest()
        else:
            stat = self.source.stat()
            origin = f"{self.source.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
        tag = f"|{self.perturbation.name}|{self.doc_id}" if self.perturbation is not None else ""
        return hashlib.sha1(f"{origin}{tag}|{THUMB_SIZE}".encode()).hexdigest()[:20] + ".jpg"


def write_thumb(thumb: Thumb, path: Path) -> str | None:
    """The image, as the model saw it (perturbed for a variant task), at most THUMB_SIZE px a side; None if written, else why not."""
    from PIL import Image

    if path.is_file():
        return None
    try:
        with Image.open(io.BytesIO(thumb.source) if isinstance(thumb.source, bytes) else thumb.source) as im:
            if thumb.perturbation is None:
                im.draft("RGB", (2 * THUMB_SIZE, 2 * THUMB_SIZE))  # JPEG: decode at a fraction of the size
                image = im.convert("RGB")
            else:
                image = thumb.perturbation.apply(im.convert("RGB"), thumb.doc_id)
        image.thumbnail((THUMB_SIZE, THUMB_SIZE))
        part = path.with_suffix(".part")
        image.save(part, "JPEG", quality=THUMB_QUALITY, optimize=True)
        os.replace(part, path)
    except Exception as exc:  # an untrusted image may fail in any of PIL's decoders (DecompressionBombError is no OSError)
        path.with_suffix(".part").unlink(missing_ok=True)
        return f"{type(exc).__name__}: {exc}"
    return None


def _spans(text, record: dict, kind: str, question) -> tuple[list[int], list[int]]:
    """The words each of the two readings (``READINGS[kind]``) was read from, as flat ``[start, end, ...]``; none for
    a reading that parsing the text again does not reproduce (a judge's verdict, another parser version), and none
    for a benchmark's own rules (a multiple-choice pick, a yes/no reading), which read no verdict words."""
    if not isinstance(text, str) or kind == "choice":
        return [], []
    if kind == "judgment":
        if record.get("verdict_source") == "judge" or record.get("robust") not in ("yes", "no"):
            return [], []
        return [], _flat(text, parsing.verdict_spans(text, "robust", question))
    robust = parsing.verdict_spans(text, "robust", question, label=record.get("verdict"))
    official = [] if record.get("official_fallback") else parsing.verdict_spans(text, "fakevlm", label=record.get("verdict_official"))
    return _flat(text, robust), _flat(text, official)


_ASTRAL = re.compile("[\U00010000-\U0010FFFF]")


def _flat(text: str, spans: list[tuple[int, int]]) -> list[int]:
    """``[start, end, ...]`` in UTF-16 code units, as JavaScript indexes strings (they differ past U+FFFF)."""
    if not spans or not _ASTRAL.search(text):
        return [x for span in spans for x in span]
    return [len(text[:x].encode("utf-16-le")) // 2 for span in spans for x in span]


def _readings(record: dict, kind: str, line: dict) -> tuple[str | None, str | None, bool | None, bool]:
    """(scored reading, the other reading, right?, unknown?) of one doc's record."""
    if kind == "detection":
        read, other = record.get("verdict"), record.get("verdict_official")
        right = read == record.get("label")
        unknown = read == parsing.UNKNOWN
    elif kind == "judgment":
        read, other = record.get("read"), record.get("robust")
        right, unknown = read == record.get("answer"), read not in ("yes", "no")
    else:
        read, other = record.get("read"), record.get("rule")
        right, unknown = read == record.get("answer"), bool(record.get("fallback"))
    if line.get("score") is not None:
        right = bool(line["score"])
    return read, other, right, unknown


def _logged_answer(line: dict) -> str | None:
    """The answer lmms-eval logged for a doc of a task without our records: ``filtered_resps`` (a list, or a string)."""
    answer = line.get("filtered_resps")
    while isinstance(answer, list) and answer:
        answer = answer[0]
    return answer if isinstance(answer, str) else None


def _brief(text: str | None, limit: int = 40) -> str | None:
    """An answer as the explorer's list shows it where no verdict was read from it."""
    return text if text is None or len(text) <= limit else text[:limit - 1] + "…"


def _score(line: dict) -> bool | None:
    score = _number(line.get("score"))
    return None if score is None else bool(score)


def _truth(record: dict, kind: str) -> str | None:
    if kind == "detection":
        return record.get("label")
    return f"{record.get('answer')} ({record.get('label')} image)"


def _per_doc_css(path: Path, css_model) -> list[float | None] | None:
    if css_model is None:
        return None
    css = logged_samples.read_samples(path, css_model=css_model).docs.css
    return [None if math.isnan(v) else 100 * float(v) for v in css]


@dataclass
class Explorer:
    """One task's samples for the explorer: the data script's content, the thumbnails it names, what was left out."""

    data: dict
    thumbs: dict[str, Thumb]
    notes: list[str]


def explorer_data(task: str, runs: list[tuple[str, Path]], *, css_model=None, names: dict | None = None) -> Explorer | None:
    """The samples of every model on ``task`` (``runs``: model name, samples file), one doc per doc key, in column
    arrays; ``names``: how each model is shown (default: as named)."""
    strings, thumbs, notes = Strings(), {}, []
    _, perturbation = split_task_name(task)
    docs: dict[str, dict] = {}
    models, answers = [], []
    kind = question_kind(task) or "detection"
    for model, path in runs:
        try:
            lines = logged_samples._read_lines(path)
            css = _per_doc_css(path, css_model)
        except (OSError, ValueError) as exc:
            notes.append(f"{model}: samples unreadable ({exc})")
            continue
        answer: dict[str, dict] = {}
        for i, line in enumerate(lines):
            record = logged_samples._record(line) or {}
            text_record = logged_samples._text_record(line) or {}
            key = str(record.get("id") or text_record.get("id") or line["doc_id"])
            text = text_record.get("prediction", _logged_answer(line))
            question = line.get("input") if isinstance(line.get("input"), str) else None
            if key not in docs:
                source = _image_source(line)
                thumb = None if source is None else Thumb(source, perturbation, key)
                if thumb is not None:
                    thumbs.setdefault(thumb.name, thumb)
                reference = text_record.get("reference")
                docs[key] = {"doc_id": line["doc_id"], "truth": _truth(record, kind) if record else line.get("target"),
                             "cat": record.get("category"), "q": question, "thumb": thumb.name if thumb else None,
                             "ref": "\n".join(map(str, reference)) if isinstance(reference, list) else reference}
            read, other, right, unknown = _readings(record, kind, line) if record else (_brief(text), None, _score(line), False)
            robust_spans, official_spans = _spans(text, record, kind, question) if record else ([], [])
            answer[key] = {"has": True, "text": text, "read": read, "alt": other, "ok": right, "unknown": unknown,
                           "failed": bool(record.get("failed")), "failure": record.get("failure"), "prompt": question,
                           "rouge": _percent(text_record.get("rouge_l")), "rouge_ev": _percent(text_record.get("rouge_l_evidence")),
                           "css": _percent(text_record.get("css")) if css is None else css[i],
                           "p_real": _number(record.get("p_real")), "hl": robust_spans, "hl_alt": official_spans}
        models.append(model)
        answers.append(answer)
    if not docs:
        return None
    keys = list(docs)
    columns = {
        "key": [strings(k) for k in keys], "doc_id": [docs[k]["doc_id"] for k in keys],
        "truth": [strings(docs[k]["truth"]) for k in keys], "cat": [strings(docs[k]["cat"]) for k in keys],
        "q": [strings(docs[k]["q"]) for k in keys], "ref": [strings(docs[k]["ref"]) for k in keys],
        "thumb": [strings(docs[k]["thumb"]) for k in keys],
    }
    per_model = [_answer_columns(answer, keys, strings) for answer in answers]
    data = {"task": task, "kind": kind, "readings": readings(task, kind), "models": models,
            "names": [(names or {}).get(m, m) for m in models],
            "notes": notes, "docs": columns, "answers": per_model, "s": strings.table()}
    return Explorer(data, thumbs, notes)


def _percent(v) -> float | None:
    v = _number(v)
    return None if v is None else round(100 * v, 2)


def _answer_columns(answer: dict, keys: list[str], strings: Strings) -> dict:
    """One model's answers as arrays over the docs: string indices, 1/0 flags (-1: the model has no answer for the doc)."""
    def column(field_name, convert):
        return [convert(answer[k][field_name]) if k in answer else -1 for k in keys]

    def flag(v):
        return -1 if v is None else int(bool(v))

    def number(field_name):
        return [answer[k][field_name] if k in answer else None for k in keys]

    return {"has": [int(k in answer) for k in keys],
            "text": column("text", strings), "read": column("read", strings), "alt": column("alt", strings),
            "ok": column("ok", flag), "unknown": column("unknown", flag), "failed": column("failed", flag),
            "failure": column("failure", strings), "prompt": column("prompt", strings),
            "rouge": number("rouge"), "rouge_ev": number("rouge_ev"), "css": number("css"), "p_real": number("p_real"),
            "hl": [answer[k]["hl"] if k in answer else [] for k in keys],
            "hl_alt": [answer[k]["hl_alt"] if k in answer else [] for k in keys]}


def _write_script(data: dict, path: Path) -> None:
    """The data as a script that sets ``window.FAKEVLM_SAMPLES`` (a page opened from file:// may not fetch JSON)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    path.write_text(f"window.FAKEVLM_SAMPLES={text};\n", encoding="utf-8")


def write_thumbs(thumbs: dict[str, Thumb], folder: Path) -> dict[str, str]:
    """Every thumbnail not yet in ``folder`` (threads: decoding and resizing release the GIL); {name: why} of those
    that could not be written."""
    folder.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        problems = pool.map(lambda item: (item[0], write_thumb(item[1], folder / item[0])), thumbs.items())
        return {name: why for name, why in problems if why}


# ------------------------------------------------------------------------------------ site


def write_site(paths, out_dir: str | Path, *, board_dir: str | Path, with_paper: bool = False, css_model=None) -> Path:
    """The site for the results in ``paths``, into ``out_dir``; ``board_dir`` is the leaderboard's ``--out``
    (its leaderboard.json gives the intervals and marks, its reliability diagrams are copied). Returns index.html."""
    out, board = Path(out_dir), Path(board_dir)
    measured = leaderboard.collect(paths)
    if not measured:
        raise ValueError("no lmms-eval results JSON found in the given paths")
    rows = measured + (leaderboard.paper_rows() if with_paper else [])
    notes = Notes.read(board / "leaderboard.json", [r.model for r in measured])
    for folder in ("assets", "img", "data", "thumbs"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    for asset in ASSETS.iterdir():
        if asset.is_file():
            shutil.copyfile(asset, out / "assets" / asset.name)
    if (board / "leaderboard.json").is_file():
        shutil.copyfile(board / "leaderboard.json", out / "leaderboard.json")

    tasks = sorted({t for r in measured for t in r.scores}, key=leaderboard._task_key)
    explorers = _write_explorers(tasks, measured, out, css_model=css_model, names=notes.names)
    sections = []
    for base in [t for t in tasks if split_task_name(t)[1] is None]:
        family_rows, family_measured = _family(rows, base), _family(measured, base)
        robustness = leaderboard.robustness_tables(family_measured)
        for t in robustness:
            robustness_png(t, notes, files.inside(out / "img", t.slug, ".png"))
        reliability = []
        for task in [t for t in tasks if split_task_name(t)[0] == base]:
            diagram = files.inside(board, f"reliability_{task}", ".png")  # as the leaderboard named it
            if diagram.is_file():
                shutil.copyfile(diagram, files.inside(out / "img", diagram.stem, ".png"))
                reliability.append((task, diagram.name))
        sections.append(Section(base, leaderboard._label(base), leaderboard.main_table(family_rows, family_measured),
                                leaderboard.breakdown_tables(family_rows, family_measured), robustness, reliability,
                                [t for t in explorers if split_task_name(t)[0] == base]))
    in_sections = {t for s in sections for t in s.explorers}
    index = out / "index.html"
    index.write_text(index_html(sections, notes, n_results=len({f for r in measured for f in r.files.values()}),
                                extra_explorers=[t for t in explorers if t not in in_sections]), encoding="utf-8")
    return index


def _write_explorers(tasks: list[str], measured: list[Row], out: Path, *, css_model=None, names: dict | None = None) -> list[str]:
    """A sample explorer page and data script per task with logged samples; the tasks that got one."""
    written = []
    for task in tasks:
        runs = [(r.model, logged_samples.samples_path(r.files[task], task)) for r in measured if task in r.files]
        if any(path is None for _, path in runs):
            print(f"fakevlm-leaderboard --html: the task name {task!r} can name no samples file: no explorer for it",
                  file=sys.stderr)
        runs = [(model, path) for model, path in runs if path is not None and path.is_file()]
        if not runs:
            continue
        explorer = explorer_data(task, runs, css_model=css_model, names=names)
        if explorer is None:
            continue
        unwritten = write_thumbs(explorer.thumbs, out / "thumbs")
        for problem in explorer.notes + [f"no thumbnail for {explorer.thumbs[n].source}: {why}" for n, why in unwritten.items()]:
            print(f"fakevlm-leaderboard --html: {task}: {problem}", file=sys.stderr)
        strings, column = explorer.data["s"], explorer.data["docs"]["thumb"]
        column[:] = [-1 if i >= 0 and strings[i] in unwritten else i for i in column]
        _write_script(explorer.data, files.inside(out / "data", task, ".js"))
        page = explorer_html(task, leaderboard._label(task), explorer.data["readings"])
        files.inside(out, f"samples_{task}", ".html").write_text(page, encoding="utf-8")
        written.append(task)
    return written
