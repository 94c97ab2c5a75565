"""Mutants of solutions/ex16: the live stock ticker."""

from __future__ import annotations

from . import Mutant

OPEN_CLIENT = (
    "    @app.before_serving\n"
    "    async def open_client() -> None:\n"
    "        # Chapter 05: one pooled client for the app's whole life, made on the serving loop.\n"
    '        app.extensions["market"] = httpx.AsyncClient(\n'
    "            base_url=base_url, transport=transport, timeout=FETCH_TIMEOUT\n"
    "        )\n"
)
SHARED_CLIENT = '        client: httpx.AsyncClient = app.extensions["market"]\n'
DEADLINE_GET = (
    "            async with asyncio.timeout(FETCH_TIMEOUT):\n"
    '                response = await client.get(f"/stocks/{symbol}")\n'
)
CLOSE_CLIENT = '        await app.extensions.pop("market").aclose()\n'
NOT_FOUND = (
    "        if response.status_code == 404:\n"
    '            raise UpstreamError(404, f"the market API does not know {symbol}")\n'
)
QUOTE = '        return {"symbol": symbol, "price": price, "ts": time.time()}\n'
WS_VALIDATION = (
    "        if not SYMBOL.fullmatch(symbol):\n"
    "            # Refused before the connection is accepted: the client gets an HTTP 400 and\n"
    "            # nothing is polled for it.\n"
    '            return {"error": "a symbol is 1 to 5 letters, such as AAPL"}, 400\n'
)
WS_UPPER = "        symbol = symbol.upper()\n        await websocket.accept()\n"
GET_VALIDATION = (
    "    async def stock(symbol: str) -> ResponseReturnValue:\n"
    "        if not SYMBOL.fullmatch(symbol):\n"
    '            return {"error": "a symbol is 1 to 5 letters, such as AAPL"}, 400\n'
    "        symbol = symbol.upper()\n"
)
JOIN = "        poller = pollers.get(symbol)\n        if poller is None:\n"
LEAVE = (
    "            if not poller.queues and pollers.get(symbol) is poller:\n"
    "                del pollers[symbol]\n"
    "                if poller.task is not None:\n"
    "                    poller.task.cancel()\n"
)
PUBLISH = (
    "            message = json.dumps(update)\n"
    "            for queue in poller.queues:\n"
    "                offer(queue, message)\n"
)
FAILED_POLL = "            except UpstreamError as error:\n                failures += 1\n"
ERROR_UPDATE = (
    '                update: dict[str, Any] = {"symbol": poller.symbol, "error": error.message}\n'
)
BACKOFF = "                wait = min(poll_interval * 2**failures, MAX_BACKOFF)\n"
RESET = "                failures = 0  # recovered: the next failure starts the backoff afresh\n"
STEADY = "                wait = poll_interval\n"
FROM_POLLER = (
    "        poller = pollers.get(symbol)\n"
    "        if poller is not None and poller.latest is not None:\n"
    "            return poller.latest  # what the subscribers got last: no upstream request\n"
)
CACHE_HIT = (
    "        if cached is not None and loop.time() - cached[0] < CACHE_SECONDS:\n"
    "            return cached[1]\n"
)
STOP_POLLERS = (
    "        for task in tasks:\n"
    "            task.cancel()\n"
    "        await asyncio.gather(*tasks, return_exceptions=True)  # until each has stopped\n"
)
EXCEPT_CLEANUP = "        except Exception:\n            poller.queues.discard(queue)\n"
DROP_OLDEST = "            queue.get_nowait()  # no await in between: nothing else runs meanwhile\n"
CLOSE_SOCKETS = (
    "        for poller in running:\n"
    "            for queue in poller.queues:\n"
    "                offer(queue, None)\n"
)

