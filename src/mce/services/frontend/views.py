"""Pure helpers the pages use: prices, stock labels, pagination, links and lenient query parsing."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from mce.kit.contracts import CATEGORY_MAX, MAX_OFFSET, QUERY_MAX
from mce.kit.money import MoneyError, format_amount, parse_amount

PAGE_SIZE = 24
LOW_STOCK = 5
MAX_QUERY_LENGTH = QUERY_MAX
MAX_CATEGORY_LENGTH = CATEGORY_MAX

LISTING_SORTS = {
    "newest": "Newest",
    "name": "Name, A to Z",
    "price_asc": "Price, low to high",
    "price_desc": "Price, high to low",
}
SEARCH_SORTS = {
    "relevance": "Best match",
    "price_asc": "Price, low to high",
    "price_desc": "Price, high to low",
}


def format_price(value: Decimal | str | int) -> str:
    """A price as shoppers read it: $1,299.00, from the exact amount (never through a float)."""
    amount = Decimal(str(value))
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.2f}"


@dataclass(frozen=True)
class StockStatus:
    """What a shopper is told about stock, and a level for styling."""

    label: str
    level: str


def stock_status(stock: int) -> StockStatus:
    """'In stock', 'Only N left' when few remain, or 'Out of stock'."""
    if stock <= 0:
        return StockStatus("Out of stock", "out")
    if stock <= LOW_STOCK:
        return StockStatus(f"Only {stock} left", "low")
    return StockStatus("In stock", "in")


@dataclass(frozen=True)
class Pagination:
    """Page arithmetic for a result of `total` items shown `per_page` at a time."""

    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        """How many pages there are; an empty result still has one."""
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def offset(self) -> int:
        """Index of the first item on this page."""
        return (self.page - 1) * self.per_page

    @property
    def has_prev(self) -> bool:
        """Whether there is a page before this one."""
        return self.page > 1

    @property
    def has_next(self) -> bool:
        """Whether there is a page after this one."""
        return self.page < self.pages

    @property
    def prev_page(self) -> int:
        """The page before this one, or the last page when this one is past the end."""
        return min(self.page - 1, self.pages)

    @property
    def next_page(self) -> int:
        """The page after this one."""
        return self.page + 1

    @property
    def first_item(self) -> int:
        """1-based number of the first item shown, 0 when none are."""
        return self.offset + 1 if self.offset < self.total else 0

    @property
    def last_item(self) -> int:
        """1-based number of the last item shown, 0 when none are."""
        return min(self.offset + self.per_page, self.total) if self.first_item else 0

    def window(self, radius: int = 2) -> list[int | None]:
        """Page numbers to link: the first, the last and those near this one; None marks a gap."""
        near = range(max(1, self.page - radius), min(self.pages, self.page + radius) + 1)
        shown = sorted({1, self.pages, *near})
        numbers: list[int | None] = []
        previous = 0
        for number in shown:
            # A gap of a single page shows that page: "…" would take as much room.
            if number - previous == 2:
                numbers.append(previous + 1)
            elif number - previous > 2:
                numbers.append(None)
            numbers.append(number)
            previous = number
        return numbers


def max_page(per_page: int) -> int:
    """The deepest page the backends serve at this page size (its offset within the shared MAX_OFFSET)."""
    return MAX_OFFSET // per_page + 1


def parse_page(raw: str | None, per_page: int = PAGE_SIZE) -> int:
    """A page number from the query string; anything unusable means the first page."""
    try:
        page = int(raw or 1)
    except ValueError:
        return 1
    return min(max(page, 1), max_page(per_page))


def parse_price(raw: str | None) -> Decimal | None:
    """A price bound from a form; blank, malformed or out-of-range input means no bound."""
    try:
        return parse_amount((raw or "").strip().removeprefix("$"))
    except MoneyError:
        return None


def clean_text(raw: str | None, max_length: int) -> str:
    """Free text from the query string, trimmed, without control characters and cut to length."""
    text = "".join(ch for ch in (raw or "") if ch.isprintable())
    return text.strip()[:max_length]


def choose(raw: str | None, allowed: dict[str, str], default: str) -> str:
    """The raw value when it is one of the allowed keys, else the default."""
    return raw if raw in allowed else default


def number_text(value: Decimal) -> str:
    """A price bound as typed: 10, 10.5, 10.25."""
    return format_amount(value).rstrip("0").rstrip(".")


def link(path: str, params: dict[str, Any], **changes: Any) -> str:
    """A link to path with params, changed as asked; empty values and page 1 are left out."""
    merged = {**params, **changes}
    query = {
        key: value
        for key, value in merged.items()
        if value is not None and value != "" and not (key == "page" and value == 1)
    }
    return f"{path}?{urlencode(query)}" if query else path


@dataclass(frozen=True)
class SearchQuery:
    """What a shopper asked the search page for, cleaned up."""

    q: str = ""
    category: str = ""
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    sort: str = "relevance"
    page: int = 1

    @classmethod
    def from_params(
        cls,
        *,
        q: str | None,
        category: str | None,
        min_price: str | None,
        max_price: str | None,
        sort: str | None,
        page: str | None,
    ) -> SearchQuery:
        """Read the query string leniently: a shopper's typo in a filter should not cost them the page."""
        low, high = parse_price(min_price), parse_price(max_price)
        if low is not None and high is not None and low > high:
            # "From 100 to 10" means between the two.
            low, high = high, low
        return cls(
            q=clean_text(q, MAX_QUERY_LENGTH),
            category=clean_text(category, MAX_CATEGORY_LENGTH),
            min_price=low,
            max_price=high,
            sort=choose(sort, SEARCH_SORTS, "relevance"),
            page=parse_page(page),
        )

    def link_params(self) -> dict[str, Any]:
        """The query as link parameters, for facets, sorting and pagination."""
        return {
            "q": self.q,
            "category": self.category,
            "min_price": None if self.min_price is None else number_text(self.min_price),
            "max_price": None if self.max_price is None else number_text(self.max_price),
            "sort": None if self.sort == "relevance" else self.sort,
            "page": self.page,
        }

    def backend_params(self, per_page: int) -> dict[str, Any]:
        """The query as the search service's parameters."""
        params: dict[str, Any] = {
            "q": self.q,
            "sort": self.sort,
            "limit": per_page,
            "offset": (self.page - 1) * per_page,
        }
        if self.category:
            params["category"] = self.category
        if self.min_price is not None:
            params["min_price"] = format_amount(self.min_price)
        if self.max_price is not None:
            params["max_price"] = format_amount(self.max_price)
        return params


def sorted_facets(counts: dict[str, int]) -> list[tuple[str, int]]:
    """Facet values with the most hits first, ties by name."""
    return sorted(counts.items(), key=lambda item: (-item[1], item[0].lower()))


def safe_next(raw: str | None, default: str = "/admin", *, within: str = "/admin") -> str:
    """Where to go after signing in: only a path on this site under `within`, so a link cannot send anyone elsewhere."""
    # Browsers drop tabs and line breaks from URLs, so "/\t/evil.example" would become "//evil.example".
    if (
        raw
        and raw.startswith(within)
        and not raw.startswith("//")
        and "\\" not in raw
        and all(ord(ch) > 32 and ord(ch) != 127 for ch in raw)
    ):
        return raw
    return default
