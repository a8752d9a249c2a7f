"""benchmarks/parse_bench.py runs and prints a figure per size and the scaling ratio (its timing is not asserted)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "parse_bench.py"


def test_the_parse_benchmark_prints_each_size_and_the_ratio(capsys):
    spec = importlib.util.spec_from_file_location("parse_bench", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--sizes", "20", "5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [int(line.split()[0]) for line in lines[:2]] == [5, 20]  # smallest first
    assert re.fullmatch(r"cost per char, largest size / smallest: \d+\.\d\dx .*", lines[2])
