"""Fixed vocabulary of the demo catalogue (``gitstore demo``): the shop, its category tree,
its vendors and its collections.

Plain data, no logic: :mod:`gitstore.cli.demo_catalog` combines these tables with a seeded
random generator into manifests. The shop is a fictional outfitter, "Northwind Supply Co.",
selling apparel, footwear, accessories, home goods and outdoor gear; a few of its vendors are
American and price in USD, the rest in EUR. Every name here is a valid resource name (a DNS
label) and every title fits the built-in schemas, so changing a table cannot produce an
invalid manifest without the generator's tests noticing.
"""

from __future__ import annotations

from dataclasses import dataclass

SHOP = "Northwind Supply Co."
MEDIA_BASE = "https://example.com/demo"


@dataclass(frozen=True, slots=True)
class Department:
    """A top-level category."""

    name: str
    title: str
    description: str


@dataclass(frozen=True, slots=True)
class Leaf:
    """A leaf category and how its products look.

    ``options``: ``apparel`` (size x colour), ``shoes`` (EU size x colour), ``colour``,
    ``bedding`` (bed size x colour) or ``none`` (one variant, the product itself).
    ``price`` is a range of whole amounts; ``weight`` a range in grams; ``trait`` says whether
    the ``materials`` are materials or a style (the product's attribute of that name).
    """

    name: str
    title: str
    parent: str
    description: str
    product_type: str
    code: str
    nouns: tuple[str, ...]
    materials: tuple[str, ...]
    price: tuple[int, int]
    options: str
    weight: tuple[int, int]
    share: int  # relative number of products
    trait: str = "material"  # what ``materials`` are: "material" or "style"


# fmt: off
DEPARTMENTS = (
    Department("apparel", "Apparel", "Clothing for every season, made to last."),
    Department("footwear", "Footwear", "Shoes and boots for town and trail."),
    Department("accessories", "Accessories", "Bags, hats and scarves that finish an outfit."),
    Department("home", "Home", "Useful, well-made things for the house."),
    Department("outdoor", "Outdoor", "Gear for nights under canvas and days on two wheels."),
)

