"""Checks for chapter 16: a live stock ticker. One pooled client and GET /stocks/<symbol> as
in chapter 05; one poller per symbol, shared by its subscribers, started with the first and
stopped with the last; a bounded queue per subscriber that drops the oldest update; upstream
errors sent to the subscribers with a backoff that resets; a 1 s cache; a clean shutdown.

Everything is measured in event-loop time against a FakeMarketAPI whose prices move with the
loop's clock and that answers at once, and by counting its requests per symbol."""

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx

from grader.lab import (
    CheckFailed,
    Learner,
    Stopwatch,
    check,
    expect_seconds,
    fail,
    now,
    show,
)
from grader.lab.market import FakeMarketAPI
from grader.lab.web import (
    build_app,
    call,
    crashed,
    expect_json_error,
    serving,
    unexpected_status,
)
from grader.lab.websockets import WebSocketClient, WebSocketLab

# The contract's numbers (the stub names them too).
QUEUE_SIZE = 10
CACHE_SECONDS = 1.0
FETCH_TIMEOUT = 2.0
MAX_BACKOFF = 30.0

PRICE_SHAPE = '{"symbol": "AAPL", "price": <the market\'s price>, "ts": <Unix time>}'
ERROR_SHAPE = '{"symbol": "IBM", "error": "<what went wrong>"}'
NEVER = 10_000.0  # seconds a send to a subscriber that never reads takes
QUIET = 0.01  # loop seconds a few hops through the app take: a tolerance, not a wait

POLLER_DIED = (
    "If nothing at all arrives, the poller may have ended: an exception that escapes its "
    "loop ends the task without a word. Catch the upstream's failures inside the loop."
)
BLOCKED_POLLER = (
    "A subscriber that never reads is connected too. If the poller awaits a full queue's "
    "put(), or awaits each subscriber's send, it waits for that reader, and everyone waits "
    "with it; a put_nowait() on a full queue raises QueueFull, which ends the poller. Offer "
    "each update without waiting: when the queue is full, take the oldest out first "
    "(get_nowait), then put_nowait."
)
VIRTUAL_CLOCK = (
    "Measure ages and waits with the event loop's clock, `asyncio.get_running_loop().time()`: "
    "the grader runs your app on a virtual clock, on which time.time() and time.monotonic() "
    "barely move."
)


def market(**options: Any) -> FakeMarketAPI:
    """Moving prices, answered at once (so that every tick is exactly on time)."""
    options.setdefault("latency", 0.0)
    return FakeMarketAPI(moving=True, **options)


def make_app(learner: Learner, api: FakeMarketAPI, **options: Any) -> Any:
    return build_app(learner, base_url=api.base_url, transport=api.transport(), **options)


@asynccontextmanager
async def ticker(
    learner: Learner, api: FakeMarketAPI, **options: Any
) -> AsyncIterator[tuple[Any, WebSocketLab]]:
    """The learner's app, serving, with a lab of WebSocket clients."""
    async with serving(make_app(learner, api, **options)) as http:
        async with WebSocketLab(http, learner) as lab:
            yield http, lab


@contextmanager
def counting_clients() -> Iterator[list[httpx.AsyncClient]]:
    """Every httpx.AsyncClient made while the block runs."""
    made: list[httpx.AsyncClient] = []
    original = httpx.AsyncClient.__init__

    def init(self: httpx.AsyncClient, *args: Any, **kwargs: Any) -> None:
        made.append(self)
        original(self, *args, **kwargs)

    httpx.AsyncClient.__init__ = init  # type: ignore[method-assign]
    try:
        yield made
    finally:
        httpx.AsyncClient.__init__ = original  # type: ignore[method-assign]


INVALID = ("TOOLONG", "A1", "AB-C", "A_B", "AAPL%0A")  # as paths: the last is AAPL and a newline


def expect_not_asked(api: FakeMarketAPI, symbols: tuple[str, ...], what: str) -> None:
    """None of these invalid symbols reached the market API, in any case."""
    bad = {s.upper() for s in symbols} | {s.replace("%0A", "\n").upper() for s in symbols}
    asked = [r for r in api.requests if r.rsplit("/", 1)[-1].upper() in bad]
    if asked:
        fail(
            f"{what} reached the market API",
            expected="a 400 before any upstream request",
            got=show(asked),
            hint="Check the whole symbol with SYMBOL.fullmatch(symbol) first, and ask the "
            "market API only for valid ones.",
        )


def seconds(values: list[float], since: float = 0.0) -> str:
    """Loop times as a learner reads them: `0.0, 1.0, 2.0 s`."""
    if not values:
        return "none"
    shown = [f"{v - since:.1f}" for v in values[:12]]
    more = f" and {len(values) - 12} more" if len(values) > 12 else ""
    return ", ".join(shown) + " s" + more


def gaps(times: list[float]) -> list[float]:
    return [round(b - a, 3) for a, b in zip(times, times[1:], strict=False)]


# What a subscriber receives.


async def next_update(
    client: WebSocketClient,
    *,
    waiting_for: str,
    wait: float = 5.0,
    hint: str = "",
    expected: str = PRICE_SHAPE,
) -> dict[str, Any]:
    got = await client.receive_json(
        waiting_for=waiting_for,
        expected=expected,
        seconds=wait,
        hint=hint or POLLER_DIED,
    )
    if not isinstance(got, dict):
        fail(
            f"{client.name} received something other than a JSON object",
            expected=expected,
            got=show(got),
            hint='Send each update as a JSON object: json.dumps({"symbol": ..., ...}).',
        )
    return got


