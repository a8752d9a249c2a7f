"""``fakevlm-data``: turn the official downloads into what the tasks load, and say what is prepared."""

from __future__ import annotations

import argparse
import importlib
import sys

from .common import DATA_DIR_ENV, DataError, data_root, status, write_prepared

#: dataset name -> module with ``add_arguments(parser)`` and ``run(args) -> list[PrepareReport]``.
PREPARERS = {
    "fakeclue": "fakevlm_tasks.data.fakeclue",
    "loki": "fakevlm_tasks.data.loki",
    "ddvqa": "fakevlm_tasks.data.ddvqa",
    "ffpp": "fakevlm_tasks.data.ffpp",
    "dmimage": "fakevlm_tasks.data.dmimage",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fakevlm-data",
        description=f"Prepare benchmark data for the fakevlm tasks under ${DATA_DIR_ENV} (default ~/.cache/fakevlm/data).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    prep = sub.add_parser("prepare", help="prepare one dataset from its official files")
    datasets = prep.add_subparsers(dest="dataset", required=True)
    for name, module in PREPARERS.items():
        mod = importlib.import_module(module)
        p = datasets.add_parser(name, help=(mod.__doc__ or "").strip().splitlines()[0])
        mod.add_arguments(p)
        p.add_argument("--strict", action="store_true", help="fail if any record has to be skipped")
        p.add_argument("--no-image-check", action="store_true", help="do not open every image while preparing (faster; broken images then fail at evaluation)")
        p.set_defaults(module=mod)
    sub.add_parser("status", help="list the datasets and whether each is prepared")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "status":
        print(f"data root: {data_root()}")
        for name, state in status():
            print(f"  {name:<14} {state}")
        return 0
    try:
        reports = args.module.run(args)
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
