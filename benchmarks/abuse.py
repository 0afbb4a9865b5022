"""Replay the adversarial cases against a real `imprint serve` process and the CLI.

    python benchmarks/abuse.py

One row per case: what came back, seconds, the server's peak RSS so far, and whether everything
stored before the case is still there afterwards; the cases whose SQL differs on the Postgres store
run again against a server on a real PostgreSQL 15 (where one is installed). Writes
benchmarks/results/abuse.json. Each case was once a 500, a hang, a memory blow-up, data loss or an
open door (docs/hardening.md).
"""

import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2
from common import write_result
from rich.console import Console
from rich.table import Table
from rich.text import Text

from imprint.serve.launch import free_port

KEY = "k-abuse-0123456789abcdef"
ENV = os.environ | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def slow_pdf(pages: int = 2_000, stream_bytes: int = 5_000_000) -> bytes:
    """Many pages sharing one large content stream with a real font: pypdf re-reads the whole
    stream for every page (about 9 s a page here)."""
    from pypdf import PdfWriter
    from pypdf.generic import (
        ArrayObject,
        DecodedStreamObject,
        DictionaryObject,
        NameObject,
    )

    writer = PdfWriter()
    content = DecodedStreamObject()
    content.set_data(b"BT /F1 12 Tf 72 720 Td (hello world) Tj ET\n" * (stream_bytes // 44))
    shared = writer._add_object(content)
    font = writer._add_object(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
            }
        )
    )
    resources = DictionaryObject({NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})})
    for _ in range(pages):
        page = writer.add_blank_page(612, 792)
        page[NameObject("/Contents")] = ArrayObject([shared])
        page[NameObject("/Resources")] = resources
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def pdf_bomb(expands_to: int = 300_000_000) -> bytes:
    """One page whose content stream inflates to 300 MB from a few hundred KB."""
    import zlib

    from pypdf import PdfWriter
    from pypdf.generic import NameObject, StreamObject

    writer = PdfWriter()
    stream = StreamObject()
    stream.set_data(zlib.compress(b" " * expands_to, 9))
    stream[NameObject("/Filter")] = NameObject("/FlateDecode")
    writer.add_blank_page(612, 792)[NameObject("/Contents")] = writer._add_object(stream)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def text_pdf(characters: int = 15_000_000) -> bytes:
    """One page whose compressed text stream is a few KB and extracts to `characters` characters."""
    import zlib

    from pypdf import PdfWriter
    from pypdf.generic import DictionaryObject, NameObject, StreamObject

    writer = PdfWriter()
    stream = StreamObject()
    stream.set_data(zlib.compress(b"BT /F1 1 Tf 0 0 Td (" + b"a" * characters + b") Tj ET", 9))
    stream[NameObject("/Filter")] = NameObject("/FlateDecode")
    page = writer.add_blank_page(612, 792)
    page[NameObject("/Contents")] = writer._add_object(stream)
    font = writer._add_object(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
            }
        )
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
    )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def raw_upload(http: httpx2.Client, name: bytes, payload: bytes) -> httpx2.Response:
    """A multipart upload written by hand: client libraries clean odd file names before sending."""
    body = (
        b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="'
        + name
        + b'"\r\nContent-Type: text/plain\r\n\r\n'
        + payload
        + b"\r\n--b0undary--\r\n"
    )
    return http.post(
        "/spaces/main/files", content=body, headers={"content-type": "multipart/form-data; boundary=b0undary"}
    )


