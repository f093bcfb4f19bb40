"""Embedded SearchIndex on tantivy: BM25 over stemmed fields, prefix and fuzzy matching over plain words, synonyms."""

from __future__ import annotations

import functools
import logging
import os
import secrets
import shutil
import tempfile
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import orjson
import tantivy
from tantivy import FieldType, Occur, Order, Query

from mce.kit.errors import Unavailable
from mce.services.search.analysis import (
    MAX_TOKEN_BYTES,
    Alternative,
    Clause,
    QueryPlan,
    QueryTerm,
    Synonyms,
    joined_pairs,
    plan_query,
    words_of,
)
from mce.services.search.domain import ProductChange, ProductUpsert, SearchPage, SearchQuery
from mce.services.search.index.port import SHARED_GROUP, SearchIndex
from mce.services.search.synonyms import load_synonyms

log = logging.getLogger(__name__)

# Each product id has exactly one record: the live product, or a tombstone that remembers the version it was deleted at.
# One more record, with no id, marks that a full load of the catalogue finished; it commits like any other write.
ID, KIND, VERSION = "id", "kind", "version"
LIVE, TOMBSTONE, COMPLETE = "product", "tombstone", "complete"
NAME, COMPOUNDS, WORDS, DESCRIPTION = "name", "compounds", "words", "description"
CATEGORY, CATEGORY_TEXT, PRICE_CENTS, DOCUMENT = "category", "category_text", "price_cents", "document"
# Exact (stemmed) matches count in any of these fields.
EXACT_FIELDS = (NAME, COMPOUNDS, DESCRIPTION, CATEGORY_TEXT)

STEMMED_ANALYZER = "mce_en_stem"
WRITER_HEAP_BYTES = 50_000_000
FACET_SIZE = 100
# Shoppers page, sort and pick a category under one query; those share the category counts.
FACET_CACHE_SIZE = 512
PLAN_CACHE_SIZE = 4096
# The replica id lives in the index directory, so a new or replaced index is a new replica.
REPLICA_FILE = "replica-id"

# Scores per query word. BM25 ranks within a kind of match; the constant bonuses put any exact (stemmed) match
# above any prefix match, and a prefix match above a typo match: exact beats prefix plus fuzzy (3 > 1 + 0.5).
NAME_BM25_BOOST = 2.0
EXACT_BONUS = 3.0
PREFIX_SCORE = 1.0
FUZZY_SCORE = 0.5


def _stemmed_analyzer() -> tantivy.TextAnalyzer:
    """Words lower-cased and stemmed; the index and the query side share it so their terms always agree."""
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(MAX_TOKEN_BYTES))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.stemmer("english"))
        .build()
    )


def _schema() -> tantivy.Schema:
    """Fields for matching, filtering, sorting and faceting, plus the product JSON as stored bytes."""
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field(ID, stored=True, indexed=True, fast=True)
    builder.add_text_field(KIND, tokenizer_name="raw", index_option="basic")
    builder.add_integer_field(VERSION, stored=True)
    builder.add_text_field(NAME, tokenizer_name=STEMMED_ANALYZER)
    # Adjacent name words joined ("T-Shirt" -> "tshirt"), so a compound matches however the shopper writes it.
    builder.add_text_field(COMPOUNDS, tokenizer_name=STEMMED_ANALYZER, index_option="freq")
    # Unstemmed name words, their compounds and the category's words, so that prefixes and typos are measured
    # against the words as written.
    builder.add_text_field(WORDS, tokenizer_name="default", index_option="basic")
    builder.add_text_field(DESCRIPTION, tokenizer_name=STEMMED_ANALYZER)
    # The category as one exact term, for the filter and the counts, and as words, so "kitchen" finds its products.
    builder.add_text_field(CATEGORY, tokenizer_name="raw", fast=True, index_option="basic")
    builder.add_text_field(CATEGORY_TEXT, tokenizer_name=STEMMED_ANALYZER, index_option="freq")
    # Whole cents: exact for range filters and sorting, where a float would put 0.1 + 0.2 above 0.3.
    builder.add_integer_field(PRICE_CENTS, indexed=True, fast=True)
    builder.add_bytes_field(DOCUMENT, stored=True)
    return builder.build()


