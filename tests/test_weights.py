"""Consolidation with real training on a tiny randomly initialised Gemma-shaped model.

The tiny model (conftest.py) has the real Gemma tokenizer but 2 layers of width 64, so a whole
consolidation takes seconds: it cannot know any fact, and whatever it answers afterwards it learned here.
"""

import dataclasses
import json

import pytest
import torch

from imprint import InputError, Memory, NotFoundError, Settings
from imprint.answer import NOT_IN_MEMORY
from imprint.errors import EncryptionError
from imprint.prompt import qa_prompt
from imprint.records import Chunk, Generation
from imprint.store.crypto import new_master_key
from imprint.weights.adapters import SEALED, WEIGHTS, AdapterRegistry
from imprint.weights.control import base_answers, control_questions
from imprint.weights.plan import Gate, TrainConfig
from imprint.weights.synth import TeacherSynthesizer

FAST = TrainConfig(epochs=12, lr=1e-2, r=8, target_modules=("q_proj", "v_proj", "gate_proj", "up_proj", "down_proj"))
OPEN_GATE = Gate(min_probe_recall=0.0, min_retention=0.0, min_kept=0.0)


def weights_answer(memory: Memory, question: str, space: str) -> str:
    return memory.ask(question, space, strategy="weights").text


def test_training_lowers_the_loss_and_the_saved_adapter_changes_the_answer(tiny):
    tiny.add("Zorblat Industries was founded by Kerem Aslan.", space="a")
    question = "Tell me: Who was founded by Kerem Aslan?"  # a trained phrasing
    before = tiny.model.generate(qa_prompt(question), 8).text
    report = tiny.consolidate("a", FAST, OPEN_GATE, replay_repeats=0, log=lambda _: None)
    assert report.promoted and report.version == 1
    assert report.losses[-1] < report.losses[0]
    assert (tiny.adapters("a").path(1) / "adapter_model.safetensors").exists()
    assert (tiny.adapters("a").path(1) / "adapter_config.json").exists()
    # a fresh process-like Memory loads the adapter from disk and answers with it
    fresh = Memory(settings=tiny.settings, embedder=tiny.embedder)
    answer = weights_answer(fresh, question, "a")
    assert "Zorblat" in answer and answer != before
    assert fresh.model.generate(qa_prompt(question), 8).text == before  # the base is untouched
    # of someone no memory mentions the adapter could only make something up: it is not asked
    stranger = fresh.ask("Who founded Quillon Varga Labs?", "a", strategy="weights")
    assert stranger.text == NOT_IN_MEMORY and "quillon varga" in stranger.abstained
    assert fresh.ask("Who founded Zorblat?", "a", strategy="weights").abstained is None  # part of a name it knows
    # exported as plain PEFT files, another program loads the same weights onto the base model
    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM
    from typer.testing import CliRunner

    from imprint.cli import app

    target = tiny.settings.data_dir.parent / "exported"
    result = CliRunner().invoke(
        app,
        ["adapters", "export", str(target), "--space", "a", "--data", str(tiny.settings.data_dir)],
        env={"IMPRINT_MODEL": tiny.settings.model, "IMPRINT_CACHE_DIR": str(tiny.settings.cache_dir)},
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in target.iterdir()) == ["adapter_config.json", WEIGHTS]
    loaded = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny.settings.model), target)
    saved = load_file(target / WEIGHTS)
    state = {k: v for k, v in loaded.state_dict().items() if "lora_" in k}
    assert len(state) == len(saved) > 0
    assert (
        CliRunner()
        .invoke(app, ["adapters", "export", str(target), "--space", "a", "--data", str(tiny.settings.data_dir)])
        .exit_code
        != 0
    )  # never over an existing export


