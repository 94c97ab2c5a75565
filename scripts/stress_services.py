"""Proof that chapters 09 and 10 grade the same under load: real servers, real sockets,
virtual time (grader/lab/realtime.py).

Runs `grader check 09` and `grader check 10` on the reference solutions RUNS times each
while CPU burners keep every core busy (as the test suite does beside them in CI), plus, every
fifth round, one mutant per chapter whose failing checks are known. A wrong verdict is a
solution's check that failed, or a mutant's check that passed or failed where it should not.

    python scripts/stress_services.py [--runs 50] [--burners N]

Prints each wrong verdict as it happens and a summary; exit status 1 if there was any. It
runs for a while (about 10 s per round on a 2-core machine): it is not part of the test
suite, and its figures are quoted in the issue that asked for it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from mutants import ch09, ch10  # noqa: E402

from grader.course import load_course  # noqa: E402

# One mutant per chapter, and the checks it must fail (every other check must pass).
MUTANTS = {
    "09": next(m for m in ch09.MUTANTS if m.name == "connection_per_request"),
    "10": next(m for m in ch10.MUTANTS if m.name == "no_cache_timeout"),
}
BURN = "import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end: pass\n"


def mutant_file(chapter: str, folder: Path) -> Path:
    mutant = MUTANTS[chapter]
    text = load_course(ROOT).chapter(chapter).solution.read_text(encoding="utf-8")
    for old, new in mutant.edits:
        text = text.replace(old, new)
    path = folder / chapter / f"{load_course(ROOT).chapter(chapter).module_name}.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def names(chapter: str) -> dict[str, str]:
    """Check function -> display name."""
    sys.path.insert(0, str(ROOT / "tests"))
    from test_mutants import display_names

    return display_names(chapter)


def grade(chapter: str, file: Path | None) -> tuple[float, dict[str, str], str]:
    command = [sys.executable, "-m", "grader", "check", chapter, "--json"]
    command += ["--file", str(file)] if file else ["--solutions"]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    took = time.perf_counter() - started
    try:
        tests = json.loads(done.stdout)["tests"]
    except (ValueError, KeyError):
        return took, {}, done.stdout[-2000:] + done.stderr[-2000:]
    statuses = {t["name"].split(" · ", 1)[1]: t["status"] for t in tests}
    outputs = {t["name"].split(" · ", 1)[1]: t["output"] for t in tests}
    return took, statuses, json.dumps(outputs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--burners", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    seconds = args.runs * 30 + 600  # burners stop by themselves, even if this script dies
    burners = [
        subprocess.Popen([sys.executable, "-c", BURN.format(seconds=seconds)])
        for _ in range(args.burners)
    ]
    wrong: list[str] = []
    walls: dict[str, list[float]] = {"09": [], "10": []}
    counted = {"09": 0, "10": 0}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            files = {c: mutant_file(c, Path(tmp)) for c in MUTANTS}
            for round_number in range(1, args.runs + 1):
                for chapter in ("09", "10"):
                    runs: list[tuple[str, Path | None]] = [("solution", None)]
                    if round_number % 5 == 0:
                        runs.append(("mutant " + MUTANTS[chapter].name, files[chapter]))
                    for label, file in runs:
                        took, statuses, output = grade(chapter, file)
                        if file is None:
                            walls[chapter].append(took)
                        failing = {names(chapter)[f] for f in MUTANTS[chapter].fails}
                        if not statuses:
                            wrong.append(f"round {round_number}, {chapter} {label}: no result")
                            print(wrong[-1], output, flush=True)
                            continue
                        for check, status in statuses.items():
                            counted[chapter] += 1
                            should = "failed" if file and check in failing else "passed"
                            if status != should:
                                wrong.append(
                                    f"round {round_number}, {chapter} {label}: {check!r} "
                                    f"{status}, should have {should}"
                                )
                                print(wrong[-1], flush=True)
                print(
                    f"round {round_number}/{args.runs}: 09 {walls['09'][-1]:.1f} s, "
                    f"10 {walls['10'][-1]:.1f} s, wrong verdicts so far: {len(wrong)}",
                    flush=True,
                )
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    print(f"\n{args.burners} CPU burners beside every run; {args.runs} rounds")
    for chapter in ("09", "10"):
        print(
            f"chapter {chapter}: {counted[chapter]} verdicts, grader check median "
            f"{statistics.median(walls[chapter]):.2f} s, max {max(walls[chapter]):.2f} s"
        )
    print(f"wrong verdicts: {len(wrong)}")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
