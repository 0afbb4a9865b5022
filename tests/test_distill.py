"""Training data people would ask with, open-book rows, and the teacher signal of context distillation."""

import random
import sys
from dataclasses import replace

import pytest
import torch

from imprint.bench.datasets import fictional
from imprint.bench.world import world
from imprint.errors import InputError
from imprint.records import Chunk
from imprint.weights import precision
from imprint.weights.adapters import AdapterRegistry
from imprint.weights.distill import teacher_targets
from imprint.weights.plan import TrainConfig
from imprint.weights.precision import train_dtype
from imprint.weights.questions import natural_questions
from imprint.weights.synth import QA, TemplateSynthesizer, open_book_rows
from imprint.weights.train import (
    SoftTarget,
    _loss,
    answer_logits,
    base_top_k,
    bucketed_batches,
    collate,
    encode,
    load_student,
    run_shared_prefix,
    shared_prefix,
)


def chunk(memory_id: int, text: str) -> Chunk:
    return Chunk(memory_id, memory_id, "notes.md", text, None, None, len(text.split()), {}, "2026-01-01")


@pytest.mark.parametrize(
    "sentence, expected",
    [
        ("Ana Ruiz lives in Porto.", [("Where does Ana Ruiz live?", "Porto")]),
        (
            "Lumen Labs was founded by Ana Ruiz in 1990.",
            [
                ("Who founded Lumen Labs?", "Ana Ruiz"),
                ("What did Ana Ruiz found?", "Lumen Labs"),
                ("In what year was Lumen Labs founded?", "1990"),
            ],
        ),
        (
            "Kalo Mirate founded Tenvo Labs in 1990.",
            [
                ("What did Kalo Mirate found?", "Tenvo Labs"),
                ("Who founded Tenvo Labs?", "Kalo Mirate"),
                ("In what year did Kalo Mirate found Tenvo Labs?", "1990"),
            ],
        ),
        (
            "Ana Ruiz has a dog named Rex.",
            [("What is the name of Ana Ruiz's dog?", "Rex"), ("What is Ana Ruiz's dog called?", "Rex")],
        ),
        ("The head office of Tenvo Labs is in Suburg.", [("Where is the head office of Tenvo Labs?", "Suburg")]),
        (
            "Paris is the capital of France.",
            [("What is the capital of France?", "Paris"), ("What is Paris?", "the capital of France")],
        ),
        (
            "Melanie went to a support group on 7 May 2023.",
            [("Where did Melanie go?", "a support group"), ("When did Melanie go?", "7 May 2023")],
        ),
        (
            "In 2021, Ana Ruiz moved from Porto to Riga.",
            [
                ("Where did Ana Ruiz move from?", "Porto"),
                ("Where did Ana Ruiz move to?", "Riga"),
                ("Where does Ana Ruiz live?", "Riga"),
                ("In what year did Ana Ruiz move to Riga?", "2021"),
            ],
        ),
        (
            "Ana Ruiz has made a home in Porto.",
            [("Where has Ana Ruiz made a home?", "Porto"), ("Where does Ana Ruiz live?", "Porto")],
        ),
        (
            "At Tenvo Labs, Ana Ruiz has a job as a pilot.",
            [
                ("What does Ana Ruiz work as?", "pilot"),
                ("What is Ana Ruiz's occupation?", "pilot"),
                ("What does Ana Ruiz do for a living?", "pilot"),
                ("Where does Ana Ruiz work?", "Tenvo Labs"),
            ],
        ),
        (
            "Ana Ruiz is employed by Tenvo Labs, where Ana is a pilot.",
            [
                ("Who employs Ana Ruiz?", "Tenvo Labs"),
                ("Where does Ana Ruiz work?", "Tenvo Labs"),
                ("What does Tenvo Labs employ?", "Ana Ruiz"),
                ("What does Ana Ruiz work as?", "pilot"),
                ("What is Ana Ruiz's occupation?", "pilot"),
                ("What does Ana Ruiz do for a living?", "pilot"),
            ],
        ),
        ("it rained a lot.", []),
    ],
)
def test_a_sentence_becomes_the_questions_people_ask_in_both_directions(sentence, expected):
    assert natural_questions(sentence) == expected


def test_the_probe_is_a_phrasing_no_training_row_uses():
    dataset = fictional(24, seed=3)
    memories = [chunk(i, item.content) for i, item in enumerate(dataset.spaces["bench"])]
    data = TemplateSynthesizer(seed=0).synthesize(memories)
    trained = {pair.question for pair in data.train}
    assert len(data.probe) == len(memories)  # one per fact
    assert not trained & {pair.question for pair in data.probe}
    assert sum(pair.kind == "natural" for pair in data.train) >= len(memories)


