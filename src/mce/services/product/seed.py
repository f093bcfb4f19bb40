"""A deterministic demo catalog: plausible products in ten categories, each with a picture, drawn without downloads."""

from __future__ import annotations

import random
from collections.abc import Iterator
from decimal import Decimal
from itertools import islice

from mce.kit.blob.factory import build_blob_store
from mce.kit.bus.factory import build_bus
from mce.kit.db import make_engine
from mce.services.product import usecases
from mce.services.product.domain import ProductFields
from mce.services.product.images import new_upload_key
from mce.services.product.pictures import draw_picture
from mce.services.product.settings import ProductSettings
from mce.services.product.store.sql import ProductUnitOfWork, SqlCatalogQueries
from mce.services.product.store.tables import MIGRATIONS
from mce.services.product.vocabulary import CATALOG, CategoryVocabulary, Noun

# The words a description's verbs and pronouns take for one product and for a pair or set (Headphones, Chinos).
SINGULAR = {"is": "is", "It": "It", "s": "s", "has": "has"}
PLURAL = {"is": "are", "It": "They", "s": "", "has": "have"}

ENDINGS = (".99", ".49", ".95", ".00")


def _article(word: str) -> str:
    """The article for a word by its first letter: no praise word starts with a silent h or a "you" sound."""
    return "an" if word[0] in "aeiouAEIOU" else "a"


def _ordinal(n: int) -> str:
    """2nd, 3rd, 11th, 21st."""
    suffix = "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def variant(vocab: CategoryVocabulary, kind: Noun, round_: int) -> str:
    """The suffix of a product name in its `round_` (1 and up) of reuse of the same brand, adjective and noun."""
    listed = kind.variants or vocab.variants
    if round_ <= len(listed):
        return listed[round_ - 1]
    n = round_ - len(listed) - 1 + vocab.more_from
    return vocab.more.format(n=n, nth=_ordinal(n))


def _names(rng: random.Random, vocab: CategoryVocabulary) -> Iterator[tuple[Noun, str, str]]:
    """(noun, name without variant, name) for a category, never the same name twice."""
    combos = [
        (kind, f"{brand} {adjective} {kind.name}")
        for kind in vocab.nouns
        for adjective in kind.adjectives
        for brand in vocab.brands
    ]
    # Every combination once per round, in a fresh order each round; a round after the first adds its own variant.
    round_ = 0
    while True:
        order = combos[:]
        rng.shuffle(order)
        for kind, base in order:
            yield kind, base, base if round_ == 0 else f"{base}{vocab.joiner}{variant(vocab, kind, round_)}"
        round_ += 1


def _price(rng: random.Random, low: int, high: int) -> Decimal:
    """A price that looks like a shop's: skewed towards the cheap end, ending in .99 and the like."""
    whole = int(low + (high - low) * rng.random() ** 2)
    return Decimal(f"{whole}{rng.choice(ENDINGS)}")


def _stock(rng: random.Random) -> int:
    """Mostly plenty, sometimes a few, now and then none."""
    roll = rng.random()
    if roll < 0.06:
        return 0
    if roll < 0.16:
        return rng.randint(1, 5)
    return rng.randint(6, 250)


def _description(rng: random.Random, vocab: CategoryVocabulary, kind: Noun, base: str) -> str:
    """One or two sentences in the category's voice about the name without its variant, verbs agreeing with the noun."""
    first, second = rng.sample(vocab.features + kind.features, 2)
    praise = rng.choice(vocab.praises)
    return rng.choice(vocab.templates).format(
        name=base,
        f1=first,
        f2=second,
        praise=praise,
        a_praise=f"{_article(praise)} {praise}",
        origin=rng.choice(vocab.origins) if vocab.origins else "",
        **(PLURAL if kind.plural else SINGULAR),
    )


def generate_catalog(count: int, seed: int = 2026) -> Iterator[ProductFields]:
    """The same `count` products for the same seed, spread over every category in turn, every name different."""
    rng = random.Random(seed)
    names = [_names(rng, vocab) for vocab in CATALOG]
    for index in range(count):
        slot = index % len(CATALOG)
        vocab = CATALOG[slot]
        kind, base, name = next(names[slot])
        yield ProductFields(
            name=name,
            description=_description(rng, vocab, kind, base),
            price=_price(rng, kind.low, kind.high),
            stock=_stock(rng),
            category=vocab.name,
        )


BATCH = 1000


def seed_demo_catalog(settings: ProductSettings, *, count: int, force: bool = False, pictures: bool = True) -> int:
    """Migrate, then add the demo categories and `count` generated products if the catalog is empty (or force).

    With pictures, each product gets a drawn photo uploaded to the blob store under uploads/, exactly as an admin's
    upload is, so the image processor makes its thumbnails when it runs.
    """
    url = settings.resolved_url()
    if not MIGRATIONS.is_current(url):
        MIGRATIONS.apply(url)
    engine = make_engine(url)
    bus = build_bus(settings) if pictures else None
    blobs = build_blob_store(settings, bus) if bus is not None else None
    try:
        if SqlCatalogQueries(engine).count() and not force:
            return 0
        with ProductUnitOfWork(engine) as uow:
            for vocabulary in CATALOG:
                if uow.categories.find(vocabulary.name) is None:
                    usecases.create_category(uow, name=vocabulary.name)
        products = generate_catalog(count)
        added = 0
        while batch := list(islice(products, BATCH)):
            uploads = []
            with ProductUnitOfWork(engine) as uow:
                for fields in batch:
                    product = usecases.create_product(uow, fields=fields)
                    if blobs is not None:
                        # Recorded before the bytes are stored, as an upload is: the processor's report finds it.
                        key = new_upload_key(product.id, "jpg")
                        usecases.record_upload(uow, product_id=product.id, upload_key=key)
                        uploads.append((key, fields))
            if blobs is not None:
                for key, fields in uploads:
                    blobs.put(key, draw_picture(fields.category, fields.name), "image/jpeg")
            added += len(batch)
        return added
    finally:
        if blobs is not None:
            blobs.close()
        if bus is not None:
            bus.close()
        engine.dispose()
