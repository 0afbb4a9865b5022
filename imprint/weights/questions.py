"""Natural questions from a plain factual sentence, in both directions of its relation.

An adapter trained only on fill-in-the-blank strings learns the strings: asked "Where does Ana
live?" it does not answer what it was taught as "Ana lives in ___". People ask with an auxiliary and
the verb's base form, so the sentence is inverted the way English does it:

    Ana Ruiz lives in Porto.                 -> Where does Ana Ruiz live?           (Porto)
    Lumen Labs was founded by Ana in 1990.   -> Who founded Lumen Labs?             (Ana)
                                                What did Ana found?                 (Lumen Labs)
                                                When was Lumen Labs founded?        (1990)
    Ana has a dog named Rex.                 -> What is the name of Ana's dog?      (Rex)
    Ana's home is in Porto.                  -> Where is Ana's home?                (Porto)
                                                Where does Ana live?                (Porto)
    In 2021, Ana moved from Porto to Riga.   -> Where did Ana move to?              (Riga)
                                                Where does Ana live?                (Riga)
    Ana works as a pilot at Lumen Labs.      -> What does Ana work as?              (pilot)
                                                What is Ana's occupation?           (pilot)

A relation said several ways ("has made a home in", "moved to", "'s home is in") is also asked the
common way ("Where does Ana live?"), so a fact is reached by more than the words it was written in.
The parse is shallow on purpose: subject = the leading name, verb = the word after it (lemminflect
gives its base form and tense, no tagger model needed). Sentences of other shapes give no natural
questions; the template families in synth.py still cover them.
"""

import re

from lemminflect import getInflection, getLemma

_WORD = r"[A-Z](?:[\w-]|['’](?!s\b))+"
_NAME = rf"{_WORD}(?: (?:of |de |van |von |the )?{_WORD})*"
_PHRASE = r"(?:(?:a|an|the|his|her|its|their|my) )?[a-z]+(?: [a-z]+)?"
_SPAN = rf"(?:{_NAME}|\d[\d,.]*(?: ?%)?|(?:\d{{1,2}} )?[A-Z][a-z]+ \d{{4}})"
_FINITE = r"(?:is|was|are|were|has|have|had)\b"
_SUBJECT = re.compile(
    rf"^(?P<subject>(?:The [a-z]+(?: [a-z]+)? of )?{_NAME}(?:['’]s [a-z]+(?: (?!{_FINITE})[a-z]+)?)?) "
    r"(?P<rest>.+?)[.!]?$"
)
_PASSIVE = re.compile(r"^(?P<aux>is|was|are|were) (?P<verb>[a-z]{2,}(?:ed|en|t|n|de|ne|wn))\b(?P<tail>.*)$")
_COPULA = re.compile(r"^(?P<aux>is|was|are|were) (?P<prep>in|at|from|near|on) (?P<answer>.+)$")
_ROLE_OF = re.compile(rf"^(?P<aux>is|was) (?P<role>the [a-z]+(?: [a-z]+)? of {_NAME})$")
_PERFECT = re.compile(r"^(?P<aux>has|have|had) (?P<verb>[a-z]+(?:ed|en|t|de|ne|wn))\b (?P<tail>.+)$")
_NAMED = re.compile(
    rf"^(?P<verb>has|had|owns|owned|keeps|kept) (?:a|an) (?P<noun>[a-z]+) (?:named|called) (?P<answer>{_SPAN})"
)
_AS = re.compile(r"^(?P<verb>[a-z]+) as (?:a|an) (?P<answer>[a-z]+(?: [a-z]+)?)(?= at| for| in|$)")
_YEAR = re.compile(r"\b(?:in|since|on) (?P<answer>(?:\d{1,2} )?(?:[A-Z][a-z]+ )?\d{4})\b")
_OBJECT = re.compile(
    rf"^(?:(?P<thing>{_PHRASE}) (?=(?:in|at) ))?(?P<prep>(?:in|at|to|from|for|with|near|into|on) )?"
    rf"(?P<answer>{_SPAN}|{_PHRASE})(?=$|,| in | on | at | since | for | with | to | from )"
)
_WHERE = {"in", "at", "to", "from", "near", "into", "on"}
_FRONTED = re.compile(r"^(?P<prep>In|At|On|Since|During|After|Before) (?P<phrase>[^,]{1,60}), (?P<rest>[A-Z].*?)[.!]?$")
_ROLE_CLAUSE = re.compile(r", where (?P<who>[A-Z][\w'’-]+|he|she|they) (?:is|was|works as) (?:a|an) (?P<role>[a-z]+)\b")
_JOB = re.compile(
    rf"^(?P<verb>has|had) (?:a )?(?:job|position|post) as (?:a|an) (?P<role>[a-z]+)(?: at (?P<org>{_NAME}))?"
)
_FROM_TO = re.compile(rf"^from (?P<origin>{_SPAN}) to (?P<goal>{_SPAN})")
# the same relation asked the common way: "{}" is the subject
_COMMON = [
    (
        re.compile(r"^Where (?:is (?P<s>.+)['’]s home|has (?P<s2>.+) made a home|did (?P<s3>.+) move to)\?$"),
        ["Where does {} live?"],
    ),
    (
        re.compile(r"^What (?:does|did) (?P<s>.+) work as\?$"),
        ["What is {}'s occupation?", "What does {} do for a living?"],
    ),
    (re.compile(r"^Who employs (?P<s>.+)\?$"), ["Where does {} work?"]),
]


