"""Checks for chapter 15: a health check, metrics in a registry of the app's own (route
templates as labels, durations in a histogram), Bearer keys compared in constant time,
orders validated field by field, a 1 MB body limit with or without Content-Length, a rate
limit per client address on /orders only, and nosniff on every response.

Rate limits run on the virtual clock: while a check runs, time.monotonic(), time.time(),
time.perf_counter() (and their _ns twins) follow the event loop's clock, so a limiter or a
timer written with any of them sees the minutes the check waits. datetime.now() cannot be
made to follow: a check that sees the real clock says so.
"""

import asyncio
import hmac
import logging
import re
import secrets
import time
import timeit
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FunctionType, ModuleType
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from quart import Quart

from grader.lab import Learner, check, fail, show, within
from grader.lab.web import (
    Reply,
    build_app,
    call,
    expect_json,
    expect_json_error,
    expect_status,
    serving,
)

KEY, OTHER_KEY = "key-for-ci-7Qx2", "key-for-ops-Vb81"
PLENTY = 1000  # orders_per_minute for the checks that are not about the rate limit
JSON = {"Content-Type": "application/json"}
ORDER = {"symbol": "AAPL", "quantity": 5}
MB = 1024 * 1024
SLOW_SECONDS = 0.25
USER_RULE = "/user/<int:user_id>"
CLOCKS = ("monotonic", "time", "perf_counter", "monotonic_ns", "time_ns", "perf_counter_ns")
CLOCK_NAMES = "time.monotonic(), time.time(), time.perf_counter() and loop.time()"
COUNTER = "http_requests_total"
HISTOGRAM = "http_request_duration_seconds"
METRICS_HINT = (
    'Make a `CollectorRegistry()` in create_app, a `Counter("http_requests_total", ..., '
    '["method", "route", "status"], registry=registry)`, and count every response in an '
    "@app.after_request function; GET /metrics returns `generate_latest(registry)` with the "
    "content type CONTENT_TYPE_LATEST."
)
NOSNIFF_HINT = (
    "Set the header once for every response: in an @app.after_request function, "
    '`response.headers["X-Content-Type-Options"] = "nosniff"`, then return the response. '
    "Quart runs it for error responses too."
)
LIMIT_HINT = (
    "Give each client address (request.remote_addr) its own list of the times of its recent "
    "orders; refuse when `orders_per_minute` of them are less than 60 s old."
)


# --- the learner's app, and the grader's own routes added to it ---------------------------


def make_app(learner: Learner, **options: Any) -> Quart:
    options.setdefault("api_keys", {KEY, OTHER_KEY})
    options.setdefault("orders_per_minute", PLENTY)
    try:
        return build_app(learner, **options)
    except ValueError as error:
        if "Duplicated timeseries" not in str(error) or not default_registry_metrics():
            raise
    # The metrics of an earlier app of this check are in prometheus_client's default
    # registry. Only the check about registries fails for that (with its own story): the
    # others, such as a check that makes an app per key, get their app.
    empty_default_registry()
    return build_app(learner, **options)


DEFAULT_REGISTRY = (
    "Your app uses prometheus_client's default REGISTRY: give each app a CollectorRegistry "
    "of its own"
)
DEFAULT_REGISTRY_HINT = (
    "The default registry is one per process: a second app clashes with the first "
    "(DuplicateTimeseries), and each sees the other's counts. Make `registry = "
    "CollectorRegistry()` in create_app, pass `registry=registry` to each metric, and serve "
    "`generate_latest(registry)`."
)


def default_registry_metrics() -> list[str]:
    """The names of the metrics that the learner's code put in prometheus_client's default
    registry (the fixture below empties it before each check, built-in collectors aside)."""
    from prometheus_client import REGISTRY

    names: set[str] = set()
    for collector, collector_names in dict(getattr(REGISTRY, "_collector_to_names", {})).items():
        if not any(collector is b for b in built_in_collectors()):
            names.update(collector_names)
    return sorted(names)


def expect_own_registry(what: str) -> None:
    """Fails, with the real cause, when the app's metrics are in the default registry."""
    names = default_registry_metrics()
    if names:
        # Names as Prometheus shows them: http_requests_total, not its base http_requests.
        shown = [
            n
            for n in names
            if not n.endswith(("_created", "_bucket", "_count", "_sum"))
            and n + "_total" not in names
        ]
        fail(
            DEFAULT_REGISTRY,
            expected="the app's metrics in a CollectorRegistry made by create_app",
            got=f"{what}: {', '.join(shown or names)} in prometheus_client.REGISTRY, which the "
            "whole process shares",
            hint=DEFAULT_REGISTRY_HINT,
        )


def add_probe_routes(app: Quart) -> None:
    """Routes of the grader's own, added to the learner's app after create_app: a route
    with a converter, one that takes SLOW_SECONDS, one that fails."""

    async def user(user_id: int) -> dict[str, int]:
        return {"id": user_id}

    async def slow() -> dict[str, bool]:
        await asyncio.sleep(SLOW_SECONDS)
        return {"slow": True}

    async def boom() -> dict[str, bool]:
        raise RuntimeError("a failure inside a route (made by the grader)")

    app.add_url_rule(USER_RULE, "grader_probe_user", user, methods=["GET"])
    app.add_url_rule("/slow", "grader_probe_slow", slow, methods=["GET"])
    app.add_url_rule("/boom", "grader_probe_boom", boom, methods=["GET"])


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def from_address(address: str, port: int = 40000) -> dict[str, Any]:
    """What the test client needs so that request.remote_addr is `address`."""
    return {"scope_base": {"client": (address, port)}}


_addresses = iter(range(1, 1_000_000))


def fresh_address() -> str:
    n = next(_addresses)
    return f"198.51.{n // 250 % 250}.{n % 250 + 1}"


