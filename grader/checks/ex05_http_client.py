"""Checks for chapter 05: one pooled httpx client per app, upstream errors mapped to
404/502/504 with a total deadline, validation first, and concurrent fan-out."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from grader.lab import Learner, Stopwatch, check, expect_seconds, fail, show
from grader.lab.market import PRICES, TODO, FakeMarketAPI
from grader.lab.web import (
    build_app,
    call,
    expect_json,
    expect_json_error,
    serving,
    unexpected_status,
)


def quote(symbol: str) -> dict[str, Any]:
    return {"symbol": symbol, "price": PRICES[symbol], "currency": "USD"}


def make_app(learner: Learner, api: FakeMarketAPI, **options: Any) -> Any:
    options.setdefault("base_url", api.base_url)
    return build_app(learner, transport=api.transport(), **options)


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


def expect_no_upstream(api: FakeMarketAPI, what: str) -> None:
    if api.requests:
        fail(
            f"{what} reached the market API although the input was invalid",
            expected="a 400 before any upstream request",
            got=show(api.requests),
            hint="Validate the input first; call the other service only with valid input.",
        )


@check("one httpx.AsyncClient per app, made when serving starts, shared by every request", task=1)
async def test_one_client(learner: Learner) -> None:
    api = FakeMarketAPI()
    with counting_clients() as made:
        app = make_app(learner, api)
        if made:
            fail(
                "create_app() made an httpx client itself",
                expected="no I/O when the app is built: the client is made in before_serving",
                got=f"{len(made)} client(s) made by create_app()",
                hint="Create the client in an @app.before_serving function.",
            )
        async with serving(app) as client:
            for path in ("/stock/AAPL", "/external-data", "/stock/MSFT", "/stock/GOOG"):
                await call(client, "GET", path)
        if len(made) != 1:
            fail(
                f"{len(made)} httpx clients were made for 4 requests",
                expected="exactly 1, made in before_serving and shared by all requests",
                got=f"{len(made)}",
                hint="A client per request throws away its connection pool every time. "
                "Keep one on the app (for example in app.extensions).",
            )


@check("the client is closed exactly once, when serving stops", task=1)
async def test_client_closed(learner: Learner) -> None:
    api = FakeMarketAPI()
    app = make_app(learner, api)
    async with serving(app) as client:
        await call(client, "GET", "/stock/AAPL")
        await call(client, "GET", "/stock/MSFT")
        if api.closes:
            fail(
                "the client was closed while the app was still serving",
                expected="closed once, in after_serving",
                got=f"closed {api.closes} time(s)",
                hint="`async with httpx.AsyncClient()` inside a route closes it per request.",
            )
    if api.closes != 1:
        fail(
            "the client was not closed when the app stopped",
            expected="closed exactly once, in after_serving",
            got=f"closed {api.closes} time(s)",
            hint="`await client.aclose()` in an @app.after_serving function.",
        )


@check("GET /external-data answers the upstream's /todos/1", task=2)
async def test_external_data(learner: Learner) -> None:
    api = FakeMarketAPI()
    async with serving(make_app(learner, api, base_url="https://quotes.test")) as client:
        expect_json(
            await call(client, "GET", "/external-data"),
            TODO,
            hint="GET /todos/1 with the shared client and return `response.json()`.",
        )
    if api.requests != ["quotes.test/todos/1"]:
        fail(
            "the upstream request did not go to base_url + /todos/1",
            expected="quotes.test/todos/1 (base_url was https://quotes.test)",
            got=show(api.requests),
            hint="Give base_url to httpx.AsyncClient(base_url=...).",
        )


@check("GET /stock/<symbol> answers the upstream quote, symbol upper-cased", task=3)
async def test_stock(learner: Learner) -> None:
    api = FakeMarketAPI()
    async with serving(make_app(learner, api)) as client:
        expect_json(await call(client, "GET", "/stock/AAPL"), quote("AAPL"))
        expect_json(
            await call(client, "GET", "/stock/msft"),
            quote("MSFT"),
            hint="Upper-case the symbol before asking the upstream.",
        )
    if api.requests != ["api.example.com/stocks/AAPL", "api.example.com/stocks/MSFT"]:
        fail(
            "the upstream requests were not GET /stocks/<SYMBOL>",
            expected="/stocks/AAPL then /stocks/MSFT",
            got=show(api.requests),
        )


@check("GET /stock/<symbol> refuses a bad symbol with 400 before any upstream request", task=3)
async def test_stock_invalid(learner: Learner) -> None:
    api = FakeMarketAPI()
    async with serving(make_app(learner, api)) as client:
        for symbol in ("TOOLONG", "A1", "AB-C", "%C3%84BC", "A_B"):
            expect_json_error(
                await call(client, "GET", f"/stock/{symbol}"),
                400,
                hint="Check the symbol with SYMBOL.fullmatch(symbol) first.",
            )
    expect_no_upstream(api, "GET /stock/<bad symbol>")


@check("GET /stock/<symbol> checks the whole symbol: AAPL%0A is a 400, never asked", task=3)
async def test_stock_trailing_newline(learner: Learner) -> None:
    api = FakeMarketAPI()
    async with serving(make_app(learner, api)) as client:
        reply = await call(client, "GET", "/stock/AAPL%0A")
        reply.call += " (AAPL and a newline)"
        expect_json_error(
            reply,
            400,
            hint="In a pattern, `$` also matches just before a newline at the end, so "
            "SYMBOL.match(symbol) (or .search) accepts 'AAPL\\n'. SYMBOL.fullmatch(symbol) "
            "checks the whole string, newline included.",
        )
    expect_no_upstream(api, "GET /stock/AAPL%0A")


@check("upstream 404 is a 404; upstream 5xx and connection errors are a 502", task=4)
async def test_upstream_errors(learner: Learner) -> None:
    api = FakeMarketAPI(failures={"IBM": 503, "INTC": 500, "ORCL": "connect"})
    async with serving(make_app(learner, api)) as client:
        expect_json_error(
            await call(client, "GET", "/stock/ZZZZ"),
            404,
            hint="When the upstream answers 404, answer 404 too.",
        )
        for symbol, what in (("IBM", "503"), ("INTC", "500"), ("ORCL", "a connection error")):
            reply = await call(client, "GET", f"/stock/{symbol}")
            reply.call += f" (upstream: {what})"
            expect_json_error(
                reply,
                502,
                hint="A failing upstream is a 502 Bad Gateway: check "
                "response.status_code, and catch httpx.HTTPError.",
            )


HTTPX_TIMEOUTS = (
    "httpx's own timeout= cannot do this: it bounds each network operation (connect, each "
    "read or write, the wait for a pooled connection), not the whole call, and this "
    "in-process upstream (httpx.ASGITransport) has no network operations, so httpx applies "
    "none. "
)
DEADLINE = (
    "Wrap the upstream call in `async with asyncio.timeout(timeout):` and answer 504 on "
    "TimeoutError."
)


@check("no answer within `timeout` seconds in all is a 504, after exactly `timeout`", task=5)
async def test_timeout(learner: Learner) -> None:
    for timeout, options in ((2.0, {}), (0.5, {"timeout": 0.5})):
        api = FakeMarketAPI(latencies={"NVDA": 10.0})
        with counting_clients() as made:
            async with serving(make_app(learner, api, **options)) as client:
                with Stopwatch() as sw:
                    reply = await call(client, "GET", "/stock/NVDA", seconds=60)
        # A client given `timeout` shows the learner counted on httpx to enforce it.
        counted_on_httpx = any(c.timeout.read == timeout for c in made)
        hint = (HTTPX_TIMEOUTS if counted_on_httpx else "") + DEADLINE
        reply.call += f" (answered after {sw.elapsed:.2f} s; the upstream takes 10 s)"
        expect_json_error(reply, 504, hint=hint)
        expect_seconds(
            sw.elapsed,
            timeout,
            what=f"GET /stock/NVDA (upstream takes 10 s, timeout={timeout})",
            hint="Give up after `timeout` seconds exactly.",
        )


@check("an answer that arrives within the deadline is not cut off", task=5)
async def test_timeout_in_time(learner: Learner) -> None:
    # Through httpx.ASGITransport an answer that streams in slowly is, to httpx, latency:
    # the transport applies no timeouts, so only a total deadline can stop it. The notebook
    # shows the difference over a real connection.
    api = FakeMarketAPI(latencies={"AAPL": 1.9})
    async with serving(make_app(learner, api)) as client:
        with Stopwatch() as sw:
            reply = await call(client, "GET", "/stock/AAPL", seconds=60)
    expect_json(reply, quote("AAPL"), hint="An answer after 1.9 s is in time for a 2 s deadline.")
    expect_seconds(
        sw.elapsed,
        1.9,
        what="GET /stock/AAPL (the upstream takes 1.9 s)",
        hint="Wait for the upstream as long as the deadline allows, no shorter.",
    )


@check("GET /stocks fetches every symbol at once: as long as the slowest", task=6)
async def test_stocks_concurrent(learner: Learner) -> None:
    api = FakeMarketAPI(latencies={"AAPL": 1.0, "MSFT": 1.5, "GOOG": 0.5})
    async with serving(make_app(learner, api)) as client:
        with Stopwatch() as sw:
            reply = await call(client, "GET", "/stocks?symbols=AAPL,MSFT,GOOG")
    expect_json(reply, {s: quote(s) for s in ("AAPL", "MSFT", "GOOG")})
    expect_seconds(
        sw.elapsed,
        1.5,
        what="GET /stocks?symbols=AAPL,MSFT,GOOG (1, 1.5, 0.5 s)",
        hint="Fetch all symbols concurrently (TaskGroup or gather), not in a loop.",
    )
    async with serving(make_app(learner, FakeMarketAPI())) as client:
        expect_json(
            await call(client, "GET", "/stocks?symbols=aapl,Msft"),
            {s: quote(s) for s in ("AAPL", "MSFT")},
            hint="Upper-case each symbol, as GET /stock/<symbol> does.",
        )


@check('GET /stocks: a failing symbol becomes {"error": ...}, the others still answer', task=6)
async def test_stocks_partial(learner: Learner) -> None:
    api = FakeMarketAPI(failures={"IBM": 503, "ORCL": "connect"}, latencies={"NVDA": 10.0})
    async with serving(make_app(learner, api)) as client:
        # First with symbols that all work: a failure there is not about failing symbols.
        working = await call(client, "GET", "/stocks?symbols=AAPL,MSFT")
        if working.status != 200:
            unexpected_status(working, "200 with an entry per symbol")
        with Stopwatch() as sw:
            reply = await call(client, "GET", "/stocks?symbols=AAPL,IBM,ORCL,NVDA,ZZZZ")
    if reply.status != 200 or not isinstance(reply.json, dict):
        fail(
            "GET /stocks failed as a whole because some symbols failed",
            expected="200 with an entry per symbol",
            got=reply.describe(),
            hint='Catch each symbol\'s failure inside its own task and store {"error": ...}; '
            "a connection error (httpx.HTTPError) is a failure too.",
        )
    body = reply.json
    if body.get("AAPL") != quote("AAPL"):
        fail(
            "GET /stocks lost the symbol that worked",
            expected=show(quote("AAPL")),
            got=show(body.get("AAPL")),
        )
    for symbol in ("IBM", "ORCL", "NVDA", "ZZZZ"):
        entry = body.get(symbol)
        if not (isinstance(entry, dict) and isinstance(entry.get("error"), str)):
            fail(
                f"GET /stocks: the failing symbol {symbol} has no error entry",
                expected=f'"{symbol}": {{"error": "..."}}',
                got=show(entry),
            )
    expect_seconds(
        sw.elapsed,
        2.0,
        what="GET /stocks with one symbol taking 10 s (timeout 2 s)",
        hint="Fetch the symbols at once, each with the same total deadline: a slow one "
        "becomes an error entry when the deadline passes.",
    )


@check("GET /stocks accepts 1 to 10 valid symbols, otherwise 400 before any request", task=6)
async def test_stocks_invalid(learner: Learner) -> None:
    api = FakeMarketAPI()
    eleven = ",".join(list(PRICES)[:11])
    async with serving(make_app(learner, api)) as client:
        for query in (
            "",
            "?symbols=",
            f"?symbols={eleven}",
            "?symbols=AAPL,TOOLONG",
            "?symbols=AAPL,A1",
        ):
            expect_json_error(
                await call(client, "GET", f"/stocks{query}"),
                400,
                hint="Split ?symbols= on commas; require 1 to MAX_SYMBOLS symbols "
                "that each match SYMBOL.",
            )
        expect_no_upstream(api, "GET /stocks with bad symbols")
        ten = list(PRICES)[:10]
        expect_json(
            await call(client, "GET", f"/stocks?symbols={','.join(ten)}"),
            {s: quote(s) for s in ten},
            hint="Ten symbols are allowed.",
        )
