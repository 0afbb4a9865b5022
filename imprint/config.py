"""Settings, read from arguments or IMPRINT_* environment variables, checked at start-up.

Every default works offline on a 2-core CPU: the packaged Gemma 3 270M base model and the
packaged all-MiniLM-L6-v2 embedder.
"""

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

VERSION = "0.2.0"
DEFAULT_MODEL = "gemma3-270m"


class Settings(BaseSettings):
    """Typed configuration; unknown keys are refused so a typo never passes silently."""

    model_config = SettingsConfigDict(env_prefix="IMPRINT_", extra="forbid")

    data_dir: Path = Field(
        Path("imprint-data"),
        description="One SQLite file per space lives here (unless `store` is set), and every space's adapters.",
    )
    store: str | None = Field(
        None,
        description="postgresql://user@host/database: every space in one Postgres database with pgvector, "
        "shared by several servers and workers (docs/deployment.md). Unset: SQLite in data_dir.",
    )
    store_connections: int = Field(
        16,
        ge=1,
        description="Postgres store: how many spaces one process keeps connected; the least recently "
        "used beyond that close their connection until used again (several servers and "
        "workers share the database's max_connections).",
    )
    cache_dir: Path = Field(
        Path.home() / ".cache" / "imprint",
        description="Float copies of packaged GGUF models (dequantised once), llama.cpp self-check verdicts, "
        "the portable llama.cpp wheel.",
    )
    model: str = Field(
        DEFAULT_MODEL,
        description="'gemma3-270m' (packaged), a local Hugging Face directory, or a .gguf file.",
    )
    profile: Literal["small", "quality"] = Field(
        "small",
        description="small: the base model reads and answers (Gemma 3 270M by default). quality: a "
        "1.5B instruct model (Qwen2.5-Coder-1.5B, `imprint models install quality`) reads the "
        "memories for index, context and hybrid, about 6 s per answer on 2 cores; adapters "
        "stay on the base model.",
    )
    reader: Path | None = Field(
        None,
        description="A .gguf file that reads retrieved memories instead of the base model (llama.cpp); "
        "adapters stay on the base model. Set, it wins over the profile's reader.",
    )
    embedder: str | None = Field(
        None,
        description="What embeds memories and questions: 'all-MiniLM-L6-v2' (packaged), 'embeddinggemma-300m' "
        "(`imprint models install quality`), or a local sentence-transformers folder. Default: the "
        "profile's (small: MiniLM, quality: EmbeddingGemma). A space keeps the embedder its vectors "
        "came from: `imprint reindex` moves it to another.",
    )
    reader_context: int = Field(
        4096, ge=512, description="The reader's context window in tokens (its KV cache is allocated for it)."
    )
    engine: Literal["auto", "llama.cpp", "transformers"] = Field(
        "auto",
        description="What generates local answers. auto: llama.cpp when the model is a GGUF file (the "
        "default is), llama-cpp-python is installed and its self-check in a child process "
        "passed on this CPU, else transformers. Training always uses transformers; adapters "
        "are converted for llama.cpp on first use.",
    )
    chunk_tokens: int = Field(200, ge=16, description="Maximum embedder tokens per chunk.")
    chunk_overlap: int = Field(30, ge=0, description="Tokens shared by neighbouring chunks.")
    answer_tokens: int = Field(48, ge=1, description="Room left for the answer in the prompt.")
    context_tokens: int | None = Field(
        None, ge=256, description="Cap on the prompt for strategy=context; default: the model's limit."
    )
    activation_bytes: int = Field(
        2 * 1024**3,
        ge=0,
        description="Disk kept for the context tier's computed prompt states (activations/, all "
        "spaces together; least recently used evicted first): a question about a space whose state "
        "is kept computes only the question. 0 keeps none.",
    )
    min_information: int = Field(
        2,
        ge=0,
        description="Conversation turns with fewer content words (not stopwords or filler) are kept "
        "raw but not indexed; 0 indexes every turn. `imprint dropped` lists them.",
    )
    extract: Literal["off", "rules", "teacher"] = Field(
        "rules",
        description="What a memory says. rules: a conversation turn as said, each relative date "
        "(yesterday, last week) followed by the date it meant; teacher: also each statement "
        "(turns and document chunks) rewritten by the teacher model as standalone facts, kept "
        "when grounded; off: as said. The raw data stays as it came.",
    )
    duplicate_similarity: float = Field(
        0.97,
        gt=0,
        le=1.01,
        description="A chunk this similar (cosine) to a memory already held is kept raw "
        "but not indexed again; above 1 turns it off.",
    )
    auto_context_tokens: int = Field(
        1024,
        ge=0,
        description="strategy auto reads the whole space (context) only when it is at most this "
        "many tokens: on a CPU a long prompt costs far more than it adds.",
    )
    min_relative_score: float = Field(
        0.5,
        ge=0,
        le=1,
        description="index and hybrid leave out retrieved memories scoring below this share of "
        "the best one: a small reader is easily led astray by weak matches.",
    )
    min_evidence: float | None = Field(
        None,
        ge=-1,
        le=1,
        description="Abstain without asking the reader when the closest memory's cosine "
        "similarity to the question is below this. Default: the embedder's (MiniLM "
        "0.35, EmbeddingGemma 0.40: below LoCoMo's answerable questions in 95%, above "
        "'hi'); set it for an embedder of your own. -1: never.",
    )
    abstain: bool = Field(
        True,
        description="Say the memory does not hold it when the evidence is weak (min_evidence) or the reader's "
        "answer shares no word with the memories it was shown; the weights tier is not asked about "
        "names no memory mentions.",
    )
    rerank: bool = Field(
        True,
        description="ask reorders the 50 best search hits by late interaction over MiniLM's token vectors "
        "before it reads the top k (LoCoMo evidence recall@5 0.51 -> 0.60; ~0.2 s per "
        "question). A plain search does not, unless asked to.",
    )
    sparse: bool = Field(
        True,
        description="ask also orders those 50 hits by SPLADE-tiny, a learned sparse match that weighs the words a "
        "memory implies as well as those it says, when it is installed (`imprint models install splade-tiny`, "
        "17 MB; make does it). Costs ~10 ms per memory the process has not seen yet.",
    )
    graph: bool = Field(
        False,
        description="Search spreads its best dense matches one step over the entity graph (to the memories "
        "about the names they mention): multi-hop questions find their second memory. Off: the "
        "memories it adds cost the 270M reader more single-hop answers than it won (docs/architecture.md).",
    )
    focus: bool = Field(
        True,
        description="index and hybrid keep the retrieved memories that share a name with the question (and "
        "those one name away) when any does: a small reader copies other people's facts.",
    )
    supersede: bool = Field(
        True,
        description="Answers see a sentence a newer memory replaced as what it says now (the stored text "
        "stays, and is shown when a question asks about the past).",
    )
    auto_closed_book: bool = Field(
        False,
        description="strategy auto answers from the adapter alone (weights) when it learned every best "
        "match; off: hybrid, which measured more accurate with the 270M model.",
    )
    stable_days: float = Field(
        0,
        ge=0,
        description="Consolidation policy: a memory moves into the weights once it was added, and last "
        "changed by a newer memory, at least this many days ago (0: at once).",
    )
    min_uses: int = Field(
        0,
        ge=0,
        description="Consolidation policy: ... and was put in front of the model for at least this many "
        "answers (0: used or not).",
    )
    max_file_bytes: int = Field(50_000_000, ge=1, description="Larger files (and uploads) are refused.")
    max_request_bytes: int = Field(
        8_000_000, ge=1024, description="imprint serve: larger request bodies (other than file uploads) get 413."
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="imprint serve: Host names it answers to besides the address it is bound "
        "to (a name behind a proxy); others get 421 (DNS rebinding).",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="imprint serve: web origins (https://app.example) allowed to call it from a "
        "browser; other cross-site requests get 403.",
    )
    bench_dir: Path = Field(
        Path("bench-output"),
        description="imprint serve: the folder whose bench reports (each a folder with "
        "report.json and PNG plots, as `imprint bench --out` writes) the web page shows.",
    )
    threads: int = Field(2, ge=1, description="Torch threads.")
    answer_url: str | None = Field(
        None,
        description="An OpenAI-compatible server (ends in /v1) that answers index/context questions "
        "instead of the local model. Adapters (strategy=weights) stay local.",
    )
    answer_model: str = Field("default", description="Model name sent to answer_url.")
    teacher: str | None = Field(
        None,
        description="Who writes extra training questions at consolidation (and facts for extract=teacher): "
        "'local' (the local reader: the quality profile's 1.5B model, else the base model), "
        "the path of a .gguf instruct model (e.g. the 1.5B one while Gemma reads), an "
        "OpenAI-compatible server URL, or 'off' (templates only). Default: the profile's "
        "(small: off; quality: local).",
    )
    teacher_model: str = Field("default", description="Model name sent to a teacher server.")
    remote_api_key: str | None = Field(None, description="API key for answer_url and a teacher server.")
    key_file: Path | None = Field(
        None,
        description="Master key file (make one: imprint keygen). Set, new spaces are encrypted at rest. "
        "It must not live inside data_dir.",
    )
    key: SecretStr | None = Field(None, description="The master key itself (base64), instead of key_file.")

    @field_validator("store")
    @classmethod
    def _postgres_url(cls, url: str | None) -> str | None:
        if url and not url.startswith(("postgresql://", "postgres://")):
            raise ValueError(f"store must be a postgresql:// URL (or unset for SQLite), not {url.split('@')[-1]!r}")
        return url or None

    @field_validator("chunk_overlap")
    @classmethod
    def _overlap_below_size(cls, overlap: int, info) -> int:
        size = info.data.get("chunk_tokens", 200)
        if overlap >= size:
            raise ValueError(f"chunk_overlap ({overlap}) must be smaller than chunk_tokens ({size})")
        return overlap