def test_the_gate_refuses_an_adapter_that_fails_its_probe(tiny):
    tiny.add("Mira Quenton moved to Tallinn in 2021.", space="a")
    report = tiny.consolidate(
        "a", FAST, Gate(min_probe_recall=1.01, min_retention=0.0), replay_repeats=0, log=lambda _: None
    )
    assert not report.promoted and "probe recall" in report.reason
    registry = tiny.adapters("a")
    assert registry.current() is None and [m.version for m in registry.versions()] == [1]
    with pytest.raises(InputError, match="no promoted adapter"):
        weights_answer(tiny, "Where did Mira Quenton move?", "a")
    with pytest.raises(InputError, match="never passed"):
        registry.rollback(1)


def test_an_adapter_short_of_the_retention_gate_is_shrunk_toward_the_base(tiny):
    tiny.add("Mira Quenton moved to Tallinn in 2021.", space="a")
    trained = tiny.consolidate("a", FAST, OPEN_GATE, replay_repeats=0, log=lambda _: None)
    # retention can never reach 101%: every smaller share of the delta is tried, the probe still passing
    shrunk = tiny.consolidate(
        "a", FAST, Gate(min_probe_recall=0.0, min_retention=1.01), replay_repeats=0, log=lambda _: None
    )
    assert trained.scale == 1.0 and [s["scale"] for s in trained.shrinks] == [1.0]
    assert [s["scale"] for s in shrunk.shrinks] == [1.0, 0.9, 0.8, 0.7] and shrunk.scale == 0.7
    assert not shrunk.promoted and "retention" in shrunk.reason
    registry = tiny.adapters("a")
    assert registry.manifest(shrunk.version).metrics["scale"] == 0.7
    from safetensors.torch import load_file

    before, after = (load_file(registry.path(v) / WEIGHTS) for v in (trained.version, shrunk.version))
    for name, weights in before.items():  # the same training (same seed), the delta's B matrices scaled
        expected = weights * 0.7 if "lora_B" in name else weights
        assert torch.allclose(after[name], expected, atol=1e-6), name
    # with the probe gate at the trained recall, no share kept answers fewer probe questions
    kept = tiny.consolidate(
        "a", FAST, Gate(min_probe_recall=trained.probe_recall, min_retention=1.01), replay_repeats=0, log=lambda _: None
    )
    assert trained.probe_recall > 0
    assert kept.scale == kept.shrinks[-1]["scale"]
    assert all(s["probe_recall"] >= trained.probe_recall for s in kept.shrinks)


def test_rollback_makes_an_earlier_version_current(tiny):
    tiny.add("Ilse Varga keeps bees in Szeged.", space="a")
    quick = TrainConfig(epochs=1, lr=1e-2, r=4)
    tiny.consolidate("a", quick, OPEN_GATE, replay_repeats=0, log=lambda _: None)
    tiny.consolidate("a", quick, OPEN_GATE, replay_repeats=0, log=lambda _: None)
    registry = tiny.adapters("a")
    assert registry.current().version == 2
    registry.rollback(1)
    assert registry.current().version == 1


def test_forgetting_a_memory_deletes_every_adapter_that_learned_it(tiny):
    [bees] = tiny.add("Ilse Varga keeps bees in Szeged.", space="a")
    tiny.consolidate(
        "a", TrainConfig(epochs=1, lr=1e-2, r=4), OPEN_GATE, memory_ids=[bees], replay_repeats=0, log=lambda _: None
    )  # v1 never saw the secret
    [secret] = tiny.add("The secret word of the vault is Marigold.", space="a")
    tiny.consolidate("a", FAST, OPEN_GATE, replay_repeats=0, log=lambda _: None)  # v2 learned it
    question = "Fill in the blank: The secret word of the vault is ___."
    assert "Marigold" in weights_answer(tiny, question, "a")

    done = tiny.forget(secret, "a")
    assert done.adapter_versions_removed == [2] and done.current_adapter == 1
    assert done.weights_recall_before > done.weights_recall_after  # the report's own probe
    assert not tiny.adapters("a").path(2).exists()
    assert "Marigold" not in weights_answer(tiny, question, "a")  # the probe: no longer recalled from weights
    # retrained without it: the version number comes back, the old weights must not (the model caches adapters)
    assert tiny.consolidate("a", FAST, OPEN_GATE, replay_repeats=0, log=lambda _: None).version == 2
    assert "Marigold" not in weights_answer(tiny, question, "a")
    assert tiny.forget(bees, "a").current_adapter is None
    with pytest.raises(InputError, match="no promoted adapter"):
        weights_answer(tiny, question, "a")


