"""Time the robust parser on text that grows: one long sentence, as a hostile annotation file's question can be.

A question (or answer) of ``n`` repeats of a short clause that names a class and a number, with no full stop, is read
at several sizes; the parser's cost per character should stay flat as ``n`` grows (each cue looks back at most
``cues._REACH`` characters). Prints seconds and microseconds per character at each size, and the ratio of the largest
size's cost per character to the smallest's (about 1 for a linear reader; before the bound, 4x the text took 15x
the time: 3.1 s for 1,000 clauses, 47 s for 4,000).
Run: ``python benchmarks/parse_bench.py [--sizes 1000 4000 16000]``.
"""

from __future__ import annotations

import argparse
import time

from fakevlm_tasks.scoring.parsing import parse_verdict

CLAUSE = "0 = real "
ANSWER = "The fur is smeared and there are no signs of editing. Final Score: 2/10 (certainly fake)."


def measure(n: int) -> tuple[int, float]:
    """(characters, seconds) to read an answer against a question of ``n`` clauses (each size a new question, so
    none of the parser's per-question caches answers)."""
    question = CLAUSE * n + "10 = fake"
    start = time.perf_counter()
    parse_verdict(ANSWER, question=question)
    parse_verdict(question)  # the same text as an answer
    return len(question), time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000, 16000])
    args = parser.parse_args(argv)
    per_char = []
    for n in sorted(args.sizes):
        chars, seconds = measure(n)
        per_char.append(seconds / chars)
        print(f"{n:7d} clauses  {chars:9,d} chars  {seconds:8.3f} s  {1e6 * seconds / chars:7.2f} us/char")
    print(f"cost per char, largest size / smallest: {per_char[-1] / per_char[0]:.2f}x (a linear reader stays near 1)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
