"""A real PostgreSQL server for the tests: initdb and pg_ctl in a temporary folder, on a free port.

It needs PostgreSQL 15 and pgvector on the machine (scripts/install_pgvector.sh; .ci/run runs it). As
root (CI), the server runs as the `postgres` user, since Postgres refuses to run as root. Every test
database is made from template1, where the extensions are created once by the superuser (pgvector
is not a trusted extension); imprint itself connects as an ordinary role, so row-level security
applies to it.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import psycopg

from imprint.store.postgres import KEYWORD_INDEX_STATEMENT

POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")
EXTENSIONS = Path("/usr/share/postgresql/15/extension")
ROLE = "imprint"


def missing() -> str | None:
    """Why no server can be started here, or None."""
    if not (POSTGRES_BIN / "initdb").exists():
        return f"PostgreSQL 15 is not installed ({POSTGRES_BIN})"
    if not (EXTENSIONS / "vector.control").exists():
        return "pgvector is not installed: run scripts/install_pgvector.sh as root"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="imprint-pg-"))
        self.port = _free_port()
        self._as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as_postgres:
            shutil.chown(self.folder, "postgres")
        data = self.folder / "data"
        self._run("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._run("pg_ctl", "-D", str(data), "-o", options, "-l", str(self.folder / "log"), "-w", "start")
        with self.admin("template1") as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            conn.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
            conn.execute(KEYWORD_INDEX_STATEMENT)  # per database: template1 passes it to every new one
            conn.execute(f"CREATE ROLE {ROLE} LOGIN")

    def _run(self, program: str, *args: str) -> None:
        subprocess.run(
            [*self._as_postgres, str(POSTGRES_BIN / program), *args], check=True, capture_output=True, cwd=self.folder
        )

    def admin(self, database: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/{database}", autocommit=True)

    def new_database(self) -> str:
        """A fresh database owned by the ordinary role; its URL."""
        name = "t_" + uuid.uuid4().hex[:12]
        with self.admin() as conn:
            conn.execute(f"CREATE DATABASE {name} OWNER {ROLE}")
        return f"postgresql://{ROLE}@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "immediate", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)