def _open_index(path: Path, schema: tantivy.Schema) -> tantivy.Index:
    """Open the index at path, starting afresh when it was written with another schema."""
    path.mkdir(parents=True, exist_ok=True)
    try:
        return tantivy.Index(schema, path=str(path), reuse=True)
    except ValueError as exc:
        if "schema does not match" not in str(exc):
            raise
    # The index is derived from the catalogue, so an old layout is dropped and rebuilt rather than migrated.
    log.warning("search index at %s has an older schema; starting an empty one to rebuild", path)
    shutil.rmtree(path)
    path.mkdir(parents=True)
    return tantivy.Index(schema, path=str(path), reuse=False)


def _record(change: ProductChange) -> tantivy.Document:
    """The one document that stands for a product id after the change."""
    if not isinstance(change, ProductUpsert):
        return tantivy.Document(**{ID: change.product_id, KIND: TOMBSTONE, VERSION: change.version})
    product = change.product
    payload = product.payload
    compounds = " ".join(joined_pairs(words_of(payload.name)))
    fields: dict[str, Any] = {
        ID: payload.id,
        KIND: LIVE,
        VERSION: payload.version,
        NAME: payload.name,
        WORDS: f"{payload.name} {compounds} {payload.category}",
        PRICE_CENTS: product.price_cents,
        CATEGORY: payload.category,
        CATEGORY_TEXT: payload.category,
        DOCUMENT: orjson.dumps(product.document),
    }
    if compounds:
        fields[COMPOUNDS] = compounds
    if payload.description:
        fields[DESCRIPTION] = payload.description
    return tantivy.Document(**fields)


def _read_replica_id(path: Path) -> str | None:
    """The replica id kept in the index directory, or None when there is none (or it is unreadable)."""
    try:
        replica_id = (path / REPLICA_FILE).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return replica_id if replica_id.isalnum() else None


def _new_replica_id(path: Path) -> str:
    """A new random replica id, written whole (to a temporary file, then renamed) before it is used."""
    replica_id = secrets.token_hex(8)
    fd, temporary = tempfile.mkstemp(dir=path, prefix=f".{REPLICA_FILE}.")
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(replica_id + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path / REPLICA_FILE)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return replica_id


