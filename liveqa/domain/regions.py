"""Where a country lies in the UN M49 scheme (region and sub-region), for the balance of who gets to ask."""

from __future__ import annotations

from liveqa.domain.regions_data import NAMES, REGION_OF

REGIONS = ("002", "019", "142", "150", "009")  # Africa, Americas, Asia, Europe, Oceania


def region(country: str) -> str:
    """The M49 region code of an ISO 3166-1 alpha-2 country code, or "" when unknown or not given."""
    return REGION_OF.get(country.upper(), ("", ""))[0]


def subregion(country: str) -> str:
    return REGION_OF.get(country.upper(), ("", ""))[1]


def name(code: str, lang: str = "en") -> str:
    """A region's or sub-region's name in one of the six UN languages (English otherwise)."""
    return NAMES.get(lang, NAMES["en"]).get(code, code)


__all__ = ["REGIONS", "name", "region", "subregion"]
