"""Write what course.toml generates: the notebooks' own cells and the README's chapter table.

The first cell of each notebook (tag `course-header`: title and navigation) and the last
(tag `course-check`: runs the chapter's checks) are generated here, never edited by hand.
Outputs, execution counts and editor metadata are removed so notebooks diff cleanly. The
README's table of chapters, between its two `chapters` markers, is written from the manifest.

    python scripts/sync_notebooks.py           rewrite the notebooks and the README table
    python scripts/sync_notebooks.py 06 07     only these chapters' notebooks (and the table)
    python scripts/sync_notebooks.py --check   exit 1 if anything would change (CI)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.course import Chapter, load_course  # noqa: E402

HEADER, CHECK = "course-header", "course-check"
README = ROOT / "README.md"
TABLE_START = "<!-- chapters: generated from course.toml by scripts/sync_notebooks.py -->"
TABLE_END = "<!-- end of chapters -->"
KEEP_METADATA = {"kernelspec", "language_info"}


def header_source(chapter: Chapter, previous: Chapter | None, following: Chapter | None) -> str:
    nav = []
    if previous:
        nav.append(f"[← {previous.id} {previous.title}]({previous.notebook.name})")
    if following:
        nav.append(f"[{following.id} {following.title} →]({following.notebook.name})")
    exercise = f"../exercises/{chapter.exercise.name}"
    return "\n".join(
        [
            f"# {chapter.id} · {chapter.title}",
            "",
            " · ".join(nav) if nav else "",
            "",
            f"**Your exercise:** [`exercises/{chapter.exercise.name}`]({exercise}). "
            f"Check it with the last cell of this notebook, or in a terminal with "
            f"`grader check {chapter.id}`; `grader hint {chapter.id}` gives a hint.",
        ]
    )


def check_source(chapter: Chapter) -> str:
    return "\n".join(
        [
            f"# Check exercises/{chapter.exercise.name} (the same as `grader check {chapter.id}`).",
            "# Your code runs in a separate process: an endless loop cannot hang this notebook.",
            "from grader.notebook import check",
            "",
            f'check("{chapter.id}");',
        ]
    )


def tagged(cell: nbformat.NotebookNode, tag: str) -> bool:
    return tag in cell.get("metadata", {}).get("tags", [])


def clean(cell: nbformat.NotebookNode) -> None:
    tags = cell.get("metadata", {}).get("tags", [])
    cell["metadata"] = {"tags": tags} if tags else {}
    if cell["cell_type"] == "code":
        cell["outputs"] = []
        cell["execution_count"] = None
    cell.pop("id", None)
    if not cell.get("attachments"):
        cell.pop("attachments", None)


def synced(chapter: Chapter, previous: Chapter | None, following: Chapter | None) -> str:
    nb = nbformat.read(chapter.notebook, as_version=4)
    body = [c for c in nb.cells if not (tagged(c, HEADER) or tagged(c, CHECK))]
    header = nbformat.v4.new_markdown_cell(header_source(chapter, previous, following))
    header.metadata["tags"] = [HEADER]
    check = nbformat.v4.new_code_cell(check_source(chapter))
    check.metadata["tags"] = [CHECK]
    nb.cells = [header, *body, check]
    for cell in nb.cells:
        clean(cell)
    nb.metadata = {k: v for k, v in nb.metadata.items() if k in KEEP_METADATA}
    nb.metadata["kernelspec"] = {
        "display_name": "Python 3",
        "language": "python",
        "name": "python3",
    }
    nb.metadata["language_info"] = {"name": "python"}
    nb.nbformat, nb.nbformat_minor = 4, 4
    text = nbformat.writes(nb)
    # nbformat >= 5.1 adds random cell ids; drop them so a re-sync changes nothing.
    return (
        "\n".join(line for line in text.splitlines() if not line.strip().startswith('"id": '))
        + "\n"
    )


def chapter_table(chapters: list[Chapter]) -> str:
    rows = [
        "| # | chapter | notebook | exercise |",
        "|---|---------|----------|----------|",
    ]
    for chapter in chapters:
        notebook = f"notebooks/{chapter.notebook.name}"
        rows.append(
            f"| {chapter.id} | {chapter.title} | [{chapter.notebook.stem}]({notebook}) "
            f"| `exercises/{chapter.exercise.name}` |"
        )
    return "\n".join(rows)


def synced_readme(text: str, chapters: list[Chapter]) -> str:
    head, rest = text.split(TABLE_START, 1)
    _, tail = rest.split(TABLE_END, 1)
    return f"{head}{TABLE_START}\n{chapter_table(chapters)}\n{TABLE_END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report, do not write")
    parser.add_argument("chapters", nargs="*", help="only these chapters' notebooks")
    args = parser.parse_args(argv)
    course = load_course(ROOT)
    chapters = list(course.chapters)
    wanted = {course.chapter(key).id for key in args.chapters}
    stale: list[object] = []
    readme = README.read_text(encoding="utf-8")
    if synced_readme(readme, chapters) != readme:
        stale.append(README)
        if args.check:
            print("not in sync: README.md (its table of chapters)")
        else:
            README.write_text(synced_readme(readme, chapters), encoding="utf-8")
            print("synced the table of chapters in README.md")
    for i, chapter in enumerate(chapters):
        if wanted and chapter.id not in wanted:
            continue
        if not chapter.notebook.is_file():
            print(f"missing notebook: {course.relative(chapter.notebook)}")
            stale.append(chapter)
            continue
        previous = chapters[i - 1] if i else None
        following = chapters[i + 1] if i + 1 < len(chapters) else None
        text = synced(chapter, previous, following)
        if chapter.notebook.read_text(encoding="utf-8") != text:
            stale.append(chapter)
            if args.check:
                print(f"not in sync: {course.relative(chapter.notebook)}")
            else:
                chapter.notebook.write_text(text, encoding="utf-8")
                print(f"synced {course.relative(chapter.notebook)}")
    if args.check and stale:
        print("run: python scripts/sync_notebooks.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