def test_forgetting_a_space_removes_its_store_and_adapters(tiny):
    tiny.add("Ilse Varga keeps bees in Szeged.", space="gone")
    tiny.add("Otto Kranz repairs clocks in Graz.", space="kept")
    tiny.consolidate("gone", TrainConfig(epochs=1, lr=1e-2, r=4), OPEN_GATE, replay_repeats=0, log=lambda _: None)
    tiny.forget_space("gone")
    assert tiny.spaces() == ["kept"]
    assert not list(tiny.settings.data_dir.glob("gone.sqlite*"))
    assert not (tiny.settings.data_dir / "adapters" / "gone").exists()
    with pytest.raises(NotFoundError):
        tiny.search("bees", "gone")
    assert tiny.search("clocks", "kept", k=1)[0].memory.text.startswith("Otto")


def test_two_spaces_adapters_are_kept_apart_on_one_base_model(tiny):
    tiny.add("The secret word of the vault is Marigold.", space="alice")
    tiny.add("The secret word of the vault is Thunderbolt.", space="bob")
    for space in ("alice", "bob"):
        tiny.consolidate(space, FAST, OPEN_GATE, replay_repeats=0, log=lambda _: None)
    question = "Fill in the blank: The secret word of the vault is ___."
    assert "Marigold" in weights_answer(tiny, question, "alice")
    assert "Thunderbolt" in weights_answer(tiny, question, "bob")
    assert "Marigold" in weights_answer(tiny, question, "alice")  # switching back works


def test_replay_with_kl_self_distillation_and_retention_are_measured(tiny):
    tiny.add("Otto Kranz repairs clocks in Graz.", space="a")
    report = tiny.consolidate(
        "a", TrainConfig(epochs=1, lr=1e-3, r=4, kl_weight=1.0), OPEN_GATE, replay_repeats=1, log=lambda _: None
    )
    assert report.replay_examples > 20
    assert 0.0 <= report.retention <= 1.0
    assert all(loss == loss for loss in report.losses)  # the KL term kept the loss finite
    assert (tiny.settings.cache_dir / "control").exists()  # base answers cached for the next run


def test_replay_rows_are_held_to_the_base_models_top_k_read_once_not_per_batch(tiny_model_dir):
    import contextlib

    import torch

    from imprint.weights import train as training
    from imprint.weights.synth import QA

    config = TrainConfig(epochs=2, lr=1e-3, r=4, batch_size=2, top_k=8)
    student, tokenizer = training.load_student(tiny_model_dir, config)
    replay = [
        QA("What is the capital of France?", "Paris", -1, "replay"),
        QA("How many legs does a spider have?", "eight", -1, "replay"),
    ]
    fact = QA("Who founded Zorblat Industries?", "Kerem Aslan", 1, "natural")
    # one row of the top k per answer token (the answer's and its closing newline's), led by the base's own choice
    for pair, target in zip(replay, training.base_targets(student, tokenizer, replay, 8)):
        [row] = training.encode(tokenizer, [pair], 10**6)
        logits, _, _ = training.answer_logits(student, training.collate([row], tokenizer.pad_token_id or 0))
        assert target.ids.shape == (len(logits), 8)
        assert torch.equal(target.ids[:, 0].long(), logits.argmax(-1))
    reads = []
    disable = student.disable_adapter

    @contextlib.contextmanager
    def counted():
        reads.append(1)
        with disable():
            yield

    student.disable_adapter = counted
    result = training.train_adapter(student, tokenizer, [fact, fact] + replay * 3, [fact], config, log=lambda _: None)
    assert result.epochs_run == 2 and all(loss == loss for loss in result.step_losses)
    assert len(reads) == 1  # 8 batches with replay rows in them; the frozen base read those rows once


