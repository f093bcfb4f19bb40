"""How a shopper's text becomes what to match, without I/O: words, stop words, typo tolerance, compounds, synonyms.

A query is planned as clauses that must all match. Each clause offers alternatives, and an alternative matches
when all of its terms do: `head phones` is `(head | headphones) AND (phones | headphones)`, and with the synonym
group `earbuds, ear buds`, `ear buds` is one clause `(ear AND buds) | earbuds`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# Each word costs an exact, a prefix and a fuzzy lookup; past this many words more words only narrow the result.
MAX_QUERY_TERMS = 10
# The index drops tokens this long or longer (tantivy's RemoveLongFilter), so a query must not require them.
MAX_TOKEN_BYTES = 40
# One letter is the start of a large share of the vocabulary: as a prefix it finds noise, not what was meant.
MIN_PREFIX_CHARS = 2
# A synonym group adds at most this many alternatives to a clause, so a long group cannot blow up a query.
MAX_SYNONYMS = 6

# Letters and digits in any script, the way the index tokenizer splits words.
_WORD = re.compile(r"[^\W_]+")

# Words too common to tell products apart. Kept short on purpose: every word here is one a shopper cannot search
# for on its own, so nothing that names or describes a product belongs in it (not "t", "s", "x", "no" or "pro").
_STOP_WORDS_TEXT = (
    "a an and are as at be but by for from has have i if in into is it its me my of on or our so than that the "
    "their them then there these they this those to was we were what when where which who will with you your"
)
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())

NOTHING_TO_SEARCH_HINT = (
    'Nothing to search for: common words such as "the" or "of", and symbols, are not searched on their own. '
    'Try a product name, a brand or a category, such as "headphones".'
)


def words_of(text: str) -> tuple[str, ...]:
    """The lower-cased words of a text, in order, as the index splits them; words too long to index are dropped."""
    return tuple(word for word in _WORD.findall(text.lower()) if len(word.encode()) < MAX_TOKEN_BYTES)


def joined_pairs(words: Iterable[str]) -> tuple[str, ...]:
    """Each word joined to the next (`t`, `shirt` -> `tshirt`), so that a compound matches however it is written."""
    words = tuple(words)
    return tuple(first + second for first, second in zip(words, words[1:], strict=False))


def has_searchable_words(text: str) -> bool:
    """Whether the text holds a word worth searching for: not only stop words, symbols or emoji."""
    return any(word not in STOP_WORDS for word in words_of(text))


def hint_for(text: str) -> str | None:
    """What to tell a shopper whose text cannot be searched, before searching; None for blank text or real words."""
    if not text.strip() or has_searchable_words(text):
        return None
    return NOTHING_TO_SEARCH_HINT


def typo_distance(word: str) -> int:
    """Edits tolerated in a word: none for short words or numbers, one up to seven letters, two beyond."""
    if len(word) < 4 or any(char.isdigit() for char in word):
        # A one-letter change to a short word or a model number is another word, not a typo.
        return 0
    return 1 if len(word) <= 7 else 2


@dataclass(frozen=True)
class QueryTerm:
    """One lower-cased word to match: exactly (stemmed), and as a prefix or with typos when allowed."""

    text: str
    fuzzy_distance: int = 0
    prefix: bool = False

    @classmethod
    def typed(cls, word: str) -> QueryTerm:
        """A word as the shopper typed it: prefixes and typos allowed as its length permits."""
        return cls(word, typo_distance(word), len(word) >= MIN_PREFIX_CHARS)

    @classmethod
    def joined(cls, word: str) -> QueryTerm:
        """Two typed words joined: exact or as a prefix; typos in a guess would only add noise."""
        return cls(word, 0, True)

    @classmethod
    def synonym(cls, word: str) -> QueryTerm:
        """A word of a synonym: matched exactly, since the shopper did not type it."""
        return cls(word)


Alternative = tuple[QueryTerm, ...]


@dataclass(frozen=True)
class Clause:
    """A part of the query that must match: any one alternative, all of whose terms match."""

    alternatives: tuple[Alternative, ...]


@dataclass(frozen=True)
class QueryPlan:
    """What the index must match: every clause; no clauses means every product."""

    clauses: tuple[Clause, ...] = ()


Phrase = tuple[str, ...]


@dataclass(frozen=True)
class Synonyms:
    """Groups of phrases that mean the same, each phrase as its words; a phrase may be in several groups."""

    groups: Mapping[Phrase, tuple[Phrase, ...]]
    longest: int = 0

    @classmethod
    def none(cls) -> Synonyms:
        """No synonyms at all."""
        return cls({}, 0)

    def alternatives(self, phrase: Phrase) -> tuple[Phrase, ...]:
        """The other phrases meaning the same as this one, best known first; empty when it has none."""
        return self.groups.get(phrase, ())


def parse_synonyms(text: str) -> Synonyms:
    """Synonyms from the `a, b, c` format: one group of equivalent phrases a line, `#` starts a comment."""
    # Solr's and OpenSearch's synonym filters read this format too, so the same file can configure them.
    groups: dict[Phrase, list[Phrase]] = {}
    for line in text.splitlines():
        phrases: list[Phrase] = []
        for entry in line.split("#", 1)[0].split(","):
            phrase = words_of(entry)
            if phrase and phrase not in phrases:
                phrases.append(phrase)
        for phrase in phrases:
            known = groups.setdefault(phrase, [])
            known.extend(other for other in phrases if other != phrase and other not in known)
    longest = max((len(phrase) for phrase in groups), default=0)
    return Synonyms({phrase: tuple(others) for phrase, others in groups.items()}, longest)


@dataclass(frozen=True)
class _Unit:
    """A word the shopper typed, or a run of words that is a synonym phrase, and where it starts and ends."""

    words: Phrase
    start: int
    end: int
    synonyms: tuple[Phrase, ...] = ()


def _units(words: Phrase, synonyms: Synonyms) -> list[_Unit]:
    """The words grouped into synonym phrases (longest first, left to right) and single words."""
    units: list[_Unit] = []
    position = 0
    while position < len(words):
        for length in range(min(synonyms.longest, len(words) - position), 0, -1):
            phrase = words[position : position + length]
            others = synonyms.alternatives(phrase)
            if others:
                units.append(_Unit(phrase, position, position + length, others[:MAX_SYNONYMS]))
                position += length
                break
        else:
            units.append(_Unit(words[position : position + 1], position, position + 1))
            position += 1
    return units


def _kept(units: list[_Unit]) -> list[_Unit]:
    """Units worth matching: stop words and repeats dropped, at most MAX_QUERY_TERMS words in all."""
    kept: list[_Unit] = []
    seen: set[Phrase] = set()
    budget = MAX_QUERY_TERMS
    for unit in units:
        if unit.words in seen or (not unit.synonyms and unit.words[0] in STOP_WORDS):
            continue
        if len(unit.words) > budget:
            break
        seen.add(unit.words)
        kept.append(unit)
        budget -= len(unit.words)
    return kept


def plan_query(text: str, synonyms: Synonyms | None = None) -> QueryPlan:
    """The clauses a shopper's text asks the index to match; see the module's docstring."""
    units = _kept(_units(words_of(text), synonyms or Synonyms.none()))
    clauses = []
    for i, unit in enumerate(units):
        if unit.synonyms:
            typed = tuple(QueryTerm.typed(word) for word in unit.words)
            others = tuple(tuple(QueryTerm.synonym(word) for word in phrase) for phrase in unit.synonyms)
            clauses.append(Clause((typed, *others)))
            continue
        alternatives: list[Alternative] = [(QueryTerm.typed(unit.words[0]),)]
        previous, following = units[i - 1] if i else None, units[i + 1] if i + 1 < len(units) else None
        for before, after in ((previous, unit), (unit, following)):
            if before is not None and after is not None and _joinable(before, after):
                alternatives.append((QueryTerm.joined(before.words[0] + after.words[0]),))
        clauses.append(Clause(tuple(alternatives)))
    return QueryPlan(tuple(clauses))


def _joinable(before: _Unit, after: _Unit) -> bool:
    """Whether two units may be one compound: single words typed side by side ("head phones", not "head of phones")."""
    return not before.synonyms and not after.synonyms and before.end == after.start
