"""Mutants of solutions/ex15: metrics, keys, validation, body limit, rate limit, headers."""

from __future__ import annotations

from textwrap import dedent

from . import Mutant

NOSNIFF = '        response.headers["X-Content-Type-Options"] = "nosniff"\n'
HEALTHZ = (
    '    @app.get("/healthz")\n'
    "    async def healthz() -> ResponseReturnValue:\n"
    '        return {"status": "ok"}\n'
)
ROUTE = "        route = rule.rule if rule is not None else UNMATCHED\n"
METRICS_DEFINED = (
    "    registry = CollectorRegistry()\n"
    "    requests_total = Counter(\n"
    '        "http_requests_total",\n'
    '        "HTTP requests answered, by method, route template and status.",\n'
    '        ["method", "route", "status"],\n'
    "        registry=registry,\n"
    "    )\n"
    "    duration = Histogram(\n"
    '        "http_request_duration_seconds",\n'
    '        "Seconds from the start of a request to its answer, by route template.",\n'
    '        ["route"],\n'
    "        registry=registry,\n"
    "    )\n"
)
WWW_AUTHENTICATE = (
    "            return (\n"
    '                {"error": "send Authorization: Bearer <key>"},\n'
    "                401,\n"
    '                {"WWW-Authenticate": \'Bearer realm="admin"\'},\n'
    "            )\n"
)
COMPARE_ALL = (
    "        known = False\n"
    "        for key in keys:\n"
    "            known |= hmac.compare_digest(presented, key)\n"
)
LIMIT_ORDERS = (
    '        client = request.remote_addr or "unknown"\n'
    "        wait = orders_limiter.acquire(client)\n"
    "        if wait > 0:\n"
    "            return (\n"
    '                {"error": f"more than {orders_per_minute} orders a minute"},\n'
    "                429,\n"
    "                {\n"
    "                    # Whole seconds, rounded up, so that a retry after it is never too "
    "early.\n"
    '                    "Retry-After": str(max(1, math.ceil(wait)))\n'
    "                },\n"
    "            )\n"
)
PARSE = (
    "        raw = await request.get_data()\n"
    "        try:\n"
    '            body = json.loads(raw.decode("utf-8"))\n'
    "        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError too\n"
    '            return {"error": "the body must be JSON in UTF-8"}, 400\n'
)
SIZE_LIMIT = '    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES\n'
NOT_A_DICT = (
    "    if not isinstance(body, dict):\n"
    '        return {"symbol": "required", "quantity": "required"}\n'
)
BAD_SYMBOL = '        errors["symbol"] = "1 to 5 capital letters, such as AAPL"\n'
DECIDE = (
    "        now = time.monotonic()\n"
    "        self._forget_idle(now)\n"
    "        times = self.log.setdefault(key, deque())\n"
    "        while times and times[0] <= now - self.window:\n"
    "            times.popleft()\n"
    "        if len(times) < self.limit:\n"
    "            times.append(now)\n"
    "            return 0.0\n"
    "        return times[0] + self.window - now\n"
)
INVALID_FIELDS = (
    '            return {"error": f"invalid fields: {\', \'.join(errors)}", "fields": errors}, '
    "400\n"
)

