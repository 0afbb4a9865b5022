"""The HTTP server: REST (/spaces, /jobs), OpenAI-compatible (/v1), MCP (/mcp), docs at /docs."""

import contextlib

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartParser
from starlette.staticfiles import StaticFiles

from ..config import VERSION
from ..errors import ImprintError, InputError, NotFoundError
from ..jobs import JobRunner, open_queue
from ..memory import Memory
from . import chat, reports, rest, ui
from .auth import Keys
from .guard import RequestGuard, allowed_hosts
from .mcp_tools import build_mcp

OPENAI_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
}


def speaks_openai(request: Request) -> bool:
    """The OpenAI-compatible routes, whose clients expect OpenAI's error shape."""
    return request.url.path.startswith("/v1/")


def error_response(
    request: Request, status: int, message: str, param: str | None = None, headers: dict | None = None
) -> JSONResponse:
    """An error as its caller expects it: OpenAI's `{"error": {message, type, param, code}}` under
    /v1, `{"detail": message}` elsewhere (FastAPI's)."""
    if not speaks_openai(request):
        return JSONResponse({"detail": message}, status_code=status, headers=headers)
    code = {401: "invalid_api_key", 404: "model_not_found" if "model" in message else "not_found"}.get(status)
    body = {"message": message, "type": OPENAI_ERROR_TYPES.get(status, "server_error"), "param": param, "code": code}
    return JSONResponse({"error": body}, status_code=status, headers=headers)


class Health(BaseModel):
    status: str
    version: str
    engine: str = Field(description="what generates local answers: llama.cpp or transformers")
    store: str
    embedder: str
    keys_required: bool


def create_app(memory: Memory, keys: Keys | None = None, host: str = "127.0.0.1") -> FastAPI:
    keys = keys or Keys.open()
    mcp = build_mcp(memory, keys)
    mcp_app = mcp.streamable_http_app(streamable_http_path="/mcp", host=host)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI):
        async with mcp.session_manager.run():
            yield

    # FastAPIOffline: /docs and /redoc from files in the package, never a CDN (blank pages offline)
    app = FastAPIOffline(
        title="imprint",
        version=VERSION,
        lifespan=lifespan,
        description="Long-term memory for language models: REST, OpenAI-compatible chat, MCP.",
    )
    app.state.memory, app.state.keys, app.state.jobs = memory, keys, job_runner(memory)
    app.include_router(rest.router)
    app.include_router(reports.router)
    app.include_router(chat.router())
    app.include_router(ui.router())
    app.mount("/ui/static", StaticFiles(directory=ui.STATIC), name="ui-static")

    @app.get("/", tags=["service"])
    def index() -> dict[str, str]:
        """Where things are."""
        return {
            "name": "imprint",
            "version": VERSION,
            "docs": "/docs",
            "openapi": "/openapi.json",
            "rest": "/spaces",
            "openai": "/v1",
            "mcp": "/mcp",
            "health": "/health",
            "ui": "/ui",
        }

    @app.get("/health", tags=["service"])
    def health() -> Health:
        """Up, and with what: no key needed, no path or space named."""
        return Health(
            status="ok",
            version=VERSION,
            engine=memory.engine.name,
            store="sqlite",
            embedder=memory.embedder.name,
            keys_required=keys.required,
        )

    @app.exception_handler(ImprintError)
    async def imprint_error(request: Request, error: ImprintError) -> JSONResponse:
        status = 404 if isinstance(error, NotFoundError) else 400 if isinstance(error, InputError) else 500
        return error_response(request, status, str(error))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        return error_response(
            request, error.status_code, str(error.detail), getattr(error, "param", None), error.headers
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        """FastAPI's default echoes the input back, which fails on values JSON cannot hold (Infinity)
        and repeats secrets into logs; where and why is enough."""
        details = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in error.errors()]
        if speaks_openai(request):
            first = details[0]
            where = ".".join(str(part) for part in first["loc"] if part != "body")
            return error_response(request, 400, f"{where}: {first['msg']}", where or None)
        return JSONResponse({"detail": details}, status_code=422)

    @app.middleware("http")
    async def page_headers(request: Request, call_next):
        """The web page's security headers (a strict Content-Security-Policy among them)."""
        response = await call_next(request)
        if request.url.path.startswith("/ui"):
            for name, value in ui.PAGE_HEADERS.items():
                response.headers.setdefault(name, value)
        return response

    @app.middleware("http")
    async def mcp_needs_a_key(request: Request, call_next):
        if request.url.path.startswith("/mcp") and keys.caller_of(request.headers) is None:
            return JSONResponse(
                {"detail": "missing or unknown API key"}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
            )
        return await call_next(request)

    async def mcp_or_not_found(scope, receive, send) -> None:
        """Mounted last, at /: /mcp goes to the MCP app; any other unknown path gets a JSON 404 in
        the shape its caller expects (the MCP app would answer plain text)."""
        if scope["type"] == "http" and not scope["path"].startswith("/mcp"):
            response = error_response(Request(scope), 404, f"no route {scope['path']!r}; see /docs")
            return await response(scope, receive, send)
        await mcp_app(scope, receive, send)

    app.mount("/", mcp_or_not_found)
    s = memory.settings
    # uploads stay in memory up to the file limit: Starlette spools larger parts to a temporary file,
    # which would put an encrypted space's plaintext on disk
    MultiPartParser.spool_max_size = max(MultiPartParser.spool_max_size, s.max_file_bytes + 1)
    if s.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=s.cors_origins,
            allow_methods=["*"],
            allow_headers=["authorization", "x-api-key", "content-type"],
        )
    app.add_middleware(
        RequestGuard,
        hosts=allowed_hosts(host, s.allowed_hosts),
        origins=set(s.cors_origins),
        max_body=s.max_request_bytes,
        max_upload=s.max_file_bytes + 1_000_000,
    )  # multipart framing
    return app


def job_runner(memory: Memory) -> JobRunner:
    """On the Postgres store consolidations go to the shared queue (any server answers about any job);
    on SQLite they run in this server's threads."""
    if memory.settings.store:
        return open_queue(memory)
    from ..jobs.threads import ThreadJobs

    return ThreadJobs(memory)