def _verb_forms(word: str) -> tuple[str, str] | None:
    """(base form, auxiliary: does/do/did) of a finite verb, or None if `word` is not one."""
    lemmas = getLemma(word, "VERB")
    if not lemmas or word in {"is", "was", "are", "were"}:
        return None
    base = lemmas[0]
    if word in getInflection(base, "VBD") and word != base:
        return base, "did"
    if word in getInflection(base, "VBZ") and word != base:
        return base, "does"
    return None


def _when(answer: str) -> str:
    return "In what year" if re.fullmatch(r"\d{4}", answer) else "When"


def natural_questions(sentence: str) -> list[tuple[str, str]]:
    """(question, answer) pairs people would ask about `sentence`; empty if it has another shape."""
    sentence = sentence.strip()
    if fronted := _FRONTED.match(sentence):  # "In 2021, Ana moved." is parsed as "Ana moved in 2021."
        sentence = f"{fronted['rest']} {fronted['prep'].lower()} {fronted['phrase']}."
    role = _ROLE_CLAUSE.search(sentence)
    if role:  # "Ana is employed by X, where Ana is a pilot": the clause is a second relation
        sentence = sentence[: role.start()] + sentence[role.end() :]
    pairs = _relation_questions(sentence)
    found = _SUBJECT.match(sentence)
    if role and found and (role["who"] in found["subject"].split() or role["who"].islower()):
        pairs.append((f"What does {found['subject']} work as?", role["role"]))
    return _asked_the_common_way(pairs)


