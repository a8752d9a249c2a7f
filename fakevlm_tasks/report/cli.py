"""``fakevlm-leaderboard``: ``build`` (the default) writes the leaderboard and its site, ``compare`` tests two runs,
``check`` says which requested tasks a set of results files lacks (for scripted sweeps: lmms-eval exits 0 after
"Error during evaluation").

The one module that imports both the leaderboard and the site, so neither imports the other.
"""

from __future__ import annotations

import argparse
import json
import sys

from fakevlm_tasks.report import leaderboard, results, site, uncertainty
from fakevlm_tasks.scoring import stats

PROG = "fakevlm-leaderboard"
COMMANDS = ("build", "compare", "check")
#: Exit statuses: 1 when the results lack a requested task (``check``, and ``build`` after writing what there is),
#: 2 when an input cannot be read or the command cannot run.
MISSING, FAILED = 1, 2


def _settings(args) -> uncertainty.Settings:
    settings = uncertainty.Settings(n_resamples=args.resamples, seed=args.seed)
    if args.css:
        from fakevlm_tasks.services import embeddings

        try:
            settings.css_model = embeddings.get_encoder()
        except Exception as exc:  # whatever sentence-transformers raises: say what to set
            raise ValueError(f"--css: the CSS encoder could not be loaded ({type(exc).__name__}: {str(exc)[:300]}); "
                             f"set ${embeddings.CSS_MODEL_ENV} to the sentence-transformers model the runs used") from exc
    return settings


def _stats_options() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--resamples", type=int, default=stats.DEFAULT_RESAMPLES, help=f"bootstrap resamples (default {stats.DEFAULT_RESAMPLES})")
    parser.add_argument("--seed", type=int, default=stats.DEFAULT_SEED, help=f"bootstrap seed (default {stats.DEFAULT_SEED})")
    parser.add_argument("--css", action="store_true",
                        help="recompute per-doc CSS from the logged texts for its intervals (loads the encoder the $FAKEVLM_CSS_* settings name)")
    return parser


def _check_options() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--log", action="append", default=[], metavar="FILE",
                        help="an lmms-eval console log to search for 'Error during evaluation' (a lost run); repeatable")
    return parser


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog=PROG, description="The paper's tables from lmms-eval results JSONs (Markdown, CSV, "
                                  "PNG, JSON) with intervals, a static site, paired comparisons, and a check for lost tasks.",
                                  epilog=f"'{PROG} RESULTS...' is '{PROG} build RESULTS...'.")
    commands = top.add_subparsers(dest="command", metavar="{build,compare,check}", required=True)
    stats_options, check_options = _stats_options(), _check_options()

    build = commands.add_parser("build", parents=[stats_options, check_options], help="write the leaderboard (and with --html its site)",
                                description="The paper's tables from lmms-eval results JSONs, with intervals from their samples. "
                                            f"Exits {MISSING} (after writing) when a results file lacks a task it requested "
                                            "or a --log holds an evaluation error.")
    build.add_argument("results", nargs="+", help="lmms-eval *_results.json files, or folders searched for them")
    build.add_argument("--out", default="leaderboard", help="output folder (default: ./leaderboard)")
    build.add_argument("--with-paper", action="store_true", help="add the paper's reported numbers as labelled reference rows")
    build.add_argument("--html", metavar="DIR", help="also write the leaderboard as a static site with a sample explorer per task into DIR")

    compare = commands.add_parser("compare", parents=[stats_options], help="paired test of two runs of one task",
                                  description="Paired comparison of two runs of one task on the same docs (A - B).")
    compare.add_argument("a", help="results JSON of model A, or a folder of its runs")
    compare.add_argument("b", help="results JSON of model B, or a folder of its runs")
    compare.add_argument("--task", required=True, help="the task to compare, e.g. fakeclue")
    compare.add_argument("--json", action="store_true", help="print the report as JSON")

    check = commands.add_parser("check", parents=[check_options], help="exit non-zero if a results file lacks a task it requested",
                                description="Lists each task a run requested (its --tasks, its task configs, its samples files) "
                                            "that its results JSON lacks, and each evaluation error in the --log files, "
                                            f"and exits {MISSING} if there is one; {FAILED} if a file cannot be read. Writes nothing.")
    check.add_argument("results", nargs="+", help="lmms-eval *_results.json files, or folders searched for them")
    return top


def _print_missing(missing: list) -> None:
    for m in missing:
        print(f"{PROG}: {m}", file=sys.stderr)


def _build(args) -> int:
    missing = results.check(args.results, args.log)  # before writing: an unreadable input stops the build
    settings = _settings(args)
    written = leaderboard.write_leaderboard(args.results, args.out, with_paper=args.with_paper, settings=settings)
    if args.html:
        written["site"] = site.write_site(args.results, args.html, board_dir=args.out, with_paper=args.with_paper,
                                          css_model=settings.css_model)
    print(written["markdown"].read_text(encoding="utf-8"))
    print("wrote " + ", ".join(str(p) for p in written.values()), file=sys.stderr)
    _print_missing(missing)
    return MISSING if missing else 0


def _compare(args) -> int:
    report = leaderboard.compare(args.a, args.b, args.task, _settings(args))
    print(json.dumps(report, indent=2, allow_nan=False) if args.json else leaderboard.render_comparison(report))
    return 0


def _check(args) -> int:
    missing = results.check(args.results, args.log)
    _print_missing(missing)
    if not missing:
        print(f"{PROG} check: every requested task has results", file=sys.stderr)
    return MISSING if missing else 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] not in (*COMMANDS, "-h", "--help"):
        argv = ["build", *argv]  # the command line before subcommands: results first
    args = parser().parse_args(argv)
    try:
        return {"build": _build, "compare": _compare, "check": _check}[args.command](args)
    except (FileNotFoundError, ValueError) as exc:  # ResultsError and uncertainty's RunMismatch are ValueErrors
        print(f"{PROG} {args.command}: {exc}", file=sys.stderr)
        return FAILED


if __name__ == "__main__":
    raise SystemExit(main())
