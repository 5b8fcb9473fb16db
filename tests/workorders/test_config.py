"""The shipped configuration: 22 work-order types, their units, deadlines and holidays."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from workorders.config import DEFAULTS, KINDS, WorkOrderConfig, load_config


def test_the_types_of_the_duty_table_cover_the_units_complaints_go_to(
    cfg: WorkOrderConfig,
) -> None:
    names = [c.name for c in cfg.categories]
    assert len(names) == 31 == len(set(names))  # the seeds' 22 and 9 more units
    for expected in ("城市管理", "市容环卫", "物业管理", "公安交管", "劳动保障", "供电", "其他"):
        assert expected in names
    units = {c.department for c in cfg.categories}
    for unit in ("市邮政管理局", "市公安局", "市医疗保障局", "市文化和旅游局", "市消防救援支队"):
        assert unit in units
    assert {c.level for c in cfg.categories} == {"市直", "区县"}
    for c in cfg.categories:
        assert c.department in cfg.all_departments
        assert cfg.level_of(c.department) == "市直"  # the duty table names 市直 departments
        assert c.scope  # what the type covers, for operators and the router


def test_units_levels_and_default_routing(cfg: WorkOrderConfig) -> None:
    assert cfg.level_of("城东区人民政府") == "区县"
    assert cfg.default_department("物业管理", "城南区") == "城南区人民政府"
    assert cfg.default_department("物业管理", None) == "市住房和城乡建设局"
    assert cfg.default_department("供电", "城南区") == "市供电公司"  # 市直 type


def test_deadlines_cover_every_kind(cfg: WorkOrderConfig) -> None:
    assert set(cfg.deadlines.reply.by_kind) == set(KINDS)
    assert cfg.deadlines.reply.by_kind["咨询"].working_days == 3
    assert cfg.deadlines.sign.default.working_hours == 4
    assert cfg.deadlines.sign.by_priority["emergency"].wall_hours == 1
    assert (cfg.warnings.yellow, cfg.warnings.orange) == (0.5, 0.8)


def test_2026_holidays(cfg: WorkOrderConfig) -> None:
    cal = cfg.work_calendar
    assert not cal.is_working_day(date(2026, 2, 23))  # 春节 ends on Monday 02-23
    assert cal.is_working_day(date(2026, 2, 28))  # 调休 Saturday
    assert not cal.is_working_day(date(2026, 5, 5))
    assert cal.is_working_day(date(2026, 5, 9))


def test_a_centre_file_overrides_the_defaults(tmp_path: Path) -> None:
    own = tmp_path / "centre.yml"
    own.write_text(
        "warnings: {yellow: 0.6}\n"
        "deadlines:\n  reply:\n    by_kind: {咨询: {working_days: 1}, 求助: {working_days: 1},"
        " 投诉: {working_days: 5}, 举报: {working_days: 5}, 建议: {working_days: 5},"
        " 表扬: {working_days: 5}}\n",
        encoding="utf-8",
    )
    cfg = load_config(own)
    assert (cfg.warnings.yellow, cfg.warnings.orange) == (0.6, 0.8)  # merged key by key
    assert cfg.deadlines.reply.by_kind["投诉"].working_days == 5
    assert cfg.deadlines.sign.default.working_hours == 4  # untouched sections stay


@pytest.mark.parametrize(
    "bad",
    [
        {"warnings": {"yellow": 0.9, "orange": 0.8}},
        {"timezone": "Mars/Olympus"},
        {"calendar": {"sessions": [["14:00", "17:30"], ["08:30", "12:00"]]}},
        {"deadlines": {"sign": {"default": {"working_hours": 4, "wall_hours": 1}}}},
        {"deadlines": {"reply": {"by_category": {"魔法": {"working_days": 1}}}}},
        {"deadlines": {"reply": {"by_kind": {"咨询": {"days": 3}}}}},
        {"categories": [{"name": "甲", "department": "市甲局", "level": "省直"}]},
        {"surprise": 1},
    ],
)
def test_mistakes_fail_at_load(bad: dict) -> None:
    with pytest.raises((ValidationError, ValueError)):
        load_config(overrides=bad)


def test_every_kind_needs_a_reply_deadline() -> None:
    data = yaml.safe_load(DEFAULTS.read_text(encoding="utf-8"))
    del data["deadlines"]["reply"]["by_kind"]["表扬"]
    with pytest.raises(ValidationError, match="表扬"):
        WorkOrderConfig.model_validate(data)
