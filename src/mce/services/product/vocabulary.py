"""The words the demo catalog is made of: per category, its nouns (with price ranges and fitting adjectives), brands
and features. Pure data and the small types that hold it."""

from __future__ import annotations

from dataclasses import dataclass


def _words(text: str) -> tuple[str, ...]:
    """A comma-separated list as a tuple; word lists are kept on one line this way."""
    return tuple(word.strip() for word in text.split(",")) if text else ()


@dataclass(frozen=True)
class Noun:
    """A kind of product: its price range in dollars, the adjectives that suit it, if it is plural, its own variants."""

    name: str
    low: int
    high: int
    adjectives: tuple[str, ...]
    plural: bool = False
    variants: tuple[str, ...] = ()
    features: tuple[str, ...] = ()


def noun(
    name: str,
    low: int,
    high: int,
    adjectives: str,
    *,
    plural: bool = False,
    variants: str = "",
    features: tuple[str, ...] = (),
) -> Noun:
    """A noun from comma-separated word lists; features are a tuple since some have commas of their own."""
    return Noun(name, low, high, _words(adjectives), plural, _words(variants), features)


@dataclass(frozen=True)
class CategoryVocabulary:
    """Words a category's products are made of, and the sentences its descriptions are made of."""

    name: str
    nouns: tuple[Noun, ...]
    brands: tuple[str, ...]
    # What a product "comes with"; each fits every noun of the category, so any two read true.
    features: tuple[str, ...]
    praises: tuple[str, ...]
    templates: tuple[str, ...]
    # Suffixes that tell products apart once every brand, adjective and noun combination is taken: the listed ones
    # first, then `more` numbered from `more_from` without end.
    variants: tuple[str, ...]
    more: str
    more_from: int = 2
    joiner: str = ", "
    origins: tuple[str, ...] = ()


# Pack sizes a shopper buys for a kitchen, not a restaurant, so they sit with the noun's price range.
GRAMS = "250 g, 500 g, 1 kg, 100 g, 750 g, 200 g, 400 g, 150 g, 300 g, 350 g, 125 g, 450 g"
MILLILITRES = "500 ml, 250 ml, 1 L, 750 ml, 100 ml, 150 ml, 330 ml, 200 ml, 375 ml, 125 ml, 300 ml, 400 ml"