def expect_price(update: dict[str, Any], api: FakeMarketAPI, symbol: str, *, said: str) -> None:
    """`update` is a price of `symbol` that the market answered, stamped with Unix time.
    `said`: who got it, such as "alice received" or "GET /stocks/AAPL answered"."""
    if "error" in update:
        fail(
            f"{said} an error, although the market API answered {symbol}'s price",
            expected=PRICE_SHAPE.replace("AAPL", symbol),
            got=show(update),
            hint="Read the upstream's answer as chapter 05 does: GET /stocks/<SYMBOL> with the "
            "app's client, whose base_url and transport come from create_app.",
        )
    if set(update) != {"symbol", "price", "ts"}:
        fail(
            f"{said} a price with the wrong keys",
            expected=PRICE_SHAPE.replace("AAPL", symbol),
            got=show(update),
            hint='Exactly three keys: {"symbol": symbol, "price": the upstream\'s price, '
            '"ts": time.time()}. The upstream\'s other fields (such as "currency") stay out.',
        )
    if update["symbol"] != symbol:
        fail(
            f'{said} a price for "{update["symbol"]}"',
            expected=f'"symbol": "{symbol}"',
            got=show(update),
            hint="The symbol is upper-cased, as the market API knows it: /ws/stocks/aapl "
            'subscribes to "AAPL".',
        )
    answered = [q.price for q in api.quotes if q.symbol == symbol]
    if update["price"] not in answered:
        fail(
            f"{said} a price of {symbol} that the market API never answered",
            expected=f"one of the prices it answered: {show(answered[-5:])}",
            got=show(update),
            hint="Pass on the upstream's `price` as it is: prices move, so never a constant "
            "or a price from another symbol.",
        )
    expect_unix_time(update["ts"], said=said)


def expect_unix_time(ts: Any, *, said: str) -> None:
    wall = time.time()
    if isinstance(ts, bool) or not isinstance(ts, int | float) or not wall - 600 < ts < wall + 5:
        fail(
            f'{said} a "ts" that is not the Unix time of the price',
            expected=f"seconds since 1970, as time.time() gives them: about {wall:.0f}",
            got=show(ts),
            hint="Stamp each price with `time.time()` when it arrives: a browser shows it "
            "with `new Date(ts * 1000)`. Not loop.time() (seconds since some start), not "
            "milliseconds, not a string.",
        )


def expect_error_update(update: dict[str, Any], symbol: str, *, who: str, what: str) -> None:
    if set(update) != {"symbol", "error"} or update["symbol"] != symbol:
        fail(
            f'{who} did not receive {symbol}\'s error as {{"symbol", "error"}} '
            f"when the market API {what}",
            expected=ERROR_SHAPE.replace("IBM", symbol),
            got=show(update),
            hint='When a poll fails, send every subscriber {"symbol": symbol, "error": '
            "message}: nothing else, so that a page can tell an error from a price.",
        )
    if not isinstance(update["error"], str) or not update["error"]:
        fail(
            f'{who} received an "error" that is not a message',
            expected=ERROR_SHAPE.replace("IBM", symbol),
            got=show(update),
            hint='"error" is a short text for people, such as "the market API failed (503)".',
        )


async def skip_arrived(client: WebSocketClient) -> None:
    """Read and forget what has arrived so far: what comes next is what counts."""
    for _ in client.unread():
        await client.receive(waiting_for="a message that had arrived")


async def collect(
    client: WebSocketClient, count: int, *, waiting_for: str, hint: str = ""
) -> list[tuple[float, dict[str, Any]]]:
    """The next `count` updates of `client`, each with the loop time it arrived."""
    got = []
    for number in range(1, count + 1):
        update = await next_update(
            client, waiting_for=f"{waiting_for} (update {number} of {count})", hint=hint
        )
        got.append((now(), update))
    return got


def expect_every(
    arrivals: list[float], interval: float, *, who: str, hint: str, since: float = 0.0
) -> None:
    wrong = [g for g in gaps(arrivals) if abs(g - interval) > QUIET]
    if wrong:
        fail(
            f"{who}'s updates did not come every {interval:g} s",
            expected=f"one update every {interval:g} s of event-loop time",
            got=f"updates at {seconds(arrivals, since)}",
            hint=hint,
        )


# Task 1: the client and GET /stocks/<symbol>


@check("one httpx.AsyncClient per app, made when serving starts, shared by everything", task=1)
async def test_one_client(learner: Learner) -> None:
    api = market()
    with counting_clients() as made:
        app = make_app(learner, api)
        if made:
            fail(
                "create_app() made an httpx client itself",
                expected="no I/O when the app is built: the client is made in before_serving",
                got=f"{len(made)} client(s) made by create_app()",
                hint="Create the client in an @app.before_serving function (chapter 05).",
            )
        async with serving(app) as http, WebSocketLab(http, learner) as lab:
            for path in ("/stocks/AAPL", "/stocks/MSFT"):
                await call(http, "GET", path)
            alice = await lab.connect("alice", "/ws/stocks/GOOG")
            bob = await lab.connect("bob", "/ws/stocks/NVDA")
            for client in (alice, bob):
                await next_update(client, waiting_for="a first price")
        if len(made) != 1:
            fail(
                f"{len(made)} httpx clients were made for two requests and two pollers",
                expected="exactly 1, made in before_serving and shared by routes and pollers",
                got=f"{len(made)}",
                hint="A client per request (or per poll) throws its connection pool away every "
                "time. Keep one on the app (app.extensions) and use it everywhere.",
            )