async def post_order(client: Any, body: Any, *, address: str | None = None) -> Reply:
    """POST /orders with a JSON body (or raw bytes), each from a client address of its own
    unless one is given, so that the rate limit never decides a check about something else."""
    address = address or fresh_address()
    if isinstance(body, bytes):
        reply = await call(
            client, "POST", "/orders", data=body, headers=JSON, **from_address(address)
        )
        reply.call += f" with {show(body, 60)}"
    else:
        reply = await call(client, "POST", "/orders", json=body, **from_address(address))
        reply.call += f" with {show(body, 80)}"
    return reply


def not_limited(reply: Reply) -> None:
    if reply.status == 429:
        fail(
            f"{reply.call} answered 429",
            expected="no rate limit here: orders_per_minute=1000, and each order came from "
            "an address of its own",
            got=reply.describe(),
            hint="Limit per client address and use the orders_per_minute given to "
            "create_app: " + LIMIT_HINT,
        )


# --- clocks that follow the loop, and stand-ins for what the learner's code calls ---------


@contextmanager
def standing_in(learner: Learner, stand_ins: dict[tuple[Any, str], Any]) -> Iterator[None]:
    """Replace functions where the learner's code finds them: on their modules (`time.x`),
    as names the learner's file imported (`from time import monotonic as now`), as class
    attributes and default arguments in the learner's file. Everything is put back when the
    block ends, before the check returns (the grader compares modules after every check)."""
    originals: list[tuple[Any, Any]] = []
    restore: list[Callable[[], None]] = []
    for (owner, name), new in stand_ins.items():
        old = getattr(owner, name, None)
        if old is None:
            continue
        if not any(o is old for o, _ in originals):
            originals.append((old, new))
        setattr(owner, name, new)
        restore.append(lambda owner=owner, name=name, old=old: setattr(owner, name, old))

    def replacement(value: Any) -> Any:
        return next((new for old, new in originals if value is old), None)

    def swap_in(namespace: dict[str, Any], setter: Callable[[str, Any], None]) -> None:
        for key, value in list(namespace.items()):
            new = replacement(value)
            if new is not None:
                setter(key, new)
                restore.append(lambda key=key, value=value: setter(key, value))

    def swap_defaults(function: Any) -> None:
        if not isinstance(function, FunctionType):
            return
        if function.__defaults__ and any(replacement(v) for v in function.__defaults__):
            old_defaults = function.__defaults__
            function.__defaults__ = tuple(replacement(v) or v for v in old_defaults)
            restore.append(lambda f=function, d=old_defaults: setattr(f, "__defaults__", d))
        if function.__kwdefaults__ and any(
            replacement(v) for v in function.__kwdefaults__.values()
        ):
            old_kw = dict(function.__kwdefaults__)
            function.__kwdefaults__ = {k: replacement(v) or v for k, v in old_kw.items()}
            restore.append(lambda f=function, d=old_kw: setattr(f, "__kwdefaults__", d))

    module: ModuleType = learner.module
    namespace = vars(module)
    swap_in(namespace, lambda key, value: setattr(module, key, value))
    for value in list(namespace.values()):
        swap_defaults(value)
        if isinstance(value, type) and value.__module__ == module.__name__:
            for attribute in list(vars(value).values()):
                swap_defaults(getattr(attribute, "__func__", attribute))
            swap_in(
                {k: v for k, v in vars(value).items() if not k.startswith("__")},
                lambda key, new, cls=value: setattr(cls, key, new),
            )
    try:
        yield
    finally:
        for undo in reversed(restore):
            undo()


@contextmanager
def clocks_follow_the_loop(learner: Learner) -> Iterator[None]:
    """time.monotonic() and friends move with the running (virtual) loop's clock: a limiter
    that waits for a minute to pass sees it pass, in no real time."""
    loop = asyncio.get_running_loop()
    loop_time = type(loop).time.__get__(loop)  # the class's clock, not one set on the loop
    start = loop_time()

    def follow(real: Callable[[], Any], nanoseconds: bool) -> Callable[[], Any]:
        base = real()
        if nanoseconds:
            return lambda: base + round((loop_time() - start) * 1e9)
        return lambda: base + (loop_time() - start)

    stand_ins: dict[tuple[Any, str], Any] = {
        (time, name): follow(getattr(time, name), name.endswith("_ns")) for name in CLOCKS
    }
    stand_ins[(timeit, "default_timer")] = stand_ins[(time, "perf_counter")]
    try:
        from prometheus_client import context_managers  # Histogram.time() reads this one
    except ImportError:  # pragma: no cover
        pass
    else:
        stand_ins[(context_managers, "default_timer")] = stand_ins[(time, "perf_counter")]
    with standing_in(learner, stand_ins):
        yield


@contextmanager
def quiet_logs() -> Iterator[None]:
    """No log output while the block runs (the previous setting is put back)."""
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(previous)


def real_clock_note(learner: Learner) -> str | None:
    """For a failure that looks like a clock that did not move: the clock the learner's file
    reads that cannot follow the checks' virtual clock, if any."""
    try:
        source = learner.path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        source = ""
    for name in ("datetime", "process_time", "thread_time"):
        if name in source:
            return (
                f"Your file uses {name}, which reads the real clock: it hardly moves while a "
                f"check runs on its virtual clock, which {CLOCK_NAMES} follow. Use "
                "time.monotonic()."
            )
    return None


def built_in_collectors() -> tuple[Any, ...]:
    from prometheus_client import GC_COLLECTOR, PLATFORM_COLLECTOR, PROCESS_COLLECTOR

    return (GC_COLLECTOR, PLATFORM_COLLECTOR, PROCESS_COLLECTOR)


def empty_default_registry() -> None:
    """Unregister from prometheus_client's default registry whatever the learner put there."""
    from prometheus_client import REGISTRY

    for collector in list(getattr(REGISTRY, "_collector_to_names", {})):
        if not any(collector is b for b in built_in_collectors()):
            REGISTRY.unregister(collector)


