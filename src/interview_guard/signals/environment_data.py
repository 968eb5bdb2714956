"""Package data of the ``environment`` analyzer: grid frequency, keyboard layouts and scripts per country.

Python data (``signals/`` opens no file), each table with its sources:

``GRID_HZ``
    Nominal mains frequency per country (ISO 3166-1 alpha-2). Sources: IEC, "World Plugs"
    (https://www.iec.ch/world-plugs, the per-country frequency column) and Wikipedia, "Mains electricity by
    country" (https://en.wikipedia.org/wiki/Mains_electricity_by_country), read 2026-11. Countries with both
    grids (Japan: 50 Hz east, 60 Hz west; Guyana; Saudi Arabia's legacy 50 Hz areas are gone) list both.
    Every country not listed under 60 Hz is 50 Hz in both sources; countries absent from the table are not
    judged.
``LAYOUTS`` / ``SCRIPTS`` / ``IME_COUNTRIES``
    Keyboard layouts and writing systems in ordinary use per country. Sources: Microsoft, "Keyboard
    identifiers and input method editors for Windows"
    (https://learn.microsoft.com/windows-hardware/manufacture/desktop/windows-language-pack-default-values),
    the default input profile per locale; Wikipedia, "Keyboard layout" (AZERTY, QWERTZ national variants)
    and "Input method" (CJK IMEs). Latin QWERTY is plausible everywhere (English typing, Dvorak and Colemak
    users everywhere), so it is never a contradiction; the tables list what is *also* plausible.
"""

from __future__ import annotations

import re

__all__ = [
    "GRID_HZ",
    "LAYOUTS",
    "SCRIPTS",
    "IME_COUNTRIES",
    "COUNTRY_NAMES",
    "grid_hz",
    "plausible_layouts",
    "plausible_scripts",
    "country_from_location",
]

_GRID_60 = (
    # North and Central America, the Caribbean (IEC World Plugs; Wikipedia "Mains electricity by country")
    "US CA MX GT BZ SV HN NI CR PA CU DO HT PR BS KY BM VI TC AG KN LC VG MS AW CW BQ SX TT "
    # South America
    "CO VE EC PE BR SR GY "
    # Asia and the Pacific
    "KR TW PH SA JP GU AS MP FM MH PW "
    # Africa
    "LR"
).split()
_GRID_BOTH = frozenset({"JP", "GY"})

#: ISO 3166-1 alpha-2 of countries whose grid runs at 60 Hz (some also 50 Hz: ``grid_hz`` gives both).
GRID_HZ: dict[str, tuple[int, ...]] = {c: ((50, 60) if c in _GRID_BOTH else (60,)) for c in _GRID_60}

_AZERTY = "FR BE LU MC DZ MA TN SN CI ML BF NE TG BJ CM CD CG GA MG GN TD CF".split()
_QWERTZ = "DE AT CH LI CZ SK HU SI HR BA RS ME PL RO LU".split()

#: Layout families also plausible besides Latin QWERTY, by country.
LAYOUTS: dict[str, frozenset[str]] = {}
for _c in _AZERTY:
    LAYOUTS[_c] = LAYOUTS.get(_c, frozenset()) | {"azerty"}
for _c in _QWERTZ:
    LAYOUTS[_c] = LAYOUTS.get(_c, frozenset()) | {"qwertz"}
for _c in ("JP",):
    LAYOUTS[_c] = LAYOUTS.get(_c, frozenset()) | {"jis"}
for _c in ("BR",):
    LAYOUTS[_c] = LAYOUTS.get(_c, frozenset()) | {"abnt"}

_SCRIPT_COUNTRIES = {
    "hangul": "KR KP",
    "kana": "JP",
    "han": "CN TW HK MO JP SG KR",
    "cyrillic": "RU UA BY KZ KG TJ UZ MN BG RS MK BA ME MD AM AZ GE TM",
    "greek": "GR CY",
    "arabic": "SA AE EG IQ JO KW LB LY MA DZ TN OM QA BH SY YE SD PS MR IR AF PK IL",
    "hebrew": "IL",
    "thai": "TH",
    "devanagari": "IN NP",
    "bengali": "BD IN",
    "georgian": "GE",
    "armenian": "AM",
}

