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
_SUBJECT = re.compile(rf"^(?P<subject>(?:The [a-z]+(?: [a-z]+)? of )?{_NAME}(?:['’]s [a-z]+(?: (?!{_FINITE})[a-z]+)?)?) "
                      r"(?P<rest>.+?)[.!]?$")
_PASSIVE = re.compile(r"^(?P<aux>is|was|are|were) (?P<verb>[a-z]{2,}(?:ed|en|t|n|de|ne|wn))\b(?P<tail>.*)$")
_COPULA = re.compile(r"^(?P<aux>is|was|are|were) (?P<prep>in|at|from|near|on) (?P<answer>.+)$")
_ROLE_OF = re.compile(rf"^(?P<aux>is|was) (?P<role>the [a-z]+(?: [a-z]+)? of {_NAME})$")
_PERFECT = re.compile(r"^(?P<aux>has|have|had) (?P<verb>[a-z]+(?:ed|en|t|de|ne|wn))\b (?P<tail>.+)$")
_NAMED = re.compile(rf"^(?P<verb>has|had|owns|owned|keeps|kept) (?:a|an) (?P<noun>[a-z]+) (?:named|called) (?P<answer>{_SPAN})")
_AS = re.compile(r"^(?P<verb>[a-z]+) as (?:a|an) (?P<answer>[a-z]+(?: [a-z]+)?)(?= at| for| in|$)")
_YEAR = re.compile(r"\b(?:in|since|on) (?P<answer>(?:\d{1,2} )?(?:[A-Z][a-z]+ )?\d{4})\b")
_OBJECT = re.compile(rf"^(?:(?P<thing>{_PHRASE}) (?=(?:in|at) ))?(?P<prep>(?:in|at|to|from|for|with|near|into|on) )?"
                     rf"(?P<answer>{_SPAN}|{_PHRASE})(?=$|,| in | on | at | since | for | with | to | from )")
_WHERE = {"in", "at", "to", "from", "near", "into", "on"}


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
    found = _SUBJECT.match(sentence.strip())
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
        return [(f"What is the name of {owner} {named['noun']}?", named["answer"]),
                (f"What is {owner} {named['noun']} called?", named["answer"])]
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
        pairs += [(f"Who {active} {subject}?", by["agent"]),
                  (f"What {'did' if past else 'does'} {by['agent']} {base}?", subject)]
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
        tail = tail[len(as_role.group()) - len(verb) - 1:].strip()
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
    if year := _YEAR.search(tail[obj.end():]):
        pairs.append((f"{_when(year['answer'])} {aux} {asked}{'' if prep else ' ' + answer}?", year["answer"]))
    return pairs
