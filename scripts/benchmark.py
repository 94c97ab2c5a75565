"""How fast grading is: per chapter, the wall time of `grader check NN --solutions`, the
event-loop time its checks simulated, how both compare with a bare Python start, and what
the sandbox costs (the same run with GRADER_SANDBOX=off, taken in turn with it).

    python scripts/benchmark.py [--runs 5] [CHAPTER ...]
    python scripts/benchmark.py --class 30         a class report against lone checks

Targets (2-core machine): a chapter's check at most 2 s wall (median) and at most 4 times
`python -c "import quart, httpx, pytest"`; the sandbox adds under 10 % to a chapter's
check. Figures are printed, not asserted: a busy machine makes timings noisy, so they are
read by people, not by the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.course import load_course  # noqa: E402

WALL_TARGET = 2.0
BASELINE_FACTOR = 4.0
SANDBOX_SHARE = 0.10


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False, env=env)
    return time.perf_counter() - started, done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--class",
        dest="learners",
        type=int,
        metavar="N",
        help="time `grader report` on N learners x chapters 00-05 instead",
    )
    parser.add_argument("chapters", nargs="*")
    args = parser.parse_args()
    if args.learners:
        return class_report(args.learners, args.runs)
    course = load_course(ROOT)
    chapters = [course.chapter(c) for c in args.chapters] or list(course.chapters)

    baseline = statistics.median(
        timed([sys.executable, "-c", "import quart, httpx, pytest"])[0] for _ in range(args.runs)
    )
    print(f"Python {sys.version.split()[0]}, {args.runs} runs each, medians")
    print(f"baseline: python -c 'import quart, httpx, pytest'  {baseline:.3f} s\n")
    header = (
        f"{'chapter':8} {'checks':>6} {'wall s':>8} {'loop s':>8} {'loop/wall':>10} "
        f"{'x base':>7} {'unsandboxed s':>14} {'sandbox':>8}  target"
    )
    print(header)
    print("-" * len(header))
    worst = True
    unsandboxed = {**os.environ, "GRADER_SANDBOX": "off"}
    for chapter in chapters:
        walls, bare, loop, checks = [], [], 0.0, 0
        command = [sys.executable, "-m", "grader", "check", chapter.id, "--solutions", "--json"]
        for _ in range(args.runs):
            wall, out = timed(command)
            walls.append(wall)
            bare.append(timed(command, unsandboxed)[0])
            tests = json.loads(out)["tests"]
            loop = sum(t["extra_data"]["loop_seconds"] for t in tests)
            checks = len(tests)
        wall = statistics.median(walls)
        # The median of the pairwise ratios: robust to the machine's speed drifting.
        share = statistics.median(w / b - 1 for w, b in zip(walls, bare, strict=True))
        ok = wall <= WALL_TARGET and wall <= BASELINE_FACTOR * baseline and share < SANDBOX_SHARE
        worst = worst and ok
        print(
            f"{chapter.id:8} {checks:>6} {wall:>8.3f} {loop:>8.1f} {loop / wall:>10.1f} "
            f"{wall / baseline:>7.2f} {statistics.median(bare):>14.3f} {share:>+8.1%}  "
            f"{'met' if ok else 'MISSED'}"
        )
    print(
        f"\ntargets: <= {WALL_TARGET} s, <= {BASELINE_FACTOR:g} x baseline and a sandbox under "
        f"{SANDBOX_SHARE:.0%} per chapter: {'all met' if worst else 'missed somewhere'}"
    )
    return 0


CLASS_CHAPTERS = ("00", "01", "02", "03", "04", "05")
CLASS_SHARE = 0.25


def class_report(learners: int, runs: int) -> int:
    """`grader report` on a class of `learners` copies (the reference solutions) against
    what lone `grader check NN --file` runs would cost for the same work: per chapter,
    the median of `runs` lone runs times the class size."""
    import tempfile

    course = load_course(ROOT)
    chapters = [course.chapter(c) for c in CLASS_CHAPTERS]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "class"
        for number in range(learners):
            folder = root / f"learner{number:02d}" / "exercises"
            folder.mkdir(parents=True)
            for chapter in chapters:
                (folder / chapter.exercise.name).write_bytes(chapter.solution.read_bytes())
        lone_total = 0.0
        for chapter in chapters:
            file = root / "learner00" / "exercises" / chapter.exercise.name
            command = [sys.executable, "-m", "grader", "check", chapter.id, "--file", str(file)]
            lone = statistics.median(timed(command)[0] for _ in range(runs))
            lone_total += lone * learners
            print(f"lone grader check {chapter.id} --file: {lone:.3f} s")
        report = [
            sys.executable, "-m", "grader", "report", str(root),
            "--chapters", ",".join(CLASS_CHAPTERS), "--out", str(Path(tmp) / "out"),
        ]  # fmt: skip
        took = statistics.median(timed(report)[0] for _ in range(max(1, runs // 2)))
    share = took / lone_total
    print(
        f"\nclass of {learners} x {len(chapters)} chapters: grader report {took:.1f} s; "
        f"{learners * len(chapters)} lone runs {lone_total:.1f} s; ratio {share:.2f} "
        f"(target <= {CLASS_SHARE}): {'met' if share <= CLASS_SHARE else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
