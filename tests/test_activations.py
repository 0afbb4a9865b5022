"""Activation memory: the context tier's prompt start is computed once, kept per space and reader,
extended after `add`, dropped by forget and update, sealed in an encrypted space, and never loaded
when damaged or foreign (a real llama.cpp reader on the packaged model)."""

import struct

import pytest

from imprint import Memory, Settings
from imprint.activations import MAGIC
from imprint.store.crypto import new_master_key

FACTS = [
    "Mira Quenton keeps the spare key under the blue flower pot.",
    "Tomas Brekke founded Zorblat Industries in Bergen.",
    "Ana Lind plays the cello in a string quartet.",
    "The boiler in the basement was serviced in March 2024.",
    "Lena Park teaches maths at Colegio Andino in Quito.",
    "Omar Haddad works as a nurse at Linden Hospital.",
]


def _memory(tmp_path, embedder, model, name: str = "data", **settings) -> Memory:
    memory = Memory(settings=Settings(data_dir=tmp_path / name, **settings), embedder=embedder, model=model)
    memory.models.reader._llm.reset()  # one llama.cpp context serves every Memory of the process
    return memory


def _ask(memory: Memory, question: str, space: str = "s"):
    return memory.ask(question, space=space, strategy="context")


def test_later_questions_compute_only_themselves_and_answer_as_without_the_kept_state(tmp_path, embedder, model):
    memory = _memory(tmp_path, embedder, model)
    plain = _memory(tmp_path, embedder, model, "plain", activation_bytes=0)
    for fact in FACTS:
        memory.add(fact, space="s")
        plain.add(fact, space="s")
    first = _ask(memory, "Who founded Zorblat Industries?")
    assert first.cached_tokens == 0
    assert len(memory.space("s").activations.files()) == 1
    for question in ("Where does Lena Park teach?", "What does Ana Lind play?", "Where does Omar Haddad work?"):
        kept = _ask(memory, question)
        assert kept.cached_tokens >= 0.7 * kept.prompt_tokens
        plain.models.reader._llm.reset()  # the same llama.cpp context serves both: computed from nothing
        computed = _ask(plain, question)
        assert computed.cached_tokens == 0
        assert computed.said == kept.said
    assert not plain.space("s").activations.files()


def test_add_extends_the_kept_start_and_forget_drops_it(tmp_path, embedder, model):
    memory = _memory(tmp_path, embedder, model)
    ids = [memory.add(fact, space="s")[0] for fact in FACTS]
    _ask(memory, "Who founded Zorblat Industries?")
    warm = _ask(memory, "Where does Lena Park teach?")  # reads all but its own part from the kept start
    memory.add("Ana Lind moved to Riga in May 2024.", space="s")
    after = _ask(memory, "Where does Omar Haddad work?")
    assert after.cached_tokens >= warm.cached_tokens - 1  # the old start, up to its last token
    assert after.prompt_tokens - after.cached_tokens < 0.35 * after.prompt_tokens  # the new memory and the rest
    memory.models.reader._llm.reset()
    assert _ask(memory, "Where does Lena Park teach?").cached_tokens > warm.cached_tokens  # kept with the new memory

    memory.forget(ids[0], "s")
    assert memory.space("s").activations.files() == []
    answer = _ask(memory, "Where does Mira Quenton keep the spare key?")
    assert "flower pot" not in answer.said.lower()
    assert answer.cached_tokens == 0


def test_update_drops_the_kept_states(tmp_path, embedder, model):
    memory = _memory(tmp_path, embedder, model)
    ids = [memory.add(fact, space="s")[0] for fact in FACTS]
    _ask(memory, "Who founded Zorblat Industries?")
    memory.update(ids[1], "Tomas Brekke founded Zorblat Industries in Oslo.", "s")
    assert memory.space("s").activations.files() == []


def test_an_encrypted_space_seals_its_state_and_a_damaged_or_foreign_file_is_rebuilt(tmp_path, embedder, model):
    memory = _memory(tmp_path, embedder, model, key=new_master_key())
    for space in ("a", "b"):
        for fact in FACTS:
            memory.add(fact, space=space)
        _ask(memory, "Who founded Zorblat Industries?", space)
    [kept_a] = memory.space("a").activations.files()
    [kept_b] = memory.space("b").activations.files()
    blob = kept_a.read_bytes()
    assert blob.startswith(MAGIC)
    assert b"Zorblat" not in blob and "Zorblat".encode("utf-16-le") not in blob
    reader = memory.models.reader._llm
    said = reader.tokenize(b" founded Zorblat Industries", add_bos=False)
    assert struct.pack(f"<{len(said)}i", *said) not in blob  # the tokens are sealed too

    # a file from space a in space b's place: refused (bound to its space), deleted, computed again
    kept_b.write_bytes(blob)
    reader.reset()
    answer = _ask(memory, "Where does Lena Park teach?", "b")
    assert answer.cached_tokens == 0
    assert kept_b.read_bytes() != blob

    # a flipped byte: refused, rebuilt
    damaged = bytearray(kept_a.read_bytes())
    damaged[-100] ^= 0xFF
    kept_a.write_bytes(bytes(damaged))
    reader.reset()
    assert _ask(memory, "Where does Lena Park teach?", "a").cached_tokens == 0
    reader.reset()
    assert _ask(memory, "Where does Omar Haddad work?", "a").cached_tokens > 0


def test_the_least_recently_used_spaces_states_go_first(tmp_path, embedder, model):
    memory = _memory(tmp_path, embedder, model)
    for fact in FACTS:
        memory.add(fact, space="a")
        memory.add(fact, space="b")
    _ask(memory, "Who founded Zorblat Industries?", "a")
    size = memory.space("a").activations.size_bytes()
    memory.close()
    memory = _memory(tmp_path, embedder, model, activation_bytes=int(size * 1.5))
    _ask(memory, "Who founded Zorblat Industries?", "b")
    assert memory.space("a").activations.files() == []
    assert len(memory.space("b").activations.files()) == 1


@pytest.mark.parametrize("blob", [b"", b"not a state", MAGIC + b"{broken\n"])
def test_a_file_that_is_no_state_is_refused(tmp_path, embedder, model, blob):
    memory = _memory(tmp_path, embedder, model)
    for fact in FACTS:
        memory.add(fact, space="s")
    _ask(memory, "Who founded Zorblat Industries?")
    [kept] = memory.space("s").activations.files()
    kept.write_bytes(blob)
    memory.models.reader._llm.reset()
    assert _ask(memory, "Where does Lena Park teach?").cached_tokens == 0
    assert kept.read_bytes().startswith(MAGIC) and len(kept.read_bytes()) > 1000
