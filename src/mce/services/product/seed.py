"""A deterministic demo catalog: plausible products in ten categories, made without any download."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from itertools import islice

from mce.kit.db import make_engine
from mce.services.product import usecases
from mce.services.product.domain import ProductFields
from mce.services.product.settings import ProductSettings
from mce.services.product.store.sql import ProductUnitOfWork, SqlCatalogQueries
from mce.services.product.store.tables import MIGRATIONS


@dataclass(frozen=True)
class CategoryVocabulary:
    """Words a category's products are made of; each noun has its price range in dollars."""

    name: str
    nouns: tuple[tuple[str, int, int], ...]
    adjectives: tuple[str, ...]
    brands: tuple[str, ...]
    features: tuple[str, ...]


CATALOG = (
    CategoryVocabulary(
        "Electronics",
        (
            ("Headphones", 40, 350),
            ("Earbuds", 25, 250),
            ("Bluetooth Speaker", 30, 300),
            ("Smartwatch", 80, 500),
            ("Tablet", 150, 900),
            ("Laptop Stand", 20, 90),
            ("Webcam", 30, 180),
            ("USB-C Charger", 15, 70),
            ("Power Bank", 20, 120),
            ("Mechanical Keyboard", 50, 250),
            ("Wireless Mouse", 15, 120),
            ("Monitor", 120, 800),
            ("Soundbar", 80, 600),
            ("E-Reader", 90, 300),
            ("Action Camera", 100, 500),
        ),
        ("Wireless", "Noise-Cancelling", "Compact", "Portable", "Ultra-Slim", "Pro", "Smart", "Rechargeable"),
        ("Voltra", "Sonique", "Kestrel", "Lumen", "Arcwave", "Nimbus"),
        (
            "a two-year warranty",
            "a brushed aluminium finish",
            "a USB-C port",
            "low power draw in standby",
            "a braided cable in the box",
            "free firmware updates",
        ),
    ),
    CategoryVocabulary(
        "Home & Kitchen",
        (
            ("Chef's Knife", 25, 220),
            ("Cast Iron Skillet", 20, 120),
            ("French Press", 15, 70),
            ("Blender", 30, 400),
            ("Toaster", 25, 180),
            ("Cutting Board", 12, 90),
            ("Dutch Oven", 40, 380),
            ("Kettle", 20, 150),
            ("Knife Block", 30, 250),
            ("Mixing Bowls", 15, 80),
            ("Espresso Machine", 120, 900),
            ("Air Fryer", 50, 250),
            ("Throw Blanket", 20, 140),
        ),
        ("Stainless", "Nonstick", "Ceramic", "Heavy-Duty", "Enamelled", "Bamboo", "Classic", "Electric"),
        ("Hearthware", "Copperleaf", "Maison", "Oakhouse", "Kitchara"),
        (
            "easy-clean surfaces",
            "a lifetime guarantee",
            "food-safe, BPA-free materials",
            "a space-saving design",
            "a comfortable grip",
            "a gift-ready box",
        ),
    ),
    CategoryVocabulary(
        "Books",
        (
            ("Cookbook", 15, 45),
            ("Novel", 8, 30),
            ("Field Guide", 12, 40),
            ("Atlas", 20, 80),
            ("Biography", 12, 40),
            ("Poetry Collection", 8, 30),
            ("Travel Guide", 10, 35),
            ("Programming Handbook", 25, 70),
            ("History of Rome", 15, 50),
            ("Sketchbook", 6, 30),
            ("Children's Picture Book", 6, 25),
            ("Mystery Thriller", 8, 28),
        ),
        ("Illustrated", "Hardcover", "Paperback", "Annotated", "Bestselling", "Collector's", "Pocket", "Revised"),
        ("Penfold Press", "Lantern Books", "Northgate", "Quillworks", "Harbor House"),
        (
            "over 300 pages",
            "full-colour photographs",
            "a foreword by the author",
            "an index and glossary",
            "acid-free paper",
            "a sewn binding that lies flat",
        ),
    ),
    CategoryVocabulary(
        "Sports & Outdoors",
        (
            ("Running Shoes", 50, 220),
            ("Yoga Mat", 15, 120),
            ("Tent", 80, 600),
            ("Sleeping Bag", 40, 350),
            ("Hiking Backpack", 40, 300),
            ("Water Bottle", 10, 50),
            ("Dumbbell Set", 30, 300),
            ("Bike Helmet", 30, 200),
            ("Trekking Poles", 25, 180),
            ("Camping Stove", 30, 200),
            ("Jump Rope", 6, 40),
            ("Headlamp", 12, 90),
        ),
        ("Lightweight", "Waterproof", "Insulated", "Breathable", "All-Season", "Trail", "Adjustable", "Foldable"),
        ("Summitline", "Trailhawk", "Peakform", "Riverstone", "Alpenglow"),
        (
            "reflective details for night use",
            "a carry bag included",
            "recycled materials",
            "a two-year warranty",
            "a lightweight build",
            "a weather-resistant finish",
        ),
    ),
    CategoryVocabulary(
        "Toys & Games",
        (
            ("Building Blocks", 15, 200),
            ("Board Game", 15, 80),
            ("Jigsaw Puzzle", 10, 45),
            ("Plush Bear", 10, 60),
            ("Remote Control Car", 25, 200),
            ("Train Set", 30, 250),
            ("Card Game", 6, 30),
            ("Science Kit", 20, 90),
            ("Dollhouse", 50, 300),
            ("Kite", 10, 60),
            ("Marble Run", 20, 120),
            ("Art Set", 12, 80),
        ),
        ("Classic", "Wooden", "Deluxe", "Educational", "Family", "Magnetic", "Giant", "Glow-in-the-Dark"),
        ("Playwell", "Tinkertown", "Brightbox", "Jolly Fox", "Puzzlecraft"),
        (
            "non-toxic materials",
            "a sturdy storage box",
            "an illustrated instruction booklet",
            "a design tested for ages 6 and up",
            "bright, fade-resistant colours",
            "a gift-ready box",
        ),
    ),
    CategoryVocabulary(
        "Beauty",
        (
            ("Face Serum", 12, 120),
            ("Moisturiser", 10, 90),
            ("Shampoo", 5, 40),
            ("Conditioner", 5, 40),
            ("Lip Balm", 3, 15),
            ("Sunscreen SPF 50", 8, 40),
            ("Hair Dryer", 30, 400),
            ("Body Lotion", 6, 45),
            ("Face Mask", 5, 50),
            ("Eye Cream", 15, 120),
            ("Hand Cream", 4, 30),
            ("Perfume", 30, 250),
        ),
        ("Hydrating", "Fragrance-Free", "Organic", "Vitamin C", "Gentle", "Overnight", "Repairing", "Mineral"),
        ("Lumiere", "Verdant", "Aurelia", "Bloom & Co", "Purecalm"),
        (
            "a dermatologist-tested formula",
            "no parabens or sulphates",
            "recyclable packaging",
            "a cruelty-free promise",
            "a travel-friendly size",
            "a light, natural scent",
        ),
    ),
    CategoryVocabulary(
        "Clothing",
        (
            ("T-Shirt", 10, 60),
            ("Hoodie", 30, 120),
            ("Denim Jacket", 50, 220),
            ("Rain Jacket", 60, 350),
            ("Wool Sweater", 50, 250),
            ("Chinos", 30, 120),
            ("Sneakers", 50, 220),
            ("Scarf", 15, 120),
            ("Beanie", 10, 50),
            ("Socks (3-pack)", 8, 35),
            ("Linen Shirt", 30, 140),
            ("Puffer Vest", 50, 250),
        ),
        ("Organic Cotton", "Merino", "Relaxed-Fit", "Slim-Fit", "Vintage", "Everyday", "Heavyweight", "Packable"),
        ("Northwind", "Loom & Thread", "Urbanite", "Fieldhouse", "Saltmarsh"),
        (
            "reinforced seams",
            "machine-washable fabric",
            "a tailored modern fit",
            "responsibly sourced fibres",
            "colour-fast dyes",
            "a 30-day fit guarantee",
        ),
    ),
    CategoryVocabulary(
        "Garden",
        (
            ("Pruning Shears", 12, 80),
            ("Garden Hose", 20, 120),
            ("Raised Bed", 50, 350),
            ("Watering Can", 10, 60),
            ("Seed Starter Kit", 10, 50),
            ("Compost Bin", 30, 200),
            ("Garden Gloves", 6, 35),
            ("Bird Feeder", 12, 90),
            ("Solar Lights", 15, 100),
            ("Lawn Sprinkler", 12, 90),
            ("Planter", 12, 150),
            ("Wheelbarrow", 60, 250),
        ),
        ("Expandable", "Galvanised", "Self-Watering", "Cedar", "Weatherproof", "Ergonomic", "Terracotta", "Solar"),
        ("Greenthumb", "Fernhill", "Meadowbrook", "Rootwise", "Gardena Works"),
        (
            "UV-resistant materials",
            "rust-proof fittings",
            "tool-free assembly",
            "a frost-proof finish",
            "a five-year warranty",
            "recycled packaging",
        ),
    ),
    CategoryVocabulary(
        "Grocery",
        (
            ("Coffee Beans", 8, 40),
            ("Green Tea", 5, 30),
            ("Olive Oil", 8, 45),
            ("Dark Chocolate", 3, 15),
            ("Honey", 6, 30),
            ("Granola", 4, 15),
            ("Pasta", 2, 10),
            ("Maple Syrup", 8, 35),
            ("Hot Sauce", 4, 15),
            ("Sea Salt", 3, 15),
            ("Almond Butter", 6, 20),
            ("Rolled Oats", 3, 12),
        ),
        ("Organic", "Single-Origin", "Cold-Pressed", "Raw", "Small-Batch", "Fair Trade", "Smoked", "Wildflower"),
        ("Farmstead", "Golden Acre", "Bean & Leaf", "Harvest Table", "Wild Pantry"),
        (
            "a resealable pack",
            "no artificial flavours",
            "a best-before date a year out",
            "responsibly farmed ingredients",
            "a rich, balanced flavour",
            "recyclable packaging",
        ),
    ),
    CategoryVocabulary(
        "Office",
        (
            ("Notebook", 5, 35),
            ("Fountain Pen", 20, 250),
            ("Desk Lamp", 20, 180),
            ("Desk Organizer", 12, 70),
            ("Office Chair", 120, 900),
            ("Standing Desk", 250, 1200),
            ("Whiteboard", 25, 200),
            ("Label Maker", 25, 120),
            ("Stapler", 8, 40),
            ("Planner", 10, 45),
            ("Monitor Arm", 30, 200),
            ("Filing Cabinet", 80, 400),
        ),
        ("Dotted", "Ergonomic", "Adjustable", "Minimalist", "Refillable", "Dimmable", "Magnetic", "Heavy-Duty"),
        ("Papermill", "Deskwise", "Inkwell", "Officina", "Steadfast"),
        (
            "a ten-year warranty",
            "sturdy construction",
            "a clean, minimalist look",
            "sustainably sourced materials",
            "easy set-up",
            "a satisfaction guarantee",
        ),
    ),
)