LEAVES = (
    Leaf(
        "shirts", "Shirts", "apparel", "Oxford, flannel and linen shirts.", "Shirt", "SHI",
        ("Oxford Shirt", "Flannel Shirt", "Overshirt", "Camp Collar Shirt", "Work Shirt"),
        ("Cotton", "Linen", "Brushed Cotton", "Chambray"), (39, 99), "apparel", (250, 400), 6,
    ),
    Leaf(
        "t-shirts", "T-Shirts", "apparel", "Everyday tees in heavy and light cotton.", "T-Shirt",
        "TEE", ("Crew Tee", "Pocket Tee", "Long Sleeve Tee", "Henley", "Raglan Tee"),
        ("Organic Cotton", "Slub Cotton", "Pima Cotton", "Hemp Blend"), (19, 45), "apparel",
        (150, 260), 7,
    ),
    Leaf(
        "sweaters", "Sweaters", "apparel", "Knitwear: crews, cardigans and roll necks.",
        "Sweater", "SWE", ("Crew Sweater", "Cardigan", "Roll Neck", "Quarter Zip", "Fisherman"),
        ("Merino", "Lambswool", "Cashmere Blend", "Cotton Knit"), (59, 189), "apparel",
        (300, 650), 6,
    ),
    Leaf(
        "jackets", "Jackets", "apparel", "Rain shells, chore coats and insulated jackets.",
        "Jacket", "JKT", ("Chore Coat", "Rain Shell", "Field Jacket", "Puffer", "Harrington"),
        ("Waxed Cotton", "Recycled Nylon", "Wool", "Canvas"), (89, 349), "apparel",
        (500, 1400), 5,
    ),
    Leaf(
        "trousers", "Trousers", "apparel", "Chinos, jeans and work trousers.", "Trousers", "TRS",
        ("Chinos", "Straight Jeans", "Work Trousers", "Cargo Trousers", "Drawstring Trousers"),
        ("Cotton Twill", "Selvedge Denim", "Ripstop", "Corduroy"), (49, 139), "apparel",
        (400, 800), 5,
    ),
    Leaf(
        "sneakers", "Sneakers", "footwear", "Low and high tops for every day.", "Sneaker", "SNK",
        ("Court Sneaker", "Runner", "High Top", "Slip-On", "Trainer"),
        ("Leather", "Suede", "Canvas", "Knit"), (69, 159), "shoes", (700, 1100), 5,
    ),
    Leaf(
        "boots", "Boots", "footwear", "Chelsea, lace-up and hiking boots.", "Boot", "BOT",
        ("Chelsea Boot", "Derby Boot", "Hiking Boot", "Work Boot", "Chukka"),
        ("Leather", "Suede", "Waxed Leather", "Nubuck"), (119, 289), "shoes", (1100, 1900), 4,
    ),
    Leaf(
        "bags", "Bags", "accessories", "Totes, backpacks and weekenders.", "Bag", "BAG",
        ("Tote", "Backpack", "Weekender", "Sling Bag", "Messenger Bag"),
        ("Canvas", "Leather", "Recycled Nylon", "Waxed Canvas"), (35, 249), "colour",
        (300, 1500), 5,
    ),
    Leaf(
        "hats", "Hats", "accessories", "Beanies and caps.", "Hat", "HAT",
        ("Beanie", "Baseball Cap", "Bucket Hat", "Flat Cap", "Trapper Hat"),
        ("Merino", "Cotton", "Wool Blend", "Tweed"), (19, 69), "colour", (60, 180), 3,
    ),
    Leaf(
        "scarves", "Scarves", "accessories", "Warm wool and light cotton scarves.", "Scarf",
        "SCF", ("Scarf", "Snood", "Wrap", "Bandana", "Neck Warmer"),
        ("Lambswool", "Cashmere", "Cotton", "Alpaca"), (25, 129), "colour", (80, 250), 3,
    ),
    Leaf(
        "kitchen", "Kitchen", "home", "Cookware, knives and tableware.", "Kitchenware", "KIT",
        ("Skillet", "Chef Knife", "Mixing Bowl Set", "Cutting Board", "Coffee Grinder"),
        ("Pro", "Heavy-Duty", "Compact", "Artisan"), (19, 189), "none", (300, 3000), 6, "style",
    ),
    Leaf(
        "bedding", "Bedding", "home", "Sheets, duvet covers and throws.", "Bedding", "BED",
        ("Duvet Cover", "Fitted Sheet", "Pillowcase Pair", "Throw", "Quilt"),
        ("Washed Linen", "Percale Cotton", "Sateen Cotton", "Brushed Cotton"), (29, 229), "bedding",
        (400, 2200), 5,
    ),
    Leaf(
        "decor", "Decor", "home", "Vases, frames, cushions and rugs.", "Decor", "DEC",
        ("Vase", "Cushion Cover", "Picture Frame", "Candle", "Rug"),
        ("Handmade", "Minimal", "Rustic", "Speckled"), (12, 199), "colour", (150, 4000), 5, "style",
    ),
    Leaf(
        "lighting", "Lighting", "home", "Desk lamps, pendants and lanterns.", "Lamp", "LGT",
        ("Desk Lamp", "Pendant Light", "Floor Lamp", "Wall Light", "Table Lamp"),
        ("Brass", "Steel", "Rattan", "Opal Glass"), (39, 299), "colour", (800, 5000), 4,
    ),
    Leaf(
        "camping", "Camping", "outdoor", "Tents, sleeping bags and camp kitchens.",
        "Camping Gear", "CMP",
        ("Tent", "Sleeping Bag", "Camp Stove", "Headlamp", "Camp Chair"),
        ("Ultralight", "Trail", "Basecamp", "Expedition"), (25, 499), "none", (200, 4000), 4,
        "style",
    ),
    Leaf(
        "cycling", "Cycling", "outdoor", "Bike bags, lights and riding wear.", "Cycling Gear",
        "CYC", ("Frame Bag", "Bike Light Set", "Saddle Bag", "Cycling Jersey", "Bike Lock"),
        ("Commuter", "Gravel", "Touring", "Road"), (19, 179), "colour", (100, 1500), 3, "style",
    ),
)

ADJECTIVES = (
    "Classic", "Everyday", "Heritage", "Coastal", "Alpine", "Harbour", "Field", "Studio",
    "Nordic", "Weekend",
)