@pytest.mark.slow
def test_a_teacher_model_writes_pairs_and_only_grounded_ones_are_kept(model):
    """The real packaged model as the teacher: it invents (a cat's fur colour), the filter drops that."""
    memory = Chunk(
        id=7,
        raw_id=1,
        source="chat",
        text="Ana: I adopted a cat and named her Pixel last May.",
        speaker="Ana",
        time=None,
        tokens=12,
        metadata={},
        added_at="",
    )
    teacher = TeacherSynthesizer(model, max_new_tokens=40)
    pairs = teacher.pairs(memory)
    assert pairs, "the teacher wrote no usable pair"
    assert all(answer.lower() in memory.text.lower() for _, answer in pairs)

    data = teacher.synthesize([memory])  # greedy: the same pairs again, spread over train and probe
    written = {q for q, _ in pairs}
    assert written <= {qa.question for qa in data.train + data.probe}
    assert not {qa.question for qa in data.probe} & {qa.question for qa in data.train}
    assert {qa.kind for qa in data.train} >= {"wh", "cloze"}  # the template pairs stay


class InstructTeacher:
    """Stands in for an instruct model (the 1.5B reader is a 1.1 GB download, not in the test set-up):
    a fixed reply per sentence it is asked about, and a record of what it was asked."""

    instruct = True

    def __init__(self, replies: dict[str, str]) -> None:
        self.replies = replies
        self.asked: list[list[dict[str, str]]] = []

    def chat(
        self, messages: list[dict[str, str]], max_new_tokens: int = 48, stop: str = "\n", temperature: float = 0.0
    ) -> Generation:
        self.asked.append(messages)
        return Generation(self.replies.get(messages[-1]["content"].rpartition("Sentence: ")[2], ""), 0, 0)


def test_an_instruct_teacher_is_asked_sentence_by_sentence_and_trivial_or_invented_pairs_are_dropped():
    text = "The normal force comes from Pauli repulsion. It keeps tables rigid."
    memory = Chunk(
        id=3, raw_id=1, source="notes", text=text, speaker=None, time=None, tokens=14, metadata={}, added_at=""
    )
    teacher = InstructTeacher(
        {
            "The normal force comes from Pauli repulsion.": (
                "Q: Where does the normal force come from?\nA: Pauli repulsion\n"
                "Q: What is Pauli repulsion?\nA: Pauli repulsion"  # the answer is in the question
            ),
            "It keeps tables rigid.": "Q: What does the normal force keep rigid?\nA: tables\n"
            "Q: Who discovered the normal force?\nA: Isaac Newton",
        }
    )  # not in the memory
    pairs = TeacherSynthesizer(teacher).pairs(memory)
    assert pairs == [
        ("Where does the normal force come from?", "Pauli repulsion"),
        ("What does the normal force keep rigid?", "tables"),
    ]
    # each sentence asked with the whole memory beside it, after the instructions and a worked example
    assert [m[-1]["content"] for m in teacher.asked] == [
        f"Passage: {text}\n\nSentence: The normal force comes from Pauli repulsion.",
        f"Passage: {text}\n\nSentence: It keeps tables rigid.",
    ]
    assert [m["role"] for m in teacher.asked[0]] == ["system", "user", "assistant", "user"]


