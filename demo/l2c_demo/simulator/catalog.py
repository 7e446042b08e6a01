"""Static reference data of the demo company (names, products, stages)."""

from __future__ import annotations

NEW_BUSINESS = "New Business"
EXPANSION = "Expansion"

PIPELINES: dict[str, tuple[str, ...]] = {
    NEW_BUSINESS: (
        "Lead In",
        "Qualified",
        "Demo Scheduled",
        "Proposal Made",
        "Negotiation",
        "Contract Sent",
    ),
    EXPANSION: ("Qualified", "Proposal Made", "Negotiation"),
}
PROPOSAL = "Proposal Made"
NEGOTIATION = "Negotiation"

STAGE_PROBABILITY = {
    "Lead In": 10,
    "Qualified": 20,
    "Demo Scheduled": 35,
    "Proposal Made": 50,
    "Negotiation": 70,
    "Contract Sent": 90,
}
# median days spent in a stage before moving on (New Business; Expansion runs faster)
STAGE_MEDIAN_DAYS = {
    "Lead In": 3.0,
    "Qualified": 6.0,
    "Demo Scheduled": 7.0,
    "Proposal Made": 6.0,
    "Negotiation": 8.0,
    "Contract Sent": 5.0,
}

LOST_REASONS = ("Price too high", "Went with competitor", "No budget", "No decision", "Bad timing")

# name, code, unit, EUR list price
PRODUCTS: tuple[tuple[str, str, str, float], ...] = (
    ("Platform License", "PLT-LIC", "seat", 1200.0),
    ("Enterprise Add-on", "ENT-ADD", "seat", 480.0),
    ("Analytics Module", "ANL-MOD", "license", 3000.0),
    ("API Access", "API-ACC", "license", 2400.0),
    ("Onboarding Package", "ONB-PKG", "package", 5000.0),
    ("Training Day", "TRN-DAY", "day", 1500.0),
    ("Premium Support", "SUP-PRM", "year", 3600.0),
    ("Data Migration", "DAT-MIG", "project", 8000.0),
)
FX = {"EUR": 1.0, "USD": 1.1, "GBP": 0.86}

REGION_COUNTRIES: dict[str, tuple[tuple[str, str], ...]] = {
    "EMEA": (
        ("DE", "Berlin"),
        ("DE", "Munich"),
        ("FR", "Paris"),
        ("GB", "London"),
        ("NL", "Amsterdam"),
        ("ES", "Madrid"),
        ("SE", "Stockholm"),
    ),
    "North America": (("US", "New York"), ("US", "Austin"), ("US", "Chicago"), ("CA", "Toronto")),
    "APAC": (("AU", "Sydney"), ("SG", "Singapore"), ("JP", "Tokyo"), ("IN", "Bangalore")),
    "LATAM": (
        ("BR", "Sao Paulo"),
        ("MX", "Mexico City"),
        ("AR", "Buenos Aires"),
        ("CL", "Santiago"),
    ),
}
REGION_OPTION_IDS = {"EMEA": 101, "North America": 102, "APAC": 103, "LATAM": 104}

