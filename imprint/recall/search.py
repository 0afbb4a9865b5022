"""Hybrid search: BM25 (FTS5) and dense cosine, fused by reciprocal rank (RRF).

RRF needs no score calibration between the two retrievers: a memory's score is the sum of
1 / (RRF_K + rank) over the lists it appears in, so agreement between them wins.
"""

from typing import Callable

import numpy as np

from ..records import Hit
from ..store.sqlite import SpaceStore
from .dense import VectorIndex

RRF_K = 60


def hybrid_search(
    store: SpaceStore,
    index: VectorIndex,
    query: str,
    embed_query: Callable[[str], np.ndarray],
    k: int,
    candidates: int = 50,
) -> list[Hit]:
    """The k best memories for `query`; each retriever contributes its top `candidates`."""
    depth = max(k, candidates)
    keyword = store.keyword_search(query, depth)
    dense = [memory_id for memory_id, _ in index.search(embed_query(query), depth)]
    keyword_rank = {memory_id: rank for rank, memory_id in enumerate(keyword, start=1)}
    dense_rank = {memory_id: rank for rank, memory_id in enumerate(dense, start=1)}
    scores: dict[int, float] = {}
    for ranks in (keyword_rank, dense_rank):
        for memory_id, rank in ranks.items():
            scores[memory_id] = scores.get(memory_id, 0.0) + 1.0 / (RRF_K + rank)
    best = sorted(scores, key=lambda memory_id: (-scores[memory_id], memory_id))[:k]
    return [
        Hit(memory=chunk, score=scores[chunk.id], keyword_rank=keyword_rank.get(chunk.id),
            dense_rank=dense_rank.get(chunk.id))
        for chunk in store.get(best)
    ]
