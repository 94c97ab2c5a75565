"""Grade a chapter's reference solution over and over while every core is busy, and count
wrong verdicts: a check of the solution that fails, or a check that a mutant must fail
(tests/mutants/chNN.py) that passes. For chapters whose checks measure real time (threads,
processes, real servers): their margins must hold on a loaded machine, not just on average.

    python scripts/check_under_load.py 13                 50 runs of the solution, one busy
                                                          process per core beside them
    python scripts/check_under_load.py 13 --runs 20 --mutants 3 --burners 4

Exit status 0 when no verdict was wrong. The figures are printed: wall time per run
(min / median / max) and, for every wrong verdict, the check and what it said.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from grader.course import Chapter, load_course  # noqa: E402
from grader.engine.runner import run_chapter  # noqa: E402
from grader.results import CheckResult  # noqa: E402

COURSE = load_course(ROOT)


def burn() -> None:
    while True:
        pass


def grade(chapter: Chapter, file: Path) -> tuple[float, dict[str, CheckResult]]:
    """One `grader check` of `file`, in this process (the checks run in the grader's own
    sandboxed children, as always); the results by check name."""
    started = time.perf_counter()
    result = run_chapter(COURSE, chapter, file)
    return time.perf_counter() - started, {c.name: c for c in result.checks}


def said(check: CheckResult) -> str:
    feedback = check.feedback
    return " / ".join(filter(None, (feedback.summary, feedback.got))) if feedback else ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapter")
    parser.add_argument("--runs", type=int, default=50, help="runs of the solution")
    parser.add_argument("--mutants", type=int, default=0, help="runs of each mutant")
    parser.add_argument("--burners", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    chapter = COURSE.chapter(args.chapter)

    from mutants import all_mutants
    from test_mutants import display_names, make_mutant

    names = display_names(chapter.id)
    mutants = [m for m in all_mutants() if m.chapter == chapter.id and not m.gap]
    # Stopped with a signal, the burners still go: SIGTERM ends this script like Ctrl-C.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    burners = [multiprocessing.Process(target=burn, daemon=True) for _ in range(args.burners)]
    for process in burners:
        process.start()
    walls: list[float] = []
    slowest: dict[str, float] = {}
    wrong: list[str] = []
    print(
        f"chapter {chapter.id}: {args.runs} runs of the solution, {args.mutants} of each of "
        f"{len(mutants)} mutants, {args.burners} busy processes on {os.cpu_count()} cores"
    )
    try:
        for run in range(1, args.runs + 1):
            took, results = grade(chapter, chapter.solution)
            walls.append(took)
            for name, check in results.items():
                slowest[name] = max(slowest.get(name, 0.0), check.wall_seconds)
            failed = [name for name, check in results.items() if not check.passed]
            for name in failed:
                wrong.append(f"solution run {run}: {name}: {said(results[name])}")
                print(
                    f"  WRONG: {name} ({results[name].wall_seconds:.2f} s): {said(results[name])}"
                )
            print(
                f"solution run {run:3}: {took:5.2f} s, {len(results) - len(failed)}/"
                f"{len(results)} passed",
                flush=True,
            )
        with tempfile.TemporaryDirectory() as folder:
            for mutant in mutants:
                path = Path(folder) / f"{chapter.module_name}.py"
                path.write_text(make_mutant(mutant), encoding="utf-8")
                for run in range(1, args.mutants + 1):
                    took, results = grade(chapter, path)
                    passed = [f for f in mutant.fails if results[names[f]].passed]
                    for function in passed:
                        wrong.append(f"mutant {mutant.name} run {run}: {names[function]} passed")
                    print(
                        f"mutant {mutant.name} run {run}: {took:5.2f} s, "
                        f"{'WRONG' if passed else 'caught'}",
                        flush=True,
                    )
    finally:
        for process in burners:
            process.kill()
    if walls:
        print(
            f"\nsolution wall time: min {min(walls):.2f} s, median "
            f"{statistics.median(walls):.2f} s, max {max(walls):.2f} s"
        )
        print(f"slowest run of each check (one may take {COURSE.check_timeout:g} s):")
        for name, seconds in slowest.items():
            print(f"  {seconds:5.2f} s  {name}")
    print(f"wrong verdicts: {len(wrong)}")
    for line in wrong:
        print("  " + line)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
