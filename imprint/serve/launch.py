"""Start `imprint serve` as a child process on a free loopback port and wait until it answers.

Tests and the load benchmark use it to talk to the real server, as a client would.
"""

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(
    data_dir: Path, keys_file: Path | None = None, timeout: float = 180, env: dict[str, str] | None = None
) -> Iterator[str]:
    """Yields the base URL; the server is stopped on exit. `env` adds environment (IMPRINT_* settings)."""
    import httpx2

    port = free_port()
    command = [sys.executable, "-m", "imprint.cli", "serve", "--port", str(port), "--data", str(data_dir)]
    if keys_file:
        command += ["--keys", str(keys_file)]
    process = subprocess.Popen(
        command,
        env=os.environ | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"} | (env or {}),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"imprint serve exited: {process.stderr.read().decode(errors='replace')}")
            try:
                httpx2.get(url + "/openapi.json", timeout=2)
                break
            except httpx2.TransportError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"imprint serve did not answer on {url} within {timeout:.0f} s") from None
                time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
