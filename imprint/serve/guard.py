"""What every HTTP request passes before a route sees it: a Host this server answers to, no
cross-site browser origin, and a body within the size limit.

Why: a keyless server on loopback trusts whoever can reach it, and a web page in the user's browser
can reach it. A foreign Host is DNS rebinding (evil.example resolving to 127.0.0.1): refused with
421. A foreign Origin, or `Sec-Fetch-Site: cross-site`, is a page of another site driving the API:
refused with 403 unless its origin is listed for CORS. A body over the limit is refused with 413
before it is read into memory.
"""

import ipaddress
import json
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}
_WILDCARD = {"0.0.0.0", "::", ""}


def allowed_hosts(bound: str, extra: list[str]) -> set[str] | None:
    """Host names requests may carry: the bound address (loopback: every loopback name) and `extra`;
    None (any) for a wildcard bind with no names given: API keys guard such a server."""
    names = {h.lower().strip("[]") for h in extra}
    if bound in _WILDCARD:
        return names or None
    bound = bound.lower().strip("[]")
    if bound in LOOPBACK_NAMES or _is_loopback(bound):
        names |= LOOPBACK_NAMES
    return names | {bound}


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _hostname(authority: str) -> str:
    """'example.org:8420' -> 'example.org'; '[::1]:8420' -> '::1'."""
    return (urlsplit("//" + authority).hostname or "").lower()


class RequestGuard:
    """ASGI middleware; `hosts` None accepts any Host, `origins` are the CORS-allowed origins."""

    def __init__(self, app: ASGIApp, hosts: set[str] | None, origins: set[str], max_body: int, max_upload: int) -> None:
        self.app, self.hosts, self.origins = app, hosts, {o.rstrip("/") for o in origins}
        self.max_body, self.max_upload = max_body, max_upload

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        if self.hosts is not None and _hostname(host) not in self.hosts:
            return await _refuse(send, 421, f"this server does not answer to Host {host!r}")
        origin = headers.get("origin")
        if origin is not None and origin.rstrip("/") not in self.origins and _hostname_port(origin) != host.lower():
            return await _refuse(send, 403, f"cross-origin request from {origin!r} refused (see --cors-origin)")
        if (
            headers.get("sec-fetch-site") in ("cross-site", "same-site")
            and (origin or "").rstrip("/") not in self.origins
        ):
            return await _refuse(send, 403, "cross-site request refused (see --cors-origin)")
        limit = self.max_upload if scope["path"].endswith("/files") else self.max_body
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            return await _refuse(send, 413, f"request body over the limit of {limit:,} bytes")
        await self.app(scope, _capped(receive, limit), send)


def _hostname_port(origin: str) -> str:
    """An Origin's 'host:port' as a Host header would carry it (same-origin pages pass)."""
    return urlsplit(origin).netloc.lower()


def _capped(receive: Receive, limit: int) -> Receive:
    """A body sent without a length (chunked) is cut off at the limit: the app sees a disconnect."""
    seen = 0

    async def capped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                return {"type": "http.disconnect"}
        return message

    return capped


async def _refuse(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
