from imprint.encode.chunk import chunk_segment
from imprint.records import Segment
from imprint.text.sentences import split_sentences


def words(text: str) -> int:
    return len(text.split())


def test_short_text_is_one_chunk_and_turns_keep_their_speaker():
    assert chunk_segment(Segment("Hello there."), words, 10, 2) == ["Hello there."]
    assert chunk_segment(Segment("I got a cat.", speaker="Ana"), words, 10, 2) == ["Ana: I got a cat."]


def test_long_text_is_packed_under_the_budget_with_overlap():
    sentences = [f"Sentence number {i} is here." for i in range(30)]
    chunks = chunk_segment(Segment(" ".join(sentences)), words, 20, 5)
    assert len(chunks) > 1
    assert all(words(c) <= 20 for c in chunks)
    for before, after in zip(chunks, chunks[1:]):
        assert split_sentences(before)[-1] == split_sentences(after)[0]  # one sentence carried over
    assert all(any(s in c for c in chunks) for s in sentences)  # nothing lost


def test_a_sentence_longer_than_the_budget_is_cut_between_words():
    text = " ".join(f"w{i}" for i in range(100))
    chunks = chunk_segment(Segment(text), words, 16, 0)
    assert all(words(c) <= 16 for c in chunks)
    assert " ".join(chunks).split() == text.split()


def test_one_enormous_word_is_cut_by_characters():
    chunks = chunk_segment(Segment("x" * 1000), lambda t: len(t) // 10 + 1, 20, 0)
    assert "".join(chunks) == "x" * 1000
    assert all(len(c) // 10 + 1 <= 20 for c in chunks)


def test_an_initial_does_not_end_a_sentence():
    assert split_sentences("It is the third album by M. Ward. The title alludes to J. R. R. Tolkien.") == [
        "It is the third album by M. Ward.",
        "The title alludes to J. R. R. Tolkien.",
    ]
