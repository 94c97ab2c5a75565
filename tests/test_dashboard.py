"""`grader serve`: the live workshop dashboard, driven as a workshop drives it.

A real server (`grader serve` in its own process, Hypercorn on a free local port), real
learners (`grader check NN --share` processes), a real browser (Debian's Chromium, driven by
Playwright) and a room of 40 learners posting at once. Everything stays on 127.0.0.1.

The load test runs for DASHBOARD_LOAD_SECONDS (default 15 s; the issue's full minute:
DASHBOARD_LOAD_SECONDS=60). UPDATE_SCREENSHOTS=1 writes the browser's screenshots of the
dashboard and of `grader report`'s page to docs/ for the README (otherwise to a temporary
folder).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from conftest import ROOT, grader, pristine_text
from mutants.ch01 import MUTANTS as CH01_MUTANTS

from grader.course import declared_checks, load_course
from grader.dashboard import create_app

DASHBOARD_LINE = re.compile(r"dashboard: (http://127\.0\.0\.1:\d+)/\?key=([A-Za-z0-9_-]+)")
LEARNERS_LINE = re.compile(
    r"learners: grader check NN --share (http://127\.0\.0\.1:\d+/r/([a-z0-9]+)) --name YOUR_NAME"
)
LOAD_SECONDS = float(os.environ.get("DASHBOARD_LOAD_SECONDS", "15"))
SCREENSHOTS = ROOT / "docs" if os.environ.get("UPDATE_SCREENSHOTS") else None
CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
# What works headless as root on a machine with no network (Chromium's own calls home are
# refused, many at a time, without the background-networking flags).
CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-proxy-server",
]  # fmt: skip


class Dashboard:
    """`grader serve --port 0 --data DATA` in its own process, with the two lines it printed."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.log = data.with_suffix(".stderr")
        with self.log.open("w") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "grader", "serve", "--port", "0", "--data", str(data)],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                env={**os.environ, "NO_COLOR": "1"},
            )
        self.lines = self._first_lines(2, timeout=30)
        dashboard = DASHBOARD_LINE.fullmatch(self.lines[0])
        learners = LEARNERS_LINE.fullmatch(self.lines[1])
        assert dashboard and learners, f"grader serve printed {self.lines!r}"
        self.base, self.key = dashboard.groups()
        self.share, self.room = learners.groups()
        self.page = f"{self.base}/?key={self.key}"

    def _first_lines(self, count: int, timeout: float) -> list[str]:
        found: list[str] = []

        def read() -> None:
            assert self.process.stdout is not None
            for _ in range(count):
                found.append(self.process.stdout.readline().rstrip("\n"))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(timeout)
        if reader.is_alive() or self.process.poll() is not None:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"grader serve did not start: {found!r} {self.log.read_text()}")
        return found

    def results(self) -> dict[str, Any]:
        response = httpx.get(f"{self.base}/api/results", params={"key": self.key}, trust_env=False)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def learner(self, name: str) -> dict[str, Any]:
        found = [ln for ln in self.results()["learners"] if ln["name"] == name]
        assert found, f"{name!r} is not on the dashboard"
        return found[0]  # type: ignore[no-any-return]

    def stop_cleanly(self) -> None:
        started = time.monotonic()
        assert self.stop(signal.SIGINT) == 0
        took = time.monotonic() - started
        assert took < 2.5, f"grader serve took {took:.1f} s to stop"  # no graceful timeout
        assert self.log.read_text() == "", self.log.read_text()

    def stop(self, how: signal.Signals = signal.SIGINT) -> int:
        if self.process.poll() is None:
            self.process.send_signal(how)
        try:
            code = self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError("grader serve did not stop within 20 s") from None
        if self.process.stdout:
            self.process.stdout.close()
        return code


@contextmanager
def serving(data: Path) -> Iterator[Dashboard]:
    """A dashboard for the block; it must then stop cleanly (Ctrl-C), quickly and quietly."""
    dashboard = Dashboard(data)
    try:
        yield dashboard
    except BaseException:
        dashboard.stop()
        raise
    dashboard.stop_cleanly()


