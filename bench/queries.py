"""The search mix both benchmarks use: exact words, typos, prefixes, filters, and browsing without words."""

SEARCHES = [
    {"q": "headphones"},
    {"q": "headphnes"},
    {"q": "wireless earbuds"},
    {"q": "cast iron"},
    {"q": "yoga mat"},
    {"q": "organic coffee"},
    {"q": "desk lamp"},
    {"q": "ketle"},
    {"q": "head"},
    {"q": "sneakers", "max_price": "100"},
    {"q": "tent", "category": "Sports & Outdoors"},
    {"q": ""},
    {"q": "", "category": "Books"},
    {"q": "waterproof jacket"},
    {"q": "fountain pen"},
    {"q": "chocolate", "min_price": "5", "max_price": "12"},
]
