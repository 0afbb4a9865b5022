"""Hybrid search: BM25 (FTS5) and dense cosine (or, when given the entity graph, dense cosine plus
what one step over the graph adds), fused by reciprocal rank (RRF).

RRF needs no score calibration between the retrievers: a memory's score is the sum of
1 / (RRF_K + rank) over the lists it appears in, so agreement between them wins.

A name the question mentions that is the subject of memories (a turn's speaker, a passage's title)
says whose memories to prefer: "What does Melanie do to destress?" asks about Melanie's own turns,
and the word "Melanie" in Caroline's "Thanks, Melanie!" is weak evidence. So keyword matches about
the subject rank first, and dense similarity to the subject's memories counts SUBJECT_BONUS more.
(Taking such names out of the keyword query as well found more on LoCoMo and less on HotpotQA,
where a title is the best keyword there is.) Measured in docs/benchmarks.md.
"""

import dataclasses
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..records import Hit
from ..store.base import SpaceStore, query_words
from ..text.entities import names_within, question_names
from ..text.sentences import split_sentences
from .dense import VectorIndex
from .graph import GraphIndex

RRF_K = 10  # LoCoMo recall@10: 60 -> 0.54, 30 -> 0.58, 10 -> 0.59, 5 -> 0.59 (with the subject preference)
SUBJECT_BONUS = 0.2  # added to the cosine of a memory about a subject the question names
# The question is embedded on one of these threads while the keyword search runs (ONNX Runtime and
# SQLite both release the GIL): at 100k memories search p50 / p95 7.7 / 10.5 -> 5.9 / 7.8 ms
# (benchmarks/store.py). Several, so a server's concurrent searches do not queue behind one another.
_EMBEDDING = ThreadPoolExecutor(max_workers=4, thread_name_prefix="imprint-embed-query")
# A conversation turn passes this share of its score to the turns just before and after it (LoCoMo
# recall@10 of what `ask` reads 0.684 -> 0.701: docs/benchmarks.md).
NEIGHBOUR_WEIGHT = 0.2
GRAPH_SEEDS = 2  # the graph spreads from this many best dense matches (and the query's names)
LINK_WEIGHT = 1.0  # a link from a seed of similarity s adds s (HotpotQA sweep: docs/benchmarks.md)
# The best fused match's sentences lead to the names they mention (HotpotQA both passages in the top
# 5: 77% -> 87% from the best match, 86% from the best 2; docs/benchmarks.md), and that ranking
# counts as much as the keyword one.
LINK_SEEDS = 1
LINKED_WEIGHT = 1.0


def hybrid_search(
    store: SpaceStore,
    index: VectorIndex,
    query: str,
    embed_query: Callable[[str], np.ndarray],
    k: int,
    candidates: int = 50,
    graph: GraphIndex | None = None,
    allowed: np.ndarray | None = None,
    dense_weight: float = 1.0,
    names: frozenset[str] | None = None,
) -> list[Hit]:
    """The k best memories for `query`; each retriever contributes its top `candidates`. With
    `allowed` (sorted ids, from the store's filters) every retriever ranks only those. The dense
    (or graph) ranking counts `dense_weight` times the keyword one (the embedder's measured weight).
    With `graph`, the memories about the names the best fused match mentions join as a third
    ranking (`linked_by_sentence`). `names`: the spans of the query that may be names, when the
    caller has read them already (text/question.py)."""
    depth = max(k, candidates)
    names = frozenset(question_names(query)) if names is None else names
    embedding = _EMBEDDING.submit(embed_query, query)
    _, about = store.subjects(set(names))
    if allowed is not None:
        about = np.intersect1d(about, allowed, assume_unique=True)
    keyword = store.keyword_search(query, depth, allowed)
    subject = set(about.tolist())
    keyword = [i for i in keyword if i in subject] + [i for i in keyword if i not in subject]
    vector = embedding.result()
    nearest = index.search(vector, depth, allowed)
    similarity = dict(nearest)
    dense = [memory_id for memory_id, _ in nearest]
    if len(about):
        similarity |= dict(index.search(vector, depth, about))
        dense = sorted(similarity, key=lambda i: (-similarity[i] - SUBJECT_BONUS * (i in subject), i))[:depth]
    lists = {"keyword": keyword, "dense": dense}
    fused = ["keyword", "dense"]
    if graph is not None:  # the graph ranking is the dense one plus what the graph adds: it takes its place
        walked = graph_walk(store, graph, names, nearest, depth)
        lists["graph"] = [memory_id for memory_id, _ in walked if allowed is None or _member(allowed, memory_id)]
        fused = ["keyword", "graph"]
    weights = {"keyword": 1.0, "dense": dense_weight, "graph": dense_weight, "linked": LINKED_WEIGHT}
    scores = _fused(lists, fused, weights)
    if graph is not None:
        seeds = sorted(scores, key=lambda memory_id: (-scores[memory_id], memory_id))[:LINK_SEEDS]
        lists["linked"] = [
            memory_id
            for memory_id, _ in linked_by_sentence(store, graph, index, seeds, query, vector, depth)
            if allowed is None or _member(allowed, memory_id)
        ]
        fused.append("linked")
        scores = _fused(lists, fused, weights)
    ranks = {name: {memory_id: rank for rank, memory_id in enumerate(ids, start=1)} for name, ids in lists.items()}
    best = sorted(scores, key=lambda memory_id: (-scores[memory_id], memory_id))[:k]
    return [
        Hit(
            memory=chunk,
            score=scores[chunk.id],
            keyword_rank=ranks["keyword"].get(chunk.id),
            dense_rank=ranks["dense"].get(chunk.id),
            graph_rank=ranks.get("graph", {}).get(chunk.id),
            similarity=similarity.get(chunk.id),
        )
        for chunk in store.get(best)
    ]


