"""The router: a pure decision, tested on every branch, then end to end on a real space."""

from imprint.answer.route import choose
from imprint.records import Chunk, Hit
from imprint.text.words import found_in


def hits(*ids: int) -> list[Hit]:
    return [
        Hit(
            Chunk(
                id=i,
                raw_id=i,
                source="s",
                text=f"memory {i}",
                speaker=None,
                time=None,
                tokens=5,
                metadata={},
                added_at="",
            ),
            score=1.0 / n,
            keyword_rank=n,
            dense_rank=n,
        )
        for n, i in enumerate(ids, 1)
    ]


def test_hybrid_or_closed_book_when_the_adapter_learned_every_best_match():
    route = choose(hits(1, 2, 3, 4), adapter_version=2, adapter_memories={1, 2, 3}, space_tokens=10_000, budget=1000)
    assert route.strategy == "hybrid" and "v2" in route.reason and route.covered == [1, 2, 3]
    closed = choose(hits(1, 2, 3), 2, {1, 2, 3}, space_tokens=10_000, budget=1000, closed_book=True)
    assert closed.strategy == "weights"


def test_hybrid_when_some_best_matches_came_after_the_last_consolidation():
    route = choose(hits(1, 9, 2), adapter_version=2, adapter_memories={1, 2}, space_tokens=10_000, budget=1000)
    assert route.strategy == "hybrid" and "9 came later" in route.reason


def test_context_for_a_small_space_without_a_covering_adapter():
    assert choose(hits(1, 2), None, set(), space_tokens=300, budget=1000).strategy == "context"
    assert choose(hits(7, 8), 1, {1, 2}, space_tokens=300, budget=1000).strategy == "context"


def test_index_for_a_large_space_or_no_match():
    assert choose(hits(1, 2), None, set(), space_tokens=50_000, budget=1000).strategy == "index"
    assert choose([], 3, {1}, space_tokens=0, budget=1000).reason == "no memory matches the question"


def test_an_adapter_answer_counts_as_found_only_as_a_run_of_the_memories_words():
    memories = ["Deka Mobrira works as a pilot at Ulfalo Works.", "Deka Mobrira's home is in Ladelostad."]
    assert found_in("Ulfalo Works", memories) and found_in("ulfalo works.", memories)
    assert not found_in("Deka's home is in Ladelostad.", memories)  # the adapter's template words
    assert not found_in("Ulfalo Work", ["Ulfalo Worksop"]) and not found_in("", memories)
    assert not found_in("pilot at Ulfalo Works. Deka", memories)  # not across memories


def test_auto_answers_and_says_why(memory):
    memory.add("Mira Quenton moved to Tallinn in 2021.", space="s")
    memory.add("The robotics club meets on Thursdays.", space="s")
    route = memory.explain("Where did Mira Quenton move?", "s")
    assert route.strategy == "context" and route.memories[0].text.startswith("Mira")
    answer = memory.ask("Where did Mira Quenton move?", "s")  # auto is the default
    assert answer.strategy == "context" and answer.route == route.reason and "Tallinn" in answer.text


def test_a_separate_reader_answers_what_the_adapter_learned():
    """The quality profile's 1.5B reader reads the memories better than the 270M base with its adapter."""
    route = choose(hits(1, 2, 3), 2, {1, 2, 3}, space_tokens=10_000, budget=1000, reader="qwen-1.5b")
    assert route.strategy == "index" and "qwen-1.5b reads them better" in route.reason and route.covered == [1, 2, 3]
    assert choose(hits(1, 2, 3), 2, {1, 2, 3}, 10_000, 1000, closed_book=True, reader="qwen").strategy == "weights"
    assert choose(hits(7, 8), 2, {1, 2}, space_tokens=300, budget=1000, reader="qwen").strategy == "context"
