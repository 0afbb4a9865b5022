"""The router behind `strategy="auto"`: per question, which tier answers, and why.

It looks at the memories that best match the question and at the space's current adapter:
- hybrid: some or all of the best matches were consolidated into a promoted adapter: the adapter
  answers with the memories in the prompt (measured more accurate than the adapter alone), unless
  a separate, bigger reader reads the memories (the quality profile): on the world set it answered
  82% from them where the 270M base with the adapter answered 68%, so the reader answers (index);
- weights: with `closed_book`, when every best match was consolidated: no retrieval in the
  prompt, the fastest and cheapest answer;
- context: no adapter covers them, but the whole space fits in the prompt (the reader sees all):
  within `auto_context_tokens` when the prompt would be computed now (cold), within the reader's
  window when its computed state is kept (activations.py: the answer computes only the question);
- index: otherwise, the top k memories.
The decision is a pure function of what it is given, so it can be tested and explained.

An adapter's answer is then checked (`text.words.found_in`): it must be words the retrieved
memories contain.
A small adapter trained on template questions answers in its training's words ("X's home is in
Y" to "Where does X work?"); when its answer is not in the memories, the base reader answers from
them instead (`Memory.ask`).
"""

from dataclasses import dataclass

from ..records import Chunk, Hit

BEST_MATCHES = 3  # how many of the best-matching memories must be covered for `weights`


@dataclass
class Route:
    strategy: str
    reason: str
    memories: list[Chunk]  # the best matches the decision looked at
    covered: list[int]  # which of them the current adapter learned


def choose(
    hits: list[Hit],
    adapter_version: int | None,
    adapter_memories: set[int],
    space_tokens: int,
    budget: int,
    closed_book: bool = False,
    reader: str | None = None,
    kept: bool | None = None,
) -> Route:
    """`reader`: the separate model that reads memories, when it is not the adapter's base model.
    `budget`: the tokens context may read at the cost it would have now; `kept`: whether the
    space's context state is kept (None: the reader cannot keep one)."""
    best = [hit.memory for hit in hits[:BEST_MATCHES]]
    covered = [m.id for m in best if m.id in adapter_memories]
    ids = ", ".join(str(m.id) for m in best)
    if not best:
        return Route("index", "no memory matches the question", [], [])
    if adapter_version is not None and covered and reader and not closed_book:
        return Route(
            "index",
            f"adapter v{adapter_version} learned {len(covered)} of the best matches, but {reader} "
            "reads them better than the adapter's base model: the top memories",
            best,
            covered,
        )
    if adapter_version is not None and len(covered) == len(best):
        if closed_book:
            return Route(
                "weights",
                f"the best matches ({ids}) were all consolidated into adapter v{adapter_version}",
                best,
                covered,
            )
        return Route(
            "hybrid",
            f"the best matches ({ids}) were all consolidated into adapter v{adapter_version}; "
            "they go in the prompt too (closed book is off)",
            best,
            covered,
        )
    if adapter_version is not None and covered:
        later = ", ".join(str(m.id) for m in best if m.id not in covered)
        return Route(
            "hybrid",
            f"adapter v{adapter_version} learned {len(covered)} of the best matches; "
            f"{later} came later, so they go in the prompt",
            best,
            covered,
        )
    if space_tokens <= budget:
        cost = {True: "; their computed state is kept: only the question is computed", False: "; cold: this "
                "answer computes them all, and their state is kept for the next"}.get(kept, "")  # fmt: skip
        return Route(
            "context",
            f"no adapter covers the best matches, and all memories ({space_tokens:,} tokens) "
            f"fit in the prompt ({budget:,}){cost}",
            best,
            covered,
        )
    return Route(
        "index",
        f"no adapter covers the best matches and the space ({space_tokens:,} tokens) is larger "
        f"than the prompt ({budget:,}): the top memories",
        best,
        covered,
    )