@check('GET /stocks/<symbol> answers {"symbol", "price", "ts"} with the market\'s price', task=1)
async def test_stock_quote(learner: Learner) -> None:
    api = market()
    async with serving(make_app(learner, api)) as http:
        for path, symbol in (("/stocks/AAPL", "AAPL"), ("/stocks/msft", "MSFT")):
            reply = await call(http, "GET", path)
            if reply.status != 200:
                unexpected_status(
                    reply,
                    f"200 with {PRICE_SHAPE.replace('AAPL', symbol)}",
                    hint="Upper-case the symbol before asking the market API: it knows MSFT, "
                    "not msft."
                    if path.endswith("msft") and reply.status == 404
                    else "",
                )
            if not isinstance(reply.json, dict):
                fail(
                    f"{reply.call} did not answer a JSON object",
                    expected=PRICE_SHAPE.replace("AAPL", symbol),
                    got=reply.describe(),
                )
            expect_price(reply.json, api, symbol, said=f"{reply.call} answered")
    if api.requests != ["api.example.com/stocks/AAPL", "api.example.com/stocks/MSFT"]:
        fail(
            "the upstream requests were not one GET /stocks/<SYMBOL> per request",
            expected="/stocks/AAPL then /stocks/MSFT, and nothing else: nobody subscribed",
            got=show(api.requests),
            hint="Upper-case the symbol before asking the market API."
            if any(r != r.upper() for r in api.requests)
            else "With nobody subscribed, no poller runs: each GET asks the market API "
            "once, for its own symbol.",
        )


@check("GET /stocks/<symbol> refuses a bad symbol with 400 before any upstream request", task=1)
async def test_stock_invalid(learner: Learner) -> None:
    api = market()
    async with serving(make_app(learner, api)) as http:
        for symbol in INVALID:
            expect_json_error(
                await call(http, "GET", f"/stocks/{symbol}"),
                400,
                hint="Check the whole symbol with SYMBOL.fullmatch(symbol) first (chapter 05).",
            )
    expect_not_asked(api, INVALID, "GET /stocks/<bad symbol>")


@check("GET /stocks/<symbol>: upstream 404 is a 404, failures 502, no answer in time 504", task=1)
async def test_stock_upstream_errors(learner: Learner) -> None:
    api = market(failures={"IBM": 503, "ORCL": "connect"}, latencies={"NVDA": 10.0})
    async with serving(make_app(learner, api)) as http:
        expect_json_error(
            await call(http, "GET", "/stocks/ZZZZ"),
            404,
            hint="When the market API answers 404, answer 404 too.",
        )
        for symbol, what in (("IBM", "503"), ("ORCL", "a connection error")):
            reply = await call(http, "GET", f"/stocks/{symbol}")
            reply.call += f" (upstream: {what})"
            expect_json_error(
                reply,
                502,
                hint="A failing upstream is a 502 Bad Gateway: check response.status_code, "
                "and catch httpx.HTTPError.",
            )
        with Stopwatch() as sw:
            reply = await call(http, "GET", "/stocks/NVDA")
        reply.call += f" (the upstream takes 10 s; answered after {sw.elapsed:.2f} s)"
        expect_json_error(
            reply,
            504,
            hint="Bound each upstream call: `async with asyncio.timeout(FETCH_TIMEOUT):`, "
            "and answer 504 on TimeoutError.",
        )
        expect_seconds(
            sw.elapsed,
            FETCH_TIMEOUT,
            what="GET /stocks/NVDA (the upstream takes 10 s)",
            hint="Give up after FETCH_TIMEOUT seconds exactly.",
        )


NESTED = "[" * 100_000 + "]" * 100_000
PRICELESS = (
    # symbol, the upstream's body, what it is, the hint for an app that let it through
    (
        "AMD",
        '{"symbol": "AMD", "price": true}',
        "a price of true",
        "In Python, bool is a subclass of int: isinstance(True, int | float) is True. Refuse "
        "a bool first: `if isinstance(price, bool) or not isinstance(price, int | float):` "
        "raise UpstreamError(502, ...).",
    ),
    (
        "AMZN",
        '{"symbol": "AMZN", "price": "178.30"}',
        "a price that is a string",
        "Only a number is a price: `if isinstance(price, bool) or not isinstance(price, "
        "int | float):` raise UpstreamError(502, ...).",
    ),
    (
        "GOOG",
        '{"symbol": "GOOG", "price": NaN}',
        "a price of NaN",
        "Python's JSON parser reads NaN, Infinity and 1e999 as floats, and json.dumps writes "
        "them back as NaN and Infinity, which are not JSON: a browser's JSON.parse refuses "
        "them. Refuse a float that is not finite: `math.isfinite(price)`.",
    ),
    (
        "INTC",
        '{"symbol": "INTC", "price": 1e999}',
        "a price of 1e999 (infinity once parsed)",
        "Python's JSON parser reads 1e999 as float('inf'), which json.dumps writes as "
        "Infinity: not JSON, and no price. Refuse a float that is not finite: "
        "`math.isfinite(price)`.",
    ),
    (
        "META",
        '{"symbol": "META", "price": ' + NESTED + "}",
        "JSON nested 100 000 levels deep",
        "Python's JSON parser raises RecursionError (not a ValueError) on JSON nested too "
        "deep: catch it with the parse errors, `except (ValueError, KeyError, TypeError, "
        "RecursionError):`, and raise UpstreamError(502, ...).",
    ),
    (
        "NFLX",
        "<html>maintenance</html>",
        "a body that is not JSON",
        "response.json() raises ValueError on a body that is not JSON: catch it and raise "
        "UpstreamError(502, ...).",
    ),
)