def _asked_the_common_way(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """`pairs` and, after each, the same relation in its common phrasings (no question twice)."""
    out = []
    for question, answer in pairs:
        out.append((question, answer))
        for pattern, phrasings in _COMMON:
            if found := pattern.match(question):
                subject = next(group for group in found.groups() if group)
                out += [(phrasing.format(subject), answer) for phrasing in phrasings]
    unique: dict[str, str] = {}
    for question, answer in out:
        unique.setdefault(question, answer)
    return list(unique.items())


def _relation_questions(sentence: str) -> list[tuple[str, str]]:
    """The questions of the one relation `sentence` states, in both directions."""
    found = _SUBJECT.match(sentence)
    if not found:
        return []
    subject, rest = re.sub(r"^The ", "the ", found["subject"]), found["rest"]
    if copula := _COPULA.match(rest):
        answer = re.split(r",| and | which | where ", copula["answer"])[0]
        return [(f"Where {copula['aux']} {subject}?", answer)]
    if passive := _PASSIVE.match(rest):
        return _passive(subject, passive)
    if role := _ROLE_OF.match(rest):
        return [(f"What {role['aux']} {role['role']}?", subject), (f"What {role['aux']} {subject}?", role["role"])]
    if named := _NAMED.match(rest):
        owner = f"{subject}'" if subject.endswith("s") else f"{subject}'s"
        return [
            (f"What is the name of {owner} {named['noun']}?", named["answer"]),
            (f"What is {owner} {named['noun']} called?", named["answer"]),
        ]
    if job := _JOB.match(rest):
        aux = "does" if job["verb"] == "has" else "did"
        return [(f"What {aux} {subject} work as?", job["role"])] + (
            [(f"Where {aux} {subject} work?", job["org"])] if job["org"] else []
        )
    if perfect := _PERFECT.match(rest):
        verb, aux, tail = perfect["verb"], perfect["aux"], perfect["tail"]
        return _active(subject, aux, verb, tail, getInflection(getLemma(verb, "VERB")[0], "VBZ")[0])
    verb, _, tail = rest.partition(" ")
    forms = _verb_forms(verb)
    if not forms:
        return []
    base, aux = forms
    return _active(subject, aux, base, tail, verb)


def _passive(subject: str, passive: re.Match) -> list[tuple[str, str]]:
    """'X was founded by Y in 1990': who founded X, what did Y found, when was X founded."""
    verb, tail, aux = passive["verb"], passive["tail"], passive["aux"]
    lemmas = getLemma(verb, "VERB")
    if not lemmas:
        return []
    base = lemmas[0]
    past = aux in {"was", "were"}
    active = getInflection(base, "VBD" if past else "VBZ")[0]
    pairs = []
    if by := re.search(rf"\bby (?P<agent>{_NAME})", tail):
        pairs += [
            (f"Who {active} {subject}?", by["agent"]),
            (f"What {'did' if past else 'does'} {by['agent']} {base}?", subject),
        ]
    if place := re.search(rf"\b(?:in|at|near) (?P<place>{_NAME})", tail):
        pairs.append((f"Where {aux} {subject} {verb}?", place["place"]))
    if year := _YEAR.search(tail):
        pairs.append((f"{_when(year['answer'])} {aux} {subject} {verb}?", year["answer"]))
    return pairs


def _active(subject: str, aux: str, verb: str, tail: str, said_verb: str) -> list[tuple[str, str]]:
    """'X lives in Y', 'X founded Y in 1990', 'X works as a pilot at Y', 'X has made a home in Y'."""
    pairs = []
    if as_role := _AS.match(f"{verb} {tail}"):
        pairs.append((f"What {aux} {subject} {verb} as?", as_role["answer"]))
        tail = tail[len(as_role.group()) - len(verb) - 1 :].strip()
    if moved := _FROM_TO.match(tail):
        pairs += [
            (f"Where {aux} {subject} {verb} from?", moved["origin"]),
            (f"Where {aux} {subject} {verb} to?", moved["goal"]),
        ]
        if year := _YEAR.search(tail[moved.end() :]):
            pairs.append((f"{_when(year['answer'])} {aux} {subject} {verb} to {moved['goal']}?", year["answer"]))
        return pairs
    obj = _OBJECT.match(tail)
    if not obj:
        return pairs
    answer, prep, thing = obj["answer"], (obj["prep"] or "").strip(), obj["thing"]
    asked = f"{subject} {verb} {thing}" if thing else f"{subject} {verb}"
    if prep in _WHERE and not re.fullmatch(r"\d{4}", answer):
        pairs.append((f"Where {aux} {asked}?", answer))
    elif prep:
        pairs.append((f"Who or what {aux} {asked} {prep}?", answer))
    else:
        pairs += [(f"What {aux} {asked}?", answer)]
        if answer[0].isupper():
            pairs.append((f"Who {said_verb} {answer}?", subject))
    if year := _YEAR.search(tail[obj.end() :]):
        pairs.append((f"{_when(year['answer'])} {aux} {asked}{'' if prep else ' ' + answer}?", year["answer"]))
    return pairs
