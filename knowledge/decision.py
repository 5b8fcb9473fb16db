"""Answer, clarify or abstain: decided from the top scores with thresholds calibrated on data.

- answer: the first entry scores at least `answer` and leads the runner-up by at least `margin`
  (the results come in the reranker's order, so the runner-up may score higher: then the lead
  is negative and the citizen is asked to choose);
- clarify: the best entry scores at least `clarify` (the citizen picks among the top three);
- abstain: nothing good enough; the dialogue offers a work order or a person, and from the
  `suggest` floor up also shows the top entries as suggestions (:func:`calibrate_suggest`).

One rule reads the texts, not the scores: a question that asks for a sum of money or a rate
(一个月发多少钱, 能报百分之几) is abstained on when the best entry's answer states no such figure
(补贴标准由各地确定), however high it scores (:func:`figure_missing`). A high score says the entry
is on the question's topic, not that it holds the figure asked for; the local figure is what a
person or a work order can give. On the dev set at the calibrated thresholds it applies to 27
questions: 23 the KB cannot answer (the scores alone would have answered 10 and clarified 5 of
them) and 4 it can, 2 of which were answered right before (最低工资是多少钱 → 以当地标准为准).

`calibrate` chooses the thresholds on a labelled development set: the largest share of answerable
questions answered, such that answers are right at least `precision` of the time and questions
the KB cannot answer are abstained on at least `abstain` of the time. With `z` > 0 the precision
must hold for the Wilson lower bound (z standard errors), as the work-order router's gate does: a
lucky dev sample of a hundred-odd answers does not lower the answer threshold. Calibrated at the
plain rate (z = 0), dev precision 0.98 became 0.94 on the held-out questions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Literal

import numpy as np
import yaml

from hotline.stats import wilson_lower

Decision = Literal["answer", "clarify", "abstain"]


@dataclass(frozen=True)
class Thresholds:
    answer: float
    margin: float
    clarify: float
    # Below `clarify` the KB abstains; from `suggest` up the dialogue still shows the top
    # entries as "您是不是想问" beside the offer of a work order or a person (never as an answer).
    suggest: float = 2.0  # above every score: no suggestions until calibrated


# A question asking how much money (or which rate) something is: a payment verb or a period
# before 多少, or the amount words themselves; not durations, counts or areas (多少个月, 多少平).
_NOT_MONEY = r"(?!个|年|天|次|平|岁|人|套|家|小时|分钟|工作日|号|时间|久|项|种|级|张|页|份)"
_ASKS_FIGURE = re.compile(
    r"(?<![有剩])多少钱|(?:是|要|交|收|发|给|补|领)好多钱|几多钱|几块钱|多少块|多少元|几千块|几百块|百分之几|百分之多少|几个点|多少个点|能报几成"
    r"|(?:比例|标准|金额|费用|价格|利率|税率|费|钱)(?:是|有|要|得|一般是|大概是)?多少"
    rf"|(?:交|缴|发|补|给|报|领|赔|罚|扣|贷|收|退|付|花|拿|返|减|免)(?:了|得了|得)?多少{_NOT_MONEY}"
    rf"|(?:一个月|每个月|每月|一年|每年|一次|一天|每天|一平|一平米)(?:能|可以|大概|大约|一般)?多少{_NOT_MONEY}"
)
# A figure of money or a rate in an answer: 5000元, 70万, 5%, 百分之五十, 两成.
_GIVES_FIGURE = re.compile(
    r"[0-9０-９][0-9０-９.,，]*\s*(?:元|块|万|%|％|‰)"
    r"|[零〇一二两三四五六七八九十百千万]+(?:元|块钱|万元)"
    r"|百分之[零〇一二两三四五六七八九十百点]+|[一二三四五六七八九]成"
)


def asks_figure(question: str) -> bool:
    """Whether ``question`` asks for a sum of money or a rate."""
    return bool(_ASKS_FIGURE.search(question))


def figure_missing(question: str, answer: str) -> bool:
    """The question asks for a detail the answer does not state (see the module doc): a sum
    or a rate, a duration, a phone number, or this year's figure."""
    if asks_figure(question) and not _GIVES_FIGURE.search(answer):
        return True
    if _ASKS_DURATION.search(question) and not _GIVES_DURATION.search(answer):
        return True
    if _ASKS_NUMBER.search(question) and not _GIVES_NUMBER.search(answer):
        return True
    return bool(_ASKS_THIS_YEAR.search(question) and _OLD_YEAR_ONLY(answer))


# How long something takes: 多久, 几个工作日, 什么时候能到账; not 多久一次 (a frequency).
_ASKS_DURATION = re.compile(
    r"多久(?!一次)|多长时间|几个工作日|几天(能|可以|就|才|到|出|办|下来)|要几天|"
    r"什么时候(能|可以|才)?(到账|到|出来|下来|办好|拿到|批)|几个月(能|才|到|下来)"
)
_GIVES_DURATION = re.compile(
    r"[0-9０-９一二两三四五六七八九十百半几]+\s*(?:个)?(?:工作日|自然日|日|天|周|星期|个月|月|年|小时|分钟)"
    r"|当场|当天|即时|即办|立即|马上|实时|次月|当月|随时"
)
# A phone number: 电话是多少, 打哪个号码; the answer must give digits to dial.
_ASKS_NUMBER = re.compile(
    r"(电话|号码|热线)(号码)?(是|是多少|多少|呢|给我)|打(哪个|什么)(电话|号码)"
)
_GIVES_NUMBER = re.compile(r"\d{4,}|\d{3,4}-\d{7,8}")
# This year's or this month's figure, when the answer only has another year's.
_ASKS_THIS_YEAR = re.compile(r"今年|本年度|本月|这个月|这个季度")


