"""PNG charts of the report (matplotlib, Agg), drawn with a CJK font found on the machine.

A chart with a character the font lacks would show an empty box; `draw` refuses that: every
string is checked against the font's character map first (MissingGlyphs), and matplotlib's own
"Glyph … missing" warning is turned into an error while drawing.
"""

from __future__ import annotations

import shutil
import subprocess
import warnings
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.ft2font import FT2Font

from reports.build import MonthlyReport

CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Source Han Sans SC",
    "Microsoft YaHei",
    "SimHei",
)


class MissingGlyphs(RuntimeError):
    """The chosen font cannot draw some characters of a chart."""


@lru_cache(maxsize=1)
def cjk_font() -> Path:
    """A font file that covers simplified Chinese: fontconfig's choice for zh-cn, else a known
    family from matplotlib's font list. Install fonts-noto-cjk or fonts-wqy-microhei if none."""
    if shutil.which("fc-list"):
        out = subprocess.run(
            ["fc-list", ":lang=zh-cn", "file"],
            capture_output=True,
            text=True,
            check=False,
            timeout=20,
        ).stdout
        files = sorted(line.split(":")[0].strip() for line in out.splitlines() if line.strip())
        for f in files:
            if Path(f).exists() and not missing_glyphs(Path(f), "各成员单位办件量统计满意率"):
                return Path(f)
    for family in CJK_FAMILIES:
        try:
            path = font_manager.findfont(family, fallback_to_default=False)
        except ValueError:
            continue
        return Path(path)
    raise MissingGlyphs("找不到中文字体：请安装 fonts-noto-cjk 或 fonts-wqy-microhei / no CJK font")


def missing_glyphs(font: Path, *texts: str) -> set[str]:
    """The characters of `texts` that `font` has no glyph for (whitespace ignored)."""
    charmap = FT2Font(str(font)).get_charmap()
    return {ch for t in texts for ch in t if not ch.isspace() and ord(ch) not in charmap}


def _font_properties() -> font_manager.FontProperties:
    path = cjk_font()
    font_manager.fontManager.addfont(str(path))
    return font_manager.FontProperties(fname=str(path))


def _check(strings: Iterable[str]) -> None:
    lacking = missing_glyphs(cjk_font(), *strings)
    if lacking:
        raise MissingGlyphs(f"字体 {cjk_font().name} 缺少字符：{''.join(sorted(lacking))}")


def _save(fig: Figure, path: Path, strings: list[str]) -> Path:
    _check(strings)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=r".*Glyph .* missing")
        fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def _setup() -> None:
    prop = _font_properties()
    plt.rcParams["font.family"] = "sans-serif"
    plt.rcParams["font.sans-serif"] = [prop.get_name(), "DejaVu Sans"]
    plt.rcParams["axes.unicode_minus"] = False


def categories_chart(report: MonthlyReport, out: Path, top: int = 10) -> Path:
    _setup()
    rows = report.categories[:top][::-1]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(rows) + 1.5))
    ax.barh([r.name for r in rows], [r.count for r in rows], color="#2f6fb3")
    title = f"{report.month.zh}诉求分类前{len(rows)}位（件）"
    ax.set_title(title)
    for i, r in enumerate(rows):
        ax.text(r.count, i, f" {r.count}（{r.share:.1%}）", va="center", fontsize=9)
    strings = [title, *(r.name for r in rows), "（）"]
    return _save(fig, out / "categories.png", strings)


def units_chart(report: MonthlyReport, out: Path, top: int = 15) -> Path:
    _setup()
    rows = [u for u in report.units if u.rank is not None]
    rows = sorted(rows, key=lambda u: u.rank or 0)[:top][::-1]
    fig, ax = plt.subplots(figsize=(9, 0.5 * len(rows) + 1.8))
    y = range(len(rows))
    ax.barh(
        [i + 0.2 for i in y],
        [(u.now.reply_rate or 0) * 100 for u in rows],
        height=0.4,
        label="按时办结率",
        color="#3a9d5d",
    )
    ax.barh(
        [i - 0.2 for i in y],
        [(u.now.satisfaction_rate or 0) * 100 for u in rows],
        height=0.4,
        label="满意率",
        color="#e0a030",
    )
    ax.set_yticks(list(y), [f"{u.rank}. {u.now.department}" for u in rows])
    ax.set_xlim(0, 105)
    ax.set_xlabel("%")
    title = f"{report.month.zh}成员单位按时办结率与满意率（按综合得分排名）"
    ax.set_title(title)
    ax.legend(loc="lower right")
    strings = [title, "按时办结率满意率", *(u.now.department for u in rows)]
    return _save(fig, out / "units.png", strings)


def forecast_chart(report: MonthlyReport, out: Path, top: int = 5) -> Path:
    _setup()
    fig, ax = plt.subplots(figsize=(9, 4.5))
    labels = [w.strftime("%m-%d") for w in report.history_weeks]
    ahead = [w.strftime("%m-%d") for w in report.forecast_weeks]
    names = []
    for fc in report.forecasts[1 : top + 1]:
        line = ax.plot(labels, fc.history, marker=".", label=fc.category)[0]
        ax.plot(
            [labels[-1], *ahead],
            [fc.history[-1], *fc.forecast],
            linestyle="--",
            color=line.get_color(),
        )
        names.append(fc.category)
    title = f"主要诉求分类周工单量与未来{len(ahead)}周预测（虚线）"
    ax.set_title(title)
    ax.set_ylabel("件/周")
    step = max(len(labels) // 10, 1)
    ax.set_xticks(range(0, len(labels) + len(ahead), step))
    ax.tick_params(axis="x", rotation=45)
    if names:
        ax.legend(fontsize=8)
    return _save(fig, out / "forecast.png", [title, "件/周", *names])


def draw_all(report: MonthlyReport, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    charts = [categories_chart(report, out), units_chart(report, out)]
    if report.forecasts and report.history_weeks:
        charts.append(forecast_chart(report, out))
    return charts
