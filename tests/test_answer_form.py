"""A question read once, and the reader's words cut to the form it asks for. The questions and
answers here are written for these tests, in wordings no prompt example uses."""

import pytest

from imprint.answer.form import shape
from imprint.answer.grounding import unsupported
from imprint.records import Chunk
from imprint.text.question import parse_question


def memory(text: str, time: str | None = None, speaker: str | None = None) -> Chunk:
    return Chunk(1, 1, "chat", text, speaker, time, len(text.split()), {}, "")


@pytest.mark.parametrize(
    "question, kind",
    [
        ("When did Ilse start her apprenticeship?", "date"),
        ("What year did the bakery open?", "date"),
        ("How many bikes does Teodor own?", "number"),
        ("How long has Ilse lived in Graz?", "number"),
        ("Who taught Teodor to sail?", "person"),
        ("Where did the choir perform last winter?", "place"),
        ("In which city was the bakery opened?", "place"),
        ("Has Ilse ever been to Porto?", "yes/no"),
        ("Did Teodor take the train or the bus?", "free"),  # a choice, not yes or no
        ("What instruments does Teodor play?", "list"),
        ("Which languages has Ilse studied?", "list"),
        ("What are Ilse's favourite dishes?", "list"),
        ("What does Teodor do on Sundays?", "free"),
        ("What is the name of Ilse's dog?", "free"),
    ],
)
def test_the_answer_kind_a_question_asks_for(question, kind):
    assert parse_question(question).kind == kind


def test_a_question_is_read_once_into_its_names_and_its_day():
    question = parse_question("Where did Ilse Marek live in 2019?")
    assert question.names == ("ilse marek",) and "ilse" in question.candidates
    assert question.day is not None and question.day.year == 2019 and not question.about_now
    now = parse_question("Where does Ilse live now?")
    assert now.about_now and now.day is None


def test_a_date_answer_is_the_date_a_memory_resolved_or_the_day_it_was_said():
    shown = [
        memory("Ilse: I handed in my thesis last Friday [the Friday before 12 March 2024].", "12 March, 2024", "Ilse"),
        memory("Teodor: We sailed to the island this morning.", "3:10 pm on 4 June, 2023", "Teodor"),
    ]
    when = parse_question("When did Ilse hand in her thesis?")
    assert shape("I handed in my thesis last Friday [the Friday before 12 March 2024]!", when, shown) == (
        "the Friday before 12 March 2024"
    )
    assert shape("I handed in my thesis last Friday.", when, shown) == "the Friday before 12 March 2024"
    sailed = parse_question("When did Teodor sail to the island?")
    assert shape("We sailed to the island this morning.", sailed, shown) == "4 June 2023"
    assert shape("It was in August 2021, I think.", sailed, shown) == "August 2021"
    assert shape("No idea at all", sailed, shown) == "No idea at all"  # nothing to cut it to


def test_numbers_yes_no_and_spans_are_cut_to_the_answer():
    assert shape("Teodor has 4 bikes in the garage.", parse_question("How many bikes does Teodor own?"), []) == "4"
    assert shape("For about 6 years now.", parse_question("How long has Ilse lived in Graz?"), []) == "6 years"
    assert shape("Yes, Ilse went there twice. She loved it.", parse_question("Has Ilse been to Porto?"), []) == "Yes"
    assert shape("Ilse: Her dog is called Brösel.", parse_question("What is the name of Ilse's dog?"), []) == (
        "called Brösel"
    )
    assert shape("Teodor is a carpenter. He likes it.", parse_question("What is Teodor's job?"), []) == "carpenter"


def test_a_list_answer_keeps_the_items_of_every_sentence():
    said = "Teodor: I play the cello. I also picked up the banjo last year."
    assert shape(said, parse_question("What instruments does Teodor play?"), []) == (
        "cello, also picked up the banjo last year"
    )


def test_a_name_no_memory_mentions_is_not_an_answer():
    shown = [memory("Tomas Brekke founded Zorblat, a Norwegian boat company, in 2019.")]
    question = parse_question("Which company did Tomas found?")
    assert "sea-doo" in unsupported("The Norwegian company, Sea-Doo.", shown, question)
    assert unsupported("The Norwegian company, Zorblat.", shown, question) is None
    assert unsupported("Zorblat", shown, question) is None
    assert unsupported("Tomas Brekke's company", shown, question) is None  # named in the question too