class TantivySearchIndex(SearchIndex):
    """A tantivy index in one directory; one writer behind a lock, readers reloaded after every commit."""

    def __init__(self, path: Path, *, synonyms: Synonyms | None = None) -> None:
        self.path = Path(path)
        self._schema = _schema()
        self._index = _open_index(self.path, self._schema)
        self._replica_id = _read_replica_id(self.path) or _new_replica_id(self.path)
        self._analyzer = _stemmed_analyzer()
        self._index.register_tokenizer(STEMMED_ANALYZER, self._analyzer)
        self._writer: tantivy.IndexWriter | None = self._index.writer(heap_size=WRITER_HEAP_BYTES, num_threads=1)
        self._write_lock = threading.Lock()
        self._live = Query.term_query(self._schema, KIND, LIVE)
        self._plan = functools.lru_cache(maxsize=PLAN_CACHE_SIZE)(
            functools.partial(plan_query, synonyms=load_synonyms() if synonyms is None else synonyms)
        )
        # Bumped before and after each reload (odd while one runs); counts are cached per even generation, so a
        # commit makes older ones unreachable.
        self._generation = 0
        self._counts: dict[tuple[QueryPlan, int | None, int | None], tuple[tuple[str, int], ...]] = {}
        self._counts_generation = 0

    def consumer_group(self) -> str:
        return f"{SHARED_GROUP}-{self._replica_id}"

    def apply(self, changes: Sequence[ProductChange]) -> int:
        if not changes:
            return 0
        with self._write_lock:
            writer = self._open_writer()
            held = self._held_versions({change.product_id for change in changes})
            applied = 0
            try:
                for change in changes:
                    if change.version <= held.get(change.product_id, -1):
                        continue
                    # A delete only reaches documents added before it, so the new record survives in the same commit.
                    writer.delete_documents_by_term(ID, change.product_id)
                    writer.add_document(_record(change))
                    held[change.product_id] = change.version
                    applied += 1
                if applied:
                    self._commit(writer)
            except BaseException:
                writer.rollback()
                raise
            return applied

    def version_of(self, product_id: int) -> int | None:
        return self._held_versions([product_id]).get(product_id)

    def search(self, query: SearchQuery) -> SearchPage:
        if query.hint is not None:
            return SearchPage.hinted(query.hint)
        self._open_writer()
        plan = self._plan(query.q)
        try:
            # One searcher for the counts and the hits, so a commit landing meanwhile cannot make them disagree.
            generation = self._generation
            searcher = self._index.searcher()
            stable = generation % 2 == 0 and generation == self._generation
            counts = self._category_counts(searcher, generation if stable else None, plan, query)
            matching = self._faceted_query(plan, query.min_cents, query.max_cents)
            if query.category is not None:
                matching = self._all_of(matching, Query.term_query(self._schema, CATEGORY, query.category))
            ordering = self._ordering(query, plan)
            result = searcher.search(matching, query.limit, count=True, offset=query.offset, **ordering)
            items = [orjson.loads(searcher.doc(address).get_first(DOCUMENT)) for _, address in result.hits]
        except (OSError, RuntimeError, ValueError) as exc:
            log.exception("the search index failed to answer a search")
            raise Unavailable(f"search is unavailable: its index cannot answer ({exc})", service="search") from exc
        return SearchPage(items=items, total=result.count, category_counts=dict(counts))

    def is_complete(self) -> bool:
        return self._count_kind(COMPLETE) > 0

    def mark_complete(self) -> None:
        with self._write_lock:
            writer = self._open_writer()
            if not self.is_complete():
                writer.add_document(tantivy.Document(**{KIND: COMPLETE}))
                self._commit(writer)

    def count(self) -> int:
        return self._count_kind(LIVE)

    def clear(self) -> None:
        with self._write_lock:
            writer = self._open_writer()
            writer.delete_all_documents()
            self._commit(writer)
            # An emptied index must hear every event again, as a new replica would.
            self._replica_id = _new_replica_id(self.path)

    def ping(self) -> None:
        self._open_writer()
        self._index.searcher()

    def close(self) -> None:
        with self._write_lock:
            if self._writer is not None:
                # Lets background merges finish and releases the directory lock.
                self._writer.wait_merging_threads()
                self._writer = None

    def _open_writer(self) -> tantivy.IndexWriter:
        """The writer, or Unavailable once the index is closed."""
        if self._writer is None:
            raise Unavailable("search is unavailable: its index is closed", service="search")
        return self._writer

    def _commit(self, writer: tantivy.IndexWriter) -> None:
        """Persist pending writes and make them visible to the next search."""
        writer.commit()
        # Odd while the reload runs: a search that takes its searcher meanwhile caches no counts.
        self._generation += 1
        self._index.reload()
        self._generation += 1

    def _count_kind(self, kind: str) -> int:
        """How many records of this kind the current reader sees."""
        return self._index.searcher().search(Query.term_query(self._schema, KIND, kind), 1, count=True).count

    def _held_versions(self, product_ids: Iterable[int]) -> dict[int, int]:
        """The version recorded for each of these ids the index has seen, live or deleted."""
        ids = list(product_ids)
        searcher = self._index.searcher()
        hits = searcher.search(Query.term_set_query(self._schema, ID, ids), len(ids)).hits
        held: dict[int, int] = {}
        for _, address in hits:
            record = searcher.doc(address)
            held[record.get_first(ID)] = record.get_first(VERSION)
        return held

    def _text_query(self, plan: QueryPlan) -> Query:
        """Every clause must match through one of its alternatives."""
        return Query.boolean_query([(Occur.Must, self._clause_query(clause)) for clause in plan.clauses])

    def _clause_query(self, clause: Clause) -> Query:
        """Any one alternative of the clause; each scores for itself, so a product matching several ranks higher."""
        if len(clause.alternatives) == 1:
            return self._alternative_query(clause.alternatives[0])
        return Query.boolean_query([(Occur.Should, self._alternative_query(a)) for a in clause.alternatives])

    def _alternative_query(self, alternative: Alternative) -> Query:
        """All the terms of an alternative."""
        if len(alternative) == 1:
            return self._term_query(alternative[0])
        return Query.boolean_query([(Occur.Must, self._term_query(term)) for term in alternative])

    def _term_query(self, term: QueryTerm) -> Query:
        """One word matched exactly (stemmed) in name, compounds, description or category, or as a prefix or typo."""
        stems = self._analyzer.analyze(term.text)
        stem = stems[0] if stems else term.text
        exact_fields = {field: Query.term_query(self._schema, field, stem) for field in EXACT_FIELDS}
        exact = Query.boolean_query([(Occur.Should, query) for query in exact_fields.values()])
        forms = [
            (Occur.Should, Query.boost_query(exact_fields[NAME], NAME_BM25_BOOST)),
            (Occur.Should, exact_fields[DESCRIPTION]),
            (Occur.Should, Query.const_score_query(exact, EXACT_BONUS)),
        ]
        if term.prefix:
            # A prefix automaton with no edits allowed: "headph" reaches "headphones".
            prefix = Query.fuzzy_term_query(self._schema, WORDS, term.text, distance=0, prefix=True)
            forms.append((Occur.Should, Query.const_score_query(prefix, PREFIX_SCORE)))
        if term.fuzzy_distance:
            typo = Query.fuzzy_term_query(self._schema, WORDS, term.text, distance=term.fuzzy_distance)
            forms.append((Occur.Should, Query.const_score_query(typo, FUZZY_SCORE)))
        return Query.boolean_query(forms)

    def _faceted_query(self, plan: QueryPlan, min_cents: int | None, max_cents: int | None) -> Query:
        """Live products matching the words and the price bounds: everything but the category filter."""
        text = self._text_query(plan) if plan.clauses else None
        price = None
        if min_cents is not None or max_cents is not None:
            price = Query.range_query(self._schema, PRICE_CENTS, FieldType.Integer, min_cents, max_cents)
        return self._all_of(text, self._live, price)

    def _category_counts(
        self, searcher: tantivy.Searcher, generation: int | None, plan: QueryPlan, query: SearchQuery
    ) -> tuple[tuple[str, int], ...]:
        """How many products in each category match the words and price bounds, as the searcher sees them.

        Cached per generation of the index; `generation` is None when a reload ran while the searcher was taken, and
        then nothing is cached, since the searcher may be of either generation.
        """
        key = (plan, query.min_cents, query.max_cents)
        if generation is not None and generation > self._counts_generation:
            self._counts, self._counts_generation = {}, generation
        # A search that took its searcher before a newer generation was cached neither reads nor fills the cache.
        usable = generation is not None and generation == self._counts_generation
        found = self._counts.get(key) if usable else None
        if found is None:
            aggregation = {CATEGORY: {"terms": {"field": CATEGORY, "size": FACET_SIZE}}}
            result = searcher.aggregate(self._faceted_query(plan, query.min_cents, query.max_cents), aggregation)
            found = tuple((bucket["key"], bucket["doc_count"]) for bucket in result[CATEGORY]["buckets"])
            if usable and len(self._counts) < FACET_CACHE_SIZE:
                self._counts[key] = found
        return found

    @staticmethod
    def _all_of(scored: Query | None, *filters: Query | None) -> Query:
        """The scored query restricted by filters that add nothing to the score."""
        clauses = [(Occur.Must, Query.const_score_query(f, 0.0)) for f in filters if f is not None]
        if scored is not None:
            clauses.insert(0, (Occur.Must, scored))
        return Query.boolean_query(clauses)

    @staticmethod
    def _ordering(query: SearchQuery, plan: QueryPlan) -> dict[str, Any]:
        """Sort arguments: by score, by price, or newest first when there are no words to score."""
        if query.sort == "price_asc":
            return {"order_by_field": PRICE_CENTS, "order": Order.Asc}
        if query.sort == "price_desc":
            return {"order_by_field": PRICE_CENTS, "order": Order.Desc}
        if not plan.clauses:
            return {"order_by_field": ID, "order": Order.Desc}
        return {}
