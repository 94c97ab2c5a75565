"""Chapter 05: calling other services with httpx (reference solution)."""

import asyncio
import re
from typing import Any

import httpx
from quart import Quart, ResponseReturnValue, request
from werkzeug.exceptions import HTTPException

SYMBOL = re.compile(r"^[A-Za-z]{1,5}$")
MAX_SYMBOLS = 10


class UpstreamError(Exception):
    """The other service failed; `status` is what our client gets instead."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def create_app(
    *,
    base_url: str = "https://api.example.com",
    transport: httpx.AsyncBaseTransport | None = None,
    timeout: float = 2.0,
) -> Quart:
    app = Quart(__name__)

    @app.before_serving
    async def open_client() -> None:
        # One pooled client for the app's whole life: connections (and TLS handshakes)
        # are reused across requests. The article opens a new client in every request.
        app.extensions["market"] = httpx.AsyncClient(
            base_url=base_url, transport=transport, timeout=timeout
        )

    @app.after_serving
    async def close_client() -> None:
        await app.extensions.pop("market").aclose()

    async def fetch_json(path: str) -> Any:
        client: httpx.AsyncClient = app.extensions["market"]
        try:
            # httpx's timeout bounds each operation (connect, each read...): an answer that
            # trickles in byte by byte never trips it. asyncio.timeout bounds the whole call.
            async with asyncio.timeout(timeout):
                response = await client.get(path)
        except TimeoutError:
            raise UpstreamError(
                504, f"the market API did not answer within {timeout:g} s"
            ) from None
        except httpx.TimeoutException:
            raise UpstreamError(504, "the market API timed out") from None
        except httpx.HTTPError:
            raise UpstreamError(502, "the market API could not be reached") from None
        if response.status_code == 404:
            raise UpstreamError(404, "not found at the market API")
        if not response.is_success:
            # 5xx, and anything else that is not a 2xx answer (httpx follows no redirects).
            raise UpstreamError(502, f"the market API failed ({response.status_code})")
        try:
            return response.json()
        except ValueError:
            raise UpstreamError(502, "the market API answered something other than JSON") from None

    @app.errorhandler(UpstreamError)
    async def upstream_error(error: UpstreamError) -> ResponseReturnValue:
        return {"error": error.message}, error.status

    @app.get("/external-data")
    async def external_data() -> Any:
        return await fetch_json("/todos/1")

    @app.get("/stock/<symbol>")
    async def stock(symbol: str) -> Any:
        # Validate before any request leaves: a bad symbol costs the upstream nothing.
        if not SYMBOL.fullmatch(symbol):
            return {"error": "a symbol is 1 to 5 letters, such as AAPL"}, 400
        return await fetch_json(f"/stocks/{symbol.upper()}")

    @app.get("/stocks")
    async def stocks() -> ResponseReturnValue:
        raw = request.args.get("symbols", "")
        symbols = list(dict.fromkeys(s.strip().upper() for s in raw.split(",") if s.strip()))
        if not 1 <= len(symbols) <= MAX_SYMBOLS or not all(SYMBOL.fullmatch(s) for s in symbols):
            return {
                "error": f"send ?symbols=AAPL,MSFT: 1 to {MAX_SYMBOLS} symbols of 1-5 letters"
            }, 400

        async def one(symbol: str) -> Any:
            # A failing symbol becomes an entry of its own; it does not fail the others.
            try:
                return await fetch_json(f"/stocks/{symbol}")
            except UpstreamError as error:
                return {"error": error.message}

        async with asyncio.TaskGroup() as tg:
            tasks = {symbol: tg.create_task(one(symbol)) for symbol in symbols}
        return {symbol: task.result() for symbol, task in tasks.items()}

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> ResponseReturnValue:
        # Keep the headers HTTP requires, such as Allow on a 405.
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        return {"error": error.description or error.name}, error.code or 500, headers

    @app.errorhandler(Exception)
    async def unexpected(error: Exception) -> ResponseReturnValue:
        app.logger.exception("unhandled error", exc_info=error)
        return {"error": "internal server error"}, 500

    return app