@check("GET /stocks/<symbol>: an upstream answer with no usable price is a 502", task=1)
async def test_stock_priceless(learner: Learner) -> None:
    api = market(bodies={symbol: body for symbol, body, _, _ in PRICELESS})
    async with serving(make_app(learner, api)) as http:
        for symbol, _, what, hint in PRICELESS:
            reply = await call(http, "GET", f"/stocks/{symbol}")
            reply.call += f" (upstream: 200 with {what})"
            if reply.status != 502 and isinstance(reply.crash, RecursionError):
                # Not the endless recursion of the learner's own function that a
                # RecursionError usually means: the JSON parser ran out of stack.
                failure = crashed(reply, reply.crash, "status 502")
                failure.summary = (
                    f"{reply.call} answered {reply.status}: the JSON parser raised "
                    "RecursionError, which your code did not catch"
                )
                failure.hint = hint
                raise failure from reply.crash
            expect_json_error(reply, 502, hint=hint)


# Task 2: the WebSocket and its shared poller


@check('a subscriber gets {"symbol", "price", "ts"} every poll_interval', task=2)
async def test_updates_every_interval(learner: Learner) -> None:
    api = market()
    async with ticker(learner, api, poll_interval=0.5) as (_, lab):
        start = now()
        alice = await lab.connect("alice", "/ws/stocks/AAPL")
        got = await collect(alice, 5, waiting_for="AAPL's prices")
    for _, update in got:
        expect_price(update, api, "AAPL", said="alice received")
    arrivals = [at for at, _ in got]
    if arrivals[0] - start > 0.5 + QUIET:
        fail(
            f"alice's first update came {arrivals[0] - start:.2f} s after she subscribed",
            expected="within poll_interval (0.5 s)",
            got=f"updates at {seconds(arrivals, start)}",
            hint="Start polling when the first subscriber arrives, and poll every "
            "poll_interval seconds.",
        )
    expect_every(
        arrivals,
        0.5,
        who="alice",
        since=start,
        hint="Poll every `poll_interval` seconds (the app was made with poll_interval=0.5): "
        "`await asyncio.sleep(poll_interval)` between two polls, not a number of your own.",
    )


@check("one poller per symbol, shared by all its subscribers (/ws/stocks/aapl too)", task=2)
async def test_one_poller_per_symbol(learner: Learner) -> None:
    api = market()
    async with ticker(learner, api, poll_interval=1.0) as (_, lab):
        start = now()
        aapl = [
            await lab.connect(name, f"/ws/stocks/{path}")
            for name, path in (("alice", "AAPL"), ("bob", "aapl"), ("carol", "AAPL"))
        ]
        dave = await lab.connect("dave", "/ws/stocks/MSFT")
        for client in aapl:
            await next_update(client, waiting_for="a first price")
        await next_update(dave, waiting_for="a first price")
        if api.requests_for("aapl"):
            fail(
                '/ws/stocks/aapl made the market API poll "aapl", a symbol it does not know',
                expected="bob, on /ws/stocks/aapl, shares AAPL's poller",
                got=show(sorted(set(api.requests))),
                hint="Upper-case the symbol before looking up (or starting) its poller.",
            )
        await asyncio.sleep(0.5)  # halfway between two polls
        for client in (*aapl, dave):
            await skip_arrived(client)  # the checks below compare what comes next
        latest = {c.name: await collect(c, 3, waiting_for="prices") for c in (*aapl, dave)}
    for symbol in ("AAPL", "MSFT"):
        asked = api.requests_for(symbol)
        if len(asked) != len(set(asked)) or any(g < 1.0 - QUIET for g in gaps(asked)):
            fail(
                f"the market API was asked for {symbol} several times per poll_interval",
                expected=f"one request every 1 s for {symbol}, however many subscribe to it",
                got=f"requests for {symbol} at {seconds(asked, start)}",
                hint="Keep the pollers in a dict made in create_app, symbol -> poller: the "
                "first subscriber of a symbol starts its poller, the others join it. "
                "/ws/stocks/aapl and /ws/stocks/AAPL are the same symbol.",
            )
    for name in ("bob", "carol"):
        for (_, mine), (_, theirs) in zip(latest[name], latest["alice"], strict=True):
            expect_price(mine, api, "AAPL", said=f"{name} received")
            if mine != theirs:
                fail(
                    f"{name} and alice, both subscribed to AAPL, received different updates",
                    expected="the same update, at the same time, for every subscriber",
                    got=f"alice: {show(theirs, 100)}; {name}: {show(mine, 100)}",
                    hint="The poller fetches the price once and offers that one message to "
                    "every subscriber's queue.",
                )
    for _, update in latest["dave"]:
        expect_price(update, api, "MSFT", said="dave, subscribed to MSFT, received")


@check("a bad symbol is refused: no connection, no upstream request", task=2)
async def test_bad_symbol_refused(learner: Learner) -> None:
    api = market()
    async with ticker(learner, api) as (_, lab):
        for symbol in INVALID[:3]:
            name = f"a client of /ws/stocks/{symbol}"
            try:
                client = await lab.connect(name, f"/ws/stocks/{symbol}")
            except CheckFailed:  # refused or closed: what follows tells which, and why
                client = lab.clients[-1]
            if client.handler_errors:
                client.fail_ended(
                    "",
                    expected="the connection refused on purpose (an HTTP 400 before accepting)",
                    hint="Check the symbol with SYMBOL.fullmatch(symbol) before anything else, "
                    'and refuse a bad one: `return {"error": "..."}, 400` before accepting.',
                )
            if client.state == "open":
                await asyncio.sleep(1.0)
                if client.state == "open":
                    fail(
                        f"/ws/stocks/{symbol} was accepted and stayed open",
                        expected="the connection refused (an HTTP 400 before accepting), or "
                        "closed at once",
                        got=f"an open connection; it received {show(client.unread())}",
                        hint="Check the symbol with SYMBOL.fullmatch(symbol) first; refuse "
                        'a bad one: `return {"error": "..."}, 400` before accepting.',
                    )
            if client.state == "refused" and (client.refused_status or 400) >= 500:
                fail(
                    f"/ws/stocks/{symbol} was refused with HTTP {client.refused_status}",
                    expected="a 400: the client's symbol is wrong, not the server",
                    got=client.cause(),
                    hint='Refuse a bad symbol on purpose: `return {"error": "..."}, 400` '
                    "before accepting.",
                )
        await asyncio.sleep(2.0)
    expect_not_asked(api, INVALID[:3], "a subscription to a bad symbol")


