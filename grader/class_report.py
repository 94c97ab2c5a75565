"""The teacher's report on a whole class: report.html (one self-contained page), report.csv
(one row per learner and chapter) and results/<learner>.json (Gradescope format).

Everything is sorted and nothing depends on the clock, so the same submissions give the
same files, byte for byte.
"""

from __future__ import annotations

import csv
import html
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from .course import Chapter, Course
from .gradescope import results_json
from .results import ChapterResult

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem; color: #1d2330; }
h1 { font-size: 1.6rem; } h2 { margin-top: 2.2rem; font-size: 1.25rem; }
table { border-collapse: collapse; margin: .6rem 0; }
th, td { border: 1px solid #d5d9e0; padding: .3rem .55rem; text-align: left; }
th { background: #f1f3f7; position: sticky; top: 0; }
td.score { text-align: center; font-variant-numeric: tabular-nums; }
.full { background: #d8f5dd; } .part { background: #fff2c7; } .zero { background: #fbd9d6; }
.missing { background: #eef0f4; color: #7a8190; } .flag { color: #a15c00; font-weight: bold; }
.bar { background: #e2e5ea; width: 18rem; height: .9rem; border-radius: 3px; }
.bar > div { background: #d9534f; height: 100%; border-radius: 3px; }
.hint { color: #4a5260; font-size: .9rem; } .muted { color: #7a8190; }
"""


@dataclass
class LearnerResults:
    name: str
    slug: str
    chapters: dict[str, ChapterResult] = field(default_factory=dict)
    missing: set[str] = field(default_factory=set)  # chapters with no file
    untouched: set[str] = field(default_factory=set)  # chapters whose file is still the stub
    problem: str = ""  # the copy could not be read at all

    @property
    def started(self) -> bool:
        submitted = set(self.chapters) - self.missing - self.untouched
        return bool(submitted) and not self.problem


def write_reports(
    course: Course, chapters: list[Chapter], learners: list[LearnerResults], out: Path
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    results_dir = out / "results"
    results_dir.mkdir(exist_ok=True)
    for old in results_dir.glob("*.json"):  # learners of an earlier report, gone since
        old.unlink()
    for learner in learners:
        data = results_json([learner.chapters[c.id] for c in chapters], 0.0)
        data.pop("execution_time", None)
        for test in data["tests"]:
            test.get("extra_data", {}).pop("loop_seconds", None)
        text = json.dumps(data, indent=2, sort_keys=True) + "\n"
        (results_dir / f"{learner.slug}.json").write_text(text, encoding="utf-8")
    (out / "report.csv").write_text(csv_text(chapters, learners), encoding="utf-8")
    (out / "report.html").write_text(html_text(course, chapters, learners), encoding="utf-8")


def status(learner: LearnerResults, chapter: Chapter) -> str:
    result = learner.chapters[chapter.id]
    if learner.problem or chapter.id in learner.missing:
        return "missing"
    if chapter.id in learner.untouched:
        return "not started"
    if result.problem is not None:
        return "cannot load"
    return "passed" if result.ok else "failed"


def csv_text(chapters: list[Chapter], learners: list[LearnerResults]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        ["learner", "chapter", "title", "status", "passed", "checks", "score", "max_score",
         "integrity_note", "reason"]
    )  # fmt: skip
    for learner in learners:
        for chapter in chapters:
            result = learner.chapters[chapter.id]
            reason = learner.problem or (result.problem.summary if result.problem else "")
            writer.writerow(
                [safe_cell(learner.name), chapter.id, chapter.title, status(learner, chapter),
                 result.passed, result.total, result.score, result.max_score,
                 "yes" if result.integrity else "", safe_cell(reason)]
            )  # fmt: skip
    return buffer.getvalue()


def safe_cell(text: str) -> str:
    """A spreadsheet runs a cell that starts with = + - @ as a formula: not a learner's."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def html_text(course: Course, chapters: list[Chapter], learners: list[LearnerResults]) -> str:
    e = html.escape
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{e(course.title)}: class report</title><style>{STYLE}</style></head><body>",
        f"<h1>{e(course.title)}</h1>",
        f"<p class='muted'>{len(learners)} learners · chapters "
        f"{', '.join(c.id for c in chapters)}</p>",
        "<h2>The class</h2><table><tr><th>learner</th>",
    ]
    parts += [f"<th title='{e(c.title)}'>{e(c.id)}</th>" for c in chapters]
    parts.append("<th>total</th></tr>")
    legend = (
        "<p class='muted'>Green: every check passes; yellow: some; red: none. Grey: the "
        "file is still the stub (not started) or, as —, missing. ⚠: an integrity note (see "
        "the end of the page). Hover a cell for its status; report.csv gives the reason.</p>"
    )
    for learner in learners:
        row = [f"<tr><td>{e(learner.name)}</td>"]
        total = maximum = 0
        for chapter in chapters:
            result = learner.chapters[chapter.id]
            total, maximum = total + result.score, maximum + result.max_score
            state = status(learner, chapter)
            css = (
                "missing"
                if state in ("missing", "not started")
                else "full"
                if result.score == result.max_score
                else "part"
                if result.score
                else "zero"
            )
            cell = "—" if state == "missing" else f"{result.score}/{result.max_score}"
            flag = " <span class='flag' title='integrity note'>⚠</span>" if result.integrity else ""
            row.append(f"<td class='score {css}' title='{e(state)}'>{cell}{flag}</td>")
        row.append(f"<td class='score'>{total}/{maximum}</td></tr>")
        parts.append("".join(row))
    parts.append("</table>")
    parts.append(legend)
    parts += checks_section(chapters, learners)
    not_started = [learner for learner in learners if not learner.started]
    parts.append("<h2>Learners who did not start</h2>")
    if not_started:
        parts.append("<ul>")
        for learner in not_started:
            why = f" ({e(learner.problem)})" if learner.problem else ""
            parts.append(f"<li>{e(learner.name)}{why}</li>")
        parts.append("</ul>")
    else:
        parts.append("<p class='muted'>Everyone has started.</p>")
    parts += integrity_section(chapters, learners)
    parts.append("</body></html>\n")
    return "\n".join(parts)


def checks_section(chapters: list[Chapter], learners: list[LearnerResults]) -> list[str]:
    """For every check, the share of the learners who submitted the chapter that fail it,
    worst first, with the hint of its task and a bar."""
    e = html.escape
    parts = ["<h2>Where the class is stuck</h2>"]
    for chapter in chapters:
        submitted = [
            learner.chapters[chapter.id]
            for learner in learners
            if status(learner, chapter) not in ("missing", "not started")
        ]
        parts.append(f"<h3>{e(chapter.id)} · {e(chapter.title)}</h3>")
        unloadable = sum(1 for r in submitted if r.problem is not None)
        if submitted:
            parts.append(
                f"<p class='muted'>Of the {len(submitted)} learners who started it"
                + (f"; {unloadable} of their files could not be loaded at all" if unloadable
                   else "")
                + ".</p>"
            )  # fmt: skip
        if not submitted:
            parts.append("<p class='muted'>Nobody has submitted this chapter yet.</p>")
            continue
        rows = []
        names = [(c.id, c.name, c.task) for c in submitted[0].checks]
        for index, (check_id, name, task) in enumerate(names):
            failing = sum(
                1 for r in submitted if not any(c.id == check_id and c.passed for c in r.checks)
            )
            rows.append((-failing, index, name, task, failing))
        parts.append("<table><tr><th>check</th><th>fail</th><th></th><th>hint</th></tr>")
        for _, _, name, task, failing in sorted(rows):
            share = failing / len(submitted)
            hints = _task_hints(chapter, task)
            parts.append(
                f"<tr><td>{e(name)} <span class='muted'>[task {task}]</span></td>"
                f"<td class='score'>{failing}/{len(submitted)}</td>"
                f"<td><div class='bar'><div style='width:{share:.0%}'></div></div></td>"
                f"<td class='hint'>{e(hints)}</td></tr>"
            )
        parts.append("</table>")
    return parts


def _task_hints(chapter: Chapter, task: int) -> str:
    for candidate in chapter.tasks:
        if candidate.number == task and candidate.hints:
            return candidate.hints[0]
    return ""


def integrity_section(chapters: list[Chapter], learners: list[LearnerResults]) -> list[str]:
    e = html.escape
    flagged = [
        (learner, chapter, learner.chapters[chapter.id].integrity)
        for learner in learners
        for chapter in chapters
        if learner.chapters[chapter.id].integrity
    ]
    parts = ["<h2>Integrity notes</h2>"]
    if not flagged:
        return [*parts, "<p class='muted'>No submission uses what could tamper with grading.</p>"]
    parts.append(
        "<p>These files use what no exercise needs and what could tamper with grading. "
        "Read them before trusting their scores.</p><ul>"
    )
    for learner, chapter, notes in flagged:
        shown = "; ".join(notes[:5])
        parts.append(f"<li><b>{e(learner.name)}</b>, chapter {e(chapter.id)}: {e(shown)}</li>")
    parts.append("</ul>")
    return parts
