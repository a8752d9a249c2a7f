"""``fakevlm-data``: turn the official downloads into what the tasks load, and say what is prepared."""

from __future__ import annotations

import argparse
import json
import sys

from fakevlm_tasks.glue import benchmarks
from fakevlm_tasks.glue.prepared import DATA_DIR_ENV, MANIFEST_FILE, DataError, data_root, write_prepared


def status() -> list[tuple[str, str]]:
    """(dataset, state) for every known dataset: prepared with counts, or the command to run."""
    rows = []
    for name in [d for bench in benchmarks.discover().values() for d in bench.prepared_sets]:
        manifest = data_root() / name / MANIFEST_FILE
        if manifest.is_file():
            m = json.loads(manifest.read_text(encoding="utf-8"))
            rows.append((name, f"prepared {m['prepared_at']}: {m['records']} records, {m['skipped']} skipped"))
        else:
            rows.append((name, "not prepared"))
    return rows


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fakevlm-data",
        description=f"Prepare benchmark data for the fakevlm tasks under ${DATA_DIR_ENV} (default ~/.cache/fakevlm/data).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    prep = sub.add_parser("prepare", help="prepare one dataset from its official files")
    datasets = prep.add_subparsers(dest="dataset", required=True)
    for name, bench in benchmarks.discover().items():
        module = benchmarks.module(name)
        p = datasets.add_parser(name, help=(module.__doc__ or bench.title).strip().splitlines()[0])
        bench.add_arguments(p)
        p.add_argument("--strict", action="store_true", help="fail if any record has to be skipped")
        p.add_argument("--no-image-check", action="store_true", help="do not open every image while preparing (faster; broken images then fail at evaluation)")
        p.add_argument("--allow-outside-root", action="store_true",
                       help="accept images that resolve outside the image root given (absolute paths, '..', symlinks out); by default they are skipped")
        p.set_defaults(benchmark=bench)
    sub.add_parser("status", help="list the datasets and whether each is prepared")
    new = sub.add_parser("new", help="scaffold a benchmark folder (benchmark.py, task YAML, README with its checklist)")
    new.add_argument("name", help="the benchmark's name: lower case letters, digits and _")
    new.add_argument("--dir", type=str, default=".", help="where to create the folder NAME/ [current folder]; put it on $FAKEVLM_BENCHMARKS")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "status":
        print(f"data root: {data_root()}")
        for name, state in status():
            print(f"  {name:<14} {state}")
        return 0
    if args.command == "new":
        from .scaffold import scaffold

        try:
            folder = scaffold(args.name, args.dir)
        except (ValueError, FileExistsError) as exc:
            print(f"fakevlm-data: error: {exc}", file=sys.stderr)
            return 2
        print(f"created {folder}: edit benchmark.py, then add its parent folder to ${benchmarks.BENCHMARKS_ENV}")
        return 0
    try:
        reports = args.benchmark.prepare(args)
        for report in reports:
            out = write_prepared(report, strict=args.strict)
            print(report.summary())
            print(f"  -> {out}")
    except DataError as exc:
        print(f"fakevlm-data: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