# Task 3: a poller lives as long as its subscribers


@check("no polling before the first subscriber; it starts when the first one comes", task=3)
async def test_poller_starts_with_first(learner: Learner) -> None:
    api = market()
    async with ticker(learner, api, poll_interval=1.0) as (_, lab):
        await asyncio.sleep(3.0)
        if api.requests:
            fail(
                "the market API was asked before anyone subscribed",
                expected="no request while nobody listens",
                got=show(api.requests),
                hint="Start a symbol's poller when its first subscriber connects, not when "
                "the app starts.",
            )
        start = now()
        alice = await lab.connect("alice", "/ws/stocks/AAPL")
        await next_update(alice, waiting_for="a first price", wait=1.0 + QUIET)
        asked = api.requests_for("AAPL")
        if not asked or asked[0] - start > 1.0 + QUIET:
            fail(
                "polling did not start when alice subscribed",
                expected="a first request for AAPL within poll_interval (1 s)",
                got=f"requests at {seconds(asked, start)} after she subscribed",
                hint="The first subscriber of a symbol starts its poller.",
            )
    others = [r for r in api.requests if not r.endswith("/AAPL")]
    if others:
        fail(
            "symbols nobody subscribed to were polled",
            expected="requests for AAPL only",
            got=show(others),
            hint="Poll the symbols that have subscribers, and only those.",
        )


@check("a poller stops when its last subscriber leaves, not before", task=3)
async def test_poller_stops_with_last(learner: Learner) -> None:
    api = market()
    async with ticker(learner, api, poll_interval=1.0) as (_, lab):
        start = now()
        alice = await lab.connect("alice", "/ws/stocks/AAPL")
        bob = await lab.connect("bob", "/ws/stocks/AAPL")
        carol = await lab.connect("carol", "/ws/stocks/MSFT")
        await asyncio.sleep(1.5)
        await alice.leave()
        await skip_arrived(bob)
        await collect(
            bob,
            2,
            waiting_for="AAPL's prices after alice left",
            hint="A poller serves all its subscribers: stop it when the *last* one leaves "
            "(its set of queues is empty), not when any one does.",
        )
        bob.vanish(noticed_after=0.0)  # gone without a close frame: the server notices
        await bob.finished(after="vanished")
        left = now()
        await asyncio.sleep(5.0)
        after = [t for t in api.requests_for("AAPL") if t > left + QUIET]
        if after:
            fail(
                "AAPL was still polled after its last subscriber left",
                expected="no request for AAPL once nobody subscribes to it",
                got=f"requests at {seconds(after, start)} (bob, the last, left at "
                f"{left - start:.1f} s)",
                hint="In the handler's `finally:` (a client that leaves arrives as a "
                "cancellation), remove its queue; when none is left, cancel the poller's "
                "task and forget the poller.",
            )
        await skip_arrived(carol)
        await next_update(
            carol,
            waiting_for="MSFT's next price, after AAPL's subscribers left",
            hint="Stop only the poller of the symbol that has no subscribers left.",
        )


@check("after the last subscriber left, a new one starts polling again", task=3)
async def test_poller_restarts(learner: Learner) -> None:
    api = market()
    async with ticker(learner, api, poll_interval=1.0) as (_, lab):
        for round_ in range(1, 4):
            client = await lab.connect(f"subscriber {round_}", "/ws/stocks/AAPL")
            await collect(
                client,
                2,
                waiting_for="AAPL's prices",
                hint="When the last subscriber leaves, forget its poller too (delete it from "
                "the dict): a later subscriber must find no stopped poller there, and start "
                "a new one.",
            )
            await client.leave()
            await asyncio.sleep(2.5)


# Task 4: a queue per subscriber


@check("a subscriber that never reads delays nobody", task=4)
async def test_slow_reader_delays_nobody(learner: Learner) -> None:
    api = market()
    async with ticker(learner, api, poll_interval=1.0) as (_, lab):
        start = now()
        alice = await lab.connect("alice", "/ws/stocks/AAPL")
        await lab.connect("sloth", "/ws/stocks/AAPL", send_delay=NEVER)  # never reads
        got = await collect(alice, 16, waiting_for="AAPL's prices", hint=BLOCKED_POLLER)
        for _, update in got:
            expect_price(update, api, "AAPL", said="alice received")
        expect_every([at for at, _ in got], 1.0, who="alice", since=start, hint=BLOCKED_POLLER)