def _fused(lists: dict[str, list[int]], names: list[str], weights: dict[str, float]) -> dict[int, float]:
    """Memory id -> its reciprocal-rank score over the rankings `names`, each counting its weight."""
    scores: dict[int, float] = {}
    for name in names:
        for rank, memory_id in enumerate(lists[name], start=1):
            scores[memory_id] = scores.get(memory_id, 0.0) + weights[name] / (RRF_K + rank)
    return scores


def with_neighbours(store: SpaceStore, hits: list[Hit], k: int, allowed: np.ndarray | None = None) -> list[Hit]:
    """The k best of `hits` and their neighbours, each turn of a conversation passing NEIGHBOUR_WEIGHT
    of its score to the turns just before and after it: an answer is often said next to the turn
    that matches the question ("I went to a poetry reading" - "What was it about?" - "People shared
    their stories")."""
    held = {hit.memory.id: hit for hit in hits}
    scores = {memory_id: hit.score for memory_id, hit in held.items()}
    for memory_id, beside in store.neighbours(list(held)).items():
        for neighbour in beside:
            if allowed is None or _member(allowed, neighbour):
                scores[neighbour] = scores.get(neighbour, 0.0) + NEIGHBOUR_WEIGHT * held[memory_id].score
    best = sorted(scores, key=lambda memory_id: (-scores[memory_id], memory_id))[:k]
    fetched = {chunk.id: chunk for chunk in store.get([i for i in best if i not in held])}
    return [
        dataclasses.replace(held[i], score=scores[i]) if i in held else Hit(memory=fetched[i], score=scores[i])
        for i in best
        if i in held or i in fetched
    ]


def worth_reading(hits: list[Hit], share: float) -> list[Hit]:
    """The hits a reader is shown: those scoring at least `share` of the best one (a small reader
    is easily led astray by weak matches; benchmarks/locomo_recall.py measures what it costs)."""
    floor = share * (hits[0].score if hits else 0.0)
    return [hit for hit in hits if hit.score >= floor]


def _member(sorted_ids: np.ndarray, memory_id: int) -> bool:
    position = np.searchsorted(sorted_ids, memory_id)
    return bool(position < len(sorted_ids) and sorted_ids[position] == memory_id)


def graph_walk(
    store: SpaceStore, graph: GraphIndex, asked: frozenset[str], nearest: list[tuple[int, float]], limit: int
) -> list[tuple[int, float]]:
    """Dense similarity plus what one step over the graph brings (GraphIndex.spread) from the best
    dense matches and the names the query mentions (`asked`: question_names); a memory the graph
    reaches beyond the dense list counts the dense list's lowest similarity."""
    seeds = {memory_id: max(similarity, 0.0) for memory_id, similarity in nearest[:GRAPH_SEEDS]}
    best = max(seeds.values(), default=0.0)
    names = {entity: best for entity in store.entities_named(set(asked))}
    reached = graph.spread(seeds, names)
    floor = nearest[-1][1] if nearest else 0.0
    scores = {memory_id: similarity for memory_id, similarity in nearest}
    for memory_id, weight in reached.items():
        scores[memory_id] = scores.get(memory_id, floor) + LINK_WEIGHT * weight
    return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))[:limit]


def linked_by_sentence(
    store: SpaceStore,
    graph: GraphIndex,
    index: VectorIndex,
    seeds: list[int],
    query: str,
    query_vector: np.ndarray,
    limit: int,
) -> list[tuple[int, float]]:
    """The memories about the names the `seeds` mention, each name weighted by the share of the
    question's words that the sentence naming it contains. A passage names many people and
    places; the second hop is the one named where the question's relation is ("The soundtrack ...
    was produced by a man born in what year?" -> "... produced by Trent Reznor"), which one step
    over the graph alone does not tell apart. (Cosine of the sentence's embedding found the same
    passages at four times the search time: docs/benchmarks.md.) A conversation's turn leads
    nowhere: the names in it are mostly the people talking (LoCoMo recall@10 with the graph
    0.662 -> 0.580 when turns led)."""
    asked = set(query_words(query))
    named = [
        (sentence, names_within(sentence))
        for chunk in store.get(seeds)
        if chunk.speaker is None
        for sentence in split_sentences(chunk.text)
    ]
    known = store.entity_ids(set().union(*(names for _, names in named)))
    weights: dict[int, float] = {}
    for sentence, names in named:
        closeness = len(asked.intersection(query_words(sentence))) / max(len(asked), 1)
        for name in names & known.keys():
            weights[known[name]] = max(weights.get(known[name], 0.0), closeness)
    reached = graph.spread({}, weights)
    linked = np.array(sorted(set(reached) - set(seeds)), dtype=np.int64)
    similarity = dict(index.search(query_vector, len(linked), linked)) if len(linked) else {}
    # names in one sentence reach their memories with one weight: the one closer to the question goes first
    return sorted(
        ((i, reached[i]) for i in linked.tolist()), key=lambda pair: (-pair[1], -similarity.get(pair[0], 0.0), pair[0])
    )[:limit]