#: Scripts (besides Latin) plausible per country.
SCRIPTS: dict[str, frozenset[str]] = {}
for _script, _codes in _SCRIPT_COUNTRIES.items():
    for _c in _codes.split():
        SCRIPTS[_c] = SCRIPTS.get(_c, frozenset()) | {_script}

#: Countries where an input method editor (composition) is the ordinary way to type the national script.
IME_COUNTRIES = frozenset("KR KP JP CN TW HK MO SG VN".split())

#: English country names (and a few common alternatives) to ISO 3166-1 alpha-2.
COUNTRY_NAMES: dict[str, str] = {
    "united states": "US",
    "united states of america": "US",
    "usa": "US",
    "u.s.": "US",
    "u.s.a.": "US",
    "america": "US",
    "canada": "CA",
    "mexico": "MX",
    "brazil": "BR",
    "argentina": "AR",
    "chile": "CL",
    "colombia": "CO",
    "peru": "PE",
    "venezuela": "VE",
    "united kingdom": "GB",
    "uk": "GB",
    "great britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "ireland": "IE",
    "france": "FR",
    "belgium": "BE",
    "netherlands": "NL",
    "the netherlands": "NL",
    "germany": "DE",
    "austria": "AT",
    "switzerland": "CH",
    "italy": "IT",
    "spain": "ES",
    "portugal": "PT",
    "poland": "PL",
    "czech republic": "CZ",
    "czechia": "CZ",
    "slovakia": "SK",
    "hungary": "HU",
    "romania": "RO",
    "bulgaria": "BG",
    "greece": "GR",
    "sweden": "SE",
    "norway": "NO",
    "denmark": "DK",
    "finland": "FI",
    "estonia": "EE",
    "latvia": "LV",
    "lithuania": "LT",
    "ukraine": "UA",
    "belarus": "BY",
    "russia": "RU",
    "russian federation": "RU",
    "turkey": "TR",
    "israel": "IL",
    "egypt": "EG",
    "saudi arabia": "SA",
    "united arab emirates": "AE",
    "uae": "AE",
    "india": "IN",
    "pakistan": "PK",
    "bangladesh": "BD",
    "china": "CN",
    "taiwan": "TW",
    "hong kong": "HK",
    "japan": "JP",
    "south korea": "KR",
    "korea": "KR",
    "republic of korea": "KR",
    "north korea": "KP",
    "vietnam": "VN",
    "viet nam": "VN",
    "thailand": "TH",
    "philippines": "PH",
    "indonesia": "ID",
    "malaysia": "MY",
    "singapore": "SG",
    "australia": "AU",
    "new zealand": "NZ",
    "nigeria": "NG",
    "kenya": "KE",
    "south africa": "ZA",
    "ghana": "GH",
    "morocco": "MA",
    "algeria": "DZ",
    "tunisia": "TN",
    "senegal": "SN",
    "serbia": "RS",
    "croatia": "HR",
    "slovenia": "SI",
    "georgia": "GE",
    "armenia": "AM",
    "kazakhstan": "KZ",
    "uzbekistan": "UZ",
}

#: US state and Canadian province postal codes: "Chicago, IL" is in the US.
_US_STATES = frozenset(
    (
        "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND "
        "OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY"
    ).split()
)
_CA_PROVINCES = frozenset("AB BC MB NB NL NS NT NU ON PE QC SK YT".split())

