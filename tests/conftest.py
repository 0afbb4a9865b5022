import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from imprint import Memory  # noqa: E402
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
