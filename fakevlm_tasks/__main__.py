"""``python -m fakevlm_tasks --path`` prints the task folder for lmms-eval's ``--include_path``."""

import argparse

from fakevlm_tasks import TASKS_DIR, __version__


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m fakevlm_tasks", description=__doc__)
    parser.add_argument("--path", action="store_true", help="print the folder to pass as lmms-eval --include_path")
    parser.add_argument("--version", action="store_true")
    args = parser.parse_args(argv)
    if args.version:
        print(__version__)
    else:
        print(TASKS_DIR)


if __name__ == "__main__":
    main()