MUTANTS = [
    # Task 1: the client and GET /stocks/<symbol>
    Mutant(
        "16",
        "client_per_fetch",
        (
            (
                DEADLINE_GET,
                "            async with asyncio.timeout(FETCH_TIMEOUT):\n"
                "                async with httpx.AsyncClient(\n"
                "                    base_url=base_url, transport=transport\n"
                "                ) as client:\n"
                '                    response = await client.get(f"/stocks/{symbol}")\n',
            ),
            (OPEN_CLIENT, ""),
            (SHARED_CLIENT, ""),
            (CLOSE_CLIENT, ""),
        ),
        {
            "test_one_client": "httpx clients were made for two requests and two pollers",
            "test_client_closed": "the HTTP client was closed",
        },
    ),
    Mutant(
        "16",
        "client_in_create_app",
        (
            (
                OPEN_CLIENT,
                '    app.extensions["market"] = httpx.AsyncClient(\n'
                "        base_url=base_url, transport=transport, timeout=FETCH_TIMEOUT\n"
                "    )\n",
            ),
        ),
        {"test_one_client": "create_app() made an httpx client itself"},
    ),
    Mutant(
        "16",
        "client_never_closed",
        ((CLOSE_CLIENT, ""),),
        {"test_client_closed": "closed 0 time(s)"},
    ),
    Mutant(
        "16",
        "stock_not_upper_cased",
        ((GET_VALIDATION, GET_VALIDATION.replace("        symbol = symbol.upper()\n", "")),),
        {"test_stock_quote": "GET /stocks/msft answered 404"},
    ),
    Mutant(
        "16",
        "stock_not_validated",
        ((GET_VALIDATION, GET_VALIDATION.replace("if not SYMBOL.fullmatch(symbol)", "if False")),),
        {"test_stock_invalid": "GET /stocks/TOOLONG answered 404"},
    ),
    Mutant(
        "16",
        "not_found_as_502",
        ((NOT_FOUND, ""),),
        {"test_stock_upstream_errors": "GET /stocks/ZZZZ answered 502"},
    ),
    Mutant(
        "16",
        "no_total_deadline",
        # httpx's timeout= taken for a deadline: through ASGITransport it never fires.
        ((DEADLINE_GET, '            response = await client.get(f"/stocks/{symbol}")\n'),),
        {
            "test_stock_upstream_errors": "answered 200",
            "test_poll_deadline": "NVDA's first update came 10.00 s after the poll asked",
        },
    ),
    Mutant(
        "16",
        "upstream_json_passed_through",
        ((QUOTE, "        return response.json()\n"),),
        {
            "test_stock_quote": "GET /stocks/AAPL answered a price with the wrong keys",
            "test_updates_every_interval": "alice received a price with the wrong keys",
        },
    ),
    Mutant(
        "16",
        "ts_from_the_loop_clock",
        ((QUOTE, QUOTE.replace("time.time()", "asyncio.get_running_loop().time()")),),
        {
            "test_stock_quote": '"ts" that is not the Unix time of the price',
            "test_updates_every_interval": '"ts" that is not the Unix time of the price',
        },
    ),
    # Task 2: the WebSocket and its shared poller
    Mutant(
        "16",
        "poll_interval_ignored",
        ((STEADY, "                wait = 1.0\n"),),
        {"test_updates_every_interval": "alice's updates did not come every 0.5 s"},
    ),
    Mutant(
        "16",
        "poller_per_subscriber",
        ((JOIN, "        poller = None\n        if poller is None:\n"),),
        {"test_one_poller_per_symbol": "several times per poll_interval"},
    ),
    Mutant(
        "16",
        "ws_symbol_not_upper_cased",
        ((WS_UPPER, "        await websocket.accept()\n"),),
        {"test_one_poller_per_symbol": 'made the market API poll "aapl"'},
    ),
    Mutant(
        "16",
        "ws_symbol_not_validated",
        ((WS_VALIDATION, ""),),
        {"test_bad_symbol_refused": "/ws/stocks/TOOLONG was accepted and stayed open"},
    ),
    # Task 3: a poller lives as long as its subscribers
    Mutant(
        "16",
        "pollers_started_with_the_app",
        (
            (
                OPEN_CLIENT,
                OPEN_CLIENT
                + '        for symbol in ("AAPL", "MSFT"):  # the popular ones, ready at once\n'
                "            pollers[symbol] = Poller(symbol)\n"
                "            pollers[symbol].task = asyncio.create_task(poll(pollers[symbol]))\n",
            ),
        ),
        {"test_poller_starts_with_first": "the market API was asked before anyone subscribed"},
    ),
    Mutant(
        "16",
        "poller_stopped_by_any_leaver",
        ((LEAVE, LEAVE.replace("if not poller.queues and pollers", "if pollers")),),
        {"test_poller_stops_with_last": "bob waited 5 s for AAPL's prices after alice left"},
    ),
    Mutant(
        "16",
        "poller_never_cancelled",
        ((LEAVE, LEAVE.replace("poller.task.cancel()", "pass  # cancelled by nobody")),),
        {"test_poller_stops_with_last": "AAPL was still polled after its last subscriber left"},
    ),
    Mutant(
        "16",
        "cleanup_in_except_exception",
        # The cleanup never runs when a client leaves: Quart cancels its handler.
        (("        finally:\n            poller.queues.discard(queue)\n", EXCEPT_CLEANUP),),
        {"test_poller_stops_with_last": "AAPL was still polled after its last subscriber left"},
    ),
    Mutant(
        "16",
        "stopped_poller_not_forgotten",
        ((LEAVE, LEAVE.replace("                del pollers[symbol]\n", "")),),
        {"test_poller_restarts": "subscriber 2 waited 5 s for AAPL's prices"},
    ),
    # Task 4: a queue per subscriber
    Mutant(
        "16",
        "poller_waits_for_full_queues",
        ((PUBLISH, PUBLISH.replace("offer(queue, message)", "await queue.put(message)")),),
        {
            "test_slow_reader_delays_nobody": "A subscriber that never reads is connected too",
            "test_queue_keeps_newest": "A subscriber that never reads is connected too",
        },
    ),
    Mutant(
        "16",
        "put_nowait_on_a_full_queue",
        # Task 2's put_nowait, never turned into offer: QueueFull ends the poller.
        ((PUBLISH, PUBLISH.replace("offer(queue, message)", "queue.put_nowait(message)")),),
        {"test_slow_reader_delays_nobody": "raises QueueFull, which ends the poller"},
    ),
    Mutant(
        "16",
        "full_queue_drops_the_newest",
        ((DROP_OLDEST, "            return  # the new message is lost\n"),),
        {"test_queue_keeps_newest": "10 queued updates, published at 2, 3, 4"},
    ),
    Mutant(
        "16",
        "unbounded_queue",
        (("asyncio.Queue(maxsize=QUEUE_SIZE)", "asyncio.Queue()"),),
        {"test_queue_keeps_newest": "30 queued updates"},
    ),
    # Task 5: upstream errors
    Mutant(
        "16",
        "poller_dies_on_first_error",
        ((FAILED_POLL, FAILED_POLL.replace("UpstreamError", "httpx.HTTPError")),),
        {"test_errors_reach_subscribers": "If nothing at all arrives, the poller may have ended"},
    ),
    Mutant(
        "16",
        "error_without_symbol",
        ((ERROR_UPDATE, '                update: dict[str, Any] = {"error": error.message}\n'),),
        {"test_errors_reach_subscribers": "alice did not receive IBM's error as"},
    ),
    Mutant(
        "16",
        "no_backoff",
        ((BACKOFF, "                wait = poll_interval\n"),),
        {"test_backoff_doubles": "waits of 1, 1, 1, 1"},
    ),
    Mutant(
        "16",
        "backoff_without_cap",
        ((BACKOFF, "                wait = poll_interval * 2**failures\n"),),
        {"test_backoff_doubles": "waits of 2, 4, 8, 16, 32 s"},
    ),
    Mutant(
        "16",
        "backoff_never_reset",
        ((RESET, ""),),
        {"test_backoff_resets": "when IBM failed again, the backoff did not start afresh"},
    ),
    Mutant(
        "16",
        "long_waits_after_recovery",
        # The wait doubles as the failures add up, and a price does not bring it back.
        ((RESET, ""), (STEADY, BACKOFF)),
        {"test_backoff_resets": "the poller did not poll every poll_interval again"},
    ),
    # Task 6: GET /stocks/<symbol> from the poller or the cache
    Mutant(
        "16",
        "stock_ignores_the_poller",
        ((FROM_POLLER, ""),),
        {"test_stock_from_poller": "asked the market API, although a poller for AAPL runs"},
    ),
    Mutant(
        "16",
        "stock_not_cached",
        ((CACHE_HIT, ""),),
        {"test_stock_cached": "did not reuse the price fetched 0.5 s earlier"},
    ),
    Mutant(
        "16",
        "cache_on_the_wall_clock",
        (
            (CACHE_HIT, CACHE_HIT.replace("loop.time()", "time.monotonic()")),
            ("cache[symbol] = (loop.time(), quote)", "cache[symbol] = (time.monotonic(), quote)"),
        ),
        {"test_stock_cached": "the grader runs your app on a virtual clock"},
    ),
    # Task 7: a clean shutdown
    Mutant(
        "16",
        "sockets_left_open",
        ((CLOSE_SOCKETS, ""),),
        {"test_shutdown_closes_sockets": "WebSocket was still open after the app shut down"},
    ),
    Mutant(
        "16",
        "pollers_left_running",
        ((STOP_POLLERS, ""),),
        {"test_shutdown_stops_pollers": "task(s) that polled the market API still ran"},
    ),
    # Task 1: an upstream answer with no usable price
    Mutant(
        "16",
        "price_bool_accepted",
        (
            (
                "            isinstance(price, bool)\n"
                "            or not isinstance(price, int | float)\n",
                "            not isinstance(price, int | float)\n",
            ),
        ),
        {"test_stock_priceless": "In Python, bool is a subclass of int"},
    ),
    Mutant(
        "16",
        "price_not_finite_accepted",
        (("            or (isinstance(price, float) and not math.isfinite(price))\n", ""),),
        {"test_stock_priceless": "(upstream: 200 with a price of NaN) answered 200"},
    ),
    Mutant(
        "16",
        "price_recursion_not_caught",
        (
            (
                "        except (ValueError, KeyError, TypeError, RecursionError):\n",
                "        except (ValueError, KeyError, TypeError):\n",
            ),
        ),
        {"test_stock_priceless": "the JSON parser raised RecursionError, which your code did"},
    ),
]
