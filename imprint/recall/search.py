"""Hybrid search: BM25 (FTS5), dense cosine and, when given, the entity graph, fused by
reciprocal rank (RRF).

RRF needs no score calibration between the retrievers: a memory's score is the sum of
1 / (RRF_K + rank) over the lists it appears in, so agreement between them wins.
"""

from typing import Callable

import numpy as np

from ..encode.entities import question_names
from ..records import Hit
from ..store.sqlite import SpaceStore
from .dense import VectorIndex
from .graph import GraphIndex

RRF_K = 60
GRAPH_DENSE_SEEDS = 5  # the walk also restarts at this many best dense matches


def hybrid_search(
    store: SpaceStore,
    index: VectorIndex,
    query: str,
    embed_query: Callable[[str], np.ndarray],
    k: int,
    candidates: int = 50,
    graph: GraphIndex | None = None,
) -> list[Hit]:
    """The k best memories for `query`; each retriever contributes its top `candidates`."""
    depth = max(k, candidates)
    keyword = store.keyword_search(query, depth)
    nearest = index.search(embed_query(query), depth)
    lists = {"keyword": keyword, "dense": [memory_id for memory_id, _ in nearest]}
    if graph is not None:
        lists["graph"] = [memory_id for memory_id, _ in graph_walk(store, graph, query, nearest, depth)]
    ranks = {name: {memory_id: rank for rank, memory_id in enumerate(ids, start=1)} for name, ids in lists.items()}
    scores: dict[int, float] = {}
    for ranked in ranks.values():
        for memory_id, rank in ranked.items():
            scores[memory_id] = scores.get(memory_id, 0.0) + 1.0 / (RRF_K + rank)
    best = sorted(scores, key=lambda memory_id: (-scores[memory_id], memory_id))[:k]
    return [
        Hit(memory=chunk, score=scores[chunk.id], keyword_rank=ranks["keyword"].get(chunk.id),
            dense_rank=ranks["dense"].get(chunk.id), graph_rank=ranks.get("graph", {}).get(chunk.id))
        for chunk in store.get(best)
    ]


def graph_walk(store: SpaceStore, graph: GraphIndex, query: str, nearest: list[tuple[int, float]],
               limit: int) -> list[tuple[int, float]]:
    """Personalised PageRank from the names in the query (weighted 1 / how many memories mention
    them) and from the best dense matches (weighted by similarity), each group half the restart."""
    known = store.entities_named(question_names(query))
    names = _normalised({entity: 1.0 / count for entity, count in known.items()})
    dense = _normalised({memory_id: max(similarity, 0.0) for memory_id, similarity in nearest[:GRAPH_DENSE_SEEDS]})
    return graph.rank(names, dense, limit)


def _normalised(weights: dict[int, float]) -> dict[int, float]:
    total = sum(weights.values())
    return {key: value / total for key, value in weights.items()} if total > 0 else {}
