"""The web page at /ui: server-rendered page shells (Jinja2, escaped) and one script that fills them
through the same REST and OpenAI-compatible routes every client uses. No second code path reads or
changes a memory.

Logging in puts the API key in an HttpOnly, SameSite=Strict cookie (session.py); every state-changing
call carries the CSRF token. Pages are served with a strict Content-Security-Policy: scripts and
styles only from /ui/static, no inline script, no framing.
"""

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from ..config import VERSION
from .session import CSRF_COOKIE, KEY_COOKIE, new_csrf_token, same_token, session_caller

HERE = Path(__file__).parent
STATIC = HERE / "static"
TEMPLATES = Jinja2Templates(directory=HERE / "templates")
SPACE_PAGES = {"memories": "Memories", "dropped": "Dropped", "ask": "Ask", "add": "Add", "adapters": "Adapters"}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def logged_in(request: Request) -> bool:
    keys = request.app.state.keys
    return not keys.required or session_caller(request, keys) is not None


def render(request: Request, template: str, **context) -> Response:
    """A page, with a CSRF cookie for its scripts and forms (made once per browser)."""
    if not logged_in(request) and template != "login.html":
        return RedirectResponse("/ui/login", status_code=303)
    token = request.cookies.get(CSRF_COOKIE) or new_csrf_token()
    response = TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "csrf": token,
            "version": VERSION,
            "keys_required": request.app.state.keys.required,
            "space_pages": SPACE_PAGES,
            **context,
        },
    )
    response.set_cookie(
        CSRF_COOKIE, token, httponly=False, samesite="strict", secure=request.url.scheme == "https", path="/"
    )
    return response


def router() -> APIRouter:
    pages = APIRouter(prefix="/ui", include_in_schema=False, default_response_class=HTMLResponse)

    @pages.get("/login")
    def login_page(request: Request, error: str | None = None) -> Response:
        return render(request, "login.html", page="login", error=error)

    @pages.post("/login")
    def login(
        request: Request, key: Annotated[str, Form(max_length=512)], csrf: Annotated[str, Form(max_length=128)]
    ) -> Response:
        if not same_token(request.cookies.get(CSRF_COOKIE), csrf):
            return RedirectResponse("/ui/login?error=expired", status_code=303)
        if request.app.state.keys.caller(f"Bearer {key}") is None:
            return RedirectResponse("/ui/login?error=unknown", status_code=303)
        response = RedirectResponse("/ui", status_code=303)
        response.set_cookie(
            KEY_COOKIE, key, httponly=True, samesite="strict", secure=request.url.scheme == "https", path="/"
        )
        return response

    @pages.post("/logout")
    def logout(request: Request, csrf: Annotated[str, Form(max_length=128)]) -> Response:
        response = RedirectResponse("/ui/login", status_code=303)
        if same_token(request.cookies.get(CSRF_COOKIE), csrf):
            response.delete_cookie(KEY_COOKIE, path="/")
        return response

    @pages.get("")
    def spaces(request: Request) -> Response:
        return render(request, "spaces.html", page="spaces")

    @pages.get("/bench")
    def bench(request: Request) -> Response:
        return render(request, "bench.html", page="bench")

    @pages.get("/spaces/{space}/memories/{memory_id}")
    def memory(request: Request, space: str, memory_id: int) -> Response:
        return render(request, "memory.html", page="memory", space=space, memory_id=memory_id, current="memories")

    @pages.get("/spaces/{space}/{name}")
    def space_page(request: Request, space: str, name: str) -> Response:
        if name not in SPACE_PAGES:
            return RedirectResponse(f"/ui/spaces/{space}/memories", status_code=303)
        return render(request, f"{name}.html", page=name, space=space, current=name)

    return pages