def stored(data: Path) -> dict[str, int]:
    """Learner -> how many chapter results the SQLite file holds (read-only, beside the
    running server)."""
    with sqlite3.connect(f"file:{data}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT l.name, COUNT(r.id) FROM learners l LEFT JOIN results r ON r.learner = l.id "
            "GROUP BY l.name"
        ).fetchall()
    db.close()
    return dict(rows)


def result(name: str, chapter: str = "03", passed: tuple[bool, ...] = (True, False, True)) -> Any:
    """A post as grader/share.py makes it."""
    declared = declared_checks(load_course(ROOT).chapter(chapter).checks)
    checks = [
        {"name": d.name, "task": d.task, "points": d.points, "passed": ok}
        for d, ok in zip(declared, passed, strict=False)
    ]
    return {
        "name": name,
        "results": [
            {"chapter": chapter, "score": sum(passed), "max_score": len(passed), "checks": checks}
        ],
    }


def post(url: str, body: Any, **kwargs: Any) -> httpx.Response:
    if "content" not in kwargs:
        kwargs["json"] = body
    return httpx.post(url, trust_env=False, timeout=10, **kwargs)


def expect_refused(response: httpx.Response, status: int, says: str) -> None:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"] == "application/json"
    assert says in response.json()["error"], response.json()


# ---------------------------------------------------------------------------------------
# Real learners: grader check --share