def test_the_benchmarks_paraphrase_questions_are_never_trained_verbatim():
    """The world's paraphrase questions and fictional's job questions ask in words no training row
    uses: they measure whether the fact was learned, not a string."""
    fictional_set, made_up = fictional(40, seed=5), world(40, seed=5)
    for dataset, asked in [
        (fictional_set, {q.text for q in fictional_set.questions if "job" in q.text}),
        (made_up, {q.text for q in made_up.questions if q.category == "paraphrase"}),
    ]:
        memories = [chunk(i, item.content) for i, item in enumerate(next(iter(dataset.spaces.values())))]
        trained = {pair.question for pair in TemplateSynthesizer(seed=0).synthesize(memories).train}
        assert asked and not trained & asked


def test_open_book_rows_carry_the_memory_distractors_and_a_newer_memory_that_wins():
    memories = [
        chunk(i, f"{name} lives in {city}.")
        for i, (name, city) in enumerate(
            [("Ana Ruiz", "Porto"), ("Ben Oduya", "Lagos"), ("Chen Wei", "Xi'an"), ("Dora Lind", "Umeå")]
        )
    ]
    pairs = [QA(q, a, m.id, "natural") for m in memories for q, a in natural_questions(m.text)]
    rows = open_book_rows(pairs, memories, share=1.0, rng=random.Random(0))
    assert len(rows) == len(pairs) and all(len(row.context) == 3 for row in rows)
    for row in rows:
        shown = row.context[0]
        assert row.answer in shown.text  # the answer is always in the prompt
        if shown.id not in {m.id for m in memories}:  # the newer memory that says otherwise
            original = next(m for m in memories if m.id == row.memory_id)
            assert row.answer not in original.text and shown.time
    assert any(row.context[0].id not in {m.id for m in memories} for row in rows)


def test_collated_teacher_targets_line_up_with_the_answer_positions():
    tokens = TrainConfig().top_k
    short = SoftTarget(torch.full((1, tokens), 7, dtype=torch.int32), torch.zeros((1, tokens), dtype=torch.float16))
    rows = [
        ([2, 10, 11, 12, 13], [-100, -100, -100, 12, 13], False, short),  # 2 answer tokens, 1 taught
        ([2, 10, 14], [-100, -100, 14], False, None),
    ]
    batch = collate(rows, pad_id=0, top_k=tokens)
    assert batch["soft"].tolist() == [True, False, False]
    assert batch["soft_ids"][0, 0] == 7 and batch["soft_ids"].shape == (3, tokens)


def test_batches_hold_rows_of_one_length_and_change_between_epochs():
    rng = random.Random(0)
    # bare questions (~25 tokens) and open-book rows (to 512) mixed, as a consolidation makes them
    rows = [([1] * rng.choice([20, 24, 30]), []) for _ in range(400)] + [
        ([1] * rng.randint(100, 512), []) for _ in range(40)
    ]
    first, second = bucketed_batches(rows, 8, rng), bucketed_batches(rows, 8, rng)
    for batches in (first, second):
        assert sorted(id(row) for batch in batches for row in batch) == sorted(map(id, rows))
        padded = sum(len(batch) * max(len(row[0]) for row in batch) for batch in batches)
        assert padded < 1.1 * sum(len(row[0]) for row in rows)  # sorting in windows of 8 batches: 1.7x
    assert [[id(row) for row in batch] for batch in first] != [[id(row) for row in batch] for batch in second]
    assert {id(row) for row in first[0]} not in [{id(row) for row in batch} for batch in second]


def test_the_tokens_rows_share_are_read_once_with_the_same_result(tiny_model_dir):
    student, tokenizer = load_student(tiny_model_dir, TrainConfig(r=4, dtype="fp32"))
    facts = [chunk(1, "Lena Ortiz opened a bakery in Porto in 2015."), chunk(2, "Omar Haddad lives in Tunis.")]
    pairs = [
        replace(QA(question, answer, fact.id, "natural"), context=(fact,))
        for fact in facts
        for question, answer in natural_questions(fact.text)
    ]
    rows = encode(tokenizer, pairs, sys.maxsize)
    shared = shared_prefix(rows)
    assert shared > 100 and all(ids[:shared] == rows[0][0][:shared] for ids, _ in rows)  # instructions, examples
    assert shared_prefix([rows[0], rows[0]]) == rows[0][1].count(-100) - 1  # stops before the answer's logit
    widths = []
    student.get_base_model().get_decoder().register_forward_pre_hook(
        lambda module, args, kwargs: widths.append(kwargs["input_ids"].shape[1]), with_kwargs=True
    )
    together = base_top_k(student, tokenizer, pairs, 8)
    assert widths == [shared, max(len(ids) for ids, _ in rows) - shared]
    alone = [base_top_k(student, tokenizer, [pair], 8) for pair in pairs]  # one row: nothing shared
    assert torch.allclose(together[0], torch.cat([values for values, *_ in alone]), atol=1e-4)
    assert torch.equal(together[2], torch.cat([targets for _, _, targets, _ in alone]))
    assert torch.equal(together[1][:, 0], torch.cat([ids[:, 0] for _, ids, *_ in alone]))


