import pytest

from hotline.stats import wilson_lower
from knowledge.decision import (
    Labelled,
    Thresholds,
    asks_figure,
    calibrate,
    decide,
    evaluate,
    figure_missing,
)

T = Thresholds(answer=0.8, margin=0.05, clarify=0.6)


def test_decide() -> None:
    assert decide([0.9, 0.7], T) == "answer"
    assert decide([0.9, 0.88], T) == "clarify"  # too close to the runner-up
    assert decide([0.7, 0.2], T) == "clarify"
    assert decide([0.5], T) == "abstain"
    assert decide([], T) == "abstain"


def test_calibration_meets_precision_and_abstention_targets() -> None:
    data = [Labelled(["a", "b"], [0.9 - i * 0.001, 0.5], "a") for i in range(40)]
    data += [Labelled(["b", "a"], [0.75, 0.5], "a") for _ in range(3)]  # wrong top-1, lower score
    data += [Labelled(["c", "d"], [0.6 - i * 0.005, 0.4], None) for i in range(20)]
    t, out = calibrate(data, precision=0.97, abstain=0.9)
    assert out.precision >= 0.97 and out.abstain_rate >= 0.9
    assert out.coverage >= 40 / 43 - 1e-9  # every right answer kept, the wrong ones not
    assert evaluate(data, t) == out


def test_a_runner_up_scoring_higher_means_clarify() -> None:
    # Reranked results need not descend: a negative lead is never an outright answer.
    assert decide([0.85, 0.9], T) == "clarify"


def test_calibration_with_a_confidence_bound_is_stricter() -> None:
    # 200 right answers from 0.99 down to 0.69, three wrong ones at 0.80 to 0.78, and
    # unanswerable questions below: 200/203 right, but not with 95% confidence.
    data = [Labelled(["a", "b"], [0.99 - i * 0.0015, 0.3], "a") for i in range(200)]
    data += [Labelled(["b", "a"], [0.80 - i * 0.01, 0.3], "a") for i in range(3)]
    data += [Labelled(["c", "d"], [0.5 - i * 0.01, 0.3], None) for i in range(20)]
    _, plain_out = calibrate(data, precision=0.97, abstain=0.9)
    strict, strict_out = calibrate(data, precision=0.97, abstain=0.9, z=1.645)
    assert plain_out.precision >= 0.97 and plain_out.answered > strict_out.answered
    # With z = 1.645 the wrong ones are too many: answering stops above them.
    assert strict.answer > 0.80 and strict_out.precision == 1.0 and strict_out.answered > 100
    assert wilson_lower(strict_out.answered, strict_out.answered, 1.645) >= 0.97


@pytest.mark.parametrize(
    "question",
    ["护理补贴一个月发多少钱", "慢性病能报百分之几", "医保一年交多少", "失业金每个月多少",
     "补办要收好多钱", "公积金贷款利率是多少"],
)  # fmt: skip
def test_questions_asking_for_a_sum_or_a_rate(question: str) -> None:
    assert asks_figure(question)


@pytest.mark.parametrize(
    "question",
    ["公积金账户里有多少钱怎么查", "失业金最多领多少个月", "产假有多少天", "残疾分几级",
     "补贴怎么申请"],
)  # fmt: skip
def test_questions_asking_for_no_sum(question: str) -> None:
    assert not asks_figure(question)


def test_a_figure_the_answer_lacks_is_never_answered() -> None:
    local = "补贴标准由各地确定，请向户籍所在地乡镇（街道）申请。"
    assert figure_missing("护理补贴一个月发多少钱", local)
    assert not figure_missing("护理补贴怎么申请", local)
    for answer in (
        "最高可贷70万元。",
        "普通慢性病报销50%。",
        "可要求赔偿一千元。",
        "报销百分之五十",
    ):
        assert not figure_missing("能报多少钱", answer), answer
    assert decide([0.99, 0.2], T, figure_missing=True) == "abstain"
    data = [Labelled(["a", "b"], [0.95, 0.3], None, figure_missing=True)]
    assert evaluate(data, T).abstain_rate == 1.0 and evaluate(data, T).answered == 0
