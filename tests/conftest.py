import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402
from transformers import AutoModelForCausalLM, Gemma3TextConfig  # noqa: E402

from imprint import Memory, Settings  # noqa: E402
from imprint.llm.embed import Embedder  # noqa: E402
from imprint.llm.local import LocalModel  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder()


@pytest.fixture(scope="session")
def model() -> LocalModel:
    """The real packaged model, loaded once for the whole run."""
    return LocalModel()


@pytest.fixture
def memory(tmp_path, embedder, model) -> Memory:
    m = Memory(tmp_path / "data", embedder=embedder, model=model)
    yield m
    m.close()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, model):
    directory = tmp_path_factory.mktemp("tiny-gemma")
    tokenizer = model.tokenizer
    config = Gemma3TextConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=32,
        max_position_embeddings=256,
        sliding_window=64,
    )
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture
def tiny(tmp_path, tiny_model_dir, embedder):
    # the cache (the base model's control answers) is shared: it belongs to the base model
    memory = Memory(
        settings=Settings(data_dir=tmp_path / "data", cache_dir=tiny_model_dir / "cache", model=str(tiny_model_dir)),
        embedder=embedder,
    )
    yield memory
    memory.close()


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL 15 with pgvector for the whole run; skipped where none is installed (CI
    installs one, and there a missing server fails)."""
    from pg_server import PostgresServer, missing

    reason = missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    server = PostgresServer()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """A fresh database on the test server, for one test."""
    return postgres_server.new_database()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request, tmp_path):
    """Where spaces live, each backend in turn: the store's tests run on both, so they cannot drift."""
    from imprint.store.sqlite import SqliteFiles

    if request.param == "sqlite":
        yield SqliteFiles(tmp_path)
        return
    from imprint.store.postgres import PostgresDatabase

    database = PostgresDatabase(request.getfixturevalue("postgres_url"))
    yield database
    database.close()
