"""Entry point of the process that runs a learner's code: `python -m grader.child`.

It is started and watched by grader.runner; a learner's endless loop or exit only ever ends
this process, never the grader the learner talks to.
"""

from __future__ import annotations

import argparse
import faulthandler
import signal
import sys
from pathlib import Path

import pytest

from .plugin import GraderPlugin

INI = Path(__file__).resolve().parent / "checks" / "pytest.ini"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.child")
    parser.add_argument("--file", type=Path, required=True)
    parser.add_argument("--relpath", required=True)
    parser.add_argument("--module", required=True)
    parser.add_argument("--events", type=Path, required=True)
    parser.add_argument("--stacks", type=Path, required=True)
    parser.add_argument("targets", nargs="+")
    args = parser.parse_args(argv)

    # On SIGUSR1 the supervisor gets a stack dump: it names the learner's line that hangs,
    # in whichever thread it hangs (a check may call the learner's code from a thread).
    stacks = args.stacks.open("w", encoding="utf-8")
    faulthandler.register(signal.SIGUSR1, file=stacks, all_threads=True)

    with args.events.open("a", encoding="utf-8") as events:
        plugin = GraderPlugin(args.file.resolve(), args.relpath, args.module, events)
        code = pytest.main(
            [
                *args.targets,
                "-c",
                str(INI),
                "--rootdir",
                str(INI.parent),
                "-q",
                "-s",
                "-p",
                "no:cacheprovider",
            ],
            plugins=[plugin],
        )
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
