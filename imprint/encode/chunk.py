"""Split segments into chunks that fit the embedder's window, counted in its own tokens.

Documents are packed sentence by sentence up to `max_tokens`, with about `overlap` tokens of the
previous chunk repeated so a fact cut at a boundary is still found. A conversation turn is one
chunk (`speaker: text`), split the same way only if it is longer than the window.
"""

from collections.abc import Callable

from ..records import Segment
from ..text.sentences import split_sentences


def chunk_segment(segment: Segment, count_tokens: Callable[[str], int], max_tokens: int, overlap: int) -> list[str]:
    text = segment.text.strip()
    prefix = f"{segment.speaker}: " if segment.speaker else ""
    budget = max_tokens - (count_tokens(prefix) if prefix else 0)
    if count_tokens(text) <= budget:
        return [prefix + text]
    return [prefix + piece for piece in _pack(text, count_tokens, budget, overlap)]


def _pack(text: str, count_tokens: Callable[[str], int], budget: int, overlap: int) -> list[str]:
    pieces: list[tuple[str, int]] = []
    for sentence in split_sentences(text):
        pieces.extend(_fit(sentence, count_tokens, budget))
    chunks, current, used = [], [], 0
    for piece, tokens in pieces:
        if current and used + tokens > budget:
            chunks.append(" ".join(p for p, _ in current))
            # carry the tail of the chunk just closed, up to `overlap` tokens
            carried, kept = [], 0
            for p, t in reversed(current):
                if kept + t > overlap or kept + t + tokens > budget:
                    break
                carried.insert(0, (p, t))
                kept += t
            current, used = carried, kept
        current.append((piece, tokens))
        used += tokens
    if current:
        chunks.append(" ".join(p for p, _ in current))
    return chunks


def _fit(sentence: str, count_tokens: Callable[[str], int], budget: int) -> list[tuple[str, int]]:
    """A sentence as (text, tokens) pieces no longer than the budget, cut between words."""
    tokens = count_tokens(sentence)
    if tokens <= budget:
        return [(sentence, tokens)]
    words = sentence.split()
    if len(words) == 1:  # one enormous "word": cut by characters
        step = max(1, len(sentence) * budget // tokens)
        return [(sentence[i : i + step], count_tokens(sentence[i : i + step])) for i in range(0, len(sentence), step)]
    half = len(words) // 2
    return _fit(" ".join(words[:half]), count_tokens, budget) + _fit(" ".join(words[half:]), count_tokens, budget)
