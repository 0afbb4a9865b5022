"""A made-up world (seeded): people, organisations, cities, years, and questions about them.

The base model cannot know any of it, so whatever a strategy answers right came from memory.
Question categories:
- single-hop: one fact, asked the way it was written;
- paraphrase: one fact, asked in words the documents never use;
- two-hop: two facts joined (the city of the headquarters of the company a person works for);
- temporal: a fact that changed later; the question asks for the current value;
- unanswerable: about someone who is not in the world; the right answer is "unknown".
"""

import random

from ..encode.parse import text_item
from .datasets import SPACE, UNANSWERABLE, Dataset, Question

_SYLLABLES = "ka lo mi ra ten vo su de bri an el or ul fa ne ti go ha ze ru si ko la mo".split()
_JOBS = "pilot nurse baker architect chemist carpenter lawyer violinist geologist chef".split()
_KINDS = ["Industries", "Labs", "Works", "Group", "Systems", "Foods"]

_WORKS = [
    "{p} works as {a_job} at {org}.",
    "{p} is employed by {org}, where {first} is {a_job}.",
    "At {org}, {p} has a job as {a_job}.",
]
_LIVES = ["{p} lives in {city}.", "{p}'s home is in {city}.", "{p} has made a home in {city}."]
_FOUNDED = ["{org} was founded in {year} by {q}.", "{q} founded {org} in {year}."]
_HQ = ["{org} has its headquarters in {city}.", "The head office of {org} is in {city}."]


def world(facts: int, seed: int = 0) -> Dataset:
    """About `facts` facts in short documents, and questions of every category about them."""
    rng = random.Random(seed)
    used: set[str] = set()

    def fresh(make) -> str:
        """A name nothing else in this world has."""
        while (made := make()) in used:
            pass
        used.add(made)
        return made

    def word(parts: int) -> str:
        return "".join(rng.choice(_SYLLABLES) for _ in range(parts)).capitalize()

    def person() -> str:
        return fresh(lambda: f"{word(2)} {word(3)}")

    def place(suffix: str) -> str:
        return fresh(lambda: word(3) + suffix)

    items, questions, count = [], [], 0
    orgs: list[tuple[str, str, str]] = []  # (organisation, headquarters city, its document)
    while count < facts:
        if not orgs or rng.random() < 0.3:  # a new organisation: founding and headquarters
            org = fresh(lambda: f"{word(3)} {rng.choice(_KINDS)}")
            city, founder, year = place("burg"), person(), rng.randint(1950, 2015)
            text = " ".join([rng.choice(_FOUNDED), rng.choice(_HQ)]).format(org=org, year=year, q=founder, city=city)
            source = f"org-{len(orgs)}"
            items.append(text_item(text, source))
            questions += [
                Question(f"Who founded {org}?", founder, "single-hop", sources=(source,)),
                Question(f"In what year did {founder} start {org}?", str(year), "paraphrase", sources=(source,)),
            ]
            orgs.append((org, city, source))
            count += 2
        org, hq, org_source = rng.choice(orgs)
        p, job, home = person(), rng.choice(_JOBS), place("ville")
        a_job = ("an " if job[0] in "aeiou" else "a ") + job
        values = {"p": p, "first": p.split()[0], "a_job": a_job, "org": org, "city": home}
        items.append(text_item(" ".join([rng.choice(_WORKS), rng.choice(_LIVES)]).format(**values), f"person-{p}"))
        about = (f"person-{p}",)
        questions += [
            Question(f"Where does {p} work?", org, "single-hop", sources=about),
            Question(f"What is {p}'s profession?", job, "paraphrase", sources=about),
            Question(
                f"In which city is the headquarters of the company {p} works for?",
                hq,
                "two-hop",
                sources=about + (org_source,),
            ),
        ]
        count += 2
        if rng.random() < 0.5:  # the person moves later: the newer fact supersedes the older one
            year, new_home = rng.randint(2019, 2024), place("stad")
            items.append(
                text_item(f"In {year}, {p} moved from {home} to {new_home}.", f"move-{p}", time=f"{year}-06-01")
            )
            questions.append(Question(f"Where does {p} live now?", new_home, "temporal", sources=(f"move-{p}",)))
            count += 1
        else:
            questions.append(Question(f"Where does {p} live?", home, "single-hop", sources=about))
        if rng.random() < 0.25:
            questions.append(Question(f"Where does {person()} work?", UNANSWERABLE, "unanswerable"))
    rng.shuffle(questions)
    return Dataset("world", {SPACE: items}, questions)
