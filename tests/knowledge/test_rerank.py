"""The reranker over the hybrid's candidates: its features, its training on the KB's own
phrasings, its file, and the index that uses it (real e5 model, small FAQ with answers)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hotline.settings import model_paths
from knowledge import rerank
from knowledge.embedding_model import encode_queries, shared_model
from knowledge.index import Doc, HybridConfig, HybridIndex
from knowledge.rerank import FEATURES, Reranker, candidate_features

MODEL_CACHE = model_paths().models_dir  # the e5 these tests are written for, as configured

# Questions with their answers (the body): the answer carries words the phrasings lack.
FAQ: list[tuple[str, list[str], str]] = [
    (
        "shebao-card",
        ["社保卡丢了怎么补办", "社保卡掉了咋办", "社会保障卡遗失"],
        "携带身份证到社保经办窗口或合作银行网点挂失补卡，也可在电子社保卡里先挂失。",
    ),
    (
        "passport",
        ["护照在哪里办理", "办护照去哪", "第一次申请护照"],
        "到户籍地或居住地公安出入境管理窗口办理普通护照，带身份证，现场采集照片和指纹。",
    ),
    (
        "gjj-loan",
        ["公积金贷款能贷多少", "公积金贷款额度", "住房公积金最高贷款"],
        "贷款额度与缴存余额、还款能力和房价有关，并受当地最高额度限制，以公积金中心核定为准。",
    ),
    (
        "gjj-rent",
        ["租房可以提取公积金吗", "租房子能取公积金不", "交房租用公积金"],
        "无自有住房的职工租房可以按月或按年提取住房公积金，需提供租赁合同或备案证明。",
    ),
    (
        "noise",
        ["工地晚上施工太吵", "夜间施工噪音扰民", "半夜还在打桩"],
        "夜间施工需取得夜间施工许可，无证施工或超时施工可向城市管理或生态环境部门投诉。",
    ),
    (
        "wage",
        ["老板拖欠工资怎么办", "公司不发工资", "被拖欠工资去哪投诉"],
        "可向劳动保障监察机构投诉，也可申请劳动争议仲裁，保留考勤、工资条和聊天记录。",
    ),
    (
        "id-card",
        ["身份证过期了怎么换", "身份证到期换证", "换身份证去哪"],
        "到户籍地或居住地派出所户政窗口换领，现场照相，一般二十个工作日内可以领取。",
    ),
    (
        "water",
        ["家里停水了找谁", "小区突然停水", "没水了什么时候来"],
        "先看供水公司停水公告，计划外停水可拨打供水服务热线报修，物业负责小区内管网。",
    ),
]


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> HybridIndex:
    idx = HybridIndex(shared_model(None, MODEL_CACHE), cache_dir=tmp_path_factory.mktemp("emb"))
    idx.build([Doc(key, texts, body=body) for key, texts, body in FAQ])
    return idx


def test_features_of_the_candidates(index: HybridIndex) -> None:
    scores = index.query_scores("社保卡找不到了怎么补")
    docs, x = candidate_features(index, scores, depth=5)
    assert x.shape == (5, len(FEATURES)) and len(set(docs.tolist())) == 5
    assert index.keys[int(docs[0])] == "shebao-card"
    col = {name: i for i, name in enumerate(FEATURES)}
    assert list(x[:, col["fused"]]) == sorted(x[:, col["fused"]], reverse=True)
    # A lead is the candidate's value minus the best other candidate's: positive only at the top.
    lead = x[:, col["lead_fused"]]
    assert lead[0] == pytest.approx(x[0, col["fused"]] - x[1, col["fused"]])
    assert lead[0] > 0 and (lead[1:] <= 0).all()
    assert ((x[:, [col["cover_words"], col["cover_bigrams"]]] >= 0) & (x[:, 9:] <= 1)).all()
    assert x[0, col["cover_bigrams"]] > x[-1, col["cover_bigrams"]]
    assert (x[:, col["body_dense"]] > 0).any()  # the answers are embedded


def test_hidden_rows_and_docs_are_never_candidates(index: HybridIndex) -> None:
    text = "社保卡掉了咋办"
    row = index.texts.index(text)
    scores = index.query_scores(text)
    _, with_row = candidate_features(index, scores, depth=3)
    docs, without = candidate_features(index, scores, depth=3, exclude_row=row)
    assert index.keys[int(docs[0])] == "shebao-card"  # still found by its other phrasings
    assert without[0, 0] < with_row[0, 0]
    docs, _ = candidate_features(index, scores, depth=len(FAQ), exclude_doc=int(index.owner[row]))
    assert "shebao-card" not in [index.keys[int(d)] for d in docs]
    assert len(docs) == len(FAQ) - 1


def test_training_on_the_kb_separates_right_from_wrong(index: HybridIndex) -> None:
    vectors = encode_queries(index.model, index.texts)
    x, y = rerank.training_set(index, vectors, depth=4)
    assert set(np.unique(y)) == {0.0, 1.0}
    model = rerank.fit(x, y)
    p = model.probabilities(x)
    # Right candidates of held-back phrasings score above wrong ones almost always (AUC).
    auc = (p[y == 1][:, None] > p[y == 0][None, :]).mean()
    assert auc > 0.9
    assert all(w > 0 for w in (model.weights[1], model.weights[4]))  # dense, body_dense help


def test_reranker_file_round_trip(tmp_path: Path) -> None:
    model = Reranker(tuple(float(i) / 10 for i in range(len(FEATURES))), -1.5, depth=7)
    path = tmp_path / "reranker.yml"
    rerank.save(path, model, {"entries": 8})
    assert rerank.load(path) == model
    assert rerank.load(tmp_path / "missing.yml") is None
    with pytest.raises(ValueError):
        Reranker((1.0, 2.0), 0.0)


def test_reranked_search_orders_by_probability_and_scores_by_confidence(
    index: HybridIndex,
) -> None:
    vectors = encode_queries(index.model, index.texts)
    index.reranker = rerank.fit(*rerank.training_set(index, vectors, depth=4))
    try:
        query = "出入境窗口办护照要带什么"
        hits = index.search(query, k=3)
        assert hits[0].key == "passport"
        assert all(h.rerank is not None for h in hits)
        assert [h.rerank for h in hits] == sorted((h.rerank for h in hits), reverse=True)
        # The score: the best phrasing's scaled cosine with a share of the answer's.
        share = HybridConfig().body_share_of_score
        docs, x = candidate_features(index, index.query_scores(index.correct(query)), depth=10)
        j = docs.tolist().index(index.keys.index(hits[0].key))
        assert 0 < share < 1
        dense, body = x[j, rerank.COLUMN["dense"]], x[j, rerank.COLUMN["body_dense"]]
        assert hits[0].score == pytest.approx((1 - share) * dense + share * body)
    finally:
        index.reranker = None
    plain = index.search("出入境窗口办护照要带什么", k=3)
    assert all(h.rerank is None for h in plain)
    assert [h.score for h in plain] == sorted((h.score for h in plain), reverse=True)


def test_search_does_not_depend_on_the_order_of_the_features(
    index: HybridIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new feature inserted anywhere in FEATURES (with its weight) changes no other score."""
    vectors = encode_queries(index.model, index.texts)
    trained = rerank.fit(*rerank.training_set(index, vectors, depth=4))
    weight = dict(zip(FEATURES, trained.weights, strict=True))
    query = "出入境窗口办护照要带什么"
    try:
        index.reranker = trained
        before = [(h.key, h.score, h.rerank) for h in index.search(query, k=3)]
        shuffled = tuple(reversed(FEATURES))
        monkeypatch.setattr(rerank, "FEATURES", shuffled)
        monkeypatch.setattr(rerank, "COLUMN", {n: i for i, n in enumerate(shuffled)})
        index.reranker = Reranker(tuple(weight[n] for n in shuffled), trained.bias, trained.depth)
        after = [(h.key, h.score, h.rerank) for h in index.search(query, k=3)]
    finally:
        index.reranker = None
    assert [k for k, _, _ in after] == [k for k, _, _ in before]
    assert [s for _, s, _ in after] == pytest.approx([s for _, s, _ in before])
    assert [r for _, _, r in after] == pytest.approx([r for _, _, r in before])


def test_search_corrects_misheard_kb_words(index: HybridIndex) -> None:
    assert index.correct("公基金贷款能贷多少") == "公积金贷款能贷多少"
    assert index.search("公基金贷款额度", k=1)[0].key == "gjj-loan"