def settings_markdown() -> str:
    """docs/configuration.md: every setting with its variable, type, default and description
    (`python scripts/settings_doc.py` writes it; a test checks it is current)."""
    rows = ["| variable | type | default | what it does |", "|---|---|---|---|"]
    for name, field in Settings.model_fields.items():
        kind = str(field.annotation).replace("typing.", "").replace("<class '", "").replace("'>", "")
        default = field.get_default(call_default_factory=True, validated_data={})
        if name == "cache_dir":
            default = "~/.cache/imprint"
        description = (field.description or "").replace("|", "\\|")
        rows.append(f"| `IMPRINT_{name.upper()}` | {kind} | `{default!s}` | {description} |")
    return (
        "# Configuration\n\nEvery setting can be given as an `IMPRINT_*` environment variable (or to `Settings(...)` "
        "in Python). Unknown variables are refused, so a typo never passes silently. Lists are JSON "
        "(`IMPRINT_CORS_ORIGINS='[\"https://app.example\"]'`).\n\n" + "\n".join(rows) + "\n\n"
        "Also read: `IMPRINT_KEYS_FILE` (the API keys of `imprint serve`), `IMPRINT_LLAMA_CMAKE_ARGS` "
        "and `IMPRINT_WHEEL_DIR` (scripts/llama-wheel.sh).\n"
    )
