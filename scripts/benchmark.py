"""How fast grading is: per chapter, the wall time of `grader check NN --solutions`, the
event-loop time its checks simulated, how both compare with a bare Python start, and what
the sandbox costs (the same run with GRADER_SANDBOX=off, taken in turn with it).

    python scripts/benchmark.py [--runs 5] [CHAPTER ...]

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
    parser.add_argument("chapters", nargs="*")
    args = parser.parse_args()
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


if __name__ == "__main__":
    sys.exit(main())
