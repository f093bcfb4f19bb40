"""SearchIndex on OpenSearch, shared by every search replica: the tantivy index's queries, OpenSearch's versions."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConflictError, NotFoundError, OpenSearchException, RequestError

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

# Each product id has one document, its _id the id: the live product or a tombstone that remembers the version it
# was deleted at. Its _version is the product's version (external versioning), so OpenSearch itself refuses an
# older or repeated one, whichever replica sends it. One more document marks that a full load finished.
KIND, LIVE, TOMBSTONE, COMPLETE = "kind", "product", "tombstone", "complete"
COMPLETE_ID = "complete"
ID, NAME, COMPOUNDS, WORDS, DESCRIPTION = "id", "name", "compounds", "words", "description"
CATEGORY, CATEGORY_TEXT, PRICE_CENTS, DOCUMENT = "category", "category_text", "price_cents", "document"
EXACT_FIELDS = (NAME, COMPOUNDS, DESCRIPTION, CATEGORY_TEXT)

STEMMED_ANALYZER, WORDS_ANALYZER = "mce_en_stem", "mce_words"
FACET_SIZE = 100
PLAN_CACHE_SIZE = 4096
# A readiness probe must answer before the kubelet's own timeout.
PING_TIMEOUT_S = 2.0
# Bumped whenever the mapping or analysis changes; an index made by another schema is reported at start.
SCHEMA_VERSION = 1

# Scores per query word, as in the tantivy index: BM25 ranks within a kind of match, and the constant bonuses put any
# exact (stemmed) match above any prefix match, and a prefix match above a typo match (3 > 1 + 0.5).
NAME_BM25_BOOST = 2.0
EXACT_BONUS = 3.0
PREFIX_SCORE = 1.0
FUZZY_SCORE = 0.5

# Words split on anything but letters and digits in any script, as `analysis.words_of` splits them, so the
# compounds and words planned in Python are the terms the index holds.
_TOKENIZER = {"type": "pattern", "pattern": r"[\W_]+", "flags": "UNICODE_CHARACTER_CLASS"}
# The length filter counts characters, not bytes; planned words are already shorter than MAX_TOKEN_BYTES bytes.
_LENGTH = {"type": "length", "max": MAX_TOKEN_BYTES - 1}

INDEX_SETTINGS: dict[str, Any] = {
    # One shard: a catalogue fits, and BM25's statistics are then those of the whole catalogue, as in tantivy.
    "number_of_shards": 1,
    # No replica on a single node (so it is green), one on a cluster of several.
    "auto_expand_replicas": "0-1",
    # The real refresh interval: a change is searchable within this, well inside the 2 s the service promises.
    "refresh_interval": "1s",
    "analysis": {
        "tokenizer": {"mce_words": _TOKENIZER},
        "filter": {
            "mce_length": _LENGTH,
            # Snowball's English is Porter2, tantivy's English stemmer too.
            "mce_en_stem": {"type": "snowball", "language": "English"},
        },
        "analyzer": {
            STEMMED_ANALYZER: {
                "type": "custom",
                "tokenizer": "mce_words",
                "filter": ["lowercase", "mce_length", "mce_en_stem"],
            },
            WORDS_ANALYZER: {"type": "custom", "tokenizer": "mce_words", "filter": ["lowercase", "mce_length"]},
        },
    },
}

MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "_meta": {"schema": SCHEMA_VERSION},
    "properties": {
        KIND: {"type": "keyword"},
        ID: {"type": "long"},
        NAME: {"type": "text", "analyzer": STEMMED_ANALYZER},
        # Adjacent name words joined ("T-Shirt" -> "tshirt"), so a compound matches however the shopper writes it.
        COMPOUNDS: {"type": "text", "analyzer": STEMMED_ANALYZER, "index_options": "freqs"},
        # Unstemmed name words, their compounds and the category's words, for prefixes and typos as written.
        WORDS: {"type": "text", "analyzer": WORDS_ANALYZER, "index_options": "docs", "norms": False},
        DESCRIPTION: {"type": "text", "analyzer": STEMMED_ANALYZER},
        # The category as one exact term for the filter and the counts, and as words so "kitchen" finds its products.
        CATEGORY: {"type": "keyword"},
        CATEGORY_TEXT: {"type": "text", "analyzer": STEMMED_ANALYZER, "index_options": "freqs"},
        # Whole cents in a long: range bounds and sort keys are exact integers computed from Decimal in Python,
        # never a double that OpenSearch scales and rounds (as a scaled_float's bounds are).
        PRICE_CENTS: {"type": "long"},
        # The product JSON as published, price as its exact string; kept, never indexed.
        DOCUMENT: {"type": "object", "enabled": False},
    },
}


def _source(change: ProductChange) -> dict[str, Any]:
    """The document that stands for a product id after the change."""
    if not isinstance(change, ProductUpsert):
        return {KIND: TOMBSTONE, ID: change.product_id}
    product = change.product
    payload = product.payload
    compounds = " ".join(joined_pairs(words_of(payload.name)))
    return {
        KIND: LIVE,
        ID: payload.id,
        NAME: payload.name,
        COMPOUNDS: compounds,
        WORDS: f"{payload.name} {compounds} {payload.category}",
        DESCRIPTION: payload.description or "",
        CATEGORY: payload.category,
        CATEGORY_TEXT: payload.category,
        PRICE_CENTS: product.price_cents,
        DOCUMENT: product.document,
    }


class OpenSearchSearchIndex(SearchIndex):
    """One OpenSearch index (created with its mapping if missing) that every search replica reads and writes."""

    # Every call waits on the network, so the service makes them off its event loop.
    remote = True

    def __init__(
        self,
        client: OpenSearch,
        name: str = "products",
        *,
        refresh: bool = False,
        synonyms: Synonyms | None = None,
    ) -> None:
        self._client = client
        self.name = name
        # Tests ask for each write to be searchable at once; the service relies on the refresh interval instead.
        self._refresh = "true" if refresh else "false"
        self._plan = functools.lru_cache(maxsize=PLAN_CACHE_SIZE)(
            functools.partial(plan_query, synonyms=load_synonyms() if synonyms is None else synonyms)
        )
        self._created = False
        try:
            self._create_if_missing()
        except Unavailable:
            # A search service that starts while OpenSearch is down comes up not ready, and makes the index on first
            # use once OpenSearch answers, instead of failing to start until it does.
            log.warning("OpenSearch does not answer yet; the index %r is made once it does", self.name)

    def consumer_group(self) -> str:
        return SHARED_GROUP

    def apply(self, changes: Sequence[ProductChange]) -> int:
        if not changes:
            return 0
        body: list[dict[str, Any]] = []
        for change in changes:
            # A bulk request applies the operations on one _id in the order given, so a batch stays in order.
            meta = {"_id": str(change.product_id), "version": change.version, "version_type": "external"}
            body += [{"index": meta}, _source(change)]
        with self._translated("write"):
            result = self._client.bulk(body=body, index=self.name, refresh=self._refresh)
        applied = 0
        failures = []
        for item in result["items"]:
            outcome = item["index"]
            if outcome["status"] in (200, 201):
                applied += 1
            elif outcome["status"] != 409:
                failures.append(outcome.get("error", outcome["status"]))
        if failures:
            # Nothing is lost by asking again: the versions make the operations that did succeed no-ops.
            raise Unavailable(
                f"search is unavailable: the OpenSearch index {self.name!r} refused {len(failures)} of "
                f"{len(changes)} changes (first: {failures[0]})",
                service="search",
            )
        return applied

    def version_of(self, product_id: int) -> int | None:
        with self._translated("read"):
            try:
                found = self._client.get(index=self.name, id=str(product_id), _source="false")
            except NotFoundError:
                return None
        return found["_version"] if found.get("found") else None

    def search(self, query: SearchQuery) -> SearchPage:
        if query.hint is not None:
            return SearchPage.hinted(query.hint)
        plan = self._plan(query.q)
        body: dict[str, Any] = {
            "query": self._faceted_query(plan, query.min_cents, query.max_cents),
            "from": query.offset,
            "size": query.limit,
            "track_total_hits": True,
            "_source": [DOCUMENT],
            "sort": self._ordering(query, plan),
            # The counts see the words and the price bounds but not the category filter, so every choice shows.
            "aggs": {CATEGORY: {"terms": {"field": CATEGORY, "size": FACET_SIZE}}},
        }
        if query.category is not None:
            body["post_filter"] = {"term": {CATEGORY: query.category}}
        with self._translated("search"):
            result = self._client.search(index=self.name, body=body)
        hits = result["hits"]
        counts = {bucket["key"]: bucket["doc_count"] for bucket in result["aggregations"][CATEGORY]["buckets"]}
        items = [hit["_source"][DOCUMENT] for hit in hits["hits"]]
        return SearchPage(items=items, total=hits["total"]["value"], category_counts=counts)

    def is_complete(self) -> bool:
        with self._translated("read"):
            return bool(self._client.exists(index=self.name, id=COMPLETE_ID))

    def mark_complete(self) -> None:
        # Another replica marking it first is the same outcome.
        with self._translated("write"), suppress(ConflictError):
            self._client.create(index=self.name, id=COMPLETE_ID, body={KIND: COMPLETE}, refresh=self._refresh)

    def count(self) -> int:
        with self._translated("count"):
            return self._client.count(index=self.name, body={"query": {"term": {KIND: LIVE}}})["count"]

    def clear(self) -> None:
        with self._translated("clear"):
            self._client.indices.refresh(index=self.name)
            if self._client.count(index=self.name)["count"] == 0:
                # Nothing was ever written (documents are overwritten, never deleted), so no version lingers.
                return
            # Deleting documents would leave their versions behind for a while (index.gc_deletes) and refuse the
            # same versions again; a new index forgets them at once.
            self._client.indices.delete(index=self.name)
        self._create_if_missing()

    def ping(self) -> None:
        with self._translated("health check"):
            # Its server-side `timeout` collides with the client's own parameter; the client's timeout bounds the wait.
            self._client.cluster.health(index=self.name, wait_for_status="yellow", request_timeout=PING_TIMEOUT_S)

    def close(self) -> None:
        self._client.close()

    def drop(self) -> None:
        """Delete the index and all it holds (for tests, and operators starting over)."""
        with self._translated("drop"):
            self._client.indices.delete(index=self.name, ignore_unavailable=True)

    def _create_if_missing(self) -> None:
        """Create the index with its settings and mapping; a replica starting at the same time may win the race."""
        with self._translated("create"):
            try:
                self._client.indices.create(index=self.name, body={"settings": INDEX_SETTINGS, "mappings": MAPPINGS})
                log.info("created the OpenSearch index %r", self.name)
            except RequestError as exc:
                if exc.error != "resource_already_exists_exception":
                    raise
            mapping = self._client.indices.get_mapping(index=self.name)
        schema = next(iter(mapping.values()))["mappings"].get("_meta", {}).get("schema")
        if schema != SCHEMA_VERSION:
            # A shared index is not dropped behind the other replicas' backs; clear() starts it afresh.
            log.warning(
                "the OpenSearch index %r has schema %r, not %r; searches may miss products until it is cleared",
                self.name,
                schema,
                SCHEMA_VERSION,
            )
        self._created = True

    @contextmanager
    def _translated(self, action: str) -> Iterator[None]:
        """OpenSearch's errors as Unavailable naming the index, for a 503 saying what failed; the index made first."""
        if not self._created and action not in ("create", "drop"):
            self._create_if_missing()
        try:
            yield
        except OpenSearchException as exc:
            log.warning("the OpenSearch index %r failed a %s: %s", self.name, action, exc)
            raise Unavailable(
                f"search is unavailable: its OpenSearch index {self.name!r} failed a {action} ({_brief(exc)})",
                service="search",
            ) from exc

    def _text_query(self, plan: QueryPlan) -> dict[str, Any]:
        """Every clause must match through one of its alternatives."""
        return {"bool": {"must": [self._clause_query(clause) for clause in plan.clauses]}}

    def _clause_query(self, clause: Clause) -> dict[str, Any]:
        """Any one alternative of the clause; each scores for itself, so a product matching several ranks higher."""
        if len(clause.alternatives) == 1:
            return self._alternative_query(clause.alternatives[0])
        return {
            "bool": {"should": [self._alternative_query(a) for a in clause.alternatives], "minimum_should_match": 1}
        }

    def _alternative_query(self, alternative: Alternative) -> dict[str, Any]:
        """All the terms of an alternative."""
        if len(alternative) == 1:
            return self._term_query(alternative[0])
        return {"bool": {"must": [self._term_query(term) for term in alternative]}}

    @staticmethod
    def _term_query(term: QueryTerm) -> dict[str, Any]:
        """One word matched exactly (stemmed) in name, compounds, description or category, or as a prefix or typo."""
        # A match query stems the word with the field's own analyzer, so the query's terms are the index's.
        exact = [{"match": {field: {"query": term.text}}} for field in EXACT_FIELDS]
        forms: list[dict[str, Any]] = [
            {"match": {NAME: {"query": term.text, "boost": NAME_BM25_BOOST}}},
            {"match": {DESCRIPTION: {"query": term.text}}},
            {"constant_score": {"filter": {"bool": {"should": exact}}, "boost": EXACT_BONUS}},
        ]
        if term.prefix:
            forms.append({"constant_score": {"filter": {"prefix": {WORDS: term.text}}, "boost": PREFIX_SCORE}})
        if term.fuzzy_distance:
            typo = {"fuzzy": {WORDS: {"value": term.text, "fuzziness": term.fuzzy_distance, "prefix_length": 0}}}
            forms.append({"constant_score": {"filter": typo, "boost": FUZZY_SCORE}})
        return {"bool": {"should": forms, "minimum_should_match": 1}}

    def _faceted_query(self, plan: QueryPlan, min_cents: int | None, max_cents: int | None) -> dict[str, Any]:
        """Live products matching the words and the price bounds: everything but the category filter."""
        filters: list[dict[str, Any]] = [{"term": {KIND: LIVE}}]
        if min_cents is not None or max_cents is not None:
            bounds = {key: value for key, value in (("gte", min_cents), ("lte", max_cents)) if value is not None}
            filters.append({"range": {PRICE_CENTS: bounds}})
        query: dict[str, Any] = {"bool": {"filter": filters}}
        if plan.clauses:
            query["bool"]["must"] = [self._text_query(plan)]
        return query

    @staticmethod
    def _ordering(query: SearchQuery, plan: QueryPlan) -> list[Any]:
        """By score, by price, or newest first when there are no words to score; ties go to the newest."""
        if query.sort == "price_asc":
            return [{PRICE_CENTS: "asc"}, {ID: "desc"}]
        if query.sort == "price_desc":
            return [{PRICE_CENTS: "desc"}, {ID: "desc"}]
        if not plan.clauses:
            return [{ID: "desc"}]
        return ["_score", {ID: "desc"}]


def _brief(exc: OpenSearchException) -> str:
    """A driver error in a few words: its kind and, for an answer, the status and OpenSearch's error type."""
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return f"{type(exc).__name__} {status} {getattr(exc, 'error', '')}".strip()
    return type(exc).__name__


def connect(
    endpoint: str,
    *,
    username: str | None = None,
    password: str | None = None,
    verify_certs: bool = True,
    timeout_s: float = 5.0,
) -> OpenSearch:
    """A client for the endpoint (http or https URL), with basic auth when a username is given."""
    auth = (username, password or "") if username else None
    return OpenSearch(
        hosts=[endpoint],
        http_auth=auth,
        verify_certs=verify_certs,
        ssl_show_warn=verify_certs,
        timeout=timeout_s,
        max_retries=1,
        retry_on_timeout=True,
        http_compress=True,
    )
