"""What a memory says: conversation turns with their relative dates resolved, model-free, and
optionally every statement rewritten as standalone facts by a teacher model.

"I went to a LGBTQ support group yesterday and it was so powerful.", said by Caroline on 8 May
2023, becomes the memory "Caroline: I went to a LGBTQ support group yesterday [7 May 2023] and it
was so powerful." (speaker and time stay on the memory, the turn stays raw as it came). The words
are kept as said: leaving out sentences without content ("Hi!", "Thanks!") or under two content
words ("Hey Jon!") cost LoCoMo recall and answers (docs/benchmarks.md), so the model-free statement only adds.

With a teacher model (`IMPRINT_EXTRACT=teacher`), each statement, of a turn or a document chunk, is
rewritten as standalone facts ("Caroline went to a LGBTQ support group on 7 May 2023."), kept only
when grounded; the words it was made from stay on the memory (`said`) for `forget`.
"""

import re

from ..records import TextModel
from .dates import parse_time, resolve_relative_dates
from .entities import extract_entities
from .salience import content_words


def turn_statement(text: str, time: str | None) -> str:
    """The statement a conversation turn makes: its words, each relative date followed by its date."""
    said = parse_time(time)
    return resolve_relative_dates(text, said) if said else text


TEACHER_PROMPT = """Rewrite the message as short facts that stand alone: names instead of I, you, he or she; \
dates as given; nothing the message does not say.

Message from Omar Haddad (2 April 2019): Hi Lena! I started as a nurse at Linden Hospital last week \
[the week before 2 April 2019]. My sister Ana moved to Quito, she loves it.
Facts:
- Omar Haddad started as a nurse at Linden Hospital the week before 2 April 2019.
- Omar Haddad's sister Ana moved to Quito.
- Ana loves Quito.

Message from {speaker} ({time}): {text}
Facts:
-"""


class TeacherExtractor:
    """A teacher model rewrites a statement as standalone facts (pronouns replaced by names). A fact
    is kept only when grounded: every name and number in it is in the message, and it shares at
    least two content words with it (a small teacher invents); with none kept, the model-free
    statement stays."""

    def __init__(self, teacher: TextModel, max_new_tokens: int = 120) -> None:
        self.teacher = teacher
        self.max_new_tokens = max_new_tokens

    def facts(self, statement: str, speaker: str | None, time: str | None) -> list[str]:
        prompt = TEACHER_PROMPT.format(speaker=speaker or "someone", time=time or "date unknown", text=statement)
        written = self.teacher.generate(prompt, self.max_new_tokens, stop="\n\n").text
        source = f"{speaker or ''} {statement}"
        facts = [line.strip(" -*\t") for line in f"-{written}".splitlines()]
        # a fact must be finished (the token limit cuts the last one) and grounded
        return list(dict.fromkeys(fact for fact in facts if fact.endswith((".", "!", "?")) and grounded(fact, source)))


def grounded(fact: str, source: str) -> bool:
    """Whether everything `fact` names (names, numbers) is in `source`, and it says something of it."""
    lowered = source.lower()
    return (
        all(name in lowered for name in extract_entities(fact))
        and all(number in source for number in re.findall(r"\d+", fact))
        and len(content_words(fact) & content_words(source)) >= 2
    )