def test_a_batch_of_open_book_rows_runs_its_shared_start_once_with_the_same_loss_and_gradients(tiny_model_dir):
    student, tokenizer = load_student(tiny_model_dir, TrainConfig(r=4, dtype="fp32"))
    torch.manual_seed(1)
    for parameter in student.parameters():  # a trained adapter: LoRA B is zero at the start
        if parameter.requires_grad:
            parameter.data.normal_(0, 0.05)
    facts = [
        chunk(i, text)
        for i, text in enumerate(
            [
                "Lena Ortiz opened a bakery in Porto in 2015.",
                "Omar Haddad lives in Tunis.",
                "Kalo Mirate founded Tenvo Labs.",
            ]
        )
    ]
    pairs = [QA(q, a, m.id, "natural") for m in facts for q, a in natural_questions(m.text)]
    rows = [
        (ids, labels, False, None)
        for ids, labels in encode(
            tokenizer, open_book_rows(pairs, facts, share=1.0, rng=random.Random(0), distractors=1), 512
        )
    ]
    config = TrainConfig(r=4, kl_weight=0)

    def loss_and_gradients(rest, past):
        student.zero_grad()
        loss = _loss(student, collate(rest, tokenizer.pad_token_id or 0), config, past)
        loss.backward()
        return loss.detach(), [p.grad.clone() for p in student.parameters() if p.requires_grad]

    rest, past = run_shared_prefix(student, rows)
    assert past is not None and len(rest[0][0]) < len(rows[0][0]) - 100
    shared_loss, shared_gradients = loss_and_gradients(rest, past)
    whole_loss, whole_gradients = loss_and_gradients(rows, None)
    assert torch.allclose(shared_loss, whole_loss, atol=1e-5)
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(shared_gradients, whole_gradients))
    assert run_shared_prefix(student, rows[:1])[1] is None  # one row: nothing to share


def test_unknown_training_settings_are_refused():
    with pytest.raises(InputError, match="distill_weight"):
        TrainConfig(distill_weight=-1)
    with pytest.raises(InputError, match="open_book"):
        TrainConfig(open_book=2)
    with pytest.raises(InputError, match="dtype"):
        TrainConfig(dtype="fp8")


def test_the_training_dtype_is_measured_once_per_process_however_it_is_asked(monkeypatch):
    probes = []
    monkeypatch.setattr(
        precision, "matmul_seconds", lambda dtype: probes.append(dtype) or (1.0 if dtype == torch.float32 else 0.5)
    )
    precision._bf16_pays.cache_clear()
    try:  # `train_dtype()` and `train_dtype("auto")` once gave two probes, and two answers on a busy machine
        assert precision.train_dtype() == precision.train_dtype("auto") == torch.bfloat16
        assert sorted(map(str, probes)) == ["torch.bfloat16", "torch.float32"]
        assert precision.train_dtype("fp32") == torch.float32
    finally:
        precision._bf16_pays.cache_clear()


def test_the_teacher_reads_the_memory_keeps_only_right_answers_and_caches_per_memory(memory, tmp_path):
    student, tokenizer = load_student(memory.models.model_dir(), TrainConfig(r=4))
    assert student.get_base_model().dtype == train_dtype()
    fact = chunk(5, "Lena Ortiz opened a bakery in Porto in 2015.")
    pairs = [
        QA("In which city did Lena Ortiz open a bakery?", "Porto", 5, "natural"),
        QA("In which city did Lena Ortiz open a bakery?", "Madrid", 5, "natural"),  # not what it says
        QA("What do you remember about Lena Ortiz?", fact.text, 5, "restate"),
    ]  # not distilled
    registry = AdapterRegistry(tmp_path, "a")
    logged = []
    targets = teacher_targets(student, tokenizer, pairs, [fact], 8, registry.teacher_dir, "gemma", log=logged.append)
    right, wrong, restated = targets
    assert wrong is None and restated is None
    gold = tokenizer(" Porto", add_special_tokens=False)["input_ids"]
    assert right.ids.shape == (len(gold), 8) and right.ids[:, 0].tolist() == gold
    assert (right.logprobs[:, 0] >= right.logprobs[:, 1]).all()
    # a retrain reads nothing again; forgetting the memory removes what the teacher said about it
    again = teacher_targets(student, tokenizer, pairs, [fact], 8, registry.teacher_dir, "gemma", log=logged.append)
    assert torch.equal(again[0].ids, right.ids) and logged[-1] == "teacher: 0 rows read, 2 from the cache"
    assert list(registry.teacher_dir.glob("5-*.pt"))
    registry.forget({5})
    assert not list(registry.teacher_dir.glob("5-*.pt"))
    # the student's answer positions are the ones the targets were taken at
    prompt = tokenizer("Question: x\nAnswer:")["input_ids"]
    newline = tokenizer("\n", add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        batch = collate([(prompt + gold + newline, [-100] * len(prompt) + gold + newline)], 0, 8)
        logits, labels, _ = answer_logits(student, batch)
    assert logits.shape[0] == len(gold) + 1 and labels[: len(gold)].tolist() == gold
