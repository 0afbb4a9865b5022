"""imprint bench: metrics on hand-checked cases, loaders on files written here, a tiny end-to-end run."""

import json

import pytest
from typer.testing import CliRunner

from imprint import InputError
from imprint.bench import datasets
from imprint.bench.metrics import (
    contains,
    exact_match,
    multi_answer_f1,
    normalise,
    token_f1,
)
from imprint.bench.report import write_report
from imprint.bench.runner import judge, run_bench
from imprint.bench.world import world
from imprint.cli import app
from imprint.weights.plan import TrainConfig


def test_metrics_on_hand_checked_cases():
    assert normalise("The  Eiffel-Tower!") == "eiffeltower"
    assert exact_match("the Louvre.", "Louvre") and not exact_match("Louvre museum", "Louvre")
    assert token_f1("Paris France", "Paris") == pytest.approx(2 * 0.5 * 1 / 1.5)  # P=1/2, R=1
    assert token_f1("a an the", "the") == 0.0
    assert contains("She moved to New York in May", "new york") and not contains("Yorkshire", "York")
    assert judge("unknown", "unknown") == (True, True, 1.0)
    assert judge("Tallinn", "unknown")[0] is False
    assert judge("It was in Tallinn, Estonia", "Tallinn")[0] is True
    # LoCoMo multi-hop: each gold part takes its best match among the predicted parts
    assert multi_answer_f1("pottery, camping", "camping, pottery") == 1.0
    assert multi_answer_f1("pottery", "camping, pottery") == 0.5
    assert judge("pottery", "camping, pottery", "multi-hop")[2] == 0.5


def test_loaders_read_files_in_the_public_formats(tmp_path):
    squad = tmp_path / "squad.json"
    squad.write_text(
        json.dumps(
            [
                {
                    "title": "T",
                    "context": "Ada was born in 1815.",
                    "questions": [{"question": "When was Ada born?", "answer": "1815"}],
                }
            ]
        )
    )
    data = datasets.squad(squad)
    assert data.documents == 1 and data.questions[0].answer == "1815"

    cf = tmp_path / "cf.json"
    cf.write_text(
        json.dumps(
            [
                {
                    "case_id": 1,
                    "prompt": "Ada plays",
                    "target_new": "chess",
                    "subject": "Ada",
                    "ground_truth": "piano",
                    "rephrase_prompt": "Ada is known for playing",
                    "locality_prompt": "Bob plays",
                    "locality_ground_truth": "drums",
                    "fake_evidence": "Ada plays chess.",
                }
            ]
        )
    )
    data = datasets.counterfact(cf)
    assert [(q.category, q.answer, q.kind) for q in data.questions] == [
        ("edit", "chess", "completion"),
        ("rephrase", "chess", "completion"),
        ("locality", "drums", "completion"),
    ]

    locomo = tmp_path / "locomo.json"
    locomo.write_text(
        json.dumps(
            [
                {
                    "sample_id": "c1",
                    "conversation": {
                        "speaker_a": "A",
                        "speaker_b": "B",
                        "session_1_date_time": "1 May 2023",
                        "session_1": [{"speaker": "A", "dia_id": "D1:1", "text": "I got a dog."}],
                    },
                    "qa": [
                        {"question": "What did A get?", "answer": "a dog", "category": 4, "evidence": ["D1:1"]},
                        {"question": "What did B get?", "adversarial_answer": "a cat", "category": 5, "evidence": []},
                    ],
                }
            ]
        )
    )
    data = datasets.locomo(locomo)
    assert list(data.spaces) == ["c1"] and [q.answer for q in data.questions] == ["a dog", "unknown"]

    questions, corpus = tmp_path / "q.json", tmp_path / "c.json"
    questions.write_text(json.dumps([{"_id": "1", "question": "Q?", "answer": "yes", "type": "comparison"}]))
    corpus.write_text(json.dumps({"Ada": ["Ada was born.", "She wrote notes."]}))
    data = datasets.hotpotqa(questions, corpus)
    assert (
        data.spaces["bench"][0].content == "Ada: Ada was born. She wrote notes."
        and data.questions[0].category == "comparison"
    )

    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InputError, match="bad.json"):
        datasets.squad(tmp_path / "bad.json")


def test_the_world_is_seeded_and_has_every_question_kind():
    first, again = world(40, seed=3), world(40, seed=3)
    assert [q.text for q in first.questions] == [q.text for q in again.questions]
    assert {q.category for q in first.questions} == {"single-hop", "paraphrase", "two-hop", "temporal", "unanswerable"}
    texts = " ".join(item.content for item in first.spaces["bench"])
    for q in first.questions:
        if q.category == "temporal":
            assert f"to {q.answer}." in texts  # the current value is in a later document
        elif q.category != "unanswerable":
            assert q.answer in texts
    documents = {item.source: item.content for item in first.spaces["bench"]}
    for q in first.questions:  # each answerable question names the documents that answer it
        assert bool(q.sources) == (q.category != "unanswerable")
        assert all(source in documents for source in q.sources)
        assert q.category == "unanswerable" or q.answer in documents[q.sources[-1]]


def test_a_tiny_bench_runs_every_strategy_and_writes_every_output(tiny, tmp_path):
    data = world(6, seed=1)
    result = run_bench(
        tiny,
        data,
        ["none", "context", "index", "weights", "hybrid"],
        limit=4,
        train=TrainConfig(epochs=2, lr=1e-2, r=4),
        log=lambda _: None,
    )
    summary = result.summary()
    assert set(summary) == {"none", "context", "index", "weights", "hybrid"}
    assert all(s["questions"] == 4 for s in summary.values())
    assert summary["none"]["prompt_tokens"] < summary["index"]["prompt_tokens"]
    assert summary["none"]["prompt_tokens"] < summary["context"]["prompt_tokens"] <= tiny.model.context_limit
    assert result.costs["train_s"] > 0 and result.costs["adapter_bytes"] > 0 and result.knowledge_tokens > 0
    paths = write_report(result, tmp_path / "out")
    assert all(p.exists() and p.stat().st_size > 0 for p in paths)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert len(report["rows"]) == 20 and "| hybrid |" in (tmp_path / "out" / "report.md").read_text()


def test_fresh_documents_arrive_after_consolidation(tiny):
    data = world(6, seed=1)
    result = run_bench(tiny, data, ["weights"], train=TrainConfig(epochs=1, r=4), log=lambda _: None, fresh=0.5)
    trained = set(tiny.adapters("bench").current().memory_ids)
    held = {m.id for m in tiny.list_memories("bench", limit=100)}
    items = data.spaces["bench"]
    cut = len(items) - round(len(items) * 0.5)
    assert trained < held and len(trained) == cut
    late = {item.source for item in items[cut:]}
    for row, question in zip(result.rows, data.questions):  # each row says whether its documents were trained
        expected = "" if not question.sources else "added after" if late & set(question.sources) else "consolidated"
        assert row.learned == expected
    assert {row.learned for row in result.rows} >= {"added after", "consolidated"}
    assert set(result.summary()["weights"]["by_learned"]) == {"added after", "consolidated"}
    with pytest.raises(InputError, match="fresh"):
        run_bench(tiny, data, ["index"], fresh=1.0)


def test_bench_command_rejects_bad_options_clearly(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["bench", "--dataset", "squad", "--out", str(tmp_path)])
    assert result.exit_code == 1 and "needs --path" in result.output
    result = runner.invoke(app, ["bench", "--strategies", "index,psychic", "--size", "2", "--out", str(tmp_path)])
    assert result.exit_code == 1 and "psychic" in result.output