@pytest.fixture(autouse=True)
def fresh_default_registry() -> Iterator[None]:
    """Metrics made in prometheus_client's default registry at the top of a learner's file
    are made again by every fresh import of the file (one per check) and would fail each
    import with "Duplicated timeseries". The default registry is emptied before each check.
    Its built-in collectors are taken out while the check runs: the process collector reads
    /proc at every scrape, a blocking file read that would be blamed on the learner's
    generate_latest line, hiding the real cause that the metrics checks name."""
    from prometheus_client import REGISTRY

    empty_default_registry()
    registered = [
        c for c in built_in_collectors() if c in getattr(REGISTRY, "_collector_to_names", {})
    ]
    for collector in registered:
        REGISTRY.unregister(collector)
    try:
        yield
    finally:
        empty_default_registry()
        for collector in registered:
            REGISTRY.register(collector)


# --- reading /metrics ---------------------------------------------------------------------


Samples = list[tuple[dict[str, str], float]]


async def scrape(client: Any, *, what: str = "GET /metrics") -> dict[str, Any]:
    """The metric families of GET /metrics, by name, as Prometheus would read them."""
    reply = await call(client, "GET", "/metrics")
    expect_own_registry(f"after {what}")
    expect_status(reply, 200, hint=METRICS_HINT)
    if not reply.content_type.startswith("text/plain"):
        fail(
            f"{what} answered {reply.content_type or 'no content type'}",
            expected="text/plain: Prometheus' text format (CONTENT_TYPE_LATEST)",
            got=reply.describe(),
            hint='Return `Response(generate_latest(registry), headers={"Content-Type": '
            "CONTENT_TYPE_LATEST})`: both come from prometheus_client.",
        )
    try:
        families = list(text_string_to_metric_families(reply.text))
    except Exception as error:  # noqa: BLE001  (any parse error is the learner's text)
        fail(
            f"{what} is not in Prometheus' text format",
            expected="what prometheus_client.generate_latest(registry) writes",
            got=f"{type(error).__name__}: {error}",
            hint="Let prometheus_client write it: `generate_latest(registry)`.",
        )
    return {family.name: family for family in families}


def counter_samples(families: dict[str, Any], *, what: str) -> Samples:
    """The http_requests_total samples, each with its labels; fails unless the counter is
    there with the labels method, route and status."""
    found = [
        (dict(s.labels), s.value)
        for family in families.values()
        for s in family.samples
        if s.name == COUNTER
    ]
    if not found:
        fail(
            f"{what} has no {COUNTER}",
            expected=f'{COUNTER}{{method="GET",route="/healthz",status="200"}} 3.0 and so on',
            got=f"the metrics: {', '.join(sorted(families)) or 'none at all'}",
            hint=METRICS_HINT,
        )
    for labels, _ in found:
        missing = {"method", "route", "status"} - set(labels)
        if missing:
            fail(
                f"{COUNTER} lacks the label(s) {', '.join(sorted(missing))}",
                expected=f"{COUNTER}{{method, route, status}}",
                got=f"labels {sorted(labels)}",
                hint='Declare the counter with `["method", "route", "status"]` and fill them '
                "with request.method, the route template and str(response.status_code).",
            )
    return found


def total(samples: Samples, **labels: str) -> float:
    return sum(v for found, v in samples if all(found.get(k) == x for k, x in labels.items()))


def describe(samples: Samples, limit: int = 8) -> str:
    lines = [
        "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + f"}} {value:g}"
        for labels, value in samples[:limit]
    ]
    more = f" and {len(samples) - limit} more" if len(samples) > limit else ""
    return "; ".join(lines) + more if lines else "no samples"


# --- task 1: /healthz and nosniff ------------------------------------------------------


@check('GET /healthz answers 200 {"status": "ok"}', task=1)
async def test_healthz(learner: Learner) -> None:
    async with serving(make_app(learner)) as client:
        expect_json(
            await call(client, "GET", "/healthz"),
            {"status": "ok"},
            hint='`@app.get("/healthz")` returning `{"status": "ok"}`: a load balancer asks '
            "it whether to send traffic here.",
        )


@check("X-Content-Type-Options: nosniff on a 200, a 404, a 405 and a 500", task=1)
async def test_nosniff_basic(learner: Learner) -> None:
    app = make_app(learner)
    add_probe_routes(app)
    async with serving(app) as client:
        replies = [
            await call(client, "GET", "/healthz"),
            await call(client, "GET", "/no-such-page"),
            await call(client, "DELETE", "/healthz"),
        ]
        with quiet_logs():  # the learner's handler logs the grader's failure: not theirs
            replies.append(await call(client, "GET", "/boom"))
    replies[-1].call += " (a route the grader added, which raises)"
    expect_nosniff(replies)


def expect_nosniff(replies: list[Reply]) -> None:
    for reply in replies:
        value = reply.header("X-Content-Type-Options")
        if value is None or value.strip().lower() != "nosniff":
            fail(
                f"{reply.call} answered {reply.status} without X-Content-Type-Options: nosniff",
                expected="X-Content-Type-Options: nosniff on every response, errors included",
                got=f"X-Content-Type-Options: {value}" if value else "no such header",
                hint=NOSNIFF_HINT,
            )


# --- task 2: counting requests ---------------------------------------------------------


@check("GET /metrics: http_requests_total{method, route, status} counts every request", task=2)
async def test_metrics_count(learner: Learner) -> None:
    async with serving(make_app(learner)) as client:
        for _ in range(3):
            await call(client, "GET", "/healthz")
        expect_status(await call(client, "DELETE", "/healthz"), 405)
        samples = counter_samples(await scrape(client), what="GET /metrics")
    got = describe(samples)
    healthz = total(samples, method="GET", route="/healthz", status="200")
    if healthz != 3:
        fail(
            f"{COUNTER} counted {healthz:g} GET /healthz answered 200, after 3",
            expected=f'{COUNTER}{{method="GET",route="/healthz",status="200"}} 3.0',
            got=got,
            hint="Count each response once, in @app.after_request, with the route's template "
            "(`request.url_rule.rule`) and the status as a string.",
        )
    if total(samples, method="DELETE", status="405") != 1:
        fail(
            f"{COUNTER} did not count DELETE /healthz, answered 405",
            expected=f'{COUNTER}{{method="DELETE",status="405",...}} 1.0',
            got=got,
            hint="Errors are requests too: count them in @app.after_request, which runs for "
            "error responses as well (request.url_rule is None when no route matched).",
        )


