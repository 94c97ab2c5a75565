"""Mutants of solutions/ex05: httpx against the fake market API."""

from __future__ import annotations

from . import Mutant

OPEN_CLIENT = (
    "    @app.before_serving\n"
    "    async def open_client() -> None:\n"
    "        # One pooled client for the app's whole life: connections (and TLS handshakes)\n"
    "        # are reused across requests. The article opens a new client in every request.\n"
    '        app.extensions["market"] = httpx.AsyncClient(\n'
    "            base_url=base_url, transport=transport, timeout=timeout\n"
    "        )\n"
)
CLOSE_CLIENT = (
    "    @app.after_serving\n"
    "    async def close_client() -> None:\n"
    '        await app.extensions.pop("market").aclose()\n'
)
SHARED_CLIENT = '        client: httpx.AsyncClient = app.extensions["market"]\n'
DEADLINE_GET = (
    "            async with asyncio.timeout(timeout):\n"
    "                response = await client.get(path)\n"
)
CONNECT_ERROR = (
    "        except httpx.HTTPError:\n"
    '            raise UpstreamError(502, "the market API could not be reached") from None\n'
)
NOT_FOUND = (
    "        if response.status_code == 404:\n"
    '            raise UpstreamError(404, "not found at the market API")\n'
)
BAD_SYMBOL = (
    "        if not SYMBOL.fullmatch(symbol):\n"
    '            return {"error": "a symbol is 1 to 5 letters, such as AAPL"}, 400\n'
)
ASK_SYMBOL = '        return await fetch_json(f"/stocks/{symbol.upper()}")\n'
STOCKS_RUN = (
    "        async with asyncio.TaskGroup() as tg:\n"
    "            tasks = {symbol: tg.create_task(one(symbol)) for symbol in symbols}\n"
    "        return {symbol: task.result() for symbol, task in tasks.items()}\n"
)
ONE_SYMBOL = (
    "            try:\n"
    '                return await fetch_json(f"/stocks/{symbol}")\n'
    "            except UpstreamError as error:\n"
    '                return {"error": error.message}\n'
)

MUTANTS = [
    Mutant(
        "05",
        "client_per_request",
        (
            (
                DEADLINE_GET,
                "            async with asyncio.timeout(timeout):\n"
                "                async with httpx.AsyncClient(\n"
                "                    base_url=base_url, transport=transport, timeout=timeout\n"
                "                ) as client:\n"
                "                    response = await client.get(path)\n",
            ),
            (OPEN_CLIENT, ""),
            (CLOSE_CLIENT, ""),
            (SHARED_CLIENT, ""),
        ),
        {
            "test_one_client": "4 httpx clients were made for 4 requests",
            "test_client_closed": "the client was closed while the app was still serving",
        },
    ),
    Mutant(
        "05",
        "client_in_create_app",
        (
            (
                OPEN_CLIENT,
                '    app.extensions["market"] = httpx.AsyncClient(\n'
                "        base_url=base_url, transport=transport, timeout=timeout\n"
                "    )\n",
            ),
        ),
        {"test_one_client": "create_app() made an httpx client itself"},
    ),
    Mutant(
        "05",
        "client_never_closed",
        ((CLOSE_CLIENT, ""),),
        {"test_client_closed": "closed 0 time(s)"},
    ),
    Mutant(
        "05",
        "no_total_deadline",
        # httpx's timeout= taken for a total deadline: the client has it, nothing else does.
        ((DEADLINE_GET, "            response = await client.get(path)\n"),),
        {"test_timeout": "httpx's own timeout= cannot do this"},
    ),
    Mutant(
        "05",
        "deadline_too_short",
        (("asyncio.timeout(timeout)", "asyncio.timeout(timeout / 2)"),),
        {"test_timeout_in_time": "GET /stock/AAPL answered 504"},
    ),
    Mutant(
        "05",
        "deadline_hardcoded",
        (("asyncio.timeout(timeout)", "asyncio.timeout(2)"),),
        {"test_timeout": "(upstream takes 10 s, timeout=0.5) took 2.00 s"},
    ),
    Mutant(
        "05",
        "upstream_status_passed_through",
        (("UpstreamError(502, f", "UpstreamError(response.status_code, f"),),
        {"test_upstream_errors": "GET /stock/IBM (upstream: 503) answered 503"},
    ),
    Mutant(
        "05",
        "connect_error_not_caught",
        ((CONNECT_ERROR, ""),),
        {"test_upstream_errors": "GET /stock/ORCL (upstream: a connection error) answered 500"},
    ),
    Mutant(
        "05",
        "not_found_as_502",
        ((NOT_FOUND, ""),),
        {"test_upstream_errors": "GET /stock/ZZZZ answered 502"},
    ),
    Mutant(
        "05",
        "stock_validates_after_request",
        (
            (
                BAD_SYMBOL + ASK_SYMBOL,
                '        quote = await fetch_json(f"/stocks/{symbol.upper()}")\n'
                + BAD_SYMBOL
                + "        return quote\n",
            ),
        ),
        {"test_stock_invalid": "GET /stock/TOOLONG answered 404"},
    ),
    Mutant(
        "05",
        "stock_not_upper_cased",
        (('f"/stocks/{symbol.upper()}"', 'f"/stocks/{symbol}"'),),
        {"test_stock": "GET /stock/msft answered 404"},
    ),
    Mutant(
        "05",
        "stocks_sequential",
        ((STOCKS_RUN, "        return {symbol: await one(symbol) for symbol in symbols}\n"),),
        {"test_stocks_concurrent": "took 3.00 s"},
    ),
    Mutant(
        "05",
        "stocks_one_failure_fails_all",
        ((ONE_SYMBOL, '            return await fetch_json(f"/stocks/{symbol}")\n'),),
        {"test_stocks_partial": "GET /stocks failed as a whole because some symbols failed"},
    ),
    Mutant(
        "05",
        "stocks_accepts_eleven",
        (("not 1 <= len(symbols) <= MAX_SYMBOLS", 'not symbols or raw.count(",") > MAX_SYMBOLS'),),
        {"test_stocks_invalid": "NFLX,NVDA,ORCL answered 200"},
    ),
    Mutant(
        "05",
        "stocks_not_upper_cased",
        (("s.strip().upper() for s", "s.strip() for s"),),
        {"test_stocks_concurrent": "Upper-case each symbol"},
    ),
    Mutant(
        "05",
        "base_url_ignored",
        (("base_url=base_url, transport", 'base_url="https://api.example.com", transport'),),
        {"test_external_data": "the upstream request did not go to base_url + /todos/1"},
    ),
    Mutant(
        "05",
        "stock_match_not_fullmatch",
        (("if not SYMBOL.fullmatch(symbol):", "if not SYMBOL.match(symbol):"),),
        {"test_stock_trailing_newline": "`$` also matches just before a newline"},
    ),
    Mutant(
        "05",
        "stocks_route_missing",
        (('    @app.get("/stocks")\n', ""),),
        {
            "test_stocks_partial": "GET /stocks?symbols=AAPL,MSFT answered 404: no route of "
            "your app matches /stocks",
            "test_stocks_concurrent": "no route of your app matches /stocks",
        },
        avoid={"test_stocks_partial": "because some symbols failed"},
    ),
]
