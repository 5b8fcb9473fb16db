"""Districts: which 区县 an address or a request names (gazetteer lookup)."""

from __future__ import annotations

from workorders.config import WorkOrderConfig
from workorders.router_model import normalise


def _district_names(config: WorkOrderConfig) -> list[tuple[str, str]]:
    names: list[tuple[str, str]] = []
    for district in config.districts:
        names.append((district, district))
        short = district.removesuffix("区")
        if len(short) >= 2 and short != district:
            names.append((short, district))
        names += [(place, district) for place in config.gazetteer.get(district, ())]
    return names


def resolve_district(address_or_text: str | None, config: WorkOrderConfig) -> str | None:
    """The district whose name or gazetteer place occurs in the text; the longest match wins
    (东湖公园 over 东湖), then the earliest."""
    if not address_or_text:
        return None
    text = normalise(address_or_text)
    best: tuple[int, int, str] | None = None  # (-length, position, district)
    for name, district in _district_names(config):
        pos = text.find(name)
        if pos >= 0:
            cand = (-len(name), pos, district)
            best = cand if best is None or cand < best else best
    return best[2] if best else None