@check("a full queue (10 updates) drops its oldest update: a slow reader gets the newest", task=4)
async def test_queue_keeps_newest(learner: Learner) -> None:
    api = market()
    block = 30.5
    async with ticker(learner, api, poll_interval=1.0) as (_, lab):
        start = now()
        alice = await lab.connect("alice", "/ws/stocks/AAPL")
        sloth = await lab.connect("sloth", "/ws/stocks/AAPL", send_delay=block)
        seen: list[tuple[float, dict[str, Any]]] = []
        seen += await collect(alice, 2, waiting_for="AAPL's prices", hint=BLOCKED_POLLER)
        # By now the first send to sloth has begun, and takes `block` seconds: sloth reads
        # nothing for that long. Its later sends are quick, so its queue is drained at once.
        await asyncio.sleep(0.1)
        sloth.send_delay = 0.0
        sloth_got: list[tuple[float, Any]] = []

        async def read_sloth() -> None:
            while True:
                update = await sloth.receive_json(waiting_for="sloth's updates", seconds=99)
                sloth_got.append((now(), update))

        reader = asyncio.create_task(read_sloth())
        try:
            seen += await collect(alice, 34, waiting_for="AAPL's prices", hint=BLOCKED_POLLER)
        finally:
            reader.cancel()
    if not sloth_got:
        fail(
            "sloth, a subscriber that read nothing for 30.5 s, received nothing afterwards",
            expected="sloth receives its queued updates once it reads again",
            got=f"nothing; sloth's connection: {sloth.ending()}",
            hint="Keep a slow reader's connection and queue: it falls behind alone.",
        )
    when = {json.dumps(u, sort_keys=True): at for at, u in seen}

    def tick(update: Any) -> str:
        at = when.get(json.dumps(update, sort_keys=True))
        return f"{at - start:.0f}" if at is not None else "?"

    first_at = when.get(json.dumps(sloth_got[0][1], sort_keys=True))
    if first_at is None:
        fail(
            "sloth received an update that alice never received",
            expected="the same updates for every subscriber of AAPL",
            got=show(sloth_got[0][1]),
            hint="One poller per symbol fetches each price once and offers that same "
            "message to every subscriber's queue (task 2).",
        )
    released = first_at + block
    newest = [u for at, u in seen if at < released - QUIET][-QUEUE_SIZE:]
    then = [u for at, u in seen if at > released + QUIET][:2]
    expected = [sloth_got[0][1], *newest, *then]
    got = [u for _, u in sloth_got[: len(expected)]]
    if got != expected:
        burst = [u for at, u in sloth_got[1:] if at < released + QUIET]
        after = [tick(u) for _, u in sloth_got[1 + len(burst) : 3 + len(burst)]]
        fail(
            f"after reading nothing for {block:g} s, sloth received the wrong updates",
            expected=f"the {QUEUE_SIZE} newest, published at {', '.join(map(tick, newest))} s, "
            f"then the next ones, at {', '.join(map(tick, then))} s",
            got=(
                f"{len(burst)} queued updates, published at {', '.join(map(tick, burst))} s"
                if burst
                else "no queued update"
            )
            + (f", then the ones published at {', '.join(after)} s" if after else ""),
            hint=f"Give each subscriber an asyncio.Queue(maxsize={QUEUE_SIZE}) (QUEUE_SIZE). "
            "When it is full, take the oldest update out (get_nowait) and put the new one in "
            "(put_nowait): for a ticker the newest prices matter, the stale ones do not.",
        )


# Task 5: upstream errors


@check('upstream errors reach the subscribers as {"symbol", "error"}; prices resume', task=5)
async def test_errors_reach_subscribers(learner: Learner) -> None:
    api = market(failures={"IBM": 503, "ORCL": "connect"})
    async with ticker(learner, api, poll_interval=1.0) as (_, lab):
        alice = await lab.connect("alice", "/ws/stocks/IBM")
        bob = await lab.connect("bob", "/ws/stocks/ORCL")
        carol = await lab.connect("carol", "/ws/stocks/AAPL")
        hint = (
            "Catch the upstream's failure inside the poll loop (a status that is not 2xx, "
            'httpx.HTTPError, a timeout) and send {"symbol": symbol, "error": message} to '
            "every subscriber. " + POLLER_DIED
        )
        for client, symbol, what in (
            (alice, "IBM", "answered 503"),
            (bob, "ORCL", "refused the connection"),
        ):
            update = await next_update(
                client,
                waiting_for=f"{symbol}'s error",
                hint=hint,
                expected=ERROR_SHAPE.replace("IBM", symbol),
            )
            expect_error_update(update, symbol, who=client.name, what=what)
        expect_price(
            await next_update(carol, waiting_for="AAPL's price"), api, "AAPL", said="carol received"
        )
        del api.failures["IBM"]  # the market recovers
        recovered = now()
        while True:
            update = await next_update(
                alice,
                waiting_for="IBM's price, after the market API recovered",
                wait=MAX_BACKOFF + 5 - (now() - recovered),
                hint="After a failure, keep polling (with a longer wait): the loop goes on "
                "until the last subscriber leaves.",
            )
            if "price" in update:
                expect_price(update, api, "IBM", said="alice received")
                break
            expect_error_update(update, "IBM", who="alice", what="answered 503")
        bob.expect_open("after ORCL's polls failed")


@check("a poll with no answer within FETCH_TIMEOUT (2 s) is an error", task=5)
async def test_poll_deadline(learner: Learner) -> None:
    api = market(latencies={"NVDA": 10.0})
    async with ticker(learner, api, poll_interval=1.0) as (_, lab):
        alice = await lab.connect("alice", "/ws/stocks/NVDA")
        update = await next_update(
            alice,
            waiting_for="NVDA's first update",
            wait=15,
            expected=f"an error, {FETCH_TIMEOUT:g} s after the poll asked",
        )
        arrived = now()
    asked = api.requests_for("NVDA")
    took = arrived - asked[0] if asked else 0.0  # from the poll's request to the update
    if "error" not in update or took > FETCH_TIMEOUT + QUIET:
        fail(
            f"NVDA's first update came {took:.2f} s after the poll asked an upstream that "
            "takes 10 s",
            expected=f"an error after {FETCH_TIMEOUT:g} s: {ERROR_SHAPE.replace('IBM', 'NVDA')}",
            got=show(update),
            hint="A poll without a deadline waits as long as the upstream likes, and nobody "
            "hears a thing. Bound each fetch: `async with asyncio.timeout(FETCH_TIMEOUT):` "
            "(httpx's own timeout bounds each network operation, not the call).",
        )
    expect_error_update(update, "NVDA", who="alice", what="did not answer in time")
    expect_seconds(
        took,
        FETCH_TIMEOUT,
        what="NVDA's first poll, from its request to alice's error (the upstream takes 10 s)",
        hint="Give up after FETCH_TIMEOUT seconds exactly.",
    )


