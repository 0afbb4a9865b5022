"""add: raw items -> statements -> chunks -> vectors -> judged (information, repeats) -> stored -> supersession.

Each batch of about 256 chunks is embedded together and stored in one all-or-nothing transaction,
so a killed process leaves whole items or none.
"""

import dataclasses
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from .config import Settings
from .encode.chunk import chunk_segment
from .encode.folder import Skipped
from .encode.parse import check_unicode, text_item
from .errors import InputError, ParseError
from .records import Chunk, RawItem, Segment, TextEmbedder
from .spaces import Space
from .store.base import AddResult, PreparedChunk, SpaceStore
from .text.dates import stated_day, strip_resolved_dates
from .text.entities import extract_entities
from .text.extract import TeacherExtractor, turn_statement
from .text.salience import content_words, low_information
from .text.sentences import without_speaker
from .text.supersede import replaced, statements

EMBED_BATCH = 256  # chunks embedded (and committed) together when ingesting many items
# Code is embedded by its start (location, signature, docstring: about 128 tokens); its words are
# all in the keyword index. Embedding up to the embedder's 256 tokens took 1.35x as long on click's
# source and found no more (benchmarks/code_recall.py).
CODE_KEY_CHARS = 512
KEY_SIMILARITY = 0.85  # a stored memory this share of the repeat threshold may be a repeat under its key


@dataclass
class IngestReport:
    added: int = 0  # raw items stored
    duplicates: int = 0  # raw items already stored, skipped
    memories: list[int] = field(default_factory=list)  # ids of the memories created (dropped ones too)
    indexed: int = 0  # memories this run stored and indexed
    dropped: int = 0  # chunks this run kept raw but not indexed: low information, or repeats
    updates: int = 0  # sentences of older memories these replaced ("moved to Riga" after "lives in Tallinn")
    errors: list[ParseError] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)  # files a folder walk left out, with the reason


