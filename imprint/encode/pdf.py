"""PDF text, read in a child process with a time and page budget.

A small hostile PDF can cost minutes a page (2,000 pages sharing one 5 MB content stream: ~155 s
each) or expand far past its size; pypdf cannot be interrupted in the middle of a page. So the
parse runs in a child that is killed at the deadline: ingest, and the server request behind it,
get a ParseError instead of a stuck worker. Cost: ~0.3 s to start the child per PDF.

Run as a script by path (it imports nothing of imprint's): PDF bytes on stdin, JSON on stdout.
"""

import json
import subprocess
import sys
from pathlib import Path

MAX_SECONDS = 60.0
MAX_PAGES = 5_000
MAX_CHARS = 2_000_000  # a 38 KB PDF yielded 15 million characters, all to be embedded: stop past this


class PdfError(Exception):
    """Why a PDF could not be read (the caller names the file)."""


def pdf_text(
    data: bytes, max_seconds: float = MAX_SECONDS, max_pages: int = MAX_PAGES, max_chars: int = MAX_CHARS
) -> str:
    """The text of every page, pages separated by a blank line."""
    command = [sys.executable, str(Path(__file__).resolve()), str(max_pages), str(max_chars)]
    try:
        done = subprocess.run(command, input=data, capture_output=True, timeout=max_seconds)
    except subprocess.TimeoutExpired:
        raise PdfError(
            f"reading it took over {max_seconds:.0f} s; stopped (a PDF that costs this much to read is refused)"
        ) from None
    if done.returncode != 0:
        last = (done.stderr.decode(errors="replace").strip().splitlines() or [f"exit {done.returncode}"])[-1]
        raise PdfError(f"not a readable PDF ({last[-200:]})")
    answer = json.loads(done.stdout)
    if "error" in answer:
        raise PdfError(answer["error"])
    return answer["text"]


def _read(data: bytes, max_pages: int, max_chars: int) -> dict:
    import io

    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        if len(reader.pages) > max_pages:
            return {"error": f"{len(reader.pages):,} pages; at most {max_pages:,} are read"}
        pages, chars = [], 0
        for number, page in enumerate(reader.pages, 1):
            pages.append(page.extract_text() or "")
            chars += len(pages[-1])
            if chars > max_chars:
                return {
                    "error": f"its text runs past {max_chars:,} characters by page {number} of "
                    f"{len(reader.pages):,} (a document this long is refused: split it)"
                }
        return {"text": "\n\n".join(pages)}
    except Exception as error:  # pypdf on untrusted bytes: any failure is "not readable", said once
        return {"error": f"not a readable PDF ({type(error).__name__}: {error})"[:300]}


if __name__ == "__main__":
    sys.stdout.write(json.dumps(_read(sys.stdin.buffer.read(), int(sys.argv[1]), int(sys.argv[2]))))