def cases(http: httpx2.Client, url: str, data: Path, port: int) -> list[tuple[str, callable]]:
    def status(response: httpx2.Response) -> str:
        return f"{response.status_code} {response.text[:70]}"

    def space_prefix() -> str:
        http.post("/spaces/archive.sqlite-old/memories", json={"text": "the archive's own note"})
        http.post("/spaces/archive/memories", json={"text": "to be deleted"})
        return status(http.delete("/spaces/archive"))

    def deleted_elsewhere() -> str:
        http.post("/spaces/gone/memories", json={"text": "old secret"})
        subprocess.run(
            [sys.executable, "-m", "imprint.cli", "forget", "--all", "--yes", "--space", "gone", "--data", str(data)],
            env=ENV,
            check=True,
            capture_output=True,
        )
        return status(http.get("/spaces/gone/memories"))

    def upload(name: str, payload: bytes):
        return lambda: status(http.post("/spaces/main/files", files={"file": (name, payload)}))

    def update_back() -> str:
        [first] = http.post("/spaces/upd/memories", json={"text": "The hint is orange kettle."}).json()["memory_ids"]
        [second] = http.put(f"/spaces/upd/memories/{first}", json={"text": "The hint is purple lamp."}).json()[
            "memory_ids"
        ]
        back = http.put(f"/spaces/upd/memories/{second}", json={"text": "The hint is orange kettle."})
        live = [m["text"] for m in http.get("/spaces/upd/memories").json()["memories"]]
        return f"{back.status_code}, live versions: {len(live)}"

    def update_to_another() -> str:
        [mine] = http.post("/spaces/upd2/memories", json={"text": "The hint is orange kettle."}).json()["memory_ids"]
        http.post("/spaces/upd2/memories", json={"text": "Tomas keeps the spare key."})
        return status(http.put(f"/spaces/upd2/memories/{mine}", json={"text": "Tomas keeps the spare key."}))

    def numbers_by_value() -> str:
        http.post("/spaces/nums/memories", json={"text": "A measured thing.", "metadata": {"n": 3}})
        hits = http.post("/spaces/nums/search", json={"query": "thing", "filters": {"n": 3.0}}).json()["hits"]
        return f"{len(hits)} hit"

    def newline_source() -> str:
        [made] = http.post(
            "/spaces/names/memories", json={"text": "Named oddly.", "source": "a\nb" + "c" * 400}
        ).json()["memory_ids"]
        response = http.get(f"/spaces/names/memories/{made}/raw/original")
        return f"{response.status_code} {response.headers.get('content-disposition', '')[:50]}"

    deep_turn: object = "leaf"
    for _ in range(900):
        deep_turn = {"x": deep_turn}
    document = " ".join(
        f"Mira Okafor met Jonas Berg on day {n} and Mira Okafor lent Jonas Berg a book." for n in range(3_000)
    )
    return [
        ("1 delete a space whose name prefixes another's", space_prefix),
        ("2 space deleted by another process", deleted_elsewhere),
        (
            "3 upload with Origin: evil.example",
            lambda: status(
                http.post(
                    "/spaces/main/files",
                    files={"file": ("x.txt", b"planted")},
                    headers={"Origin": "http://evil.example"},
                )
            ),
        ),
        (
            "3 read with Host: evil.example (DNS rebinding)",
            lambda: status(http.get("/spaces/main/memories", headers={"Host": f"evil.example:{port}"})),
        ),
        (
            "4 50 MB of text in one memory",
            lambda: status(
                http.post(
                    "/spaces/main/memories",
                    content=b'{"text": "' + b"a " * 25_000_000 + b'"}',
                    headers={"content-type": "application/json"},
                )
            ),
        ),
        (
            "4 one million turns",
            lambda: status(
                http.post(
                    "/spaces/main/turns",
                    content=json.dumps({"turns": [{"text": "hi"}] * 1_000_000}),
                    headers={"content-type": "application/json"},
                )
            ),
        ),
        ("5 odd-length UTF-16 after a BOM", upload("odd.txt", b"\xff\xfe" + "hi".encode("utf-16-le") + b"\x00")),
        ("5 bad UTF-8 after a BOM", upload("bad.txt", b"\xef\xbb\xbfok \xff broken")),
        ("5 100k nested [ in JSON", upload("deep.json", b"[" * 100_000)),
        (
            "6 a turn nested 900 levels",
            lambda: status(
                http.post(
                    "/spaces/main/turns",
                    content=json.dumps({"turns": [{"text": "hello there", "x": deep_turn}]}),
                    headers={"content-type": "application/json"},
                )
            ),
        ),
        ("5 a PDF stream that inflates to 300 MB", upload("bomb.pdf", pdf_bomb())),
        ("7 2,000 pages sharing a 5 MB stream", upload("slow.pdf", slow_pdf())),
        (
            "8 200 KB naming the same two people 6,000 times",
            lambda: status(http.post("/spaces/names/memories", json={"text": document})),
        ),
        ("14 limit 99999999999999999999", lambda: status(http.get("/spaces/main/memories?limit=99999999999999999999"))),
        ("15 upload named ..", lambda: status(raw_upload(http, b"..", b"text"))),
        ("15 upload name with NUL", lambda: status(raw_upload(http, b"a\x00b.txt", b"text"))),
        (
            "16 a prompt over the model's window",
            lambda: status(
                http.post(
                    "/v1/chat/completions",
                    json={"model": "gemma3-270m", "messages": [{"role": "user", "content": "word " * 40_000}]},
                )
            ),
        ),
        (
            "17 space name with a trailing newline",
            lambda: status(http.post("/spaces/main%0A/memories", json={"text": "x"})),
        ),
        ("20 error names the upload, not a path", upload("notes.txt", b"\xef\xbb\xbfbad \xff")),
        (
            "22 a 200,000-word query",
            lambda: status(http.post("/spaces/main/search", json={"query": "word " * 200_000})),
        ),
        ("R2-2 an update back to an earlier text", update_back),
        (
            "R2-3 a search with 3,000 filter keys",
            lambda: status(
                http.post(
                    "/spaces/main/search", json={"query": "Mira", "filters": {f"k{i}": "v" for i in range(3_000)}}
                )
            ),
        ),
        (
            "R2-3 a search with 32 filter keys (the most allowed)",
            lambda: status(
                http.post("/spaces/main/search", json={"query": "Mira", "filters": {f"k{i}": "v" for i in range(32)}})
            ),
        ),
        ("R2-4 an update to another memory's text", update_to_another),
        ("R2-8 a 40 KB PDF of 15 million characters", upload("wide.pdf", text_pdf())),
        (
            "R2-9 forget source ~nosuchuser",
            lambda: status(http.delete("/spaces/main/sources", params={"source": "~nosuchuser"})),
        ),
        (
            "R2-9 forget source a NUL b",
            lambda: status(http.delete("/spaces/main/sources", params={"source": "a\x00b"})),
        ),
        (
            "R2-10 metadata NaN and Infinity",
            lambda: status(
                http.post(
                    "/spaces/main/memories",
                    content=b'{"text": "x y z", "metadata": {"score": NaN, "inf": Infinity}}',
                    headers={"content-type": "application/json"},
                )
            ),
        ),
        ("R2-11 filter 3.0 on stored 3", numbers_by_value),
        ("R2-12 original of a source with a newline", newline_source),
        (
            "R2-16 operation ids in /openapi.json",
            lambda: (lambda ids: f"{len(ids)} operations, {len(set(ids))} ids")(
                [op["operationId"] for ops in http.get("/openapi.json").json()["paths"].values() for op in ops.values()]
            ),
        ),
    ]