ORG_STEMS = (
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Hooli",
    "Vandelay",
    "Soylent",
    "Tyrell",
    "Cyberdyne",
    "Aperture",
    "Gringotts",
    "Oscorp",
    "Wonka",
    "Dunder",
    "Pied Piper",
    "Massive",
    "Nakatomi",
    "Monarch",
    "Zenith",
    "Bluth",
    "Sterling",
    "Prestige",
    "Virtucon",
    "Blue Sun",
    "Helix",
    "Northwind",
    "Contoso",
    "Fabrikam",
    "Tailspin",
    "Litware",
    "Adatum",
    "Fourth Coffee",
    "Proseware",
    "Wingtip",
    "Lucerne",
    "Margie",
    "Trey",
    "Alpine",
)
ORG_KINDS = (
    "Logistics",
    "Health",
    "Retail",
    "Analytics",
    "Energy",
    "Foods",
    "Robotics",
    "Media",
    "Finance",
    "Systems",
    "Labs",
    "Motors",
    "Pharma",
    "Telecom",
    "Travel",
    "Insurance",
)
REGION_SUFFIX = {
    "EMEA": ("GmbH", "Ltd", "SA", "BV", "AB"),
    "North America": ("Inc", "LLC", "Corp"),
    "APAC": ("Pty Ltd", "Pte Ltd", "KK", "Pvt Ltd"),
    "LATAM": ("SA", "Ltda", "SA de CV"),
}
FIRST_NAMES = (
    "Anna",
    "Ben",
    "Carla",
    "David",
    "Elif",
    "Farid",
    "Grace",
    "Hugo",
    "Ines",
    "Jonas",
    "Kira",
    "Liam",
    "Maya",
    "Noah",
    "Olga",
    "Paulo",
    "Qiu",
    "Rosa",
    "Sven",
    "Tara",
    "Umar",
    "Vera",
    "Wen",
    "Xavier",
    "Yuki",
    "Zoe",
)
LAST_NAMES = (
    "Schmidt",
    "Martin",
    "Smith",
    "Jansen",
    "Garcia",
    "Berg",
    "Johnson",
    "Chen",
    "Tanaka",
    "Patel",
    "Silva",
    "Lopez",
    "Rossi",
    "Novak",
    "Kowalski",
    "Dubois",
    "Nguyen",
    "Kim",
)
REP_NAMES = (
    "Alice Moreau",
    "Bruno Keller",
    "Chloe Bennett",
    "Diego Ramos",
    "Erik Lindqvist",
    "Fatima Haddad",
    "Georg Weber",
    "Hannah Price",
    "Ivan Petrov",
    "Julia Santos",
    "Kenji Mori",
    "Laura Fischer",
    "Marco Bianchi",
    "Nina Kovacs",
    "Oscar Diaz",
    "Priya Nair",
)
LEAD_SOURCES = ("Web forms", "Prospector", "Manually created", "Import")
API_USER_AGENTS = ("Zapier", "pipedrive-automation/1.0", "python-requests/2.32")
APP_USER_AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0"

STAGE_IDS: dict[tuple[str, str], int] = {}
PIPELINE_IDS: dict[str, int] = {}
for _p_index, (_pipeline, _stages) in enumerate(PIPELINES.items(), start=1):
    PIPELINE_IDS[_pipeline] = _p_index
    for _stage in _stages:
        STAGE_IDS[(_pipeline, _stage)] = len(STAGE_IDS) + 1
STAGE_NAMES: dict[int, tuple[str, str]] = {v: k for k, v in STAGE_IDS.items()}

# Product family of each PRODUCTS entry (Salesforce Product2.Family), in PRODUCTS order.
PRODUCT_FAMILIES: tuple[str, ...] = (
    "Software",
    "Software",
    "Software",
    "Software",
    "Services",
    "Services",
    "Support",
    "Services",
)
# Marketing campaigns of the demo company: (name, Salesforce Campaign.Type). Leads join at
# most one; its deals carry it as their primary campaign (l2c_demo.simulator.world).
CAMPAIGNS: tuple[tuple[str, str], ...] = (
    ("Spring Product Webinar", "Webinar"),
    ("SaaS Expo Trade Show", "Trade Show"),
    ("Quarterly Newsletter", "Email"),
    ("Search Ads", "Advertisement"),
    ("Partner Referral Program", "Referral Program"),
)
# Pipedrive's product field `category` (a built-in enum): the option id of each family. A
# Pipedrive product carries the option id; only /v1/productFields lists the labels. Hardware
# is an option no product uses.
PIPEDRIVE_CATEGORY_OPTIONS: dict[str, int] = {
    "Software": 31,
    "Services": 32,
    "Support": 33,
    "Hardware": 34,
}
# Planted on Pipedrive deals: a deal whose main product line (largest list amount) is a
# Services product (onboarding, training, migration) takes this much longer in every stage
# and step after its creation (implementation scoping), so it wins as often but slower
# (lifecycle._stretch, segments.py).
SLOW_PRODUCT_CATEGORY = "Services"
SLOW_CATEGORY_STAGE_FACTOR = 1.6
SLOW_CATEGORY_CRMS: tuple[str, ...] = ("pipedrive",)