CATALOG = (
    CategoryVocabulary(
        "Electronics",
        (
            noun(
                "Headphones",
                40,
                350,
                "Wireless, Noise-Cancelling, Over-Ear, Studio, Foldable, Bluetooth, Open-Back, Pro",
                plural=True,
            ),
            noun(
                "Earbuds",
                25,
                250,
                "Wireless, Noise-Cancelling, Sport, Compact, Bluetooth, Sweatproof, True Wireless, Pro",
                plural=True,
            ),
            noun("Bluetooth Speaker", 30, 300, "Portable, Waterproof, Compact, Rugged, Pocket, Outdoor, Smart, Party"),
            noun("Smartwatch", 80, 500, "Fitness, GPS, Rugged, Slim, Solar, Hybrid, Sport, Premium"),
            noun("Tablet", 150, 900, "Pro, Ultra-Slim, Compact, Kids', 5G, Drawing, Everyday, Premium"),
            noun("Webcam", 30, 180, "HD, 4K, Wide-Angle, Compact, Streaming, Auto-Focus, Conference, Pro"),
            noun("USB-C Charger", 15, 70, "Fast, Compact, GaN, Travel, Dual-Port, 65 W, 100 W, Slim"),
            noun("Power Bank", 20, 120, "Compact, Slim, High-Capacity, Magnetic, Solar, Fast-Charging, Pocket, Rugged"),
            noun(
                "Mechanical Keyboard",
                50,
                250,
                "Wireless, Compact, Low-Profile, RGB, Tenkeyless, Hot-Swappable, Silent, Pro",
            ),
            noun("Wireless Mouse", 15, 120, "Ergonomic, Silent, Compact, Vertical, Rechargeable, Travel, Gaming, Pro"),
            noun("Monitor", 120, 800, "Curved, 4K, Ultra-Wide, Portable, Gaming, 27-Inch, HDR, Pro"),
            noun("Soundbar", 80, 600, "Compact, Smart, Wireless, Dolby Atmos, Slim, Cinema, Pro"),
            noun("E-Reader", 90, 300, "Compact, Waterproof, Ultra-Slim, Backlit, Colour, Large-Screen, Pro"),
            noun("Action Camera", 100, 500, "Waterproof, 4K, Compact, Rugged, Stabilised, 360-Degree, Pro"),
            noun("Streaming Microphone", 30, 250, "USB, Condenser, Podcast, Studio, Compact, Dynamic, Pro"),
        ),
        _words("Voltra, Sonique, Kestrel, Lumen, Arcwave, Nimbus, Halcyon, Tessel"),
        (
            "a two-year warranty",
            "a braided USB-C cable",
            "a premium matte finish",
            "low standby power draw",
            "a quick-start guide",
            "plastic-free packaging",
            "a 30-day returns promise",
        ),
        _words("dependable, well-made, thoughtfully designed, great-value, reliable"),
        (
            "The {name} {is} {a_praise} pick for everyday use. {It} come{s} with {f1} and {f2}.",
            "Simple to set up and easy to live with, the {name} come{s} with {f1} and {f2}.",
            "Built to last, the {name} {is} {a_praise} upgrade for work and play, with {f1} and {f2}.",
        ),
        _words("Mk II, Gen 2, Mk III, Gen 3, Plus, Max, Mk IV, Gen 4, Lite, SE, Mk V, Gen 5"),
        "Series {n}",
        joiner=" ",
    ),
    CategoryVocabulary(
        "Home & Kitchen",
        (
            noun(
                "Chef's Knife",
                25,
                220,
                "Stainless, Damascus, Japanese, Forged, Carbon Steel, Professional, Classic, 8-Inch",
            ),
            noun("Cast Iron Skillet", 20, 120, "Pre-Seasoned, Enamelled, 10-Inch, 12-Inch, Classic, Heavy-Duty, Deep"),
            noun("French Press", 15, 70, "Glass, Stainless, Double-Walled, Insulated, Classic, 8-Cup, Large, Travel"),
            noun("Blender", 30, 400, "High-Speed, Personal, Compact, Professional, Quiet, Smoothie, Cordless"),
            noun("Toaster", 25, 180, "2-Slice, 4-Slice, Retro, Stainless, Long-Slot, Wide-Slot, Classic, Digital"),
            noun(
                "Cutting Board",
                12,
                90,
                "Bamboo, Walnut, End-Grain, Maple, Olive Wood, Reversible, Juice-Groove, Non-Slip",
                variants="Set of 2, Small, Extra Large, Set of 3, Medium, Thick, Slim, Round",
            ),
            noun(
                "Dutch Oven", 40, 380, "Enamelled, Cast Iron, Pre-Seasoned, 5-Quart, Round, Oval, Classic, Heavy-Duty"
            ),
            noun(
                "Kettle",
                20,
                150,
                "Electric, Stovetop, Gooseneck, Cordless, Variable-Temperature, Glass, Retro, Whistling",
            ),
            noun(
                "Knife Block",
                30,
                250,
                "Magnetic, Bamboo, Walnut, Universal, 7-Piece, Acacia, Compact",
                variants="Large, Small, Slim, Two-Tier, Wall-Mounted, Medium, Extra Large, Angled",
            ),
            noun(
                "Mixing Bowls",
                15,
                80,
                "Stainless, Nesting, Glass, Ceramic, Enamelled, Non-Slip, Stackable",
                plural=True,
            ),
            noun(
                "Espresso Machine",
                120,
                900,
                "Manual, Semi-Automatic, Bean-to-Cup, Compact, Dual-Boiler, Retro, Professional",
            ),
            noun("Air Fryer", 50, 250, "Digital, Compact, Dual-Basket, XL, Family-Size, Stainless, Smart"),
            noun("Stand Mixer", 80, 600, "Tilt-Head, Professional, Compact, Classic, Retro, Heavy-Duty, Bowl-Lift"),
            noun("Frying Pan", 15, 120, "Nonstick, Ceramic, Stainless, Carbon Steel, Induction-Ready, Tri-Ply, Deep"),
        ),
        _words("Hearthware, Copperleaf, Maison, Oakhouse, Kitchara, Saltbox, Pantrique, Forge & Field"),
        (
            "a lifetime guarantee",
            "food-safe materials",
            "a space-saving design",
            "a gift-ready box",
            "easy-clean surfaces",
            "a care guide in the box",
        ),
        _words("hard-working, well-made, handsome, dependable, beautifully made"),
        (
            "The {name} {is} {a_praise} addition to any kitchen, with {f1} and {f2}.",
            "Made for busy home cooks, the {name} come{s} with {f1} and {f2}.",
            "The {name} {is} built to be used every day and to look good doing it. {It} come{s} with {f1} and {f2}.",
        ),
        _words(
            "Matte Black, Sage Green, Cream, Charcoal, Slate Blue, Copper, Terracotta, Pearl White, Dove Grey, "
            "Forest Green, Burgundy, Mustard"
        ),
        "Series {n}",
    ),
    CategoryVocabulary(
        "Books",
        (
            noun(
                "Cookbook",
                15,
                45,
                "Illustrated, Hardcover, Paperback, Bestselling, Vegetarian, Weeknight, Family, Seasonal",
                features=("over 100 tested recipes", "full-colour photographs"),
            ),
            noun(
                "Novel",
                8,
                30,
                "Hardcover, Paperback, Bestselling, Award-Winning, Debut, Historical, Literary, Annotated",
                features=("a reading group guide", "a new introduction"),
            ),
            noun(
                "Field Guide",
                12,
                40,
                "Illustrated, Pocket, Complete, Photographic, Revised, Beginner's, Waterproof",
                features=("hundreds of colour illustrations", "a quick-reference index"),
            ),
            noun(
                "Atlas",
                20,
                80,
                "Illustrated, Hardcover, Concise, Pocket, Historical, Road, Children's, Complete",
                features=("full-colour maps", "an index of place names"),
            ),
            noun(
                "Biography",
                12,
                40,
                "Hardcover, Paperback, Bestselling, Authorised, Illustrated, Definitive, Award-Winning",
                features=("a section of archive photographs", "detailed source notes"),
            ),
            noun(
                "Poetry Collection",
                8,
                30,
                "Hardcover, Paperback, Illustrated, Debut, Award-Winning, Bilingual, Pocket",
                features=("notes on every poem", "an index of first lines"),
            ),
            noun(
                "Travel Guide",
                10,
                35,
                "Pocket, Illustrated, Paperback, Revised, Budget, Walking, Family, Complete",
                features=("fold-out city maps", "suggested itineraries"),
            ),
            noun(
                "Programming Handbook",
                25,
                70,
                "Paperback, Hardcover, Revised, Beginner's, Practical, Complete, Pocket, Annotated",
                features=("worked examples in every chapter", "downloadable source code"),
            ),
            noun(
                "History of Rome",
                15,
                50,
                "Illustrated, Hardcover, Paperback, Concise, Short, Annotated, Pocket, New",
                features=("maps and a timeline", "a detailed index"),
            ),
            noun(
                "Short Story Collection",
                8,
                30,
                "Paperback, Hardcover, Award-Winning, Debut, Illustrated, Bestselling, Pocket",
                features=("a reading group guide", "a new introduction"),
            ),
            noun(
                "Children's Picture Book",
                6,
                25,
                "Hardcover, Paperback, Bedtime, Bestselling, Lift-the-Flap, Award-Winning, Rhyming",
                features=("bright, full-page illustrations", "sturdy, wipe-clean pages"),
            ),
            noun(
                "Mystery Thriller",
                8,
                28,
                "Paperback, Hardcover, Bestselling, Award-Winning, Debut, Nordic, Psychological, Pocket",
                features=("a reading group guide", "a bonus short story"),
            ),
        ),
        _words(
            "Penfold Press, Lantern Books, Northgate, Quillworks, Harbor House, Foxglove Press, Marlowe & Finch, "
            "Bramble"
        ),
        (
            "a sewn binding that lies flat",
            "acid-free paper",
            "clear, easy-to-read type",
            "a striking cover design",
            "a free e-book edition",
        ),
        _words("absorbing, rewarding, beautifully produced, delightful, richly detailed, engaging"),
        (
            "The {name} {is} {a_praise} read, with {f1} and {f2}.",
            "A welcome addition to any bookshelf, the {name} come{s} with {f1} and {f2}.",
            "Readers return to the {name} again and again: {a_praise} read with {f1} and {f2}.",
        ),
        _words(
            "2nd Edition, Anniversary Edition, 3rd Edition, Deluxe Edition, 4th Edition, Gift Edition, 5th Edition, "
            "Special Edition, 6th Edition, Expanded Edition, 7th Edition, Signed Edition"
        ),
        "{nth} Edition",
        more_from=8,
    ),
    CategoryVocabulary(
        "Sports & Outdoors",
        (
            noun(
                "Running Shoes",
                50,
                220,
                "Lightweight, Cushioned, Trail, Road, Breathable, Waterproof, Racing, Stability",
                plural=True,
            ),
            noun("Yoga Mat", 15, 120, "Non-Slip, Cork, Extra-Thick, Travel, Natural Rubber, Foldable, Alignment"),
            noun(
                "Tent", 80, 600, "2-Person, 4-Person, Backpacking, Ultralight, Family, Pop-Up, All-Season, Waterproof"
            ),
            noun("Sleeping Bag", 40, 350, "Down, Synthetic, Ultralight, 3-Season, Mummy, Compact, Four-Season"),
            noun("Hiking Backpack", 40, 300, "30 L, 45 L, Lightweight, Waterproof, Ultralight, Ventilated, Women's"),
            noun("Water Bottle", 10, 50, "Insulated, Stainless, BPA-Free, Collapsible, Filtered, Sports, Leak-Proof"),
            noun("Dumbbell Set", 30, 300, "Adjustable, Hex, Rubber-Coated, Neoprene, Chrome, Compact, 20 kg"),
            noun("Bike Helmet", 30, 200, "Road, Mountain, Commuter, MIPS, Lightweight, Aero, Kids', Ventilated"),
            noun(
                "Trekking Poles",
                25,
                180,
                "Carbon, Aluminium, Collapsible, Foldable, Lightweight, Ultralight, Cork-Grip",
                plural=True,
            ),
            noun(
                "Camping Stove",
                30,
                200,
                "Backpacking, Compact, Two-Burner, Ultralight, Gas, Multi-Fuel, Wood-Burning, Folding",
            ),
            noun("Jump Rope", 6, 40, "Speed, Weighted, Adjustable, Beaded, Tangle-Free, Digital, Leather"),
            noun(
                "Headlamp", 12, 90, "Rechargeable, Waterproof, Lightweight, 400-Lumen, Running, Compact, Motion-Sensor"
            ),
        ),
        _words("Summitline, Trailhawk, Peakform, Riverstone, Alpenglow, Ridgeback, Tidewater, Ironbark"),
        (
            "a two-year warranty",
            "recycled materials",
            "a hard-wearing finish",
            "a free repair service",
            "a no-quibble returns promise",
            "plastic-free packaging",
        ),
        _words("dependable, hard-wearing, well-made, trusty"),
        (
            "The {name} {is} {a_praise} choice for an active life. {It} come{s} with {f1} and {f2}.",
            "Made for active days, the {name} come{s} with {f1} and {f2}.",
            "Whether you train at home or head for the hills, the {name} {is} ready when you are, with {f1} and {f2}.",
        ),
        _words(
            "Forest Green, Glacier Blue, Ember Orange, Slate Grey, Black, Sand, Storm Blue, Moss, Coral, Charcoal, "
            "Olive, Sunset Red"
        ),
        "Series {n}",
    ),
    CategoryVocabulary(
        "Toys & Games",
        (
            noun(
                "Building Blocks",
                15,
                200,
                "Classic, Wooden, Magnetic, Giant, Stackable, Creative, Rainbow, Soft",
                plural=True,
                features=("a sturdy storage box",),
            ),
            noun(
                "Board Game",
                15,
                80,
                "Family, Strategy, Classic, Cooperative, Party, Deluxe, Educational, Two-Player",
                features=("an easy-to-learn rulebook",),
            ),
            noun(
                "Jigsaw Puzzle",
                10,
                45,
                "1000-Piece, 500-Piece, Wooden, Panoramic, Family, Glow-in-the-Dark, Double-Sided, Landscape",
                features=("a poster of the finished picture",),
            ),
            noun("Plush Bear", 10, 60, "Giant, Classic, Cuddly, Organic Cotton, Mini, Weighted, Musical"),
            noun(
                "Remote Control Car",
                25,
                200,
                "Off-Road, Stunt, High-Speed, Rechargeable, Waterproof, All-Terrain, Racing, Amphibious",
                features=("a rechargeable battery",),
            ),
            noun(
                "Train Set",
                30,
                250,
                "Wooden, Electric, Classic, Battery-Powered, Deluxe, Starter, Magnetic, Steam",
                features=("a sturdy storage box",),
            ),
            noun(
                "Card Game",
                6,
                30,
                "Family, Party, Classic, Strategy, Trick-Taking, Pocket, Cooperative, Trivia",
                features=("an easy-to-learn rulebook",),
            ),
            noun(
                "Science Kit",
                20,
                90,
                "Chemistry, Crystal-Growing, Robotics, Educational, Volcano, Microscope, Astronomy",
                features=("an illustrated instruction booklet",),
            ),
            noun("Dollhouse", 50, 300, "Wooden, Victorian, Modern, Three-Storey, Deluxe, Furnished, Cottage, Classic"),
            noun("Kite", 10, 60, "Stunt, Delta, Rainbow, Giant, Dragon, Box, Beginner's, Diamond"),
            noun(
                "Marble Run",
                20,
                120,
                "Classic, Wooden, Deluxe, Glow-in-the-Dark, Giant, Magnetic, Starter, Modular",
                features=("an illustrated instruction booklet",),
            ),
            noun(
                "Art Set",
                12,
                80,
                "Deluxe, Watercolour, Pastel, Acrylic, Sketching, Drawing, Complete, Beginner's",
                features=("a carry case",),
            ),
        ),
        _words("Playwell, Tinkertown, Brightbox, Jolly Fox, Puzzlecraft, Little Otter, Whirligig, Humblebee"),
        (
            "non-toxic materials",
            "bright, fade-resistant colours",
            "a gift-ready box",
            "a design tested to toy-safety standards",
            "a two-year guarantee",
        ),
        _words("delightful, engaging, imaginative, timeless, much-loved"),
        (
            "The {name} {is} {a_praise} gift for curious minds, with {f1} and {f2}.",
            "Hours of fun for the whole family: the {name} come{s} with {f1} and {f2}.",
            "Built for play and made to last, the {name} come{s} with {f1} and {f2}.",
        ),
        _words(
            "Series 2, Junior Edition, Series 3, Travel Edition, Series 4, Anniversary Edition, Series 5, "
            "Holiday Edition, Series 6, Collector's Edition, Series 7, Gift Edition"
        ),
        "Series {n}",
        more_from=8,
    ),
    CategoryVocabulary(
        "Beauty",
        (
            noun(
                "Face Serum",
                12,
                120,
                "Hydrating, Vitamin C, Retinol, Niacinamide, Brightening, Hyaluronic, Overnight, Firming",
            ),
            noun(
                "Moisturiser",
                10,
                90,
                "Hydrating, Fragrance-Free, Oil-Free, Rich, Lightweight, Overnight, SPF 30, Gentle",
            ),
            noun(
                "Shampoo",
                5,
                40,
                "Volumising, Repairing, Gentle, Clarifying, Anti-Dandruff, Organic, Sulphate-Free, Colour-Safe",
            ),
            noun("Conditioner", 5, 40, "Repairing, Smoothing, Leave-In, Gentle, Organic, Deep, Colour-Safe, Hydrating"),
            noun(
                "Lip Balm",
                3,
                15,
                "Tinted, Hydrating, Organic, Overnight, SPF 15, Vanilla, Mint, Beeswax",
                variants="Twin Pack, Three-Pack, Gift Set, Four-Pack, Mini, Six-Pack, Tin, Duo, Trio, Ten-Pack",
            ),
            noun(
                "Sunscreen SPF 50",
                8,
                40,
                "Mineral, Fragrance-Free, Water-Resistant, Lightweight, Tinted, Sport, Gentle, Daily",
                variants="100 ml, 200 ml, Travel Size, 30 ml, Value Size, Twin Pack, 250 ml, Spray, 400 ml, 75 ml",
            ),
            noun("Hair Oil", 8, 60, "Argan, Repairing, Nourishing, Lightweight, Organic, Coconut, Overnight"),
            noun(
                "Body Lotion",
                6,
                45,
                "Hydrating, Fragrance-Free, Shea Butter, Firming, Organic, Cocoa Butter, Lightweight",
            ),
            noun("Face Mask", 5, 50, "Clay, Hydrating, Overnight, Purifying, Brightening, Charcoal, Gentle"),
            noun(
                "Eye Cream", 15, 120, "Firming, Brightening, Hydrating, Overnight, Caffeine, Retinol, Gentle, Cooling"
            ),
            noun("Hand Cream", 4, 30, "Intensive, Shea Butter, Fragrance-Free, Rose, Lavender, Repairing, Organic"),
            noun("Perfume", 30, 250, "Floral, Woody, Citrus, Amber, Fresh, Musk, Rose, Vetiver"),
        ),
        _words("Lumiere, Verdant, Aurelia, Bloom & Co, Purecalm, Solenne, Marigold Lane, Dewhaven"),
        (
            "a dermatologist-tested formula",
            "recyclable packaging",
            "a cruelty-free promise",
            "vegan ingredients",
            "no parabens",
        ),
        _words("gentle, indulgent, nourishing, effortless, welcome"),
        (
            "The {name} {is} {a_praise} addition to your daily routine, with {f1} and {f2}.",
            "Kind to you and to the planet, the {name} come{s} with {f1} and {f2}.",
            "Treat yourself: the {name} {is} {a_praise} everyday essential, with {f1} and {f2}.",
        ),
        _words(
            "50 ml, 100 ml, Travel Size, 200 ml, 30 ml, Refill Pack, Value Size, Twin Pack, 250 ml, Gift Set, 75 ml, "
            "400 ml"
        ),
        "No. {n}",
    ),
    CategoryVocabulary(
        "Clothing",
        (
            noun(
                "T-Shirt",
                10,
                60,
                "Organic Cotton, Slim-Fit, Relaxed-Fit, Heavyweight, Crew-Neck, V-Neck, Pocket, Vintage",
            ),
            noun(
                "Hoodie", 30, 120, "Organic Cotton, Heavyweight, Zip-Up, Oversized, Fleece-Lined, Relaxed-Fit, Recycled"
            ),
            noun(
                "Denim Jacket",
                50,
                220,
                "Vintage, Sherpa-Lined, Cropped, Classic, Oversized, Relaxed-Fit, Slim-Fit, Selvedge",
            ),
            noun(
                "Rain Jacket",
                60,
                350,
                "Packable, Waterproof, Lightweight, Hooded, Breathable, Insulated, Longline, Recycled",
            ),
            noun(
                "Wool Sweater",
                50,
                250,
                "Chunky, Cable-Knit, Crew-Neck, Roll-Neck, Relaxed-Fit, Fisherman, Oversized, Classic",
            ),
            noun(
                "Chinos",
                30,
                120,
                "Slim-Fit, Relaxed-Fit, Stretch, Organic Cotton, Tapered, Straight-Leg, Classic, Cropped",
                plural=True,
            ),
            noun(
                "Sneakers",
                50,
                220,
                "Canvas, Leather, Low-Top, High-Top, Knit, Retro, Minimalist, Everyday",
                plural=True,
            ),
            noun("Scarf", 15, 120, "Merino, Cashmere, Chunky, Lightweight, Wool-Blend, Striped, Oversized, Silk"),
            noun("Beanie", 10, 50, "Merino, Ribbed, Chunky, Fisherman, Cashmere, Slouchy, Cuffed, Recycled"),
            noun(
                "Socks (3-pack)",
                8,
                35,
                "Merino, Organic Cotton, Hiking, Ankle, Crew, Cushioned, Striped, Bamboo",
                plural=True,
            ),
            noun(
                "Linen Shirt",
                30,
                140,
                "Relaxed-Fit, Slim-Fit, Short-Sleeve, Long-Sleeve, Oversized, Band-Collar, Classic, Washed",
            ),
            noun(
                "Puffer Vest",
                50,
                250,
                "Packable, Lightweight, Down, Recycled, Quilted, Water-Resistant, Hooded, Cropped",
            ),
        ),
        _words("Northwind, Loom & Thread, Urbanite, Fieldhouse, Saltmarsh, Wrenfield, Harlow & Pike, Tallow"),
        (
            "reinforced seams",
            "machine-washable fabric",
            "responsibly sourced fibres",
            "colour-fast dyes",
            "a 30-day fit guarantee",
            "free returns",
        ),
        _words("versatile, timeless, comfortable, hard-wearing, easy-going"),
        (
            "The {name} {is} {a_praise} wardrobe staple, with {f1} and {f2}.",
            "Made to be worn again and again, the {name} come{s} with {f1} and {f2}.",
            "Cut for comfort and made to last, the {name} come{s} with {f1} and {f2}.",
        ),
        _words(
            "Navy, Black, Heather Grey, Olive, Charcoal, Sand, Rust, Forest Green, Burgundy, Cream, Stone, Indigo, "
            "Mustard, Sage, Ecru"
        ),
        "Style {n}",
    ),
    CategoryVocabulary(
        "Garden",
        (
            noun(
                "Pruning Shears",
                12,
                80,
                "Bypass, Anvil, Ratchet, Ergonomic, Heavy-Duty, Carbon Steel, Compact, Professional",
                plural=True,
            ),
            noun(
                "Garden Hose",
                20,
                120,
                "Expandable, Kink-Free, Reinforced, Lightweight, Heavy-Duty, Flat, Retractable, Rubber",
                variants="15 m, 25 m, 10 m, 30 m, 50 m, 20 m, 7.5 m, 40 m, 12 m, 60 m, 5 m, 75 m",
            ),
            noun(
                "Raised Bed",
                50,
                350,
                "Cedar, Galvanised, Corten Steel, Modular, Elevated, Self-Watering, Larch, Tiered",
            ),
            noun("Watering Can", 10, 60, "Galvanised, Long-Spout, Indoor, Copper, Classic, Enamelled, Balcony"),
            noun("Seed Starter Kit", 10, 50, "Self-Watering, Heated, Organic, Windowsill, Biodegradable, Indoor, Herb"),
            noun("Compost Bin", 30, 200, "Rotating, Cedar, Recycled, Kitchen, Hot, Worm, Stackable"),
            noun(
                "Garden Gloves",
                6,
                35,
                "Leather, Thorn-Proof, Bamboo, Waterproof, Breathable, Nitrile, Goatskin, Padded",
                plural=True,
            ),
            noun("Bird Feeder", 12, 90, "Hanging, Squirrel-Proof, Cedar, Window, Copper, Suet, Tube"),
            noun(
                "Solar Lights",
                15,
                100,
                "Pathway, Waterproof, Warm-White, Motion-Sensor, Decorative, Hanging",
                plural=True,
                variants="Pack of 4, Pack of 6, Pack of 8, Pack of 2, Pack of 10, Pack of 12",
            ),
            noun("Lawn Sprinkler", 12, 90, "Oscillating, Rotating, Impulse, Adjustable, Heavy-Duty, Pop-Up, Timer"),
            noun("Planter", 12, 150, "Terracotta, Self-Watering, Cedar, Glazed, Hanging, Concrete, Fibreclay"),
            noun("Wheelbarrow", 60, 250, "Galvanised, Heavy-Duty, Folding, Two-Wheel, Steel, Lightweight"),
        ),
        _words("Greenthumb, Fernhill, Meadowbrook, Rootwise, Thornfield, Hedgerow, Willowmere, Mossbank"),
        (
            "a five-year warranty",
            "recycled packaging",
            "UV-resistant materials",
            "a weatherproof finish",
            "a satisfaction guarantee",
            "a seasonal care guide",
        ),
        _words("dependable, hard-working, handy, well-made, sturdy"),
        (
            "The {name} {is} {a_praise} choice for gardens of every size, with {f1} and {f2}.",
            "Made to last season after season, the {name} come{s} with {f1} and {f2}.",
            "From spring planting to autumn clear-up, the {name} {is} {a_praise} companion, with {f1} and {f2}.",
        ),
        _words("Large, Small, Medium, XL"),
        "Series {n}",
    ),
    CategoryVocabulary(
        "Grocery",
        (
            noun(
                "Coffee Beans",
                8,
                40,
                "Single-Origin, Dark Roast, Medium Roast, Organic, Fair Trade, Espresso, Decaf, Small-Batch",
                plural=True,
                variants=GRAMS,
                features=("a roast date on every bag",),
            ),
            noun("Green Tea", 5, 30, "Organic, Sencha, Jasmine, Matcha, Loose-Leaf, Fair Trade, Mint", variants=GRAMS),
            noun(
                "Olive Oil",
                8,
                45,
                "Extra Virgin, Cold-Pressed, Organic, Greek, Single-Estate, Early Harvest, Italian",
                variants=MILLILITRES,
            ),
            noun(
                "Dark Chocolate",
                3,
                15,
                "70% Cocoa, 85% Cocoa, Sea Salt, Orange, Mint, Organic, Single-Origin, Fair Trade",
                variants=GRAMS,
            ),
            noun("Honey", 6, 30, "Wildflower, Raw, Manuka, Acacia, Clover, Organic, Creamed", variants=GRAMS),
            noun(
                "Granola",
                4,
                15,
                "Honey Almond, Maple Pecan, Crunchy, Gluten-Free, Organic, Low-Sugar, Berry",
                variants=GRAMS,
            ),
            noun(
                "Pasta",
                2,
                10,
                "Durum Wheat, Whole Wheat, Bronze-Cut, Organic, Gluten-Free, Artisan, Egg",
                variants=GRAMS,
            ),
            noun(
                "Maple Syrup",
                8,
                35,
                "Amber, Dark Robust, Organic, Pure, Small-Batch, Bourbon Barrel-Aged, Canadian",
                variants=MILLILITRES,
            ),
            noun(
                "Hot Sauce",
                4,
                15,
                "Smoked Chipotle, Habanero, Scotch Bonnet, Mild, Garlic, Small-Batch, Fermented",
                variants=MILLILITRES,
            ),
            noun("Sea Salt", 3, 15, "Flaky, Smoked, Coarse, Fine, Herb, Celtic, Organic", variants=GRAMS),
            noun("Almond Butter", 6, 20, "Crunchy, Smooth, Roasted, Organic, Unsweetened, Raw", variants=GRAMS),
            noun(
                "Rolled Oats",
                3,
                12,
                "Organic, Gluten-Free, Jumbo, Scottish, Whole-Grain, Quick-Cook",
                plural=True,
                variants=GRAMS,
            ),
        ),
        _words("Farmstead, Golden Acre, Bean & Leaf, Harvest Table, Wild Pantry, Stonemill, Orchard Lane, Hillcrest"),
        (
            "no artificial flavours",
            "a rich, balanced flavour",
            "recyclable packaging",
            "a best-before date a year out",
            "no added preservatives",
        ),
        _words("delicious, wholesome, full-flavoured, carefully crafted"),
        (
            "The {name} {is} made from {origin}, with {f1} and {f2}.",
            "Stock your pantry with the {name}, {praise} and made from {origin}. {It} {has} {f1} and {f2}.",
            "The {name} {is} {a_praise} pantry staple, made from {origin}, with {f1} and {f2}.",
        ),
        (),
        "Pack of {n}",
        origins=(
            "carefully selected ingredients",
            "ingredients from small family farms",
            "responsibly sourced ingredients",
            "the best of each harvest",
        ),
    ),
    CategoryVocabulary(
        "Office",
        (
            noun("Notebook", 5, 35, "Dotted, Lined, Grid, Hardcover, Softcover, A5, Pocket, Leather"),
            noun("Fountain Pen", 20, 250, "Fine-Nib, Medium-Nib, Brass, Lacquered, Classic, Piston-Filling, Pocket"),
            noun(
                "Desk Lamp",
                20,
                180,
                "LED, Dimmable, Architect's, Clamp-On, Adjustable, Minimalist, Wireless-Charging, Brass",
            ),
            noun("Desk Organizer", 12, 70, "Bamboo, Mesh, Walnut, Modular, Minimalist, Rotating, Felt, Magnetic"),
            noun("Office Chair", 120, 900, "Ergonomic, Mesh, High-Back, Executive, Adjustable, Leather"),
            noun("Standing Desk", 250, 1200, "Electric, Dual-Motor, Bamboo-Top, Corner, Compact, L-Shaped"),
            noun("Whiteboard", 25, 200, "Magnetic, Glass, Double-Sided, Mobile, Framed, Frameless, Portable, Large"),
            noun("Label Maker", 25, 120, "Bluetooth, Handheld, Portable, Thermal, Rechargeable, Compact, Desktop"),
            noun("Stapler", 8, 40, "Heavy-Duty, Electric, Long-Reach, Compact, Jam-Free, Desktop"),
            noun("Planner", 10, 45, "Weekly, Daily, Undated, Academic, Dotted, Hardcover, Pocket, Goal-Setting"),
            noun("Monitor Arm", 30, 200, "Dual, Single, Gas-Spring, Heavy-Duty, Clamp-On, Adjustable, Wall-Mounted"),
            noun("Filing Cabinet", 80, 400, "2-Drawer, 3-Drawer, Lockable, Mobile, Steel, Wooden, Lateral, Under-Desk"),
        ),
        _words("Papermill, Deskwise, Officina, Steadfast, Ledgerline, Studiolo, Archway, Brightdesk"),
        (
            "a two-year warranty",
            "sturdy construction",
            "a clean, minimalist look",
            "sustainably sourced materials",
            "a satisfaction guarantee",
            "recyclable packaging",
        ),
        _words("practical, dependable, well-made, handsome, hard-working"),
        (
            "The {name} {is} {a_praise} upgrade for any desk, with {f1} and {f2}.",
            "Made for long working days, the {name} come{s} with {f1} and {f2}.",
            "Tidy and built to last, the {name} {is} {a_praise} choice for home or office, with {f1} and {f2}.",
        ),
        _words(
            "Black, White, Graphite, Navy, Sage, Dove Grey, Terracotta, Ivory, Forest Green, Sky Blue, Charcoal, "
            "Burgundy"
        ),
        "Series {n}",
    ),
)