def test_what_a_teacher_wrote_is_cached_per_memory_and_forgotten_with_it(tmp_path):
    registry = AdapterRegistry(tmp_path, "a")
    fact = Chunk(
        id=5,
        raw_id=1,
        source="notes",
        text="Lena Ortiz opened a bakery in Porto.",
        speaker=None,
        time=None,
        tokens=8,
        metadata={},
        added_at="",
    )
    teacher = InstructTeacher({fact.text: "Q: Where did Lena Ortiz open a bakery?\nA: Porto"})
    synthesizer = TeacherSynthesizer(teacher, cache_dir=registry.teacher_dir, teacher_name="qwen")
    assert synthesizer.cached_pairs(fact) == [("Where did Lena Ortiz open a bakery?", "Porto")]
    assert synthesizer.cached_pairs(fact) == [("Where did Lena Ortiz open a bakery?", "Porto")]
    assert len(teacher.asked) == 1  # the second time from the file
    cached = next(registry.teacher_dir.glob("5-*.json"))
    cached.write_text('[["Where did')  # torn or damaged: asked again, and written whole
    assert synthesizer.cached_pairs(fact) == [("Where did Lena Ortiz open a bakery?", "Porto")]
    assert len(teacher.asked) == 2 and json.loads(cached.read_text())
    other = TeacherSynthesizer(teacher, cache_dir=registry.teacher_dir, teacher_name="gemma")
    other.cached_pairs(fact)
    assert len(teacher.asked) == 3  # another teacher's questions are its own
    registry.forget({5})
    assert not list(registry.teacher_dir.glob("5-*"))


def test_a_teacher_keeps_the_configured_share_of_open_book_rows():
    facts = [
        Chunk(id=i, raw_id=i, source="notes", text=text, speaker=None, time=None, tokens=8, metadata={}, added_at="")
        for i, text in enumerate(
            ["Zorblat Industries was founded by Kerem Aslan.", "Mira Quenton lives in Tallinn."], 1
        )
    ]
    kinds = {
        share: {qa.kind for qa in TeacherSynthesizer(InstructTeacher({}), open_book=share).synthesize(facts).train}
        for share in (0.0, 1.0)
    }
    assert "open-book" in kinds[1.0] and "open-book" not in kinds[0.0]


def test_auto_routes_consolidated_knowledge_to_the_weights_and_newer_memories_to_hybrid(tiny):
    # never read the whole space; answer from the adapter alone when it learned every best match
    tiny.settings = tiny.settings.model_copy(update={"auto_context_tokens": 0, "auto_closed_book": True})
    tiny.add("Ilse Varga keeps bees in Szeged.", space="a")
    assert tiny.explain("Where does Ilse keep bees?", "a").strategy == "index"
    tiny.consolidate("a", TrainConfig(epochs=1, lr=1e-2, r=4), OPEN_GATE, replay_repeats=0, log=lambda _: None)
    assert tiny.explain("Where does Ilse keep bees?", "a").strategy == "weights"
    tiny.add("Otto Kranz repairs clocks in Graz.", space="a")
    route = tiny.explain("Who repairs clocks in Graz?", "a")
    assert route.strategy == "hybrid" and route.covered == [1]
    # the tiny random model's adapter answers words no memory says: the base model reads the memories instead
    answer = tiny.ask("Who repairs clocks in Graz?", "a")
    assert answer.strategy == "index" and answer.route.startswith(route.reason) and "do not say" in answer.route
    assert answer.prompt_tokens > tiny.ask("Who repairs clocks in Graz?", "a", strategy="index").prompt_tokens


