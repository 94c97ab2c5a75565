"""The `grader` command: parses arguments and hands over to grader.commands.*"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .course import CourseError, load_course

USAGE_ERROR = 2
INTERNAL_ERROR = 3


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="grader",
        description="Check your exercises, get hints, reset a chapter.",
        epilog="Examples: grader check 01 · grader check all · grader hint 02 3 · grader list",
    )
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = sub.add_parser("check", help="run a chapter's checks (or `all`)")
    check.add_argument("chapter", help="chapter number such as 01, several (03,04), or `all`")
    check.add_argument("--file", type=Path, help="check this file instead of the exercise")
    check.add_argument(
        "--submission",
        type=Path,
        metavar="DIR",
        help="check the exercise files found in DIR (a learner's copy or an upload)",
    )
    check.add_argument("--solutions", action="store_true", help="check the reference solution")
    check.add_argument("--json", action="store_true", help="print Gradescope results.json")
    check.add_argument("--verbose", "-v", action="store_true", help="show full tracebacks")
    check.add_argument(
        "--share", metavar="URL", help="also send the result (never the code) to a dashboard"
    )
    check.add_argument("--name", help="your name on the teacher's dashboard (with --share)")
    # For grader.notebook: the results as data, for the kernel to render.
    check.add_argument("--result-json", action="store_true", help=argparse.SUPPRESS)
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

    report = sub.add_parser("report", help="grade a whole class (for teachers)")
    report.add_argument("folder", type=Path, help="one folder, zip or git clone per learner")
    report.add_argument("--chapters", help="only these chapters, such as 03,04 (default: all)")
    report.add_argument("--out", type=Path, default=Path("report"), help="default: report/")
    report.add_argument("--workers", type=int, help="parallel workers (default: one per core)")

    serve = sub.add_parser("serve", help="a live workshop dashboard (for teachers)")
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="default: 127.0.0.1, this machine only; 0.0.0.0 lets learners' machines reach it "
        "(they put your machine's address in place of 0.0.0.0)",
    )
    serve.add_argument("--port", type=int, default=8800, help="default: 8800")
    serve.add_argument(
        "--data", type=Path, help="the dashboard's SQLite file (default: .grader/dashboard.sqlite3)"
    )

    bundle = sub.add_parser(
        "autograder", help="build a Gradescope autograder (and a GitHub Classroom workflow)"
    )
    bundle.add_argument("chapters", nargs="+", help="the chapters it grades, such as 03 04 05")
    bundle.add_argument("--out", type=Path, default=Path("autograder.zip"), metavar="ZIP")

    watch = sub.add_parser("watch", help="check again every time the exercise is saved")
    watch.add_argument("chapter")
    watch.add_argument("--file", type=Path, help="watch this file instead of the exercise")
    watch.add_argument("--timeout", type=float, metavar="SECONDS")
    return top


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    try:
        args = parser().parse_args(words)
    except SystemExit as exit:
        if exit.code not in (0, None) and "--json" in words:
            print_error_json("the command line was not understood: see `grader --help`")
        raise
    as_json = bool(getattr(args, "json", False))
    try:
        return dispatch(args)
    except CourseError as exc:
        print(f"grader: {exc}", file=sys.stderr)
        if as_json:
            print_error_json(str(exc))
        return USAGE_ERROR
    except Exception as exc:  # noqa: BLE001  (one line and a status, never a traceback)
        message = f"internal error: {type(exc).__name__}: {exc}"
        print(f"grader: {message} (please tell your teacher)", file=sys.stderr)
        if as_json:
            print_error_json(message)
        return INTERNAL_ERROR


def print_error_json(message: str) -> None:
    """Under --json, stdout is always one Gradescope object, whatever went wrong."""
    print(
        json.dumps(
            {
                "score": 0,
                "output": f"The grader could not grade this submission: {message}",
                "visibility": "visible",
                "tests": [],
            },
            indent=2,
        )
    )


def dispatch(args: argparse.Namespace) -> int:
    course = load_course()
    if args.command == "check":
        from .commands import check

        return check.run(
            course,
            args.chapter,
            file=args.file,
            submission=args.submission,
            solutions=args.solutions,
            as_json=args.json,
            verbose=args.verbose,
            timeout=args.timeout,
            result_json=args.result_json,
            share_url=args.share,
            share_name=args.name,
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
    if args.command == "report":
        from .commands import report

        return report.run(
            course, args.folder, chapters=args.chapters, out=args.out, workers=args.workers
        )
    if args.command == "serve":
        from .commands import serve

        return serve.run(course, host=args.host, port=args.port, data=args.data)
    if args.command == "autograder":
        from .commands import autograder

        return autograder.run(course, args.chapters, out=args.out)
    if args.command == "watch":
        from .commands import watch

        return watch.run(course, args.chapter, file=args.file, timeout=args.timeout)
    raise AssertionError(f"unhandled command {args.command}")


if __name__ == "__main__":
    sys.exit(main())