def test_learners_share_with_grader_check_and_a_failed_share_changes_nothing(
    tmp_path: Path,
) -> None:
    stub = tmp_path / "ex00_start.py"
    stub.write_text(pristine_text("exercises/ex00_start.py"))
    with serving(tmp_path / "room.sqlite3") as dashboard:
        ada = subprocess.Popen(
            [sys.executable, "-m", "grader", "check", "00", "--solutions",
             "--share", dashboard.share, "--name", "Ada"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        bob = grader(
            "check", "00", "--file", str(stub), "--share", dashboard.share, "--name", "Bob"
        )
        out, err = ada.communicate(timeout=120)
        assert ada.returncode == 0, err
        assert err == "grader: shared with your teacher's dashboard as Ada (chapter 00)\n"
        assert bob.code == 1 and "shared with your teacher's dashboard as Bob" in bob.stderr

        ada_row, bob_row = dashboard.learner("Ada"), dashboard.learner("Bob")
        chapter00 = next(c for c in dashboard.results()["chapters"] if c["id"] == "00")
        assert ada_row["chapters"]["00"]["score"] == ada_row["chapters"]["00"]["max_score"] > 0
        assert bob_row["chapters"]["00"]["score"] == 0
        assert ada_row["last_chapter"] == "00"
        assert chapter00["learners"] == 2 and chapter00["passed"] == 1
        assert all(c["failing"] == 1 and c["of"] == 2 for c in chapter00["checks"])
        assert {c["name"] for c in bob_row["chapters"]["00"]["checks"]} == {
            c["name"] for c in chapter00["checks"]
        }
        before = stored(dashboard.data)

        # A wrong room code: refused, nothing stored, and the check's own result unchanged.
        wrong = grader(
            "check", "00", "--solutions", "--share", dashboard.share + "x", "--name", "Carol"
        )
        assert wrong.code == 0
        assert wrong.stderr.splitlines() == [
            "grader: not shared: the dashboard answered 403 "
            "(this is not the room's share URL: ask your teacher for it)"
        ]
        assert "All checks pass" in wrong.stdout
        assert stored(dashboard.data) == before == {"Ada": 1, "Bob": 1}
        base = dashboard.share

    # The dashboard is down: one line, the same exit status.
    down = grader("check", "00", "--file", str(stub), "--share", base, "--name", "Bob")
    assert down.code == 1
    assert len(down.stderr.splitlines()) == 1 and "did not answer" in down.stderr


def test_a_restart_keeps_the_room_code_the_key_and_every_result(tmp_path: Path) -> None:
    data = tmp_path / "room.sqlite3"
    first = Dashboard(data)
    assert post(first.share, result("Ada", "03")).status_code == 201
    assert first.stop(signal.SIGINT) == 0  # Ctrl-C: a clean stop
    assert oct(data.stat().st_mode & 0o777) == "0o600"  # the teacher key is in it

    second = Dashboard(data)
    assert (second.key, second.room) == (first.key, first.room)
    assert post(second.share, result("Bob", "04")).status_code == 201
    second.stop(signal.SIGKILL)  # no goodbye at all: what was accepted is still stored

    with serving(data) as third:
        assert (third.key, third.room) == (first.key, first.room)
        learners = {ln["name"]: sorted(ln["chapters"]) for ln in third.results()["learners"]}
        assert learners == {"Ada": ["03"], "Bob": ["04"]}


# ---------------------------------------------------------------------------------------
# Abuse


@pytest.fixture(scope="module")
def abused(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    with serving(tmp_path_factory.mktemp("abuse") / "room.sqlite3") as dashboard:
        yield dashboard


def test_a_wrong_room_code_or_key_is_403_and_stores_nothing(abused: Dashboard) -> None:
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    for code in ("", abused.room[:-1], abused.room.upper(), abused.key, "ü" * 10):
        response = post(f"{abused.base}/r/{code}", result("Mallory"))
        assert response.status_code in (403, 404, 405), response.status_code
        if code:
            expect_refused(response, 403, "not the room's share URL")
    for key in (None, "", abused.key[:-1], abused.room, "é"):
        params = {} if key is None else {"key": key}
        page = httpx.get(abused.base + "/", params=params, trust_env=False)
        assert page.status_code == 403 and "teacher key" in page.text
        for path in ("/api/results", "/api/history"):
            api = httpx.get(abused.base + path, params=params, trust_env=False)
            expect_refused(api, 403, "teacher key")
        query = "" if key is None else "?" + urlencode({"key": key})
        with pytest.raises(InvalidStatus) as refused:
            connect(abused.base.replace("http", "ws") + "/ws" + query, open_timeout=5)
        assert refused.value.response.status_code == 403
    assert "Mallory" not in stored(abused.data)


def test_long_names_big_or_broken_posts_are_refused_with_json(abused: Dashboard) -> None:
    at_limit = "n" * 40
    assert post(abused.share, result(at_limit)).status_code == 201
    expect_refused(post(abused.share, result("n" * 41)), 400, "longer than 40 characters")
    expect_refused(post(abused.share, result("  ")), 400, "name is empty")
    expect_refused(post(abused.share, result("tab\there")), 400, "control characters")

    big = result("Big")
    big["padding"] = "x" * (64 * 1024)  # well-formed, but past 64 KB
    expect_refused(post(abused.share, big), 413, "at most 64 KB")  # with Content-Length

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked, 1 MB in all
        yield json.dumps(result("Chunky"))[:-1].encode() + b', "padding": "'
        for _ in range(256):
            yield b"x" * 4096
        yield b'"}'

    response = post(abused.share, None, content=chunks())
    assert "content-length" not in response.request.headers
    expect_refused(response, 413, "at most 64 KB")

    expect_refused(post(abused.share, None, content=b"{not json"), 400, "not JSON")
    expect_refused(post(abused.share, None, content=b"[" * 50_000), 400, "not JSON")
    forged = result("Forger")
    forged["results"][0]["score"] = 3  # the checks say 2
    expect_refused(post(abused.share, forged), 400, "does not add up")
    nowhere = result("Nowhere")
    nowhere["results"][0]["chapter"] = "99"
    expect_refused(post(abused.share, nowhere), 400, "no chapter 99")
    invented = result("Inventor")
    invented["results"][0]["checks"][0]["name"] = "a check nobody wrote"
    expect_refused(post(abused.share, invented), 400, "checks this course does not have")
    names = set(stored(abused.data))
    assert at_limit in names
    assert not names & {"n" * 41, "Big", "Chunky", "Forger", "Nowhere", "Inventor", "tab\there"}


def test_more_than_30_posts_a_minute_from_one_learner_are_refused(abused: Dashboard) -> None:
    for _ in range(30):
        assert post(abused.share, result("Eager")).status_code == 201
    expect_refused(post(abused.share, result("Eager")), 429, "more than 30 results a minute")
    assert post(abused.share, result("Calm")).status_code == 201  # others are not slowed
    assert stored(abused.data)["Eager"] == 30


def test_names_are_data_never_markup(abused: Dashboard) -> None:
    name = "<script>alert(1)</script>"
    assert post(abused.share, result(name)).status_code == 201
    assert abused.learner(name)["name"] == name  # JSON keeps it as it is: a string
    page = httpx.get(abused.page, trust_env=False)
    assert name not in page.text and "<script src" not in page.text
    assert "script-src 'nonce-" in page.headers["content-security-policy"]
    history = httpx.get(
        f"{abused.base}/api/history", params={"key": abused.key, "name": name}, trust_env=False
    )
    assert history.headers["content-type"] == "application/json"
    assert [r["chapter"] for r in history.json()["results"]] == ["03"]


def test_the_rate_window_slides_with_the_clock(tmp_path: Path) -> None:
    """In process, on a clock the test moves: posts are accepted again a minute later."""
    now = [1000.0]

    async def scenario() -> None:
        app = create_app(data=tmp_path / "room.sqlite3", rate=3, window=60.0, clock=lambda: now[0])
        board = app.extensions["dashboard"]
        async with app.test_app() as served:
            client = served.test_client()
            url = f"/r/{board.room_code}"
            statuses = [(await client.post(url, json=result("Ada"))).status_code for _ in range(4)]
            assert statuses == [201, 201, 201, 429]
            now[0] += 59.9
            assert (await client.post(url, json=result("Ada"))).status_code == 429
            now[0] += 0.2
            assert (await client.post(url, json=result("Ada"))).status_code == 201

    asyncio.run(scenario())


def test_the_room_shows_the_checks_most_of_the_room_fails_now(tmp_path: Path) -> None:
    async def scenario() -> dict[str, Any]:
        app = create_app(data=tmp_path / "room.sqlite3", chapters={"03": "From Flask to Quart"})
        board = app.extensions["dashboard"]
        async with app.test_app() as served:
            client = served.test_client()
            url = f"/r/{board.room_code}"
            for name, passed in [
                ("Ada", (True, False, False)),
                ("Bob", (True, False, True)),
                ("Cy", (False, False, True)),
                ("Cy", (True, True, True)),  # Cy's newest run is the one that counts
            ]:
                assert (await client.post(url, json=result(name, "03", passed))).status_code == 201
            response = await client.get(f"/api/results?key={board.teacher_key}")
            return await response.get_json()  # type: ignore[no-any-return]

    chapter = asyncio.run(scenario())["chapters"][0]
    first, second, third = (
        d.name for d in declared_checks(load_course(ROOT).chapter("03").checks)[:3]
    )
    assert chapter["learners"] == 3 and chapter["passed"] == 1
    assert [(c["name"], c["failing"], c["of"]) for c in chapter["checks"]] == [
        (second, 2, 3),
        (third, 1, 3),
        (first, 0, 3),
    ]


# ---------------------------------------------------------------------------------------
# The page in a real browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("the Python package playwright (the test extra)")
    if not Path(CHROMIUM).is_file():
        missing(f"Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


def missing(what: str) -> None:
    """CI must run the browser tests; on a course author's machine they may be skipped."""
    message = f"the browser tests need {what}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@contextmanager
def opened(browser: Any, url: str, width: int = 1500, height: int = 860) -> Iterator[Any]:
    page = browser.new_page(viewport={"width": width, "height": height})
    problems: list[str] = []
    page.on("dialog", lambda dialog: problems.append(f"a dialog: {dialog.message}"))
    page.on("pageerror", lambda error: problems.append(f"a script error: {error}"))
    # A page whose server has stopped says it cannot reconnect: that is not a problem.
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error" and "WebSocket connection to" not in m.text
            else None
        ),
    )
    page.goto(url)
    try:
        yield page
    finally:
        page.close()
    assert problems == []


def cell(page: Any, name: str, chapter: str) -> Any:
    return page.locator(f'tr[data-name="{name}"] td[data-chapter="{chapter}"]')


def screenshot(page: Any, name: str, tmp_path: Path) -> None:
    folder = SCREENSHOTS or tmp_path
    folder.mkdir(exist_ok=True)
    page.screenshot(path=str(folder / name), full_page=True)
    assert (folder / name).stat().st_size > 10_000


def test_the_page_updates_live_when_a_result_arrives(browser: Any, tmp_path: Path) -> None:
    with serving(tmp_path / "room.sqlite3") as dashboard, opened(browser, dashboard.page) as page:
        page.wait_for_selector("#status.live", timeout=10_000)
        assert page.locator("#empty").is_visible()
        assert dashboard.share in page.locator("#command").inner_text()

        checked = grader("check", "00", "--solutions", "--share", dashboard.share, "--name", "Ada")
        assert checked.code == 0, checked.stderr
        full = dashboard.learner("Ada")["chapters"]["00"]["max_score"]
        cell(page, "Ada", "00").filter(has_text=f"{full}/{full}").wait_for(timeout=10_000)
        assert "full" in (cell(page, "Ada", "00").get_attribute("class") or "")

        hostile = "<img src=x onerror=alert(1)>"
        assert post(dashboard.share, result(hostile, "00", (False, True))).status_code == 201
        page.locator("tr[data-name] button", has_text=hostile).wait_for(timeout=10_000)
        assert page.locator("img").count() == 0  # shown as text, never made an element
        stuck = page.locator('#stuck .chapter[data-chapter="00"]')
        assert "1/2 pass every check" in stuck.inner_text()

        page.locator("button.learner", has_text="Ada").click()
        page.locator("#history-rows tr").first.wait_for(timeout=10_000)
        assert "History of Ada" in page.locator("#history-title").inner_text()
        assert page.locator("#history-rows tr").count() == 1
        page.locator("#close").click()

        # A room worth a picture: a few more learners on chapters 00 and 01.
        names = ["Grace", "Alan", "Barbara", "Edsger", "Katherine", "Linus", "Margaret"]
        for index, name in enumerate(names):
            post(dashboard.share, sample(name, "00", index))
            if index % 3 != 2:
                post(dashboard.share, sample(name, "01", index))
        cell(page, "Margaret", "00").wait_for(timeout=10_000)
        page.wait_for_timeout(3_000)  # the highlight of the latest results fades
        screenshot(page, "dashboard.png", tmp_path)

        # Stopped with the page open: the page is told at once, and says so.
        dashboard.stop_cleanly()
        page.wait_for_selector("#status.offline", timeout=5_000)
        assert "reconnecting" in page.locator("#status").inner_text()


def sample(name: str, chapter: str, seed: int) -> dict[str, Any]:
    """A result of the course's real chapter, with the real names of its checks."""
    declared = check_names(chapter)
    rng = random.Random(f"{name}{chapter}{seed}")
    passed = [rng.random() < 0.65 for _ in declared]
    return {
        "name": name,
        "results": [
            {
                "chapter": chapter,
                "score": sum(passed),
                "max_score": len(declared),
                "checks": [
                    {"name": n, "task": task, "points": 1, "passed": ok}
                    for (n, task), ok in zip(declared, passed, strict=True)
                ],
            }
        ],
    }


@cache
def check_names(chapter: str) -> list[tuple[str, int]]:
    found = load_course(ROOT).chapter(chapter)
    return [(d.name, d.task) for d in declared_checks(found.checks)]


def test_a_screenshot_of_the_class_report(browser: Any, tmp_path: Path) -> None:
    files = ("ex00_start.py", "ex01_coroutines.py")
    solution = {name: (ROOT / "solutions" / name).read_text() for name in files}
    slow = next(m for m in CH01_MUTANTS if m.name == "fetch_data_fixed_2s")
    partial = solution["ex01_coroutines.py"]
    for old, new in slow.edits:
        partial = partial.replace(old, new, 1)
    learners = {
        "Ada Lovelace": {"ex00_start.py": solution["ex00_start.py"], "ex01_coroutines.py": partial},
        "Alan Turing": solution,
        "Grace Hopper": {"ex00_start.py": solution["ex00_start.py"]},
        "Linus": {},
    }
    for name, files in learners.items():
        folder = tmp_path / "class" / name / "exercises"
        folder.mkdir(parents=True)
        for file, text in files.items():
            (folder / file).write_text(text)
    made = grader(
        "report", str(tmp_path / "class"), "--chapters", "00,01", "--out", str(tmp_path / "out"),
        timeout=600,
    )  # fmt: skip
    assert made.code == 0, made.stdout + made.stderr
    report = (tmp_path / "out" / "report.html").as_uri()
    with opened(browser, report, height=700) as page:
        assert page.locator("h2", has_text="Where the class is stuck").is_visible()
        screenshot(page, "report.png", tmp_path)


# ---------------------------------------------------------------------------------------
# A room of 40


SHOWS_EVERY_LAST_RESULT = """last => {
    const rows = document.querySelectorAll("#rows tr");
    return rows.length === Object.keys(last).length && [...rows].every((row) => {
        const [chapter, score] = last[row.dataset.name];
        const cell = row.querySelector(`td[data-chapter="${chapter}"]`);
        return cell !== null && cell.textContent === score;
    });
}"""


def test_a_room_of_40_posting_every_few_seconds(browser: Any, tmp_path: Path) -> None:
    """40 learners, each posting every 2-3 s (under the limit of 30 a minute) for
    LOAD_SECONDS, with the page open: every accepted result is stored and the page shows
    every learner's last result as soon as the room goes quiet."""
    learners = [f"learner-{i:02d}" for i in range(40)]
    accepted: dict[str, int] = dict.fromkeys(learners, 0)
    last: dict[str, list[str]] = {}  # name -> [chapter, score as the grid shows it]
    latencies: list[float] = []
    refused: list[str] = []

    async def learner(client: httpx.AsyncClient, url: str, name: str, stop: float) -> None:
        rng = random.Random(name)
        await asyncio.sleep(rng.uniform(0, 2.5))
        while time.monotonic() < stop:
            passed = tuple(rng.random() < 0.6 for _ in range(8))
            chapter = rng.choice(["03", "04", "05"])
            started = time.perf_counter()
            response = await client.post(url, json=result(name, chapter, passed))
            latencies.append(time.perf_counter() - started)
            if response.status_code == 201:
                accepted[name] += 1
                last[name] = [chapter, f"{sum(passed)}/8"]
            else:
                refused.append(f"{response.status_code} {response.text}")
            pause = rng.uniform(2.0, 3.0)
            if time.monotonic() + pause >= stop:
                return
            await asyncio.sleep(pause)

    async def room(url: str) -> None:
        stop = time.monotonic() + LOAD_SECONDS
        limits = httpx.Limits(max_connections=40)
        async with httpx.AsyncClient(trust_env=False, timeout=10, limits=limits) as client:
            await asyncio.gather(*(learner(client, url, n, stop) for n in learners))

    with serving(tmp_path / "room.sqlite3") as dashboard, opened(browser, dashboard.page) as page:
        page.wait_for_selector("#status.live", timeout=10_000)
        load = threading.Thread(target=asyncio.run, args=(room(dashboard.share),))
        started = time.monotonic()
        load.start()
        seen: list[int] = []  # messages the page had received, every second of the load
        while load.is_alive():
            seen.append(int(page.evaluate("document.body.dataset.messages || '0'")))
            page.wait_for_timeout(1000)
        load.join()
        quiet = time.monotonic()
        page.wait_for_function(SHOWS_EVERY_LAST_RESULT, arg=last, timeout=10_000)
        settled = time.monotonic() - quiet
        assert page.locator("#status").inner_text() == "live"

        assert refused == []
        # Every accepted post is stored, one chapter result each.
        assert stored(dashboard.data) == {n: c for n, c in accepted.items() if c}
        total = sum(accepted.values())
        assert total >= 40 * int(LOAD_SECONDS / 3.0 - 1)
        updates = [b - a for a, b in zip(seen, seen[1:], strict=False)]
        assert updates and min(updates[1:] or updates) > 0, seen  # live all along
        latencies.sort()
        print(
            f"\nroom of 40 for {quiet - started:.0f} s: {total} posts, "
            f"latency p50 {statistics.median(latencies) * 1000:.0f} ms, "
            f"p95 {latencies[int(0.95 * len(latencies))] * 1000:.0f} ms, "
            f"max {latencies[-1] * 1000:.0f} ms; page messages {seen[-1]}, "
            f"page up to date {settled:.2f} s after the last post"
        )