@check("while the upstream fails, the waits double: 2, 4, 8, 16, 30, 30 s (MAX_BACKOFF)", task=5)
async def test_backoff_doubles(learner: Learner) -> None:
    api = market(failures={"IBM": 503})
    async with ticker(learner, api, poll_interval=1.0) as (_, lab):
        start = now()
        alice = await lab.connect("alice", "/ws/stocks/IBM")
        await asyncio.sleep(95.0)
        alice.expect_open("while IBM's polls failed")
    asked = api.requests_for("IBM")
    expected = [2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    if gaps(asked) != expected:
        if len(asked) > 10:
            hint = (
                "Back off while the upstream fails: after n failures in a row, wait "
                "`min(poll_interval * 2**n, MAX_BACKOFF)` before the next attempt, instead of "
                "poll_interval. Hammering a failing service only helps it stay down."
            )
        else:
            hint = (
                "After n failures in a row, wait `min(poll_interval * 2**n, MAX_BACKOFF)`: "
                "2, 4, 8, 16, then 30 s with poll_interval=1. Keep polling: the loop ends only "
                "when the last subscriber leaves."
            )
        fail(
            "the waits between failed polls of IBM did not double up to MAX_BACKOFF",
            expected=f"requests at 0, 2, 6, 14, 30, 60, 90 s: waits of "
            f"{', '.join(f'{g:g}' for g in expected)} s",
            got=f"requests at {seconds(asked, start)}: "
            + (
                f"waits of {', '.join(f'{g:g}' for g in gaps(asked)[:12])} s"
                if len(asked) > 1
                else "no attempt after the first: polling stopped"
            ),
            hint=hint,
        )


@check("after a recovery, polling is back to poll_interval and the backoff starts afresh", task=5)
async def test_backoff_resets(learner: Learner) -> None:
    interval = 0.5
    api = market(failures={"IBM": 503})
    async with ticker(learner, api, poll_interval=interval) as (_, lab):
        start = now()
        alice = await lab.connect("alice", "/ws/stocks/IBM")
        # Between two attempts, whether the first poll comes at once or after poll_interval.
        await asyncio.sleep(3.75 - (now() - start))
        del api.failures["IBM"]  # recovers at 3.75 s
        await asyncio.sleep(8.25 - (now() - start))
        api.failures["IBM"] = 503  # fails again from 8.25 s
        await asyncio.sleep(12.0 - (now() - start))
        alice.expect_open("while IBM failed, recovered and failed again")
    asked = [t - start for t in api.requests_for("IBM")]
    shown = f"requests at {seconds(asked)} (IBM failed until 3.75 s and again from 8.25 s)"
    good = [t for t in asked if 3.75 < t < 8.25]
    if len(good) < 2 or any(abs(g - interval) > QUIET for g in gaps(good)):
        fail(
            "after IBM recovered, the poller did not poll every poll_interval again",
            expected=f"once a poll succeeds, one request every {interval:g} s (poll_interval)",
            got=shown,
            hint="A poll that succeeds ends the backoff: wait poll_interval again, and set "
            "the count of failures in a row back to 0.",
        )
    failing = [t for t in asked if t > 8.25]
    if len(failing) < 2 or abs(failing[1] - failing[0] - 2 * interval) > QUIET:
        fail(
            "when IBM failed again, the backoff did not start afresh",
            expected=f"a first failure waits poll_interval * 2 = {2 * interval:g} s again",
            got=shown,
            hint="The backoff counts failures *in a row*: set the count back to 0 when a "
            "poll succeeds, so that the next outage starts with the shortest wait.",
        )


# Task 6: GET /stocks/<symbol> from the poller or the cache


@check("GET /stocks/<symbol> answers the poller's latest price, without asking again", task=6)
async def test_stock_from_poller(learner: Learner) -> None:
    api = market()
    async with ticker(learner, api, poll_interval=1.0) as (http, lab):
        start = now()
        alice = await lab.connect("alice", "/ws/stocks/AAPL")
        for _ in range(3):
            latest = await next_update(alice, waiting_for="AAPL's prices")
            await asyncio.sleep(0.5)  # halfway to the next poll
            before = api.requests_for("AAPL")
            reply = await call(http, "GET", "/stocks/AAPL")
            reply.call += f" ({now() - start:.1f} s after alice subscribed)"
            if reply.status != 200:
                unexpected_status(reply, f"200 with {PRICE_SHAPE}")
            asked = api.requests_for("AAPL")
            if len(asked) > len(before):
                fail(
                    f"{reply.call} asked the market API, although a poller for AAPL runs",
                    expected="the poller's latest price, with no request of its own",
                    got=f"requests for AAPL at {seconds(asked, start)}",
                    hint="When a poller runs for the symbol, answer the price it fetched last "
                    "(keep it on the poller): it is as fresh as anything you could fetch.",
                )
            if reply.json != latest:
                fail(
                    f"{reply.call} did not answer the price alice had just received",
                    expected=show(latest),
                    got=reply.describe(),
                    hint="Answer the poller's latest update as it is, ts included.",
                )


@check("without a poller, GET /stocks/<symbol> reuses a price for 1 s", task=6)
async def test_stock_cached(learner: Learner) -> None:
    api = market()
    async with serving(make_app(learner, api)) as http:
        start = now()
        first = await call(http, "GET", "/stocks/AAPL")
        if first.status != 200:
            unexpected_status(first, f"200 with {PRICE_SHAPE}")
        for at in (0.5, 0.9):
            await asyncio.sleep(at - (now() - start))
            reply = await call(http, "GET", "/stocks/AAPL")
            reply.call += f" ({at:g} s after the first)"
            asked = api.requests_for("AAPL")
            if len(asked) > 1 or reply.json != first.json:
                fail(
                    f"{reply.call} did not reuse the price fetched {at:g} s earlier",
                    expected=f"the same answer, {show(first.json, 100)}, with no new request",
                    got=f"{reply.describe()}; requests for AAPL at {seconds(asked, start)}",
                    hint=f"Keep each symbol's last price with the loop time it was fetched, "
                    f"and reuse it while it is younger than CACHE_SECONDS ({CACHE_SECONDS:g} s).",
                )
        await asyncio.sleep(1.2 - (now() - start))
        reply = await call(http, "GET", "/stocks/AAPL")
        reply.call += " (1.2 s after the first)"
        asked = api.requests_for("AAPL")
        if len(asked) != 2 or reply.json == first.json:
            fail(
                f"{reply.call} did not fetch a fresh price",
                expected=f"a new request: the cached price is older than {CACHE_SECONDS:g} s",
                got=f"{reply.describe()}; requests for AAPL at {seconds(asked, start)}",
                hint="A cached price is reused for CACHE_SECONDS, then fetched again. "
                + VIRTUAL_CLOCK,
            )
        other = await call(http, "GET", "/stocks/MSFT")
        if not isinstance(other.json, dict) or other.json.get("symbol") != "MSFT":
            fail(
                "GET /stocks/MSFT did not answer MSFT's price",
                expected=PRICE_SHAPE.replace("AAPL", "MSFT"),
                got=other.describe(),
                hint="Cache per symbol: a dict, symbol -> (loop time, price).",
            )


# Task 7: a clean shutdown


@asynccontextmanager
async def shut_down_while_subscribed(
    learner: Learner, api: FakeMarketAPI
) -> AsyncIterator[list[WebSocketClient]]:
    """Three subscribers (AAPL twice, MSFT) still connected when the app shuts down; the
    block runs after the shutdown, before the clients leave."""
    app = make_app(learner, api, poll_interval=1.0)
    async with serving(app) as http:
        lab = WebSocketLab(http, learner)
        clients = [
            await lab.connect(name, f"/ws/stocks/{symbol}")
            for name, symbol in (("alice", "AAPL"), ("bob", "AAPL"), ("carol", "MSFT"))
        ]
        for client in clients:
            await next_update(client, waiting_for="a first price")
        await asyncio.sleep(1.5)
    await asyncio.sleep(0.1)  # the shutdown is over; give the handlers a moment
    try:
        yield clients
    finally:
        await lab.close(quietly=True)


@check("shutdown closes every subscriber's WebSocket with a close frame", task=7)
async def test_shutdown_closes_sockets(learner: Learner) -> None:
    async with shut_down_while_subscribed(learner, market()) as clients:
        for client in clients:
            if client.state == "open":
                fail(
                    f"{client.name}'s WebSocket was still open after the app shut down",
                    expected="every subscriber's connection closed by the server at shutdown",
                    got=f"{client.name}'s connection open",
                    hint="In @app.after_serving, tell every subscriber's handler to close its "
                    "connection, for example with a marker (None) in its queue: the handler "
                    "then calls `await websocket.close(1001)` (1001: going away) and returns.",
                )
            if client.state == "closed" and client.close_code is None:
                fail(
                    f"{client.name}'s connection ended without a close frame",
                    expected="a close frame (code 1001, going away), then the handler ends",
                    got=client.cause() or "the handler ended without closing",
                    hint="End the handler by closing: `await websocket.close(1001)`, then "
                    "return. Cancelling it leaves the client with a broken connection.",
                )


@check("shutdown stops every poller: no polling task is left running", task=7)
async def test_shutdown_stops_pollers(learner: Learner) -> None:
    api = market()
    async with shut_down_while_subscribed(learner, api):
        alive = [t for t in api.senders if not t.done()]
        if alive:
            fail(
                f"{len(alive)} task(s) that polled the market API still ran after shutdown",
                expected="every poller cancelled and finished when the app stops serving",
                got=f"{len(alive)} running, though the HTTP client they use is closed",
                hint="In @app.after_serving, cancel every poller's task and wait for them: "
                "`await asyncio.gather(*tasks, return_exceptions=True)`, before closing the "
                "HTTP client.",
            )


@check("the HTTP client is closed exactly once, when serving stops", task=7)
async def test_client_closed(learner: Learner) -> None:
    api = market()
    async with shut_down_while_subscribed(learner, api):
        if api.closes != 1:
            fail(
                f"the HTTP client was closed {api.closes} times",
                expected="closed exactly once, in after_serving",
                got=f"closed {api.closes} time(s)",
                hint="`await client.aclose()` in an @app.after_serving function, after the "
                "pollers have stopped.",
            )
    api = market()
    async with serving(make_app(learner, api)) as http:
        await call(http, "GET", "/stocks/AAPL")
        await call(http, "GET", "/stocks/MSFT")
        if api.closes:
            fail(
                "the HTTP client was closed while the app was still serving",
                expected="closed once, in after_serving",
                got=f"closed {api.closes} time(s)",
                hint="`async with httpx.AsyncClient()` inside a function closes it per call.",
            )
