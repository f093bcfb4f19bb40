"""The SearchIndex port and its adapters."""