class Ingest:
    """The add pipeline of one Memory: its settings, its embedder, and (for IMPRINT_EXTRACT=teacher)
    the teacher that rewrites statements, made on first use."""

    def __init__(self, settings: Settings, embedder: TextEmbedder, extractor: Callable[[], TeacherExtractor]) -> None:
        self.settings = settings
        self.embedder = embedder
        self._make_extractor = extractor

    @functools.cached_property
    def extractor(self) -> TeacherExtractor:
        return self._make_extractor()

    def run(
        self, items: list[RawItem], space: Space, progress: Callable[[int, int], None] | None = None
    ) -> IngestReport:
        """Chunk, embed and store raw items; `progress(done, total)` counts items after each batch."""
        for item in items:
            check_unicode(item)
        store = space.store
        if items:  # before minutes of embedding, not after
            store.check_embedder(self.embedder.record)
        report = IngestReport()
        for start, batch in _batches(items, self._chunk_texts):
            prepared = self._prepare(batch, space)
            results = store.add(prepared, self.embedder.record)
            for (_, rows), result in zip(prepared, results):
                report.memories.extend(result.chunk_ids)
                report.duplicates += result.duplicate
                report.added += not result.duplicate
                if not result.duplicate:  # a stored item's chunks were not stored again: nothing was dropped
                    report.dropped += sum(row.dropped is not None for row in rows)
                    report.indexed += sum(row.dropped is None for row in rows)
            replacements = [
                replacement
                for (item, rows), result in zip(prepared, results)
                if not result.duplicate and item.kind != "code"
                for chunk_id, row in zip(result.chunk_ids, rows)
                if row.dropped is None
                for replacement in _replacements(store, chunk_id, row)
            ]
            store.supersede(replacements)
            report.updates += len(replacements)
            newer = {
                old: new
                for (item, rows), result in zip(prepared, results)
                if item.replaces and not result.duplicate
                for old, new in _newer_versions(store, item.source, result, rows).items()
            }
            store.replace(newer)
            if replacements or newer:  # the context prompt's start changed: its kept states go
                space.activations.drop()
            if progress:
                progress(start + len(batch), len(items))
        return report

    def update(self, space: Space, old: Chunk, text: str, time: str | None = None) -> list[int]:
        """A memory's new text: stored as a new memory from the same source with the same metadata,
        and the old one retired for it (kept for `history`). Returns the new memory ids (the old id
        when the text says nothing new)."""
        item = dataclasses.replace(text_item(text, old.source, time or old.time, old.metadata), new_version=True)
        [(_, rows)] = self._prepare([(item, self._chunk_texts(item))], space)
        repeated = {row.repeat_of for row in rows if isinstance(row.repeat_of, int)}
        if repeated - {old.id}:  # retired for that one, the memory would go when it is forgotten
            raise InputError(
                f"memory {min(repeated - {old.id})} already says this: forget memory {old.id} "
                "instead, or update it to other words"
            )
        if repeated and all(row.repeat_of == old.id for row in rows):
            return [old.id]  # the text it has: nothing changes
        new = self.run([item], space).memories
        space.store.replace({old.id: new[0]})
        space.activations.drop()  # the old text's activations go with it
        return new

    def _chunk_texts(self, item: RawItem) -> list[tuple[str, Segment]]:
        if item.kind == "code":  # a symbol or window of lines, cut to size already (code.py)
            return [(segment.text, segment) for segment in item.segments]
        s = self.settings
        size = min(s.chunk_tokens, self.embedder.max_tokens - 2)
        return [
            self._rewritten(text, segment)
            for segment in item.segments
            for text in chunk_segment(self._statement(item, segment), self.embedder.count_tokens, size, s.chunk_overlap)
        ]

    def _statement(self, item: RawItem, segment: Segment) -> Segment:
        """What a segment is remembered as: a conversation turn as the statement it makes (extract.py)."""
        if item.kind != "conversation" or self.settings.extract == "off":
            return segment
        return dataclasses.replace(segment, text=turn_statement(segment.text, segment.time or item.time))

    def _rewritten(self, text: str, segment: Segment) -> tuple[str, Segment]:
        """A chunk as the teacher's grounded facts (IMPRINT_EXTRACT=teacher), the words it was made
        from kept on it as `said`; as it is otherwise, or when the teacher wrote nothing grounded."""
        if self.settings.extract != "teacher":
            return text, segment
        said = without_speaker(text, segment.speaker)
        facts = self.extractor.facts(said, segment.speaker, segment.time)
        if not facts:
            return text, segment
        prefix = f"{segment.speaker}: " if segment.speaker else ""
        return prefix + " ".join(facts), dataclasses.replace(segment, metadata={**segment.metadata, "said": said})

    def _prepare(self, batch: list[tuple[RawItem, list[tuple[str, Segment]]]], space: Space):
        texts = [embedding_key(item.kind, text) for item, chunks in batch for text, _ in chunks]
        vectors = self.embedder.embed(texts)  # what each chunk says: repeats compare these
        keys = vectors.copy()  # what it is searched under (a turn with the turn before it)
        position = 0
        for item, chunks in batch:
            if item.kind == "conversation":
                keys[position : position + len(chunks)] = in_context(
                    vectors[position : position + len(chunks)], self.embedder.context_weight
                )
            position += len(chunks)
        nearest = space.vectors.nearest(vectors) if self.settings.duplicate_similarity <= 1 else [None] * len(texts)
        prepared, kept, position = [], [], 0
        for item, chunks in batch:
            rows = []
            for text, segment in chunks:
                vector, key, stored = vectors[position], keys[position], nearest[position]
                position += 1
                words = said_words(text, segment.speaker)
                # the information bar is for chat turns; text a user adds on purpose is kept whatever its size
                dropped = low_information(words, self.settings.min_information) if item.kind == "conversation" else None
                repeat_of = None
                if dropped is None and item.kind != "code":  # the same code in two places is found in both
                    dropped, repeat_of = self._repeat(vector, words, stored, space.store, kept)
                row = PreparedChunk(
                    text=text,
                    tokens=self.embedder.count_tokens(text),
                    vector=key,
                    speaker=segment.speaker,
                    time=segment.time or item.time,
                    metadata={**item.metadata, **segment.metadata},
                    dropped=dropped,
                    repeat_of=repeat_of,
                    entities=None if dropped else extract_entities(text),
                )
                if dropped is None:
                    kept.append((vector, words, row))
                rows.append(row)
            prepared.append((item, rows))
        return prepared

    def _repeat(
        self,
        vector: np.ndarray,
        words: set[str],
        stored: tuple[int, float] | None,
        store: SpaceStore,
        batch: list[tuple[np.ndarray, set[str], PreparedChunk]],
    ) -> tuple[str | None, int | PreparedChunk | None]:
        """Why this chunk repeats a memory already held (stored, or earlier in this batch), and that
        memory; (None, None) if it says something new. A repeat says the same content words with a
        near-identical embedding: embeddings alone barely see a changed name or number, so they
        would merge different facts. A stored turn is found by its key (mixed with the turn before
        it), so with the same words its own vector is made again to compare."""
        threshold = self.settings.duplicate_similarity
        # a turn's key is ~0.87 or more similar to its own vector (weight 0.5, turns not opposed)
        candidate = stored is not None and stored[1] >= KEY_SIMILARITY * threshold
        held = next(iter(store.get([stored[0]])), None) if candidate else None  # None: a damaged row
        if held is not None and said_words(held.text, held.speaker) == words:
            similarity = stored[1] if stored[1] >= threshold else float(self.embedder.embed([held.text])[0] @ vector)
            if similarity >= threshold:
                return f"repeats memory {held.id} (similarity {similarity:.2f})", held.id
        for other, other_words, row in batch:
            if other_words == words and float(other @ vector) >= threshold:
                return "repeats an earlier memory of the same batch", row
        return None, None