@check("route labels are route templates: /user/1 and /user/2 are one series", task=2)
async def test_metrics_route_templates(learner: Learner) -> None:
    app = make_app(learner)
    add_probe_routes(app)
    async with serving(app) as client:
        for path in ("/user/1", "/user/2", "/no/such/page/1", "/no/such/page/2"):
            await call(client, "GET", path)
        samples = counter_samples(await scrape(client), what="GET /metrics")
    got = describe(samples)
    raw = sorted({s["route"] for s, _ in samples if re.search(r"/user/\d|/no/such", s["route"])})
    if raw:
        fail(
            f"{COUNTER} has a route label per path: {', '.join(raw)}",
            expected=f'one series for the route template: route="{USER_RULE}"; one for paths '
            "that no route matched",
            got=got,
            hint="Label with `request.url_rule.rule`, never request.path: every user id (and "
            "every path a scanner tries) would make a new series, until Prometheus runs out "
            "of memory. For no route at all (url_rule is None) use one fixed label, such as "
            '"unmatched".',
        )
    users = total(samples, method="GET", route=USER_RULE, status="200")
    if users != 2:
        fail(
            f"{COUNTER} counted {users:g} requests for the route {USER_RULE}, after 2",
            expected=f'{COUNTER}{{method="GET",route="{USER_RULE}",status="200"}} 2.0 (a route '
            "the grader added to your app)",
            got=got,
            hint="Count in @app.after_request, so that every route of the app is counted, "
            "with `request.url_rule.rule` as its label.",
        )
    if total(samples, method="GET", status="404") != 2:
        fail(
            f"{COUNTER} did not count the 2 requests that no route matched",
            expected=f'{COUNTER}{{method="GET",route="<one label for them>",status="404"}} 2.0',
            got=got,
            hint="A 404 is a request too. When request.url_rule is None, count it under one "
            'fixed route label, such as "unmatched".',
        )


@check("each app has a registry of its own: two apps in one process never clash", task=2)
async def test_metrics_own_registry(learner: Learner) -> None:
    options = {"api_keys": {KEY, OTHER_KEY}, "orders_per_minute": PLENTY}
    first = build_app(learner, **options)
    try:
        second = build_app(learner, **options)
    except ValueError as error:
        if "Duplicated timeseries" not in str(error):
            raise
        fail(
            "A second create_app() in the same process failed",
            expected="two apps, each with metrics of its own",
            got=f"ValueError: {error}",
            hint=f"{DEFAULT_REGISTRY}. {DEFAULT_REGISTRY_HINT}",
        )
    async with serving(first) as client:
        for _ in range(2):
            await call(client, "GET", "/healthz")
        first_samples = counter_samples(await scrape(client), what="the first app's /metrics")
    async with serving(second) as client:
        families = await scrape(client, what="the second app's /metrics")
    second_samples = [
        (dict(s.labels), s.value)
        for family in families.values()
        for s in family.samples
        if s.name == COUNTER
    ]
    if total(second_samples, route="/healthz") != 0:
        fail(
            "The second app's /metrics counts requests sent to the first app",
            expected="no GET /healthz in the second app: only the first one was asked",
            got=describe(second_samples),
            hint="Both apps share one registry (prometheus_client's default, or one at the top "
            "of your file). Make `registry = CollectorRegistry()` inside create_app, pass "
            "`registry=registry` to each metric, and serve `generate_latest(registry)`.",
        )
    if total(first_samples, method="GET", route="/healthz", status="200") != 2:
        fail(
            "The first app's /metrics does not show its 2 requests to /healthz",
            expected=f'{COUNTER}{{method="GET",route="/healthz",status="200"}} 2.0',
            got=describe(first_samples),
            hint=METRICS_HINT,
        )


# --- task 3: durations ---------------------------------------------------------------------


@check("http_request_duration_seconds: a histogram by route, in seconds", task=3)
async def test_duration_histogram(learner: Learner) -> None:
    with clocks_follow_the_loop(learner):
        app = make_app(learner)
        add_probe_routes(app)
        async with serving(app) as client:
            await call(client, "GET", "/slow")
            await call(client, "GET", "/healthz")
            await call(client, "GET", "/healthz")
            families = await scrape(client)
    family = families.get(HISTOGRAM)
    if family is None or family.type != "histogram":
        fail(
            f"GET /metrics has no histogram {HISTOGRAM}",
            expected=f"# TYPE {HISTOGRAM} histogram",
            got=f"{HISTOGRAM} is a {family.type}"
            if family is not None
            else f"the metrics: {', '.join(sorted(families)) or 'none'}",
            hint=f'`Histogram("{HISTOGRAM}", "...", ["route"], registry=registry)`; observe '
            "each request's seconds in @app.after_request. A histogram's buckets let Prometheus "
            "compute percentiles over many instances; a summary's cannot be added up.",
        )
    counts = [(dict(s.labels), s.value) for s in family.samples if s.name.endswith("_count")]
    sums = [(dict(s.labels), s.value) for s in family.samples if s.name.endswith("_sum")]
    if not all("route" in labels for labels, _ in counts):
        fail(
            f"{HISTOGRAM} has no route label",
            expected=f'{HISTOGRAM}_count{{route="/slow"}} 1.0, one series per route',
            got=describe(counts),
            hint='Declare it with `["route"]` and observe with `.labels(route).observe(seconds)`.',
        )
    if total(counts, route="/slow") != 1 or total(counts, route="/healthz") != 2:
        fail(
            f"{HISTOGRAM} did not count 1 request for /slow and 2 for /healthz",
            expected=f'{HISTOGRAM}_count{{route="/slow"}} 1.0 and {{route="/healthz"}} 2.0',
            got=describe(counts),
            hint="Observe every request once, in @app.after_request, labelled with "
            "`request.url_rule.rule`.",
        )
    took = total(sums, route="/slow")
    if abs(took - SLOW_SECONDS) > 0.01:
        if abs(took - SLOW_SECONDS * 1000) < 10:
            hint = "That is milliseconds: Prometheus measures time in seconds (the name says so)."
        elif took < 0.01:
            hint = real_clock_note(learner) or (
                "Take the time in @app.before_request (`g.started = time.perf_counter()`) and "
                "observe `time.perf_counter() - g.started` in @app.after_request. During the "
                f"checks {CLOCK_NAMES} follow the virtual clock; other clocks do not."
            )
        else:
            hint = "Measure from the start of the request (before_request) to its answer."
        fail(
            f"{HISTOGRAM} measured {took:g} s for a route that takes {SLOW_SECONDS} s",
            expected=f'{HISTOGRAM}_sum{{route="/slow"}} {SLOW_SECONDS} (a route the grader '
            f"added, which waits {SLOW_SECONDS} s of event-loop time)",
            got=describe(sums),
            hint=hint,
        )


