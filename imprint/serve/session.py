"""A browser's session for the web page: the API key in an HttpOnly cookie set by the login form,
and a CSRF token (double submit) that every state-changing request must echo in a header.

Cookies are SameSite=Strict and the key cookie is unreadable to scripts. A request that reads
(GET, HEAD) may use the cookie alone: images and downloads are plain links. Any other method needs
the X-CSRF-Token header equal to the csrf cookie, which another site can neither read nor set.
"""

import hmac
import secrets

from fastapi import Request

from .auth import Keys

KEY_COOKIE = "imprint_key"
CSRF_COOKIE = "imprint_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = {"GET", "HEAD"}


def new_csrf_token() -> str:
    return secrets.token_urlsafe(24)


def same_token(a: str | None, b: str | None) -> bool:
    return bool(a and b) and hmac.compare_digest(a.encode(), b.encode())


def session_caller(request: Request, keys: Keys) -> str | None:
    """The known key the request's session cookie holds, if the request may use it (see above)."""
    key = request.cookies.get(KEY_COOKIE)
    if not key or key not in keys.grants:
        return None
    if request.method in SAFE_METHODS or same_token(request.cookies.get(CSRF_COOKIE), request.headers.get(CSRF_HEADER)):
        return key
    return None
