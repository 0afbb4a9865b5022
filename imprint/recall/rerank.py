"""Late-interaction reranking of the hits an answer draws from.

A pooled vector blurs a turn into one point; comparing each question token with its closest token
of the memory (MaxSim, as ColBERT scores) keeps "pottery" from drowning in a long turn. No
cross-encoder ships inside a PyPI package (../shared/MODELS.md), so MiniLM's token vectors do it
(llm/choose.reranker), on the fused top RERANK_POOL, and the MaxSim order is fused with the search
order by reciprocal rank. It costs one MiniLM pass over the candidates (~0.2 s on 2 cores), so
`ask` reranks and a plain search does not (IMPRINT_RERANK; docs/benchmarks.md).

When SPLADE-tiny is installed (llm/sparse.py) its match of question and memory is a third order
fused the same way: it weighs the words a memory implies as well as those it says.
"""

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from ..records import Hit
from .search import RRF_K

RERANK_POOL = 50  # hits reranked; LoCoMo recall@10 rose with the pool from 30 to 50


Scorer = Callable[[str, list[str]], list[float]]  # (question, memory texts) -> a score per memory


def reranked(question: str, hits: list[Hit], scorers: list[Scorer], k: int) -> list[Hit]:
    """The k best of `hits` (in search order) after fusing that order with the order each scorer
    gives them; each hit's score becomes its fused score (what IMPRINT_MIN_RELATIVE_SCORE compares)."""
    if len(hits) < 2:
        return hits[:k]
    texts = [hit.memory.text for hit in hits]
    fused = [1.0 / (RRF_K + rank) for rank in range(1, len(hits) + 1)]
    for scorer in scorers:
        scores = scorer(question, texts)
        for rank, i in enumerate(sorted(range(len(hits)), key=lambda i: -scores[i]), start=1):
            fused[i] += 1.0 / (RRF_K + rank)
    best = sorted(range(len(hits)), key=lambda i: -fused[i])[:k]
    return [dataclasses.replace(hits[i], score=fused[i]) for i in best]


def late_interaction(token_vectors: Callable[[list[str]], list[Any]]) -> Scorer:
    """The MaxSim scorer over an embedder's token vectors."""

    def score(question: str, texts: list[str]) -> list[float]:
        query, *memories = token_vectors([question, *texts])
        return [maxsim(query, tokens) for tokens in memories]

    return score


def maxsim(query: np.ndarray, memory: np.ndarray) -> float:
    """The mean over the question's tokens of their best cosine with a token of the memory."""
    if not len(query) or not len(memory):
        return 0.0
    return float((query @ memory.T).max(axis=1).mean())
