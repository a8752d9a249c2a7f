"""Time ``fakevlm-leaderboard --html`` on 5,000 docs x 10 models, and measure the site's size on disk.

Synthetic FakeClue runs (``fakevlm_toys.logged_runs``: the task's own hooks and aggregations, answers of ~60 words,
256-pixel JPEGs) are written to a temp folder; the leaderboard (``--out``, which the site reads) is written first,
then the site is timed from an empty folder (thumbnails included) and again over its own thumbnails. With Chromium
and chromedriver installed it also times the sample explorer in the browser: load to first page, and one filter.
Run: ``python benchmarks/site_bench.py [--docs 5000] [--models 10] [--keep DIR]``.
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from pathlib import Path

from fakevlm_tasks.report import leaderboard, site, uncertainty
from fakevlm_toys import logged_runs

TARGET_S = 60.0
TARGET_MB = 200.0


def write_runs(root: Path, n_docs: int, n_models: int) -> Path:
    """Results and samples of ``n_models`` models of falling skill on the same ``n_docs`` docs; returns the results folder."""
    docs = logged_runs.fakeclue_docs(logged_runs.write_images(root / "images", n_docs, size=256, suffix=".jpg", noise=10))
    rng = random.Random(0)
    for k in range(n_models):
        skill = 0.95 - 0.04 * k
        answers = []
        for doc in docs:
            right = rng.random() < skill
            p_real = min(0.99, max(0.01, rng.gauss(0.75 if (doc["label"] == "real") == right else 0.25, 0.15)))
            answers.append(logged_runs.answer(doc, right=right, rng=rng, unreadable=rng.random() < 0.01 * k,
                                              p_real=p_real, details=6))
        logged_runs.write_run(root / "results" / f"model_{k}", f"org/model-{k}", docs, answers)
    return root / "results"


def size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def browser_times(page: Path) -> tuple[float, float] | None:
    """Seconds from opening the explorer to its first page, and to apply the "wrong" filter; None without a browser."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait
    except ImportError:
        return None
    binary, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not (binary and driver_path):
        return None
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        start = time.perf_counter()
        driver.get(page.as_uri())
        WebDriverWait(driver, 60).until(lambda d: d.find_element(By.ID, "count").text)
        loaded = time.perf_counter() - start
        before = driver.find_element(By.ID, "count").text
        start = time.perf_counter()
        driver.find_element(By.ID, "f-wrong").click()
        WebDriverWait(driver, 60).until(lambda d: d.find_element(By.ID, "count").text != before)
        return loaded, time.perf_counter() - start
    finally:
        driver.quit()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=5000)
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--keep", type=Path, help="write everything here and keep it (default: a temp folder, removed)")
    args = parser.parse_args(argv)
    root = args.keep or Path(tempfile.mkdtemp(prefix="site-bench-"))
    try:
        start = time.perf_counter()
        results = write_runs(root, args.docs, args.models)
        t_runs = time.perf_counter() - start
        start = time.perf_counter()
        leaderboard.write_leaderboard([results], root / "board", settings=uncertainty.Settings())
        t_board = time.perf_counter() - start
        timings = []
        for _ in range(2):  # from an empty folder, then over the thumbnails the first run wrote
            start = time.perf_counter()
            site.write_site([results], root / "site", board_dir=root / "board")
            timings.append(time.perf_counter() - start)
        total, thumbs = size_mb(root / "site"), size_mb(root / "site" / "thumbs")
        data = size_mb(root / "site" / "data")
        browser = browser_times(root / "site" / "samples_fakeclue.html")

        print(f"{args.docs} docs x {args.models} models (fakeclue, ~60-word answers, 256 px JPEGs); inputs written in {t_runs:.0f} s")
        print(f"  fakevlm-leaderboard --out (what the site reads)  {t_board:7.1f} s")
        print(f"  --html, from an empty folder                    {timings[0]:7.1f} s   target {TARGET_S:.0f} s ({timings[0] / TARGET_S:.2f}x)")
        print(f"  --html, again (thumbnails kept)                 {timings[1]:7.1f} s")
        print(f"  site on disk                                    {total:7.1f} MB  target {TARGET_MB:.0f} MB ({total / TARGET_MB:.2f}x)")
        print(f"    thumbnails ({args.docs} JPEGs, <= {site.THUMB_SIZE} px)             {thumbs:7.1f} MB")
        print(f"    sample data (one script per task)             {data:7.1f} MB")
        if browser is None:
            print("  explorer in a browser: no Chromium + chromedriver here, not timed")
        else:
            print(f"  explorer in headless Chromium: first page {browser[0]:.2f} s after opening, 'wrong' filter {browser[1]:.2f} s")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