def _OLD_YEAR_ONLY(answer: str) -> bool:
    years = set(re.findall(r"(20\d\d)年", answer))
    return bool(years) and str(date.today().year) not in years


def decide(scores: Sequence[float], t: Thresholds, figure_missing: bool = False) -> Decision:
    """`scores`: the top hits' scores, in ranked order. `figure_missing`: the question asks for
    a figure the best entry's answer lacks (then abstain: the figure needs a person)."""
    if not scores:
        return "abstain"
    top = scores[0]
    second = scores[1] if len(scores) > 1 else 0.0
    if figure_missing:
        return "abstain"
    if top >= t.answer and top - second >= t.margin:
        return "answer"
    if top >= t.clarify:
        return "clarify"
    return "abstain"


@dataclass(frozen=True)
class Labelled:
    """One development question: its hits (keys and scores, best first) and the right key."""

    keys: Sequence[str]
    scores: Sequence[float]
    gold: str | None  # None: the KB cannot answer it
    figure_missing: bool = False  # the question asks a figure the first entry's answer lacks


@dataclass(frozen=True)
class Outcome:
    coverage: float  # answerable questions answered (right or wrong) / answerable
    precision: float  # right answers / all answers (unanswerable ones included)
    abstain_rate: float  # unanswerable questions abstained on / unanswerable
    clarify_hit: float  # clarifications whose three buttons hold the right entry / clarifications
    answered: int = 0  # questions answered outright (the precision's denominator)


def evaluate(data: Sequence[Labelled], t: Thresholds) -> Outcome:
    answered = right = answerable = unanswerable = abstained = clarified = clarify_ok = 0
    for item in data:
        decision = decide(item.scores, t, item.figure_missing)
        if item.gold is None:
            unanswerable += 1
            abstained += decision == "abstain"
        else:
            answerable += 1
        if decision == "answer":
            answered += 1
            right += item.keys[0] == item.gold
        elif decision == "clarify" and item.gold is not None:
            clarified += 1
            clarify_ok += item.gold in item.keys[:3]
    answered_answerable = sum(
        1 for i in data if i.gold is not None and decide(i.scores, t, i.figure_missing) == "answer"
    )
    return Outcome(
        coverage=answered_answerable / max(answerable, 1),
        precision=right / answered if answered else 1.0,
        abstain_rate=abstained / max(unanswerable, 1),
        clarify_hit=clarify_ok / clarified if clarified else 1.0,
        answered=answered,
    )


def calibrate(
    data: Sequence[Labelled], precision: float = 0.97, abstain: float = 0.90, z: float = 0.0
) -> tuple[Thresholds, Outcome]:
    """Grid-search the thresholds over the observed score range (see the module docstring)."""
    tops = np.array([d.scores[0] for d in data if d.scores])
    grid = np.unique(np.round(np.quantile(tops, np.linspace(0, 1, 81)), 4))
    margins = (0.0, 0.01, 0.02, 0.03, 0.05, 0.08)
    best: tuple[float, Thresholds, Outcome] | None = None
    for a in grid:
        for m in margins:
            # Answers depend on (a, m) only; without a clarify zone abstention is at its highest.
            widest = evaluate(data, Thresholds(float(a), m, float(a)))
            right = round(widest.precision * widest.answered)
            if wilson_lower(right, widest.answered, z) < precision:
                continue
            if widest.abstain_rate < abstain:
                continue
            # The clarify floor: the lowest that still abstains on enough unanswerable questions.
            for c in grid[grid <= a]:
                t = Thresholds(float(a), m, float(c))
                out = evaluate(data, t)
                if out.abstain_rate < abstain:
                    continue
                # Prefer coverage, then answers that are right, then the lower clarify floor.
                key = out.coverage + 0.001 * out.precision - 1e-6 * c
                if best is None or key > best[0]:
                    best = (key, t, out)
                break  # c ascends: the first feasible one is the lowest
    if best is None:
        # No setting reaches the targets: never answer outright, clarify only near the top.
        t = Thresholds(float(tops.max()) + 1, 1.0, float(np.quantile(tops, 0.9)))
        return t, evaluate(data, t)
    return best[1], best[2]


def calibrate_suggest(data: Sequence[Labelled], t: Thresholds) -> float:
    """The floor for suggestions on an abstention: of the questions abstained on, those that
    would show suggestions holding their entry minus those (unanswerable) that would show
    suggestions at all, as large as it can be."""
    abstained = [d for d in data if d.scores and decide(d.scores, t, d.figure_missing) == "abstain"]
    best, best_gain = 2.0, 0
    for floor in sorted({round(d.scores[0], 4) for d in abstained}):
        shown = [d for d in abstained if d.scores[0] >= floor]
        gain = sum(d.gold is not None and d.gold in d.keys[:3] for d in shown)
        gain -= sum(d.gold is None for d in shown)
        if gain > best_gain:
            best, best_gain = floor, gain
    return best


def save(path: Path, t: Thresholds, outcome: Outcome, evidence: dict[str, object]) -> None:
    doc = {
        "thresholds": asdict(t),
        "dev_outcome": {k: round(v, 4) for k, v in asdict(outcome).items()},
        "evidence": evidence,
    }
    path.write_text(
        "# Written by `hotline kb calibrate`; the answer/clarify/abstain thresholds of the KB.\n"
        + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    )


def load(path: Path) -> Thresholds:
    return Thresholds(**yaml.safe_load(path.read_text())["thresholds"])
