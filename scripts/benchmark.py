"""How fast grading is: per chapter, the wall time of `grader check NN --solutions`, the
event-loop time its checks simulated, how both compare with a bare Python start, and what
the sandbox costs (the same run with GRADER_SANDBOX=off, taken in turn with it).

    python scripts/benchmark.py [--runs 5] [CHAPTER ...]
    python scripts/benchmark.py --class 30         a class report against lone checks
    python scripts/benchmark.py --services         chapters 09 and 10 and their real servers

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
    parser.add_argument(
        "--services",
        action="store_true",
        help="time the chapters with real servers (09, 10) against their targets instead",
    )
    parser.add_argument("chapters", nargs="*")
    args = parser.parse_args()
    if args.learners:
        return class_report(args.learners, args.runs)
    if args.services:
        return services_report(args.runs)
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


FIRST_FACTOR = 3.0  # the first check 09 on a new copy: x (bare-imports start + one-time init)
LATER_FACTOR = 2.0  # later ones: x `grader check 03`
CHAPTERS = ("03", "09", "10")


def services_report(runs: int) -> int:
    """Chapters 09 and 10 start real servers (grader/lab/services.py). The first
    `grader check 09` on a new copy of the course also initialises its PostgreSQL cluster
    (under .grader/): against a bare-imports start plus that one-time init. Later ones,
    and chapter 10's, against `grader check 03`."""
    import tempfile

    from grader.lab import services

    python = [sys.executable, "-c", "import quart, httpx, pytest"]
    firsts, inits, baselines = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for number in range(runs):
            # A new copy, where the server's user (nobody, under root) can reach .grader/.
            copy = Path(tmp) / f"copy{number}"
            copy.mkdir(parents=True)
            Path(tmp).chmod(0o755)
            copy.chmod(0o755)
            for name in ("course.toml", "solutions", "exercises"):
                source = ROOT / name
                if source.is_dir():
                    subprocess.run(["cp", "-r", str(source), str(copy / name)], check=True)
                else:
                    (copy / name).write_bytes(source.read_bytes())
            env = {**os.environ, "COURSE_ROOT": str(copy)}
            env.pop("DATABASE_URL", None)
            command = [sys.executable, "-m", "grader", "check", "09", "--solutions"]
            baselines.append(timed(python)[0])  # taken in turn: the machine's speed drifts
            started = time.perf_counter()
            subprocess.run(command, cwd=copy, env=env, capture_output=True, check=False)
            firsts.append(time.perf_counter() - started)
            # The one-time init alone, in another new folder: initdb of the cluster.
            home = Path(tmp) / f"init{number}" / "postgres"
            home.parent.mkdir()
            home.parent.chmod(0o755)
            started = time.perf_counter()
            services.ensure_cluster(home)
            inits.append(time.perf_counter() - started)
    first, init = statistics.median(firsts), statistics.median(inits)
    baseline = statistics.median(baselines)
    # Later runs, each taken in turn with a `grader check 03`: the median of the pairwise
    # ratios, robust to a machine whose load changes during the measurement.
    commands = {c: [sys.executable, "-m", "grader", "check", c, "--solutions"] for c in CHAPTERS}
    timed(commands["09"])  # the course copy's cluster exists after this one
    walls: dict[str, list[float]] = {c: [] for c in CHAPTERS}
    for _ in range(runs):
        for chapter, command in commands.items():
            walls[chapter].append(timed(command)[0])
    lone03 = statistics.median(walls["03"])
    later = {
        c: (
            statistics.median(walls[c]),
            statistics.median(w / b for w, b in zip(walls[c], walls["03"], strict=True)),
        )
        for c in ("09", "10")
    }
    print(f"Python {sys.version.split()[0]}, {runs} runs each, medians")
    print(f"bare imports (python -c 'import quart, httpx, pytest'): {baseline:.3f} s")
    print(f"one-time init of the PostgreSQL cluster (initdb):        {init:.3f} s")
    print(f"grader check 03 --solutions:                             {lone03:.3f} s")
    target = FIRST_FACTOR * (baseline + init)
    print(
        f"first grader check 09 on a new copy: {first:.3f} s, "
        f"{first / (baseline + init):.2f} x (imports + init); target <= {FIRST_FACTOR:g} x: "
        f"{'met' if first <= target else 'MISSED'}"
    )
    for chapter, (wall, ratio) in later.items():
        print(
            f"later grader check {chapter}:              {wall:.3f} s, {ratio:.2f} x "
            f"check 03 (median of pairwise ratios); target <= {LATER_FACTOR:g} x: "
            f"{'met' if ratio <= LATER_FACTOR else 'MISSED'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