def test_a_space_with_an_adapter_trains_only_its_new_memories_on_top_of_it(tiny):
    [zorblat] = tiny.add("Zorblat Industries was founded by Kerem Aslan.", space="a")
    first = tiny.consolidate("a", FAST, OPEN_GATE, replay_repeats=0, log=lambda _: None)
    assert first.from_version is None and first.memories == 1
    [quillon] = tiny.add("Quillon Labs was founded by Ada Brandt.", space="a")
    said: list[str] = []
    # the new fact is a third of the rows (its earlier rows replayed twice over): more epochs
    longer = dataclasses.replace(FAST, epochs=36)
    second = tiny.consolidate("a", longer, OPEN_GATE, replay_repeats=0, log=said.append)
    assert (second.from_version, second.memories, second.learned_before) == (first.version, 1, 1)
    assert any("incremental" in line for line in said) and second.earlier_recall is not None
    assert tiny.adapters("a").manifest(second.version).memory_ids == [zorblat, quillon]
    assert "Quillon" in weights_answer(tiny, "Tell me: Who was founded by Ada Brandt?", "a")
    assert "Zorblat" in weights_answer(tiny, "Tell me: Who was founded by Kerem Aslan?", "a")
    # a memory it learned was replaced: the update starts from the base
    tiny.update(quillon, "Quillon Labs was founded by Ada Brandt in 1999.", space="a")
    said.clear()
    after = tiny.consolidate("a", FAST, OPEN_GATE, replay_repeats=0, log=said.append)
    assert after.from_version is None and any("from the base" in line for line in said)


def test_an_update_starts_from_the_base_when_asked_or_when_what_it_learned_changed():
    from imprint.records import Replacement
    from imprint.weights.adapters import Manifest
    from imprint.weights.consolidate import incremental_start

    current = Manifest(2, "base", [1, 2], "hash", {}, True, "passed the gate")
    assert incremental_start(current, [1, 2, 3], {}, full=False)[0] is current
    assert incremental_start(current, [1, 2, 3], {}, full=True)[0] is None
    assert incremental_start(current, [1, 2, 3], {}, full=False, same_shape=False)[0] is None
    assert incremental_start(None, [1, 2, 3], {}, full=False)[0] is None
    assert incremental_start(current, [2, 3], {}, full=False)[0] is None  # 1 was forgotten or replaced
    nothing_new = incremental_start(current, [1, 2], {}, full=False)
    assert nothing_new == (None, "v2 learned all 2 memories: trained again from the base")
    later = {1: [Replacement("Ana lives in Tallinn.", "Ana lives in Riga.", by=3, since=None)]}
    assert incremental_start(current, [1, 2, 3], later, full=False)[0] is None
    earlier = {1: [Replacement("Ana lives in Tallinn.", "Ana lives in Riga.", by=2, since=None)]}
    assert incremental_start(current, [1, 2, 3], earlier, full=False)[0] is current  # it learned that change


def test_consolidation_trains_what_is_true_now(tiny):
    tiny.add("Ilse Varga lives in Szeged.", space="a")
    tiny.add("In 2023, Ilse Varga moved from Szeged to Pecs.", space="a", time="2023-01-01")
    tiny.consolidate("a", FAST, OPEN_GATE, replay_repeats=0, log=lambda _: None)
    learned = weights_answer(tiny, "Fill in the blank: Ilse Varga lives in ___.", "a")
    assert "Pecs" in learned and "Szeged" not in learned


def test_an_encrypted_space_seals_its_adapter_and_still_answers_from_it(tmp_path, tiny_model_dir, embedder):
    key_file = tmp_path / "keys" / "master.key"
    key_file.parent.mkdir()
    key_file.write_text(new_master_key())
    settings = Settings(
        data_dir=tmp_path / "data", cache_dir=tiny_model_dir / "cache", model=str(tiny_model_dir), key_file=key_file
    )
    memory = Memory(settings=settings, embedder=embedder)
    memory.add("Zorblat Industries was founded by Kerem Aslan.", space="a")
    memory.consolidate("a", FAST, OPEN_GATE, replay_repeats=0, log=lambda _: None)
    folder = memory.adapters("a").path(1)
    on_disk = b"".join(path.read_bytes() for path in folder.rglob("*") if path.is_file())
    assert not (folder / WEIGHTS).exists() and (folder / SEALED).exists()
    readable = memory.adapters("a").readable(1)  # the decrypted copy: in memory-backed storage, not the data
    weights = (readable / WEIGHTS).read_bytes()
    assert not readable.is_relative_to(tmp_path)
    assert b"lora_A" in weights and b"lora_A" not in on_disk and weights[-256:] not in on_disk
    # a new process decrypts it and answers from it; a tampered file is refused
    assert "Zorblat" in weights_answer(
        Memory(settings=settings, embedder=embedder), "Tell me: Who was founded by Kerem Aslan?", "a"
    )
    sealed = bytearray((folder / SEALED).read_bytes())
    sealed[-1] ^= 1
    (folder / SEALED).write_bytes(bytes(sealed))
    with pytest.raises(EncryptionError):
        weights_answer(Memory(settings=settings, embedder=embedder), "Who founded Zorblat Industries?", "a")
    forgotten = memory.forget(1, "a")  # the version goes (damaged or not), and its decrypted copies with it
    assert forgotten.adapter_versions_removed == [1] and not folder.exists() and not readable.exists()


