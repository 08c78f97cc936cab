"""Where a country lies: its UN M49 region and sub-region (statistics), and its UN regional group (the five groups
of Member States that share out seats and turns), for the balance of who gets to ask and for reports."""

from __future__ import annotations

from liveqa.domain.regions_data import NAMES, REGION_OF

REGIONS = ("002", "019", "142", "150", "009")  # Africa, Americas, Asia, Europe, Oceania


# The UN regional groups of the 193 Member States, as the UN Department for General Assembly and Conference
# Management lists them (un.org/dgacm/en/content/regional-groups). Türkiye takes part in the Asia-Pacific and
# Western European and Others groups and counts in the latter for elections, as the United States (an observer
# of that group) does; Kiribati is listed with Asia-Pacific. Observer States and territories have no group.
UN_GROUPS: dict[str, tuple[str, ...]] = {
    "african": tuple(
        "DZ AO BJ BW BF BI CV CM CF TD KM CG CD CI DJ EG GQ ER SZ ET GA GM GH GN GW KE LS LR LY MG MW ML MR MU MA MZ "
        "NA NE NG RW ST SN SC SL SO ZA SS SD TZ TG TN UG ZM ZW".split()
    ),
    "asia_pacific": tuple(
        "AF BH BD BT BN KH CN CY KP FJ IN ID IR IQ JP JO KZ KI KW KG LA LB MY MV MH FM MN MM NR NP OM PK PW PG PH QA "
        "KR WS SA SG SB LK SY TJ TH TL TO TM TV AE UZ VU VN YE".split()
    ),
    "eastern_european": tuple("AL AM AZ BY BA BG HR CZ EE GE HU LV LT ME MK PL MD RO RU RS SK SI UA".split()),
    "latin_american_caribbean": tuple(
        "AG AR BS BB BZ BO BR CL CO CR CU DM DO EC SV GD GT GY HT HN JM MX NI PA PY PE KN LC VC SR TT UY VE".split()
    ),
    "western_european_others": tuple(
        "AD AT AU BE CA DK FI FR DE GR IS IE IL IT LI LU MT MC NL NZ NO PT SM ES SE CH TR GB US".split()
    ),
}
GROUP_NAMES = {
    "african": "African States",
    "asia_pacific": "Asia-Pacific States",
    "eastern_european": "Eastern European States",
    "latin_american_caribbean": "Latin American and Caribbean States",
    "western_european_others": "Western European and other States",
}
_GROUP_OF = {country: group for group, members in UN_GROUPS.items() for country in members}


def un_group(country: str) -> str:
    """The UN regional group of a Member State (ISO 3166-1 alpha-2), or "" (an observer, a territory, unknown)."""
    return _GROUP_OF.get(country.upper(), "")


def region(country: str) -> str:
    """The M49 region code of an ISO 3166-1 alpha-2 country code, or "" when unknown or not given."""
    return REGION_OF.get(country.upper(), ("", ""))[0]


def name(code: str, lang: str = "en") -> str:
    """A region's or sub-region's name in one of the six UN languages (English otherwise)."""
    return NAMES.get(lang, NAMES["en"]).get(code, code)


__all__ = ["GROUP_NAMES", "REGIONS", "UN_GROUPS", "name", "region", "un_group"]