#: A few large cities, for a bare "Seoul" or "Berlin" claim.
_CITIES: dict[str, str] = {
    "new york": "US",
    "chicago": "US",
    "los angeles": "US",
    "san francisco": "US",
    "seattle": "US",
    "austin": "US",
    "boston": "US",
    "houston": "US",
    "dallas": "US",
    "atlanta": "US",
    "miami": "US",
    "denver": "US",
    "toronto": "CA",
    "vancouver": "CA",
    "montreal": "CA",
    "london": "GB",
    "paris": "FR",
    "berlin": "DE",
    "munich": "DE",
    "hamburg": "DE",
    "vienna": "AT",
    "zurich": "CH",
    "amsterdam": "NL",
    "madrid": "ES",
    "barcelona": "ES",
    "lisbon": "PT",
    "rome": "IT",
    "milan": "IT",
    "warsaw": "PL",
    "kyiv": "UA",
    "kiev": "UA",
    "moscow": "RU",
    "seoul": "KR",
    "busan": "KR",
    "tokyo": "JP",
    "osaka": "JP",
    "beijing": "CN",
    "shanghai": "CN",
    "shenzhen": "CN",
    "taipei": "TW",
    "singapore": "SG",
    "bangalore": "IN",
    "bengaluru": "IN",
    "mumbai": "IN",
    "delhi": "IN",
    "new delhi": "IN",
    "hyderabad": "IN",
    "manila": "PH",
    "sydney": "AU",
    "melbourne": "AU",
    "sao paulo": "BR",
    "são paulo": "BR",
    "mexico city": "MX",
    "lagos": "NG",
    "nairobi": "KE",
    "cairo": "EG",
    "dubai": "AE",
    "tel aviv": "IL",
    "istanbul": "TR",
    "pyongyang": "KP",
}

_ISO2 = re.compile(r"^[A-Za-z]{2}$")


def grid_hz(country: str | None) -> tuple[int, ...]:
    """Nominal mains frequencies of ``country`` (``(50,)``, ``(60,)`` or both); ``()`` when not known."""
    if not country or not _ISO2.match(country):
        return ()
    c = country.upper()
    if c in GRID_HZ:
        return GRID_HZ[c]
    return (50,) if c in _KNOWN_COUNTRIES else ()


def plausible_layouts(country: str) -> frozenset[str]:
    """Layout families plausible for ``country`` (``qwerty`` always)."""
    return frozenset({"qwerty"}) | LAYOUTS.get(country.upper(), frozenset())


def plausible_scripts(country: str) -> frozenset[str]:
    """Scripts plausible for ``country`` (``latin`` always)."""
    return frozenset({"latin"}) | SCRIPTS.get(country.upper(), frozenset())


def country_from_location(text: str | None) -> str | None:
    """ISO 3166-1 alpha-2 code read off a free-text location ("Chicago, IL", "Berlin, Germany", "Seoul, KR").

    Looks at the last comma-separated part (a country name, an ISO code, a US state or Canadian
    province code), then at the whole text as a city name. None when nothing matches.
    """
    if not text:
        return None
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        return None
    last = parts[-1]
    low = last.lower()
    if low in COUNTRY_NAMES or low.strip(". ") in COUNTRY_NAMES:
        return COUNTRY_NAMES.get(low) or COUNTRY_NAMES[low.strip(". ")]
    if _ISO2.match(last):
        up = last.upper()
        # "City, XX" after a city: a US state or Canadian province code wins ("Atlanta, GA", "Laval, QC")
        if len(parts) >= 2 and up in _US_STATES:
            return "US"
        if len(parts) >= 2 and up in _CA_PROVINCES:
            return "CA"
        if up == "UK":
            return "GB"
        if up in _KNOWN_COUNTRIES:
            return up
    first = parts[0].lower()
    return _CITIES.get(first) or _CITIES.get(text.strip().lower())


_KNOWN_COUNTRIES = frozenset(
    set(COUNTRY_NAMES.values())
    | set(GRID_HZ)
    | set(LAYOUTS)
    | set(SCRIPTS)
    | set(
        (
            "AD AL BA BG CY EE FI FO GR HR IS IT LT LV ME MK MT NL NO PT RS SE SM TR VA XK AF AO BD BI BT BW BN "
            "CV DJ ER ET FJ GM GW GQ KH KM LA LK LS MM MN MU MV MW MZ NA NP NR PG RW SB SC SL SO SS SZ TL TO "
            "TZ UG VU WS ZM ZW BO PY UY AR CL NZ AU ID MY GB IE ES"
        ).split()
    )
)