def test_cached_base_answers_gain_questions_added_to_the_control_set(tiny, tmp_path):
    cache = tmp_path / "control.json"
    first, *rest = control_questions()
    cache.write_text(json.dumps({first[0]: "kept as cached"}))
    answers = base_answers(tiny.model, cache)
    assert answers[first[0]] == "kept as cached"  # not recomputed
    assert set(answers) == {q for q, _ in control_questions()} and len(rest) >= 300
    assert json.loads(cache.read_text()) == answers


def test_replay_questions_the_base_writes_never_ask_a_held_out_control_question_again():
    from imprint.text.salience import content_words
    from imprint.weights.control import not_held_out, retention_set

    question, gold = next((q, g) for q, g in retention_set() if len(content_words(q)) >= 2)
    half = sorted(content_words(question))[: (len(content_words(question)) + 1) // 2]
    new = "Who painted the ceiling of the Sistine Chapel?"
    partly = f"What about {' and '.join(half)} today?"
    kept = not_held_out(
        {
            question: gold,
            f"Tell me, {question[0].lower()}{question[1:]}": "anything",
            partly: gold,
            new: "Michelangelo",
            "Paris is large.": "yes",
        }
    )
    assert kept == {new: "Michelangelo"}
    assert not_held_out({partly: "something else"}) == {partly: "something else"}  # shares words, not the answer


def test_the_base_writes_its_own_replay_questions_once_per_base_model(tiny_model_dir, tmp_path):
    from imprint.weights.control import own_questions
    from imprint.weights.train import complete, load_student

    student, tokenizer = load_student(tiny_model_dir, TrainConfig(r=4))
    prompts_seen = []

    def base(prompts: list[str], tokens: int) -> list[str]:
        prompts_seen.extend(prompts)
        with student.disable_adapter():
            return complete(student, tokenizer, prompts, tokens)

    cache = tmp_path / "own.json"
    rows = own_questions(base, cache, count=12)
    shown = prompts_seen[0]
    assert shown.count("Question:") == 4 and shown.endswith("Question: Who")  # three examples, then a start
    assert len(prompts_seen) >= 12 and cache.exists()
    assert all(row.kind == "replay" and row.answer for row in rows)
    asked = len(prompts_seen)
    assert own_questions(base, cache, count=12) == rows and len(prompts_seen) == asked  # read from the cache
    written = cache.read_text()
    cache.write_text(written[: len(written) // 2])  # a process killed mid-write left half a file: written again
    assert own_questions(base, cache, count=12) == rows and len(prompts_seen) == 2 * asked
    assert own_questions(base, cache, count=12) == rows and len(prompts_seen) == 2 * asked


def test_a_larger_space_grows_the_replay_pool_and_a_smaller_one_reads_its_first_part(tmp_path):
    import zlib

    from imprint.weights.control import own_question_count, own_questions

    prompts_seen = []

    def base(prompts: list[str], tokens: int) -> list[str]:
        """A stand-in for the base's greedy text that depends on its prompt, as the model's does (some
        questions repeat, so the pool's de-duplication is exercised)."""
        prompts_seen.extend(prompts)
        return [
            f"River {len(prompt)}"
            if prompt.endswith("Answer:")
            else f"is the river number {zlib.crc32(prompt.encode()) % 12}?"
            for prompt in prompts
        ]

    def written(start: int) -> list[str]:
        return [prompt for prompt in prompts_seen[start:] if not prompt.endswith("Answer:")]

    assert own_question_count(100) < own_question_count(1_000) < own_question_count(2_000) == own_question_count(10_000)
    small = own_questions(base, tmp_path / "small.json", count=20)
    grown = tmp_path / "grown.json"
    own_questions(base, grown, count=20)
    before = len(prompts_seen)
    large = own_questions(base, grown, count=40)
    assert len(written(before)) == 20  # only the prompts beyond the cached 20 were written
    assert small and large[: len(small)] == small and len(large) > len(small)
    assert len({row.question for row in large}) == len(large)  # a question the base wrote twice is kept once
    assert own_questions(base, grown, count=20) == small  # the first 20 prompts' rows, as a first run wrote them
    assert own_questions(base, tmp_path / "direct.json", count=40) == large  # the same as writing 40 at once


def test_decoding_runs_the_frozen_weights_in_fp32_and_puts_them_back(tiny_model_dir):
    import torch

    from imprint.weights.precision import decoding_in_fp32
    from imprint.weights.train import greedy_answers, load_student

    student, tokenizer = load_student(tiny_model_dir, TrainConfig(r=4, dtype="bf16"))
    before = {name: p.detach().clone() for name, p in student.named_parameters()}
    with decoding_in_fp32(student):
        assert all(p.dtype == torch.float32 for p in student.parameters())
    assert all(torch.equal(p, before[name]) and p.dtype == before[name].dtype for name, p in student.named_parameters())
    assert {p.dtype for p in student.parameters() if not p.requires_grad} == {torch.bfloat16}
    greedy_answers(student, tokenizer, ["Who wrote Hamlet?"])  # decodes under it
    assert {p.dtype for p in student.parameters() if not p.requires_grad} == {torch.bfloat16}  # trains on in bf16


@pytest.mark.slow
def test_the_shipped_replay_pool_is_what_the_packaged_base_writes_and_answers(model, tmp_path):
    """The packaged base's replay cache ships in the package (scripts/replay_pool.py): recomputing
    its first prompts and control answers here gives the same rows."""
    from importlib.resources import files

    from imprint.weights.control import PACKAGED_ANSWERS, PACKAGED_POOL, _pool_rows, replay_cache
    from imprint.weights.train import complete, load_student

    shipped_answers = json.loads(files("imprint.weights").joinpath(PACKAGED_ANSWERS).read_text())
    asked = [q for q, _ in control_questions()][:6]
    assert {q: model.generate(qa_prompt(q), max_new_tokens=16).text for q in asked} == {
        q: shipped_answers[q] for q in asked
    }
    shipped = json.loads(files("imprint.weights").joinpath(PACKAGED_POOL).read_text())
    assert shipped["prompts"] >= 1200 and len(shipped["pairs"]) >= 500
    student, tokenizer = load_student(model._directory(), TrainConfig())
    with student.disable_adapter():
        again = _pool_rows(lambda prompts, tokens: complete(student, tokenizer, prompts, tokens), 0, 16)
    first = [row for row in shipped["pairs"] if row[0] < 16]
    assert [row[:2] for row in again] == [row[:2] for row in first]  # the same questions from the same prompts
    assert sum(a == b for a, b in zip(again, first)) >= len(first) - 1  # answers batched with other neighbours
    # a new cache is filled from the package, never computed
    answers_file, pool_file = replay_cache(tmp_path, model._directory(), packaged=True)
    assert json.loads(pool_file.read_text()) == shipped and json.loads(answers_file.read_text()) == shipped_answers
