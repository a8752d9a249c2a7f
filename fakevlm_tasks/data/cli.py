"""``fakevlm-data``: turn the official downloads into what the tasks load, and say what is prepared."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

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
    down = sub.add_parser("download", help="download one dataset from the Hugging Face Hub, extract and prepare it")
    targets = down.add_subparsers(dest="dataset", required=True)
    for name, bench in benchmarks.discover().items():
        if bench.hub is None:
            targets.add_parser(name, help=f"not on the Hub: prints how to prepare {name} by hand").set_defaults(benchmark=bench)
            continue
        p = targets.add_parser(name, help=f"{bench.hub.repo_id} ({', '.join(bench.hub.archives)})")
        p.add_argument("--split", choices=list(bench.hub.archives), default=bench.hub.evaluated,
                       help=f"[{bench.hub.evaluated}, what the tasks evaluate; the others are downloaded and "
                            "extracted for training, not prepared]")
        p.add_argument("--annotations", type=Path, default=None,
                       help="use these annotations instead of the repo's" + (
                           f" (it has none: {bench.hub.annotations_elsewhere[0]}, then --annotations "
                           f"{bench.hub.annotations_elsewhere[1]})" if bench.hub.annotations_elsewhere else ""))
        p.add_argument("--force-download", action="store_true", help="download again even what the Hub cache holds")
        p.add_argument("--strict", action="store_true", help="fail if any record has to be skipped")
        p.add_argument("--no-image-check", action="store_true", help="do not open every image while preparing")
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
    if args.command == "download":
        return download(args)
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


def download(args) -> int:
    """``fakevlm-data download NAME``: fetch, check, extract and prepare from the Hub, or say how to do it by hand."""
    from fakevlm_tasks.glue import hub

    bench = args.benchmark
    if bench.hub is None:
        readme = bench.folder / "README.md" if bench.folder else None
        print(f"fakevlm-data: {bench.name} is not on the Hugging Face Hub and is prepared by hand"
              + (f" (the steps: {readme})" if readme and readme.is_file() else "")
              + f":\n  {bench.prepare_command()}", file=sys.stderr)
        return 2
    try:
        out = hub.download_and_prepare(bench, args.split, annotations=args.annotations,
                                       force_download=args.force_download, strict=args.strict,
                                       check_images=not args.no_image_check)
    except (DataError, OSError) as exc:
        print(f"fakevlm-data: error: {exc}", file=sys.stderr)
        return 2
    print(f"{bench.name} {args.split}: {out.source['repo']} at {out.source['revision']}\n"
          f"  annotations: {out.annotations}\n  images: {out.images}")
    for folder in out.prepared:
        print(f"  prepared -> {folder}")
    if not out.prepared:
        print(f"  (not prepared: the tasks evaluate the {bench.hub.evaluated} split)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
