from knowledge.decision import Labelled, Thresholds, calibrate, decide, evaluate

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
