"""Pack memories into the prompt under a token budget, most relevant first."""

from collections.abc import Callable

from ..prompt import quote_memory
from ..records import Chunk


def pack(ranked: list[Chunk], count_tokens: Callable[[str], int], budget: int) -> tuple[list[Chunk], int]:
    """The longest prefix of `ranked` (best first) that fits in `budget` tokens, and its size."""
    packed, used = [], 0
    for memory in ranked:
        cost = count_tokens(quote_memory(memory))
        if used + cost > budget:
            break
        packed.append(memory)
        used += cost
    return packed, used
