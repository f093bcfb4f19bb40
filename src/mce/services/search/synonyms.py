"""The synonyms search ships with: a data file in the `a, b, c` format, read once when an index is opened."""

from __future__ import annotations

from pathlib import Path

from mce.services.search.analysis import Synonyms, parse_synonyms

SYNONYMS_FILE = Path(__file__).with_name("synonyms.txt")


def load_synonyms(path: Path = SYNONYMS_FILE) -> Synonyms:
    """The synonym groups in the file."""
    return parse_synonyms(path.read_text(encoding="utf-8"))
