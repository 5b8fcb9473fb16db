"""Work-order configuration: taxonomy, departments, working calendar, deadlines, warning levels.

The shipped defaults live in defaults.yml; a centre's own file is merged over them
(`load_config(path)`). Validation happens once at load, so a typo in a department name fails at
start-up rather than at the first dispatch.
"""

from __future__ import annotations

from datetime import date, time
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    from workorders.calendar import WorkCalendar

DEFAULTS = Path(__file__).resolve().parent / "defaults.yml"

KINDS = ("咨询", "求助", "投诉", "举报", "建议", "表扬")
PRIORITIES = ("normal", "urgent", "emergency")
LEVELS = ("市直", "区县")

_Strict = ConfigDict(extra="forbid", frozen=True)


class Duration(BaseModel):
    """One deadline length: exactly one of working hours, working days or wall-clock hours."""

    model_config = _Strict
    working_hours: float | None = Field(default=None, gt=0)
    working_days: float | None = Field(default=None, gt=0)
    wall_hours: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _exactly_one(self) -> Duration:
        given = [v for v in (self.working_hours, self.working_days, self.wall_hours) if v]
        if len(given) != 1:
            raise ValueError("give exactly one of working_hours, working_days, wall_hours")
        return self

    @property
    def wall(self) -> bool:
        return self.wall_hours is not None


class Holiday(BaseModel):
    model_config = _Strict
    name: str
    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> Holiday:
        if self.end < self.start:
            raise ValueError(f"holiday {self.name}: end before start")
        return self


class CalendarConfig(BaseModel):
    model_config = _Strict
    sessions: tuple[tuple[time, time], ...]
    weekdays: tuple[int, ...] = (1, 2, 3, 4, 5)
    holidays: tuple[Holiday, ...] = ()
    workdays: tuple[date, ...] = ()

    @model_validator(mode="after")
    def _sane(self) -> CalendarConfig:
        previous_end = time.min
        for start, end in self.sessions:
            if not previous_end <= start < end:
                raise ValueError("calendar sessions must be ordered and not overlap")
            previous_end = end
        if not self.sessions or not set(self.weekdays) <= set(range(1, 8)):
            raise ValueError("calendar needs sessions and ISO weekdays 1..7")
        return self


class Warnings(BaseModel):
    model_config = _Strict
    yellow: float = Field(default=0.5, gt=0, lt=1)
    orange: float = Field(default=0.8, gt=0, lt=1)

    @model_validator(mode="after")
    def _ordered(self) -> Warnings:
        if not self.yellow < self.orange:
            raise ValueError("warnings: yellow must come before orange")
        return self


class SignDeadlines(BaseModel):
    model_config = _Strict
    default: Duration
    by_priority: dict[str, Duration] = {}


class ReplyDeadlines(BaseModel):
    model_config = _Strict
    by_kind: dict[str, Duration]
    by_priority: dict[str, Duration] = {}
    by_category: dict[str, Duration] = {}


class Deadlines(BaseModel):
    model_config = _Strict
    sign: SignDeadlines
    reply: ReplyDeadlines
    max_extension_days: int = Field(default=15, ge=1)


class Category(BaseModel):
    model_config = _Strict
    name: str
    department: str
    level: Literal["市直", "区县"]
    scope: str = ""
    keywords: tuple[str, ...] = ()  # train the 智能派单 router (workorders/routing.py)
    examples: tuple[str, ...] = ()  # requests in citizens' words, ditto


class Limits(BaseModel):
    model_config = _Strict
    request_text: int = 2000
    summary: int = 100
    citizen_name: int = 40
    address: int = 200
    note: int = 2000


class WorkOrderConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, ignored_types=(cached_property,))

    timezone: str = "Asia/Shanghai"
    calendar: CalendarConfig
    warnings: Warnings = Warnings()
    deadlines: Deadlines
    categories: tuple[Category, ...]
    districts: dict[str, str] = {}
    gazetteer: dict[str, tuple[str, ...]] = {}  # district -> place names (routing.resolve_district)
    departments: tuple[str, ...] = ()
    channels: tuple[str, ...] = ("web", "wechat", "voice", "api", "operator")
    limits: Limits = Limits()

    @model_validator(mode="after")
    def _consistent(self) -> WorkOrderConfig:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {self.timezone!r}") from None
        names = [c.name for c in self.categories]
        if len(set(names)) != len(names):
            raise ValueError("category names must be unique")
        missing = set(KINDS) - set(self.deadlines.reply.by_kind)
        if missing:
            raise ValueError(f"deadlines.reply.by_kind lacks {sorted(missing)}")
        unknown = set(self.deadlines.reply.by_category) - set(names)
        if unknown:
            raise ValueError(f"deadlines.reply.by_category names unknown {sorted(unknown)}")
        prios = set(self.deadlines.sign.by_priority) | set(self.deadlines.reply.by_priority)
        if prios - set(PRIORITIES):
            raise ValueError(f"unknown priorities {sorted(prios - set(PRIORITIES))}")
        stray = set(self.gazetteer) - set(self.districts)
        if stray:
            raise ValueError(f"gazetteer names unknown districts {sorted(stray)}")
        return self

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def work_calendar(self) -> WorkCalendar:
        from workorders.calendar import WorkCalendar  # calendar imports this module

        return WorkCalendar.from_config(self.calendar, self.tz)

    @cached_property
    def category_by_name(self) -> dict[str, Category]:
        return {c.name: c for c in self.categories}

    @cached_property
    def district_units(self) -> frozenset[str]:
        return frozenset(self.districts.values())

    @cached_property
    def all_departments(self) -> frozenset[str]:
        """Every unit an order may be dispatched to."""
        city = {c.department for c in self.categories} | set(self.departments)
        return frozenset(city) | self.district_units

    def level_of(self, department: str) -> str:
        """市直 or 区县, derived from the unit so that the two can never disagree."""
        return "区县" if department in self.district_units else "市直"

    def default_department(self, category: str, district: str | None) -> str:
        """Where an order of `category` goes when the dispatcher names no unit.

        区县-level types go to the district's unit; without a district they go to the 市直
        department, which coordinates across districts.
        """
        cat = self.category_by_name[category]
        if cat.level == "区县" and district in self.districts:
            return self.districts[district]
        return cat.department


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Mappings merge key by key; any other value (lists included) replaces the default."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def load_config(
    path: str | Path | None = None, overrides: dict[str, Any] | None = None
) -> WorkOrderConfig:
    """defaults.yml, then the file at `path`, then `overrides`, merged in that order."""
    data = yaml.safe_load(DEFAULTS.read_text(encoding="utf-8"))
    if path:
        data = _merge(data, yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {})
    if overrides:
        data = _merge(data, overrides)
    return WorkOrderConfig.model_validate(data)


@lru_cache(maxsize=1)
def default_config() -> WorkOrderConfig:
    return load_config()