# --- task 4: Bearer keys -------------------------------------------------------------------


@check("POST /admin/reindex without a key: 401 with WWW-Authenticate: Bearer", task=4)
async def test_reindex_missing_key(learner: Learner) -> None:
    async with serving(make_app(learner)) as client:
        for headers in ({}, {"Authorization": "Basic dXNlcjpwYXNz"}):
            reply = await call(client, "POST", "/admin/reindex", headers=headers)
            if headers:
                reply.call += " with a Basic password, no Bearer key"
            expect_json_error(
                reply,
                401,
                hint="No `Authorization: Bearer <key>` header at all: 401 (who are you?).",
            )
            challenge = reply.header("WWW-Authenticate")
            if challenge is None or not challenge.strip().lower().startswith("bearer"):
                fail(
                    f"{reply.call} answered 401 without WWW-Authenticate: Bearer",
                    expected='WWW-Authenticate: Bearer realm="admin" (a 401 must say how to '
                    "authenticate)",
                    got=f"WWW-Authenticate: {challenge}" if challenge else "no such header",
                    hint='Return the header as the third item: `return {"error": ...}, 401, '
                    '{"WWW-Authenticate": \'Bearer realm="admin"\'}`.',
                )


@check("POST /admin/reindex with a configured key succeeds", task=4)
async def test_reindex_valid_key(learner: Learner) -> None:
    async with serving(make_app(learner)) as client:
        for key in (KEY, OTHER_KEY):
            reply = await call(client, "POST", "/admin/reindex", headers=bearer(key))
            reply.call += " with a configured key"
            if not 200 <= reply.status < 300:
                fail(
                    f"{reply.call} answered {reply.status}",
                    expected="2xx: api_keys={...} holds this key",
                    got=reply.describe(),
                    hint="Read the key after `Bearer ` in the Authorization header and accept "
                    "it when it equals one of api_keys (every key counts, not only the first).",
                )


@check("an unknown key is a 403, a key with non-ASCII characters too (never a 500)", task=4)
async def test_reindex_unknown_key(learner: Learner) -> None:
    async with serving(make_app(learner)) as client:
        for key, what in (
            ("not-a-key", "an unknown key"),
            (KEY[:-1], "a configured key without its last character"),
            (KEY + "x", "a configured key with one more character"),
            ("clé-" + KEY, "a key with a non-ASCII character"),
        ):
            reply = await call(client, "POST", "/admin/reindex", headers=bearer(key))
            reply.call += f" with {what}"
            crash = reply.crash
            if isinstance(crash, TypeError) and "non-ASCII" in str(crash):
                fail(
                    f"{reply.call} answered {reply.status}: hmac.compare_digest raised "
                    f"TypeError: {crash}",
                    expected="403: an unknown key, whatever its characters",
                    got=reply.describe(),
                    hint="A header can carry any byte, and compare_digest refuses a str with "
                    "non-ASCII characters. Compare bytes: "
                    "`hmac.compare_digest(token.encode(), key.encode())`.",
                )
            expect_json_error(
                reply,
                403,
                hint="A key that is not one of api_keys: 403 (we know what you sent; it does not "
                "open this door). hmac.compare_digest refuses str with non-ASCII characters "
                "(TypeError): compare bytes, `hmac.compare_digest(token.encode(), key.encode())`.",
            )


@check("with no keys configured every key is refused: never open by default", task=4)
async def test_reindex_no_keys(learner: Learner) -> None:
    for keys in (None, set()):
        async with serving(make_app(learner, api_keys=keys)) as client:
            for key in ("anything", KEY, ""):
                headers = bearer(key) if key else {}
                reply = await call(client, "POST", "/admin/reindex", headers=headers)
                reply.call += f" (api_keys={keys!r})" + (f" with the key {key!r}" if key else "")
                expect_json_error(
                    reply,
                    403 if key else 401,
                    hint="No keys configured means no key is known: 403 for every key (and 401 "
                    "still without one). `if api_keys and ...` lets everyone in when the "
                    "setting is forgotten.",
                )