def cli_cases(folder: Path) -> list[tuple[str, callable]]:
    def run(*args: str, timeout: float = 60, env: dict | None = None, raw: bool = False) -> str:
        try:
            done = subprocess.run(
                [sys.executable, "-m", "imprint.cli", *args, "--data", str(folder / "cli")],
                env=ENV | (env or {}),
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return f"timed out after {timeout:.0f} s"
        if raw:
            return done.stdout
        lines = (done.stderr + done.stdout).strip().splitlines()
        shown = next((line for line in lines if "urgent" in line or "error" in line or "skipped" in line), lines[-1])
        return f"exit {done.returncode} {' '.join(shown.split())[:70]}"

    (folder / "zero.txt").symlink_to("/dev/zero")
    os.mkfifo(folder / "pipe.txt")
    keys = folder / "keys.json"
    keys.write_text(json.dumps({"keys": {"stdio": ["*"]}}))
    (folder / "markup.md").write_text("TODO [urgent] before [b]Friday[/b] [/quote]")
    (folder / "outside.txt").write_text("root:x:0:0:root:/root:/bin/bash")
    repo = folder / "repo"
    repo.mkdir()
    (repo / "notes.md").write_text("The repository's own note.")
    (repo / "passwd.txt").symlink_to(folder / "outside.txt")
    (repo / "evil\x1b[31mred.md").write_text("A file with an escape sequence in its name.")
    escaped = folder / "escaped"
    escaped.mkdir()
    (escaped / "keys.json").write_text('{"turns": [{"speaker": "a", "text": "\\u0041KIAIOSFODNN7EXAMPLE"}]}')
    (escaped / "Credentials.json").write_text('{"user": "a"}')

    def linked() -> str:
        synced = run("sync", str(repo), "--space", "repo")
        found = run("search", "root bash", "--space", "repo", "--json", raw=True)
        return f"{synced[:40]}; root:x in search: {'root:x' in found}"

    def copied_space() -> str:
        key = {"IMPRINT_KEY": "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE="}
        run("add", str(folder / "outside.txt"), "--space", "e2", env=key)
        (folder / "cli" / "e3.sqlite").write_bytes((folder / "cli" / "e2.sqlite").read_bytes())
        return run("list", "--space", "e3", env=key)

    return [
        ("R2-1 sync of a folder with a link to a file outside it", linked),
        (
            "R2-6 and 15 secrets in JSON escapes and Credentials.json",
            lambda: run("add", str(escaped), "--space", "esc"),
        ),
        ("R2-13 an encrypted space file copied under another name", copied_space),
        (
            "R2-14 a file name with an ESC sequence, imprint list",
            lambda: "ESC printed raw" if "\x1b" in run("list", "--space", "repo", raw=True) else "escaped",
        ),
        (
            "9 [/quote] and [b] in a memory, imprint list",
            lambda: (run("add", str(folder / "markup.md")), run("list"))[1],
        ),
        (
            "18 a keys file with a key named 'stdio'",
            lambda: run("serve", "--keys", str(keys), "--port", str(free_port()), timeout=30),
        ),
        ("19 imprint add on a link to /dev/zero", lambda: run("add", str(folder / "zero.txt"))),
        ("19 imprint add on a FIFO", lambda: run("add", str(folder / "pipe.txt"))),
    ]


def _ignore(call) -> None:
    try:
        call()
    except httpx2.HTTPError:
        pass


POSTGRES_CASES = ("R2-2", "R2-3", "R2-4", "R2-9", "R2-11")  # what the Postgres store does in its own SQL


def start_server(data: Path, env: dict) -> tuple[subprocess.Popen, httpx2.Client, int]:
    """`imprint serve` on a free loopback port, its client once it answers, with two memories stored."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "imprint.cli", "serve", "--port", str(port), "--data", str(data)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    http = httpx2.Client(base_url=f"http://127.0.0.1:{port}", timeout=600)
    for _ in range(600):
        try:
            http.get("/openapi.json")
            break
        except httpx2.TransportError:
            time.sleep(0.3)
    http.post("/spaces/main/memories", json={"text": "Mira Quenton moved to Tallinn in 2021."})
    http.post("/spaces/main/files", files={"file": ("pets.md", b"Ana has a parrot named Kiwi.")})
    return server, http, port


def replay(
    server: subprocess.Popen, http: httpx2.Client, chosen: list[tuple[str, callable]], console: Console, label: str = ""
) -> list[dict]:
    """Each case once, with its outcome, seconds, the server's peak RSS and whether the data held."""

    def intact() -> bool:
        texts = [m["text"] for m in http.get("/spaces/main/memories").json()["memories"]]
        archive = http.get("/spaces/archive.sqlite-old/memories")
        return (
            texts[:2] == ["Mira Quenton moved to Tallinn in 2021.", "Ana has a parrot named Kiwi."]
            and archive.status_code in (200, 404)
            and (archive.status_code == 404 or "archive" in archive.text)
        )

    rows = []
    for name, case in chosen:
        start = time.perf_counter()
        try:
            outcome = case()
        except httpx2.HTTPError as error:
            outcome = f"{type(error).__name__}: {error}"[:80]
        seconds = time.perf_counter() - start
        rows.append(
            {
                "case": name + label,
                "outcome": outcome,
                "seconds": round(seconds, 2),
                "server_peak_rss_mb": round(peak_rss_mb(server.pid), 0),
                "data_intact": intact(),
            }
        )
        console.print(f"{name}{label}: {outcome} ({seconds:.1f} s)", markup=False)
    return rows


def on_postgres(folder: Path, console: Console) -> list[dict]:
    """The cases whose SQL differs on the Postgres store, against a server on a real PostgreSQL 15."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from pg_server import PostgresServer, missing

    if missing():
        console.print(f"Postgres cases skipped: {missing()}", markup=False)
        return []
    postgres = PostgresServer()
    try:
        server, http, port = start_server(folder / "pg-data", ENV | {"IMPRINT_STORE": postgres.new_database()})
        chosen = [
            (name, case)
            for name, case in cases(http, str(http.base_url), folder / "pg-data", port)
            if name.startswith(POSTGRES_CASES)
        ]
        rows = replay(server, http, chosen, console, " [postgres]")
        server.terminate()
        server.wait(30)
        return rows
    finally:
        postgres.stop()


def main() -> None:
    console = Console(width=200)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        data = folder / "data"
        server, http, port = start_server(data, ENV)
        rows = replay(server, http, cases(http, str(http.base_url), data, port) + cli_cases(folder), console)
        # SIGTERM while a 200 KB document is being ingested: the server stops within its 5 s grace
        import threading

        busy = threading.Thread(
            target=lambda: _ignore(
                lambda: http.post(
                    "/spaces/late/memories",
                    json={"text": " ".join(f"Ana Lopez met Ivo Petrov on day {n}." for n in range(6_000))},
                )
            )
        )
        busy.start()
        time.sleep(3)
        started = time.perf_counter()
        server.terminate()
        try:
            server.wait(30)
            stop = f"stopped (exit {server.returncode}) {time.perf_counter() - started:.1f} s after SIGTERM"
        except subprocess.TimeoutExpired:
            server.kill()
            stop = "still running 30 s after SIGTERM: killed"
        busy.join()
        rows.append(
            {
                "case": "4 SIGTERM during a long ingest",
                "outcome": stop,
                "seconds": round(time.perf_counter() - started, 2),
                "server_peak_rss_mb": None,
                "data_intact": None,
            }
        )
        rows += on_postgres(folder, console)
    table = Table("case", "outcome", "s", "server peak RSS MB", "data intact")
    for row in rows:
        table.add_row(
            *(
                Text(cell)
                for cell in (
                    row["case"],
                    row["outcome"],
                    f"{row['seconds']:.2f}",
                    str(row["server_peak_rss_mb"] or "-"),
                    {True: "yes", False: "NO", None: "-"}[row["data_intact"]],
                )
            )
        )
    console.print(table)
    print(write_result("abuse", {"command": "python benchmarks/abuse.py", "cases": rows}))


if __name__ == "__main__":
    main()
