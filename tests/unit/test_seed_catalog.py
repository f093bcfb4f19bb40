"""The demo catalog: unique, deterministic names that read as English, in every category, within the shared contract."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict

import pytest

from mce.kit.contracts import CATEGORY_MAX, NAME_MAX, ProductCreate
from mce.services.product.domain import ProductFields
from mce.services.product.seed import CATALOG, generate_catalog, variant

CATEGORIES = (
    "Electronics",
    "Home & Kitchen",
    "Books",
    "Sports & Outdoors",
    "Toys & Games",
    "Beauty",
    "Clothing",
    "Garden",
    "Grocery",
    "Office",
)
# Nouns a shopper reads as plural, listed here rather than taken from the catalog so the test is an independent check.
PLURAL_NOUNS = (
    "Headphones",
    "Earbuds",
    "Mixing Bowls",
    "Running Shoes",
    "Trekking Poles",
    "Building Blocks",
    "Chinos",
    "Sneakers",
    "Socks (3-pack)",
    "Pruning Shears",
    "Garden Gloves",
    "Solar Lights",
    "Coffee Beans",
    "Rolled Oats",
)
# Singular words that end in "s" and may come before "is".
SINGULAR_ENDING_IN_S = {"Atlas", "Press"}


@pytest.fixture(scope="module")
def catalog() -> list[ProductFields]:
    return list(generate_catalog(1200))


@pytest.fixture(scope="module")
def big_catalog() -> list[ProductFields]:
    return list(generate_catalog(100_000))


def test_names_are_unique_in_the_default_demo_catalog(catalog: list[ProductFields]) -> None:
    assert len({p.name for p in catalog}) == len(catalog)


def test_names_stay_unique_in_a_catalog_of_a_hundred_thousand(big_catalog: list[ProductFields]) -> None:
    assert len({p.name for p in big_catalog}) == 100_000
    assert max(len(p.name) for p in big_catalog) <= NAME_MAX


def test_every_noun_has_different_variants_for_as_many_rounds_as_anyone_will_need() -> None:
    for vocab in CATALOG:
        for kind in vocab.nouns:
            variants = [variant(vocab, kind, round_) for round_ in range(1, 200)]
            assert len(set(variants)) == len(variants), (vocab.name, kind.name)


def test_a_variant_never_repeats_a_word_of_the_name_it_extends() -> None:
    for vocab in CATALOG:
        for kind in vocab.nouns:
            for round_ in range(1, 30):
                extra = {w for w in variant(vocab, kind, round_).lower().split() if not w.isdigit()}
                for adjective in kind.adjectives:
                    assert not extra & set(f"{adjective} {kind.name}".lower().split()), (adjective, kind.name, extra)


def test_the_same_seed_gives_the_same_catalog_and_another_seed_another() -> None:
    assert list(generate_catalog(300)) == list(generate_catalog(300))
    assert list(generate_catalog(300, seed=7)) == list(generate_catalog(300, seed=7))
    assert list(generate_catalog(300, seed=7)) != list(generate_catalog(300))


def test_a_shorter_catalog_is_the_start_of_a_longer_one() -> None:
    assert list(generate_catalog(50)) == list(generate_catalog(500))[:50]


def test_products_go_round_all_ten_categories_evenly(catalog: list[ProductFields]) -> None:
    assert Counter(p.category for p in catalog) == dict.fromkeys(CATEGORIES, 120)
    assert [p.category for p in catalog[:10]] == list(CATEGORIES)
    assert all(len(name) <= CATEGORY_MAX for name in CATEGORIES)


def test_every_product_passes_the_shared_request_contract(catalog: list[ProductFields]) -> None:
    for product in catalog:
        fields = {k: v for k, v in asdict(product).items() if k != "image_url"}
        assert ProductCreate(**fields).model_dump() == {**fields, "image_url": None}


def test_the_demo_has_headphones_and_t_shirts_for_the_storefront_tests(catalog: list[ProductFields]) -> None:
    assert any("Headphones" in p.name for p in catalog)
    assert any("T-Shirt" in p.name for p in catalog)


def test_prices_are_cheap_more_often_than_dear_and_end_like_a_shop_price(catalog: list[ProductFields]) -> None:
    assert all(1 <= p.price <= 1300 and str(p.price)[-3:] in (".99", ".49", ".95", ".00") for p in catalog)
    for vocab in CATALOG:
        prices = sorted(p.price for p in catalog if p.category == vocab.name)
        assert prices[len(prices) // 2] < (prices[0] + prices[-1]) / 2, vocab.name


def test_stock_is_mostly_plenty_sometimes_low_and_now_and_then_none(catalog: list[ProductFields]) -> None:
    stocks = Counter("none" if p.stock == 0 else "few" if p.stock <= 5 else "plenty" for p in catalog)
    assert stocks["plenty"] > stocks["few"] > stocks["none"] > 0


def test_verbs_agree_with_plural_and_singular_nouns(big_catalog: list[ProductFields]) -> None:
    for product in big_catalog:
        text = product.description
        for match in re.finditer(r"([A-Z]\S*|\(3-pack\)) (is|are)\b", text):
            word, verb = match.groups()
            plural = word == "(3-pack)" or (word.endswith("s") and word not in SINGULAR_ENDING_IN_S)
            assert verb == ("are" if plural else "is"), text
        assert not re.search(r"\b(It come|It have|They comes|They has|They is|It are)\b", text), text
        if any(noun in product.name for noun in PLURAL_NOUNS):
            assert " is " not in text and not re.search(r"\bcomes\b|\bhas\b|\bIt\b", text), text
    assert not any("headphones is" in p.description.lower() for p in big_catalog)


def test_articles_suit_the_word_that_follows(big_catalog: list[ProductFields]) -> None:
    for product in big_catalog:
        for text in (product.name, product.description):
            assert not re.search(r"\b[Aa] [aeiouAEIOU]", text), text
            assert not re.search(r"\b[Aa]n [^aeiouAEIOU]", text), text


def test_no_word_is_said_twice_in_a_row(big_catalog: list[ProductFields]) -> None:
    for product in big_catalog:
        for text in (product.name, product.description):
            words = text.lower().split()
            assert all(a.rstrip(",:;") != b for a, b in zip(words, words[1:], strict=False)), text


def test_every_description_is_sentences_ending_in_a_full_stop(big_catalog: list[ProductFields]) -> None:
    for product in big_catalog:
        assert product.description[0].isupper() and product.description.endswith("."), product.description


def test_a_description_names_its_product(catalog: list[ProductFields]) -> None:
    assert all(p.name in p.description for p in catalog)


def test_each_category_describes_its_products_in_its_own_voice(catalog: list[ProductFields]) -> None:
    books = [p.description for p in catalog if p.category == "Books"]
    grocery = [p.description for p in catalog if p.category == "Grocery"]
    assert all(" read" in d or "bookshelf" in d for d in books)
    assert all("made from" in d for d in grocery)
    assert not any("everyday use" in d for d in books + grocery)


def test_adjectives_suit_their_nouns(big_catalog: list[ProductFields]) -> None:
    names = {p.name for p in big_catalog}
    for misfit in ("Smoked Pasta", "Overnight Sunscreen", "Wooden Remote Control Car", "Wireless Wireless Mouse"):
        assert not any(misfit in name for name in names), misfit