# name -> (currency, country of origin); who sells what, per department.
VENDORS = {
    "Northwind Knitting": ("EUR", "Ireland"),
    "Fjord & Pine": ("EUR", "Norway"),
    "Harbor Goods": ("USD", "United States"),
    "Copperleaf Home": ("EUR", "Portugal"),
    "Atlas Trail": ("USD", "United States"),
    "Linden Studio": ("EUR", "Germany"),
    "Marlow & Co.": ("EUR", "United Kingdom"),
    "Kestrel Cycles": ("EUR", "Netherlands"),
    "Saltmarsh": ("EUR", "France"),
    "Union Loom": ("USD", "United States"),
}
VENDORS_BY_DEPARTMENT = {
    "apparel": ("Northwind Knitting", "Fjord & Pine", "Union Loom", "Marlow & Co."),
    "footwear": ("Marlow & Co.", "Atlas Trail", "Saltmarsh"),
    "accessories": ("Saltmarsh", "Union Loom", "Fjord & Pine"),
    "home": ("Copperleaf Home", "Linden Studio", "Harbor Goods"),
    "outdoor": ("Atlas Trail", "Kestrel Cycles", "Fjord & Pine"),
}

COLOURS = (
    "Navy", "Black", "Oat", "Forest", "Rust", "Stone", "Charcoal", "Sky", "Olive", "Ecru",
)
SIZES = ("XS", "S", "M", "L", "XL", "XXL")
SHOE_SIZES = ("38", "39", "40", "41", "42", "43", "44", "45", "46")
BED_SIZES = ("Single", "Double", "King")

FEATURES = (
    "Made in small batches by a workshop we have worked with for years",
    "Designed to be repaired, not replaced",
    "Plastic-free packaging",
    "Backed by a two-year guarantee",
    "Tested by our team through a full winter",
    "Spare parts available for ten years",
)
TEXTILE_FEATURES = (
    "Pre-washed, so it will not shrink",
    "Reinforced seams where it wears first",
    "Dyed with low-impact dyes",
    "Fabric certified free of harmful substances",
)

CARE = {
    "apparel": ("Machine wash at 30 °C, dry flat.", "Hand wash cold; reshape while damp.",
                "Dry clean only."),
    "footwear": ("Brush off dirt, then treat with a leather balm.",
                 "Wipe clean with a damp cloth; air dry away from heat."),
    "accessories": ("Hand wash cold; reshape while damp.", "Wipe clean with a damp cloth."),
    "home": ("Wipe clean with a damp cloth.", "Machine wash at 40 °C.",
             "Hand wash only; oil occasionally."),
    "outdoor": ("Rinse after use and dry before storing.", "Wipe clean with a damp cloth."),
}

TAGS = ("bestseller", "gift", "limited", "eco", "staff-favourite", "wardrobe-staple")


@dataclass(frozen=True, slots=True)
class Manual:
    """A manual collection: a fixed list of products, drawn from these categories."""

    name: str
    title: str
    description: str
    categories: tuple[str, ...]  # empty: any
    size: int


# A rule collection: name, title, description, rules, any-rule-matches.
Rule = tuple[str, str, str]
RULE_COLLECTIONS: tuple[tuple[str, str, str, tuple[Rule, ...], bool], ...] = (
    ("sale", "Sale", "Everything currently below its usual price.",
     (("compareAtPrice", "greaterThan", "0"),), False),
    ("under-50", "Under 50", "Good things that cost less than 50.",
     (("price", "lessThan", "50"), ("status", "equals", "active")), False),
    ("new-arrivals", "New Arrivals", "Just in this season.", (("tag", "equals", "new"),), False),
    ("organic", "Organic", "Made with organic cotton or linen.",
     (("tag", "equals", "organic"),), False),
    ("outdoor-gear", "Outdoor Gear", "For the campsite and the saddle.",
     (("category", "equals", "camping"), ("category", "equals", "cycling")), True),
)

MANUAL_COLLECTIONS = (
    Manual("staff-picks", "Staff Picks", "What the team actually wears and uses.", (), 12),
    Manual("gift-guide", "Gift Guide", "Presents for people who have everything.",
           ("scarves", "hats", "kitchen", "decor", "bags"), 16),
    Manual("autumn-essentials", "Autumn Essentials", "Hand-picked for **colder days**.",
           ("sweaters", "jackets", "scarves", "boots"), 10),
)
# fmt: on