def _newer_versions(store: SpaceStore, source: str, result: AddResult, rows: list[PreparedChunk]) -> dict[int, int]:
    """A new version of a document: each memory of its older versions that the new one does not
    repeat -> the new memory sharing the most words with it (the one that took its place)."""
    repeated = {row.repeat_of for row in rows if isinstance(row.repeat_of, int)}
    older = [m for m in store.get(store.live_memories_of(source, result.raw_id)) if m.id not in repeated]
    if not older or not result.chunk_ids:
        return {}
    new_words = [said_words(row.text, row.speaker) for row in rows]
    return {
        m.id: result.chunk_ids[max(range(len(rows)), key=lambda i: len(new_words[i] & said_words(m.text, m.speaker)))]
        for m in older
    }


def _replacements(store: SpaceStore, chunk_id: int, chunk: PreparedChunk) -> list[tuple]:
    """(older memory, sentence, what it says now, newer memory, since) for each sentence this memory
    replaces in one already stored, or one of those replaces in it when it tells of a later day."""
    text = without_speaker(chunk.text, chunk.speaker)
    subjects = {s.subject.lower() for s in statements(text, chunk.speaker) if s.subject}
    names = subjects | {subject.split()[0] for subject in subjects}  # "Mira" is "Mira Quenton" too
    older = store.get(sorted({i for name in names for i in store.memories_mentioning(name, chunk_id)}))
    day = stated_day(chunk.time, text)
    out = []
    for old in older:
        if old.dropped is not None:
            continue
        old_text = without_speaker(old.text, old.speaker)
        old_day = stated_day(old.time, old_text)
        if day and old_day and old_day > day:  # added later, but it tells of an earlier time: the other way round
            out += [
                (chunk_id, sentence, now, old.id, old.time or old_day.isoformat())
                for sentence, now in replaced(old_text, text, old.speaker, chunk.speaker)
            ]
        else:  # newer, or undated (an undated memory is news when it is added)
            out += [
                (old.id, sentence, now, chunk_id, chunk.time or (day.isoformat() if day else None))
                for sentence, now in replaced(text, old_text, chunk.speaker, old.speaker)
            ]
    return out


def embedding_key(kind: str, text: str) -> str:
    """What a memory's vector is made from: its text, or the start of it for code."""
    return text[:CODE_KEY_CHARS] if kind == "code" else text


def in_context(turns: np.ndarray, weight: float) -> np.ndarray:
    """The search keys of consecutive turns' vectors: each mixed with the turn before it ("Yes, last
    week" means something only after its question). Mixing vectors costs no second embedding."""
    return np.concatenate([turns[:1], after(turns[1:], turns[:-1], weight)]) if weight else turns


def after(vectors: np.ndarray, previous: np.ndarray, weight: float) -> np.ndarray:
    """Turn vectors plus `weight` times the vectors of the turns before them (row by row), as unit vectors."""
    keys = vectors + weight * previous
    return keys / np.linalg.norm(keys, axis=1, keepdims=True)


def said_words(text: str, speaker: str | None) -> set[str]:
    """The content words a memory's speaker said: what the information bar and repeats compare
    (not the speaker's name, not the dates extract.py added)."""
    return content_words(strip_resolved_dates(without_speaker(text, speaker)))


def _batches(items: list[RawItem], chunker: Callable[[RawItem], list]) -> Iterator[tuple[int, list]]:
    """Group items so each group has about EMBED_BATCH chunks; yields (index of first, group)."""
    group, size, start = [], 0, 0
    for position, item in enumerate(items):
        chunks = chunker(item)
        group.append((item, chunks))
        size += len(chunks)
        if size >= EMBED_BATCH:
            yield start, group
            group, size, start = [], 0, position + 1
    if group:
        yield start, group