ENDINGS = (".99", ".49", ".95", ".00")


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


def _product(rng: random.Random, vocab: CategoryVocabulary) -> ProductFields:
    """One plausible product of a category."""
    noun, low, high = rng.choice(vocab.nouns)
    adjective = rng.choice(vocab.adjectives)
    brand = rng.choice(vocab.brands)
    first, second = rng.sample(vocab.features, 2)
    description = (
        f"The {brand} {adjective.lower()} {noun.lower()} is made for everyday use. It comes with {first} and {second}."
    )
    return ProductFields(
        name=f"{brand} {adjective} {noun}",
        description=description,
        price=_price(rng, low, high),
        stock=_stock(rng),
        category=vocab.name,
    )


def generate_catalog(count: int, seed: int = 2026) -> Iterator[ProductFields]:
    """The same `count` products for the same seed, spread over every category in turn."""
    rng = random.Random(seed)
    for index in range(count):
        yield _product(rng, CATALOG[index % len(CATALOG)])


BATCH = 1000


def seed_demo_catalog(settings: ProductSettings, *, count: int, force: bool = False) -> int:
    """Migrate, then add the demo categories and `count` generated products if the catalog is empty (or force)."""
    url = settings.resolved_url()
    if not MIGRATIONS.is_current(url):
        MIGRATIONS.apply(url)
    engine = make_engine(url)
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
            with ProductUnitOfWork(engine) as uow:
                for fields in batch:
                    usecases.create_product(uow, fields=fields)
            added += len(batch)
        return added
    finally:
        engine.dispose()