MUTANTS = [
    # --- task 1 ---
    Mutant(
        "15",
        "no_healthz",
        ((HEALTHZ, ""),),
        {"test_healthz": "GET /healthz answered 404: no route of your app matches /healthz"},
    ),
    Mutant(
        "15",
        "nosniff_on_healthz_only",
        (
            (NOSNIFF, ""),
            (
                '        return {"status": "ok"}\n',
                '        return {"status": "ok"}, 200, {"X-Content-Type-Options": "nosniff"}\n',
            ),
        ),
        {"test_nosniff_basic": "GET /no-such-page answered 404 without X-Content-Type-Options"},
    ),
    Mutant(
        "15",
        "nosniff_in_error_handlers_and_healthz",
        (
            (NOSNIFF, ""),
            (
                '        return {"status": "ok"}\n',
                '        return {"status": "ok"}, 200, {"X-Content-Type-Options": "nosniff"}\n',
            ),
            (
                '        return {"error": error.description or error.name}, error.code or 500, '
                "headers\n",
                '        headers["X-Content-Type-Options"] = "nosniff"\n'
                '        return {"error": error.description or error.name}, error.code or 500, '
                "headers\n",
            ),
            (
                '        return {"error": "internal server error"}, 500\n',
                '        return {"error": "internal server error"}, 500, '
                '{"X-Content-Type-Options": "nosniff"}\n',
            ),
        ),
        {"test_nosniff_everywhere": "answered 201 without X-Content-Type-Options: nosniff"},
    ),
    # --- task 2 ---
    Mutant(
        "15",
        "metrics_in_the_default_registry",
        (
            ("    registry = CollectorRegistry()\n", "    registry = REGISTRY\n"),
            ("    CollectorRegistry,\n", "    REGISTRY,\n    CollectorRegistry,\n"),
        ),
        {
            "test_metrics_own_registry": "Your app uses prometheus_client's default REGISTRY: "
            "give each app a CollectorRegistry of its own",
            "test_metrics_count": "Your app uses prometheus_client's default REGISTRY: give "
            "each app a CollectorRegistry of its own",
            "test_metrics_route_templates": "default REGISTRY: give each app a CollectorRegistry",
            "test_duration_histogram": "default REGISTRY: give each app a CollectorRegistry",
        },
        avoid={
            "test_rate_limit_only_orders": "failed",
            "test_reindex_no_keys": "failed",
        },
    ),
    Mutant(
        "15",
        "metrics_shared_at_module_level",
        (
            (METRICS_DEFINED, ""),
            ('UNMATCHED = "unmatched"\n', 'UNMATCHED = "unmatched"\n' + dedent(METRICS_DEFINED)),
        ),
        {"test_metrics_own_registry": "The second app's /metrics counts requests sent to the "},
    ),
    Mutant(
        "15",
        "label_is_the_raw_path",
        ((ROUTE, "        route = request.path\n"),),
        {"test_metrics_route_templates": "http_requests_total has a route label per path"},
    ),
    Mutant(
        "15",
        "label_is_the_endpoint",
        ((ROUTE, "        route = request.endpoint or UNMATCHED\n"),),
        {
            "test_metrics_count": "counted 0 GET /healthz answered 200, after 3",
            "test_metrics_route_templates": "counted 0 requests for the route /user/<int:user_id>",
        },
    ),
    Mutant(
        "15",
        "url_rule_assumed",
        ((ROUTE, "        route = rule.rule\n"),),
        {
            "test_metrics_count": "DELETE /healthz answered 500 because your code raised "
            "AttributeError",
        },
    ),
    Mutant(
        "15",
        "unmatched_not_counted",
        (
            (
                ROUTE,
                "        if rule is None:\n"
                '            response.headers["X-Content-Type-Options"] = "nosniff"\n'
                "            return response\n"
                "        route = rule.rule\n",
            ),
        ),
        {
            "test_metrics_count": "did not count DELETE /healthz, answered 405",
            "test_metrics_route_templates": "did not count the 2 requests that no route matched",
        },
    ),
    Mutant(
        "15",
        "labels_named_otherwise",
        (('        ["method", "route", "status"],\n', '        ["method", "path", "code"],\n'),),
        {"test_metrics_count": "http_requests_total lacks the label(s) route, status"},
    ),
    Mutant(
        "15",
        "metrics_served_as_html",
        (
            (
                '        return Response(generate_latest(registry), headers={"Content-Type": '
                "CONTENT_TYPE_LATEST})\n",
                "        return Response(generate_latest(registry))\n",
            ),
        ),
        {"test_metrics_count": "GET /metrics answered text/html"},
    ),
    # --- task 3 ---
    Mutant(
        "15",
        "duration_as_a_summary",
        (
            ("    duration = Histogram(\n", "    duration = Summary(\n"),
            ("    Histogram,\n", "    Histogram,\n    Summary,\n"),
        ),
        {"test_duration_histogram": "http_request_duration_seconds is a summary"},
    ),
    Mutant(
        "15",
        "duration_in_milliseconds",
        (("duration.labels(route).observe(took)", "duration.labels(route).observe(took * 1000)"),),
        {"test_duration_histogram": "That is milliseconds"},
    ),
    Mutant(
        "15",
        "duration_without_route",
        (
            ('        ["route"],\n        registry=registry,\n', "        registry=registry,\n"),
            ("duration.labels(route).observe(took)", "duration.observe(took)"),
        ),
        {"test_duration_histogram": "http_request_duration_seconds has no route label"},
    ),
    Mutant(
        "15",
        "duration_on_cpu_time",
        (
            (
                "        g.started = time.perf_counter()\n",
                "        g.started = time.process_time()\n",
            ),
            (
                '        took = time.perf_counter() - g.get("started", time.perf_counter())\n',
                '        took = time.process_time() - g.get("started", time.process_time())\n',
            ),
        ),
        {"test_duration_histogram": "Your file uses process_time"},
    ),
    # --- task 4 ---
    Mutant(
        "15",
        "no_www_authenticate",
        (
            (
                WWW_AUTHENTICATE,
                '            return {"error": "send Authorization: Bearer <key>"}, 401\n',
            ),
        ),
        {"test_reindex_missing_key": "answered 401 without WWW-Authenticate: Bearer"},
    ),
    Mutant(
        "15",
        "missing_key_is_403",
        (
            (
                '                401,\n                {"WWW-Authenticate"',
                '                403,\n                {"WWW-Authenticate"',
            ),
        ),
        {"test_reindex_missing_key": "POST /admin/reindex answered 403"},
    ),
    Mutant(
        "15",
        "only_the_first_key",
        (("        for key in keys:\n", "        for key in keys[:1]:\n"),),
        {"test_reindex_valid_key": "with a configured key answered 403"},
    ),
    Mutant(
        "15",
        "compared_as_str",
        (
            ("        presented = token.strip().encode()\n", "        presented = token.strip()\n"),
            (
                "    keys = [key.encode() for key in api_keys or ()]\n",
                "    keys = list(api_keys or ())\n",
            ),
        ),
        {
            "test_reindex_unknown_key": "with a key with a non-ASCII character answered 500: "
            "hmac.compare_digest raised TypeError",
        },
    ),
    Mutant(
        "15",
        "open_without_keys",
        (("        if not known:\n", "        if keys and not known:\n"),),
        {"test_reindex_no_keys": "(api_keys=None) with the key 'anything' answered 200"},
    ),
    Mutant(
        "15",
        "keys_compared_with_in",
        ((COMPARE_ALL, "        known = presented in keys\n"),),
        {"test_reindex_constant_time": "the key was not compared with hmac.compare_digest"},
    ),
    Mutant(
        "15",
        "compare_digest_after_in",
        (
            (
                COMPARE_ALL,
                "        known = presented in keys and any(\n"
                "            hmac.compare_digest(presented, key) for key in keys\n"
                "        )\n",
            ),
        ),
        {
            "test_reindex_constant_time": "with an unknown key: the key was not compared with "
            "hmac.compare_digest",
        },
    ),
    # --- task 5 ---
    Mutant(
        "15",
        "quantity_up_to_999",
        (("not 1 <= quantity <= MAX_QUANTITY", "not 1 <= quantity < MAX_QUANTITY"),),
        {"test_order_created": "'quantity': 1000} answered 400"},
    ),
    Mutant(
        "15",
        "symbol_match_not_fullmatch",
        (("not SYMBOL.fullmatch(symbol)", "not SYMBOL.match(symbol)"),),
        {"test_order_names_bad_fields": "'TOOLONG', 'quantity': 5} answered 201"},
    ),
    Mutant(
        "15",
        "bool_is_a_quantity",
        (("type(quantity) is not int", "not isinstance(quantity, int)"),),
        {"test_order_names_bad_fields": "'quantity': True} answered 201"},
    ),
    Mutant(
        "15",
        "symbol_type_unchecked",
        (("not isinstance(symbol, str) or not SYMBOL", "not SYMBOL"),),
        {"test_order_names_bad_fields": "answered 500 because your code raised TypeError"},
    ),
    Mutant(
        "15",
        "first_bad_field_only",
        ((BAD_SYMBOL, '        return {"symbol": "1 to 5 capital letters, such as AAPL"}\n'),),
        {"test_order_names_bad_fields": "the 400 does not name quantity"},
    ),
    Mutant(
        "15",
        "every_field_always_named",
        (
            (
                INVALID_FIELDS,
                '            return {"error": "send a symbol and a quantity"}, 400\n',
            ),
        ),
        {"test_order_names_bad_fields": "the 400 names quantity, which is fine"},
    ),
    Mutant(
        "15",
        "body_assumed_a_dict",
        ((NOT_A_DICT, ""),),
        {"test_order_bad_body": "with b'[]' answered 500 because your code raised AttributeError"},
    ),
    Mutant(
        "15",
        "get_json_silent",
        ((PARSE, "        body = await request.get_json(silent=True)\n"),),
        {
            "test_order_invalid_utf8": "(Latin-1 bytes, not UTF-8) answered 500 because your "
            "code raised UnicodeDecodeError",
        },
    ),
    Mutant(
        "15",
        "bad_bytes_replaced",
        (('json.loads(raw.decode("utf-8"))', 'json.loads(raw.decode("utf-8", "replace"))'),),
        {"test_order_invalid_utf8": "answered 201"},
    ),
    # --- task 6 ---
    Mutant(
        "15",
        "no_body_limit",
        ((SIZE_LIMIT, ""),),
        {
            "test_body_limit_with_length": "(Content-Length: 1048577) answered 201",
            "test_body_limit_chunked": "without Content-Length answered 201",
        },
    ),
    Mutant(
        "15",
        "body_limit_too_small",
        ((SIZE_LIMIT, '    app.config["MAX_CONTENT_LENGTH"] = 1000\n'),),
        {"test_body_limit_with_length": "a valid order of 1,000,000 bytes answered 413"},
    ),
    Mutant(
        "15",
        "content_length_checked_by_hand",
        (
            (SIZE_LIMIT, ""),
            (
                "        raw = await request.get_data()\n",
                "        if (request.content_length or 0) > MAX_BODY_BYTES:\n"
                '            return {"error": "the body is too large"}, 413\n'
                "        raw = await request.get_data()\n",
            ),
        ),
        {"test_body_limit_chunked": "without Content-Length answered 201"},
    ),
    Mutant(
        "15",
        "errors_not_json",
        (("    json_errors(app)\n\n", "\n"),),
        {"test_body_limit_with_length": "did not answer a JSON error"},
    ),
    # --- task 7 ---
    Mutant(
        "15",
        "limit_hard_coded",
        (("RateLimiter(orders_per_minute)", "RateLimiter(10)"),),
        {"test_rate_limit_refuses": "(order 4 within a second, from 203.0.113.7) was accepted"},
    ),
    Mutant(
        "15",
        "retry_after_float",
        (('"Retry-After": str(max(1, math.ceil(wait)))', '"Retry-After": str(wait)'),),
        {"test_rate_limit_refuses": "answered Retry-After: 60.0"},
    ),
    Mutant(
        "15",
        "retry_after_a_guess",
        (('"Retry-After": str(max(1, math.ceil(wait)))', '"Retry-After": "5"'),),
        {"test_rate_limit_recovers": "5.1 s after Retry-After: 5 was refused again"},
    ),
    Mutant(
        "15",
        "limiter_never_forgets",
        (
            (
                DECIDE,
                "        times = self.log.setdefault(key, deque())\n"
                "        if len(times) < self.limit:\n"
                "            times.append(time.monotonic())\n"
                "            return 0.0\n"
                "        return self.window\n",
            ),
        ),
        {"test_rate_limit_recovers": "was refused again"},
    ),
    Mutant(
        "15",
        "limiter_on_datetime",
        (
            ("import hmac\n", "import hmac\nfrom datetime import datetime\n"),
            (
                "        now = time.monotonic()\n        self._forget_idle(now)\n",
                "        now = datetime.now().timestamp()\n        self._forget_idle(now)\n",
            ),
        ),
        {"test_rate_limit_recovers": "Your file uses datetime"},
    ),
    Mutant(
        "15",
        "limit_per_second",
        (("RateLimiter(orders_per_minute)", "RateLimiter(orders_per_minute, window=1.0)"),),
        {"test_rate_limit_per_minute": "orders were accepted from one client within one minute"},
    ),
    Mutant(
        "15",
        "one_budget_for_everyone",
        (("orders_limiter.acquire(client)", 'orders_limiter.acquire("everyone")'),),
        {"test_rate_limit_per_client": "from 192.0.2.11) answered 429"},
    ),
    Mutant(
        "15",
        "budget_per_connection",
        (
            (
                '        client = request.remote_addr or "unknown"\n',
                '        client = str(request.scope.get("client"))\n',
            ),
        ),
        {"test_rate_limit_per_client": "the same address from another port is the same client"},
    ),
    Mutant(
        "15",
        "every_route_limited",
        (
            (LIMIT_ORDERS, ""),
            (
                "    @app.before_request\n"
                "    async def start_clock() -> None:\n"
                "        g.started = time.perf_counter()\n",
                "    @app.before_request\n"
                "    async def start_clock() -> ResponseReturnValue | None:\n"
                "        g.started = time.perf_counter()\n"
                + LIMIT_ORDERS
                + "        return None\n",
            ),
        ),
        {"test_rate_limit_only_orders": "after 5 requests to GET /healthz"},
    ),
]
