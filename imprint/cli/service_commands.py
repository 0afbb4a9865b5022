"""Commands that serve, set up and diagnose: `imprint serve | mcp | keygen | doctor | demo`."""

import os
from pathlib import Path
from typing import Annotated

import typer

from ..errors import ImprintError
from ..extras import require
from .base import AsJson, DataDir, app, console, err, open_memory, print_json

KeysFile = Annotated[
    Path | None,
    typer.Option(
        "--keys",
        envvar="IMPRINT_KEYS_FILE",
        help='JSON {"keys": {"KEY": ["space", "team-*"]}}; none: open, loopback only.',
    ),
]


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8420,
    keys: KeysFile = None,
    data: DataDir = None,
) -> None:
    """Serve REST (/spaces, docs at /docs), OpenAI-compatible chat (/v1) and MCP (/mcp) over HTTP."""
    require("serve", "imprint serve")
    import uvicorn

    from ..errors import InputError
    from ..serve.app import create_app
    from ..serve.auth import Keys

    if keys is None and host not in ("127.0.0.1", "localhost", "::1"):
        raise InputError(f"refusing to serve on {host} without API keys: pass --keys FILE (or IMPRINT_KEYS_FILE)")
    api = create_app(open_memory(data), Keys.load(keys) if keys else None, host)
    err.print(f"imprint on http://{host}:{port}  (docs /docs, OpenAI /v1, MCP /mcp)")
    # SIGTERM: stop taking requests, give running ones 5 s, then exit
    uvicorn.run(api, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)


@app.command()
def mcp(
    space: Annotated[
        str | None,
        typer.Option("--space", "-s", help="Serve this space only (default: any; calls that name none use 'default')."),
    ] = None,
    data: DataDir = None,
) -> None:
    """MCP over stdio, for desktop and coding agents (remember, recall, ask, list, get, update, forget).
    Client configuration: docs/server.md."""
    require("serve", "imprint mcp")
    from ..serve.auth import Keys
    from ..serve.mcp_tools import build_mcp

    build_mcp(open_memory(data), Keys.open(), fixed_space=space).run("stdio")


@app.command()
def keygen(
    path: Annotated[Path, typer.Argument(help="Where to write the key; keep it outside the data folder.")],
    as_json: AsJson = False,
) -> None:
    """Write a new random master key (readable by you only). Set IMPRINT_KEY_FILE to it to encrypt new spaces."""
    from ..store.crypto import new_master_key

    try:
        with open(path, "x", opener=lambda p, flags: os.open(p, flags, 0o600)) as out:
            out.write(new_master_key() + "\n")
    except FileExistsError:
        raise ImprintError(
            f"{path} exists: imprint never overwrites a key (data sealed with it would be lost)"
        ) from None
    if as_json:
        print_json({"key_file": str(path)})
        return
    console.print(f"wrote {path}; back it up: without it encrypted spaces cannot be read", markup=False)


@app.command()
def doctor(as_json: AsJson = False) -> None:
    """What a bug report needs: versions, CPU flags, the engine in use and why, models, data folder, encryption."""
    from ..config import Settings
    from ..doctor import report

    facts = report(Settings())
    if as_json:
        print_json(facts)
        return
    width = max(map(len, facts))
    for name, value in facts.items():  # plain lines: pasted whole into a bug report
        console.print(f"{name:<{width}}  {value}", markup=False, highlight=False, soft_wrap=True)


@app.command()
def demo(output: Path = Path("demo-output")) -> None:
    """Run the end-to-end demo on the packaged models."""
    from ..demo import run

    run(output)
