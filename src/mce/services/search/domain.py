"""Search rules without I/O: the validated query, how its words match, how product events become index changes."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, ValidationError

from mce.kit.errors import Invalid
from mce.kit.events import Event

if TYPE_CHECKING:
    from mce.services.search.index.port import SearchIndex

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 200
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_OFFSET = 10_000
# Each word costs an exact, a prefix and a fuzzy lookup; past this many words more words only narrow the result.
MAX_QUERY_TERMS = 10
# The index drops tokens this long or longer (tantivy's RemoveLongFilter), so a query must not require them.
MAX_TOKEN_BYTES = 40

SortOrder = Literal["relevance", "price_asc", "price_desc"]
SORT_ORDERS: tuple[str, ...] = get_args(SortOrder)

PRODUCT_UPSERT_EVENTS = frozenset({"ProductCreated", "ProductUpdated"})
PRODUCT_DELETE_EVENT = "ProductDeleted"

# Letters and digits in any script, the way the index tokenizer splits words.
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class QueryTerm:
    """One lower-cased word of the query and the edit distance a typo in it may have."""

    text: str
    fuzzy_distance: int


def typo_distance(word: str) -> int:
    """Edits tolerated in a word: none for short words or numbers, one up to seven letters, two beyond."""
    if len(word) < 4 or any(char.isdigit() for char in word):
        # A one-letter change to a short word or a model number is another word, not a typo.
        return 0
    return 1 if len(word) <= 7 else 2


def analyse_terms(text: str) -> tuple[QueryTerm, ...]:
    """The distinct words of the shopper's text, in order, each with its typo tolerance."""
    words: list[str] = []
    for word in _WORD.findall(text.lower()):
        if len(word.encode()) < MAX_TOKEN_BYTES and word not in words:
            words.append(word)
    return tuple(QueryTerm(word, typo_distance(word)) for word in words[:MAX_QUERY_TERMS])


@dataclass(frozen=True)
class SearchQuery:
    """What a shopper asks for; building one validates it and raises Invalid naming every bad parameter."""

    q: str = ""
    category: str | None = None
    min_price: float | None = None
    max_price: float | None = None
    sort: SortOrder = "relevance"
    limit: int = DEFAULT_LIMIT
    offset: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "q", self.q.strip())
        # An empty category comes from a blank form field and means "any".
        object.__setattr__(self, "category", self.category or None)
        problems = list(_query_problems(self))
        if problems:
            raise Invalid("invalid search: " + "; ".join(problems), details=problems)

    @cached_property
    def terms(self) -> tuple[QueryTerm, ...]:
        """The words to match, analysed once."""
        return analyse_terms(self.q)


def _query_problems(query: SearchQuery) -> Iterable[str]:
    """A message for each rule the query breaks."""
    if len(query.q) > MAX_QUERY_CHARS:
        yield f"q must be at most {MAX_QUERY_CHARS} characters"
    if not 1 <= query.limit <= MAX_LIMIT:
        yield f"limit must be between 1 and {MAX_LIMIT}"
    if not 0 <= query.offset <= MAX_OFFSET:
        yield f"offset must be between 0 and {MAX_OFFSET}"
    for name in ("min_price", "max_price"):
        value = getattr(query, name)
        if value is not None and not (math.isfinite(value) and value >= 0):
            yield f"{name} must be a number of at least 0"
    if query.min_price is not None and query.max_price is not None and query.min_price > query.max_price:
        yield "min_price must not be more than max_price"
    if query.sort not in SORT_ORDERS:
        yield f"sort must be one of {', '.join(SORT_ORDERS)}"


@dataclass(frozen=True)
class SearchPage:
    """One page of matching products, how many match in all, and product counts per category."""

    items: list[dict[str, Any]]
    total: int
    category_counts: dict[str, int] = field(default_factory=dict)


class Product(BaseModel):
    """A product as the product service publishes it; fields search does not use are kept as they are."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: int
    name: str
    description: str | None = None
    price: float
    stock: int | None = None
    category: str | None = None
    image_url: str | None = None
    thumbnail_url: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    version: int

    def document(self) -> dict[str, Any]:
        """The JSON the index stores and search returns: what was published, nothing added."""
        return self.model_dump(mode="json", exclude_unset=True)


@dataclass(frozen=True)
class ProductUpsert:
    """Make this version of a product searchable, replacing any older one."""

    product: Product

    @property
    def product_id(self) -> int:
        """The product changed."""
        return self.product.id

    @property
    def version(self) -> int:
        """The product's version after the change."""
        return self.product.version


@dataclass(frozen=True)
class ProductRemoval:
    """The product was deleted at this version; older versions of it must not come back."""

    product_id: int
    version: int


ProductChange = ProductUpsert | ProductRemoval


def parse_product(data: dict[str, Any]) -> Product:
    """A Product from its JSON, or Invalid naming what is wrong with it."""
    try:
        return Product.model_validate(data)
    except ValidationError as exc:
        raise Invalid(f"malformed product {data.get('id')!r}: {_summarise(exc)}") from None


def change_from_event(event: Event) -> ProductChange | None:
    """The index change an event asks for; None for event types search does not follow."""
    if event.type in PRODUCT_UPSERT_EVENTS:
        return ProductUpsert(parse_product(event.data))
    if event.type == PRODUCT_DELETE_EVENT:
        try:
            return ProductRemoval(product_id=int(event.data["id"]), version=int(event.data["version"]))
        except (KeyError, TypeError, ValueError):
            raise Invalid(f"malformed {event.type} event {event.event_id}: needs integer id and version") from None
    return None


def apply_product_events(index: SearchIndex, events: Sequence[Event]) -> int:
    """Apply a batch of product events in one index write and return how many changed it; stale ones do not."""
    changes = []
    for event in events:
        change = change_from_event(event)
        if change is None:
            log.debug("ignoring %s event %s", event.type, event.event_id)
        else:
            changes.append(change)
    # The index compares versions under its write lock, so a replay or a racing rebuild never goes backwards.
    return index.apply(changes)


def _summarise(exc: ValidationError) -> str:
    """Pydantic errors as 'field: message' pairs."""
    return "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()[:5])
