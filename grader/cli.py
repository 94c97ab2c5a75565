"""The `grader` command: parses arguments and hands over to grader.commands.*"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .course import CourseError, load_course

USAGE_ERROR = 2


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="grader",
        description="Check your exercises, get hints, reset a chapter.",
        epilog="Examples: grader check 01 · grader check all · grader hint 02 3 · grader list",
    )
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = sub.add_parser("check", help="run a chapter's checks (or `all`)")
    check.add_argument("chapter", help="chapter number such as 01, or `all`")
    check.add_argument("--file", type=Path, help="check this file instead of the exercise")
    check.add_argument("--solutions", action="store_true", help="check the reference solution")
    check.add_argument("--json", action="store_true", help="print Gradescope results.json")
    check.add_argument("--verbose", "-v", action="store_true", help="show full tracebacks")
    check.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="wall-clock limit for importing the file and for each check "
        "(default from course.toml)",
    )

    sub.add_parser("list", help="every chapter and your last result")

    hint = sub.add_parser("hint", help="the next hint for a task")
    hint.add_argument("chapter")
    hint.add_argument("task", nargs="?", type=int, help="task number (default: first failing)")
    hint.add_argument("--all", action="store_true", help="show every hint of the task at once")

    reset = sub.add_parser("reset", help="restore a chapter's stub, keeping a backup of yours")
    reset.add_argument("chapter")

    watch = sub.add_parser("watch", help="check again every time the exercise is saved")
    watch.add_argument("chapter")
    watch.add_argument("--file", type=Path, help="watch this file instead of the exercise")
    watch.add_argument("--timeout", type=float, metavar="SECONDS")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        course = load_course()
        if args.command == "check":
            from .commands import check

            return check.run(
                course,
                args.chapter,
                file=args.file,
                solutions=args.solutions,
                as_json=args.json,
                verbose=args.verbose,
                timeout=args.timeout,
            )
        if args.command == "list":
            from .commands import listing

            return listing.run(course)
        if args.command == "hint":
            from .commands import hint

            return hint.run(course, args.chapter, args.task, show_all=args.all)
        if args.command == "reset":
            from .commands import reset

            return reset.run(course, args.chapter)
        if args.command == "watch":
            from .commands import watch

            return watch.run(course, args.chapter, file=args.file, timeout=args.timeout)
    except CourseError as exc:
        print(f"grader: {exc}", file=sys.stderr)
        return USAGE_ERROR
    raise AssertionError(f"unhandled command {args.command}")


if __name__ == "__main__":
    sys.exit(main())