@check("keys are compared in constant time (hmac.compare_digest)", task=4)
async def test_reindex_constant_time(learner: Learner) -> None:
    real = hmac.compare_digest
    calls: list[tuple[Any, Any]] = []

    def compare_digest(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    spies = {(hmac, "compare_digest"): compare_digest, (secrets, "compare_digest"): compare_digest}
    with standing_in(learner, spies):
        async with serving(make_app(learner)) as client:
            wrong = await call(client, "POST", "/admin/reindex", headers=bearer("guess-0000"))
            after_wrong = len(calls)
            right = await call(client, "POST", "/admin/reindex", headers=bearer(KEY))
            after_right = len(calls) - after_wrong
    wrong.call += " with an unknown key"
    right.call += " with a configured key"
    expect_json_error(wrong, 403)
    if not 200 <= right.status < 300:
        fail(f"{right.call} answered {right.status}", expected="2xx", got=right.describe())
    for reply, count in ((wrong, after_wrong), (right, after_right)):
        if count == 0:
            fail(
                f"{reply.call}: the key was not compared with hmac.compare_digest",
                expected="hmac.compare_digest (or secrets.compare_digest) for the key sent",
                got="no call to compare_digest: `==` or `in` compared it",
                hint="`==` (and `in`, which uses it) stops at the first byte that differs, so "
                "the time it takes tells an attacker how much of a guess was right. Compare "
                "the key with every configured key: `hmac.compare_digest(token.encode(), "
                "key.encode())`.",
            )


# --- task 5: orders --------------------------------------------------------------------


@check("POST /orders with a valid order answers 201", task=5)
async def test_order_created(learner: Learner) -> None:
    async with serving(make_app(learner)) as client:
        for body in (ORDER, {"symbol": "A", "quantity": 1}, {"symbol": "GOOGL", "quantity": 1000}):
            reply = await post_order(client, body)
            not_limited(reply)
            if reply.status != 201:
                expect_json(
                    reply,
                    "the order",
                    status=201,
                    hint="A symbol of 1 to 5 capital letters and a quantity from 1 to 1000 "
                    "(both ends included) is an order: 201 Created.",
                )


BAD_ORDERS: list[tuple[Any, set[str]]] = [
    ({"symbol": "aapl", "quantity": 5}, {"symbol"}),
    ({"symbol": "TOOLONG", "quantity": 5}, {"symbol"}),
    ({"symbol": "AAPL\n", "quantity": 5}, {"symbol"}),
    ({"symbol": 123, "quantity": 5}, {"symbol"}),
    ({"quantity": 5}, {"symbol"}),
    ({"symbol": "AAPL", "quantity": 0}, {"quantity"}),
    ({"symbol": "AAPL", "quantity": 1001}, {"quantity"}),
    ({"symbol": "AAPL", "quantity": "5"}, {"quantity"}),
    ({"symbol": "AAPL", "quantity": 2.5}, {"quantity"}),
    ({"symbol": "AAPL", "quantity": True}, {"quantity"}),
    ({"symbol": "AAPL"}, {"quantity"}),
    ({"symbol": "aapl", "quantity": 0}, {"symbol", "quantity"}),
    ({}, {"symbol", "quantity"}),
]


def words_of(value: Any) -> str:
    """Every key and string in a JSON value, lower-cased, one text."""
    if isinstance(value, dict):
        return " ".join(f"{words_of(k)} {words_of(v)}" for k, v in value.items())
    if isinstance(value, list):
        return " ".join(words_of(v) for v in value)
    return str(value).lower() if isinstance(value, str) else ""


@check("POST /orders: 400 naming every bad field, and only those", task=5)
async def test_order_names_bad_fields(learner: Learner) -> None:
    async with serving(make_app(learner)) as client:
        for body, bad in BAD_ORDERS:
            reply = await post_order(client, body)
            not_limited(reply)
            expect_json_error(
                reply,
                400,
                hint="Check each field and collect every problem before answering: "
                "symbol must be a str that SYMBOL.fullmatch()es, quantity an int (not a bool) "
                "from 1 to 1000.",
            )
            text = words_of(reply.json)
            named = {field for field in ("symbol", "quantity") if field in text}
            if not bad <= named:
                fail(
                    f"{reply.call}: the 400 does not name {' and '.join(sorted(bad - named))}",
                    expected=f"an answer that names {' and '.join(sorted(bad))}",
                    got=reply.describe(),
                    hint="Check every field before answering and name each bad one, for "
                    'example `{"error": "invalid fields: symbol, quantity", "fields": '
                    '{"symbol": "...", "quantity": "..."}}`: the client fixes all at once.',
                )
            if named - bad:
                fail(
                    f"{reply.call}: the 400 names {', '.join(sorted(named - bad))}, which is fine",
                    expected=f"an answer that names only {' and '.join(sorted(bad))}",
                    got=reply.describe(),
                    hint="Name the fields that are wrong, not every field: a message that always "
                    "lists both does not tell the client what to fix.",
                )


@check("POST /orders: a body that is not a JSON object is a 400", task=5)
async def test_order_bad_body(learner: Learner) -> None:
    async with serving(make_app(learner)) as client:
        for body in (b"", b"{", b"symbol=AAPL&quantity=5", b"[]", b'"AAPL"', b"42", b"null"):
            reply = await post_order(client, body)
            not_limited(reply)
            expect_json_error(
                reply,
                400,
                hint="Read the body, parse it inside try/except ValueError, and require a dict "
                "before looking at its fields.",
            )


@check("POST /orders: a JSON body that is not valid UTF-8 is a 400, not Quart's 500", task=5)
async def test_order_invalid_utf8(learner: Learner) -> None:
    async with serving(make_app(learner)) as client:
        for body in (
            b'{"symbol": "\xc4APL", "quantity": 5}',
            b'{"symbol": "AAPL", "quantity": 5, "note": "caf\xe9"}',
        ):
            reply = await post_order(client, body)
            reply.call += " (Latin-1 bytes, not UTF-8)"
            not_limited(reply)
            expect_json_error(
                reply,
                400,
                hint="JSON between systems must be UTF-8. Quart's get_json decodes the bytes "
                "outside its own error handling, even with silent=True, so they become a 500. "
                "Read `raw = await request.get_data()` and parse `json.loads(raw.decode())` "
                "inside `try: ... except ValueError:` (UnicodeDecodeError is a ValueError).",
            )


# --- task 6: the body limit ------------------------------------------------------------


def padded(size: int) -> bytes:
    """A valid order, padded with spaces (still valid JSON) to exactly `size` bytes."""
    order = b'{"symbol": "AAPL", "quantity": 5}'
    return order + b" " * (size - len(order))


SIZE_HINT = (
    'Set `app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES` in create_app: Quart then answers '
    "413 when it reads a body over the limit, whether the client announced its length or not."
)


@check("a body over 1 MB with a Content-Length is a 413; 1,000,000 bytes are fine", task=6)
async def test_body_limit_with_length(learner: Learner) -> None:
    async with serving(make_app(learner)) as client:
        fine = padded(1_000_000)
        reply = await call(
            client, "POST", "/orders", data=fine, headers={**JSON, "Content-Length": str(len(fine))}
        )
        reply.call += " with a valid order of 1,000,000 bytes"
        not_limited(reply)
        if reply.status != 201:
            expect_json(reply, "the order", status=201, hint="1,000,000 bytes are not over 1 MB.")
        big = padded(MB + 1)
        reply = await call(
            client,
            "POST",
            "/orders",
            data=big,
            headers={**JSON, "Content-Length": str(len(big))},
            **from_address(fresh_address()),
        )
        reply.call += " with 1 MB + 1 byte (Content-Length: 1048577)"
        expect_json_error(reply, 413, hint=SIZE_HINT)


@check("a body over 1 MB without Content-Length (chunked) is a 413 too", task=6)
async def test_body_limit_chunked(learner: Learner) -> None:
    async with serving(make_app(learner)) as client:
        reply = await post_in_chunks(client, padded(2 * MB), chunk=64 * 1024)
    expect_json_error(
        reply,
        413,
        hint="A client may send a body without announcing its length (Transfer-Encoding: "
        "chunked), so request.content_length is None and a check of it lets any size through. "
        + SIZE_HINT,
    )


async def post_in_chunks(client: Any, body: bytes, *, chunk: int) -> Reply:
    """POST /orders the way a streaming client does: no Content-Length, the body in pieces."""
    text = "POST /orders with a 2 MB body in 64 KB chunks, without Content-Length"
    connection = client.request(
        "/orders",
        method="POST",
        headers={**JSON, "Transfer-Encoding": "chunked"},
        **from_address(fresh_address()),
    )

    async def exchange() -> Any:
        async with connection:
            for start in range(0, len(body), chunk):
                await connection.send(body[start : start + chunk])
            await connection.send_complete()
        return await connection.as_response()

    response = await within(60, exchange(), text)
    return Reply(
        text,
        response.status_code,
        response.content_type or "",
        await response.get_data(as_text=True),
        dict(response.headers),
        routed=True,
    )


# --- task 7: the rate limit ------------------------------------------------------------


def retry_after(reply: Reply) -> int:
    """The Retry-After of a 429, which must be a whole number of seconds from 1 to 60."""
    value = reply.header("Retry-After")
    if value is None:
        fail(
            f"{reply.call} answered 429 without Retry-After",
            expected="Retry-After: the whole seconds until an order will be accepted",
            got=f"headers: {show(reply.headers)}",
            hint='Return it as the third item: `return {"error": ...}, 429, {"Retry-After": '
            "str(seconds)}`.",
        )
    if not value.strip().isdigit() or not 1 <= int(value) <= 60:
        fail(
            f"{reply.call} answered Retry-After: {value}",
            expected="a whole number of seconds from 1 to 60, such as 42",
            got=repr(value),
            hint="Retry-After takes whole seconds: round the wait up, "
            "`str(max(1, math.ceil(wait)))`.",
        )
    return int(value)


async def burst(client: Any, count: int, address: str) -> list[Reply]:
    replies = []
    for n in range(1, count + 1):
        reply = await post_order(client, ORDER, address=address)
        reply.call += f" (order {n} within a second, from {address})"
        replies.append(reply)
    return replies


def expect_accepted(reply: Reply, why: str, *, hint: str = LIMIT_HINT) -> None:
    if reply.status == 429:
        fail(
            f"{reply.call} answered 429",
            expected=f"201: {why}",
            got=reply.describe(),
            hint=hint,
        )
    if reply.status != 201:
        expect_json(reply, "the order", status=201)


@check("over orders_per_minute from one client: 429 with an integer Retry-After", task=7)
async def test_rate_limit_refuses(learner: Learner) -> None:
    with clocks_follow_the_loop(learner):
        async with serving(make_app(learner, orders_per_minute=3)) as client:
            replies = await burst(client, 4, "203.0.113.7")
    for reply in replies[:3]:
        expect_accepted(reply, "orders_per_minute=3 allows 3 orders a minute")
    last = replies[3]
    if last.status == 201:
        fail(
            f"{last.call} was accepted",
            expected="429: orders_per_minute=3",
            got=last.describe(),
            hint="Use the orders_per_minute given to create_app. " + LIMIT_HINT,
        )
    expect_json_error(last, 429, hint=LIMIT_HINT)
    retry_after(last)


@check("Retry-After tells the truth; after a quiet minute the whole budget is back", task=7)
async def test_rate_limit_recovers(learner: Learner) -> None:
    address = "203.0.113.8"
    with clocks_follow_the_loop(learner):
        async with serving(make_app(learner, orders_per_minute=3)) as client:
            refused = (await burst(client, 4, address))[3]
            if refused.status != 429:
                fail(
                    f"{refused.call} answered {refused.status}",
                    expected="429: orders_per_minute=3",
                    got=refused.describe(),
                    hint=LIMIT_HINT,
                )
            wait = retry_after(refused)
            await asyncio.sleep(wait + 0.1)
            again = await post_order(client, ORDER, address=address)
            again.call += f" {wait + 0.1:g} s after Retry-After: {wait}"
            if again.status == 429:
                fail(
                    f"{again.call} was refused again",
                    expected="201: Retry-After promised that an order would be accepted by then",
                    got=again.describe() + f", Retry-After: {again.header('Retry-After')}",
                    hint=real_clock_note(learner)
                    or "Compute Retry-After from the times you keep: the seconds until the "
                    f"oldest order is 60 s old, rounded up. During the checks {CLOCK_NAMES} "
                    "follow the virtual clock; other clocks do not.",
                )
            expect_accepted(again, "Retry-After said so")
            await asyncio.sleep(60.1)
            replies = await burst(client, 4, address)
    for reply in replies[:3]:
        reply.call += ", after a minute without orders"
        expect_accepted(reply, "a minute without orders gives the whole budget back")
    if replies[3].status != 429:
        fail(
            f"{replies[3].call} answered {replies[3].status}",
            expected="429: the budget of 3 is spent again",
            got=replies[3].describe(),
            hint=LIMIT_HINT,
        )


@check("the limit is per minute: a minute of steady orders gets at most twice the budget", task=7)
async def test_rate_limit_per_minute(learner: Learner) -> None:
    address = "203.0.113.9"
    accepted = 0
    with clocks_follow_the_loop(learner):
        async with serving(make_app(learner, orders_per_minute=3)) as client:
            for _ in range(3):  # at once
                accepted += (await post_order(client, ORDER, address=address)).status == 201
            for _ in range(59):  # then one a second, for 59 seconds
                await asyncio.sleep(1)
                accepted += (await post_order(client, ORDER, address=address)).status == 201
    if accepted > 6:
        fail(
            f"{accepted} orders were accepted from one client within one minute",
            expected="at most 3 (orders_per_minute=3; a token bucket or fixed windows may let "
            "up to 6 through in a minute, never more)",
            got=f"{accepted} of 62: 3 at once, then one every second",
            hint="Count the orders of the last 60 seconds, not of the last second. " + LIMIT_HINT,
        )


@check("each client address has a budget of its own (the port does not matter)", task=7)
async def test_rate_limit_per_client(learner: Learner) -> None:
    with clocks_follow_the_loop(learner):
        async with serving(make_app(learner, orders_per_minute=2)) as client:
            first = await burst(client, 3, "192.0.2.10")
            other = await burst(client, 2, "192.0.2.11")
            reply = await post_order(client, ORDER, address="192.0.2.10")
            ports = await call(
                client, "POST", "/orders", json=ORDER, **from_address("192.0.2.11", 51234)
            )
    if first[2].status != 429:
        fail(
            f"{first[2].call} answered {first[2].status}",
            expected="429: orders_per_minute=2",
            got=first[2].describe(),
            hint=LIMIT_HINT,
        )
    for r in other:
        expect_accepted(
            r, "another address, with a budget of its own, although 192.0.2.10 has spent its budget"
        )
    if reply.status != 429:
        fail(
            f"{reply.call} answered {reply.status}",
            expected="429: 192.0.2.10 spent its budget",
            got=reply.describe(),
            hint=LIMIT_HINT,
        )
    if ports.status != 429:
        ports.call += " from 192.0.2.11 on another port, its budget spent"
        fail(
            f"{ports.call} answered {ports.status}",
            expected="429: the same address from another port is the same client",
            got=ports.describe(),
            hint="Key the limit on request.remote_addr (the address only): a client opens "
            "a new connection, from a new port, whenever it likes.",
        )


@check("only POST /orders is limited; other requests spend none of its budget", task=7)
async def test_rate_limit_only_orders(learner: Learner) -> None:
    address = "192.0.2.20"
    with clocks_follow_the_loop(learner):
        async with serving(make_app(learner, orders_per_minute=2)) as client:
            others = []
            for _ in range(5):
                others.append(await call(client, "GET", "/healthz", **from_address(address)))
            orders = await burst(client, 3, address)
            for method, path, headers in (
                ("GET", "/healthz", {}),
                ("GET", "/metrics", {}),
                ("POST", "/admin/reindex", bearer(KEY)),
            ):
                reply = await call(client, method, path, headers=headers, **from_address(address))
                reply.call += f" from {address}, whose order budget is spent"
                others.append(reply)
    for reply in orders[:2]:
        reply.call += ", after 5 requests to GET /healthz"
        expect_accepted(
            reply,
            "requests to other routes spend nothing of the order budget",
            hint="Ask the limiter inside the /orders route only: a before_request function "
            "runs for every route, so GET /healthz spent the order budget.",
        )
    if orders[2].status != 429:
        fail(
            f"{orders[2].call} answered {orders[2].status}",
            expected="429: orders_per_minute=2",
            got=orders[2].describe(),
            hint=LIMIT_HINT,
        )
    for reply in others:
        if reply.status == 429 or not 200 <= reply.status < 300:
            fail(
                f"{reply.call} answered {reply.status}",
                expected="2xx: only POST /orders is limited",
                got=reply.describe(),
                hint="Limit inside the /orders route, not in a before_request function that "
                "runs for every route: health checks and metrics scrapes must always answer.",
            )


@check("X-Content-Type-Options: nosniff on a 201, 400, 401, 403, 413 and 429 too", task=7)
async def test_nosniff_everywhere(learner: Learner) -> None:
    async with serving(make_app(learner, orders_per_minute=1)) as client:
        replies = [
            await post_order(client, ORDER, address="192.0.2.30"),
            await post_order(client, ORDER, address="192.0.2.30"),
            await post_order(client, {"symbol": "?"}, address="192.0.2.31"),
            await call(client, "POST", "/admin/reindex"),
            await call(client, "POST", "/admin/reindex", headers=bearer("not-a-key")),
            await call(
                client,
                "POST",
                "/orders",
                data=padded(MB + 1),
                headers={**JSON, "Content-Length": str(MB + 1)},
                **from_address("192.0.2.32"),
            ),
            await post_in_chunks(client, padded(2 * MB), chunk=64 * 1024),
        ]
    expect_nosniff(replies)
