"""The hybrid index as a caller sees it: right doc for paraphrases and typos, calibrated scores,
one hit per key, and an embedding cache that re-embeds only what changed."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import torch

from hotline.settings import model_paths
from knowledge import index as index_module
from knowledge.embedding_model import load_model
from knowledge.index import Doc, HybridIndex, SparseBM25, char_bigrams, word_tokens

MODEL_CACHE = model_paths().models_dir  # the e5 these tests are written for, as configured

# A few dozen service questions, one or two phrasings each, in the style of a 12345 FAQ.
FAQ: dict[str, list[str]] = {
    "shebao-card": ["社保卡丢了怎么补办", "社会保障卡遗失后如何挂失和补卡"],
    "passport": ["护照在哪里办理", "第一次申请普通护照需要什么材料"],
    "gjj-loan": ["公积金贷款额度怎么计算", "住房公积金最多能贷多少钱"],
    "gjj-withdraw": ["租房可以提取公积金吗", "租房提取住房公积金的条件"],
    "noise": ["夜间施工噪音扰民向哪个部门投诉", "工地晚上还在施工太吵了"],
    "hukou-move": ["户口迁移需要哪些手续", "把户口迁到配偶所在城市怎么办"],
    "id-card": ["身份证过期了怎么换领", "居民身份证到期换证去哪里"],
    "driving-licence": ["驾驶证到期换证需要体检吗", "驾照有效期满了怎么换"],
    "school-enrol": ["小学入学报名需要什么材料", "孩子上一年级怎么报名"],
    "unemployment": ["失业保险金怎么申领", "失业了能领多少失业金"],
    "pension": ["领取基本养老金需要满足什么条件", "养老保险交满多少年可以领养老金"],
    "medical-reimburse": ["异地就医医保怎么报销", "在外地看病医保能报销吗"],
    "business-licence": ["个体工商户营业执照怎么办理", "开一家小店要办什么证"],
    "tax-refund": ["个人所得税年度汇算怎么退税", "个税多交了怎么申请退回来"],
    "water-outage": ["小区突然停水了找谁", "家里没水了什么时候恢复供水"],
    "power-outage": ["停电了打哪个电话报修", "整栋楼都停电了怎么办"],
    "gas-leak": ["闻到燃气泄漏的味道怎么办", "家里煤气有味道该找谁"],
    "stray-dog": ["小区有流浪狗咬人谁来管", "街上流浪狗太多了"],
    "illegal-parking": ["车被别人堵住了出不去", "占用消防通道违停怎么举报"],
    "wage-arrears": ["老板拖欠工资不发怎么办", "被拖欠工资去哪里投诉"],
    "consumer-complaint": ["买到假冒伪劣商品怎么投诉", "网购商品质量有问题商家不退货"],
    "food-safety": ["餐馆卫生太差吃了拉肚子", "发现饭店使用过期食材去哪举报"],
    "marriage-reg": ["结婚登记需要带什么证件", "领结婚证要去哪里办"],
    "birth-cert": ["出生医学证明丢了能补办吗", "新生儿出生证明怎么办理"],
    "disability-card": ["残疾证怎么申请办理", "残疾人证到期了去哪里换"],
    "housing-subsidy": ["公租房申请条件是什么", "低收入家庭怎么申请保障性住房"],
    "bus-route": ["公交线路调整在哪里查询", "某路公交车为什么改线了"],
    "garbage": ["垃圾好几天没人清运", "小区垃圾桶满了没人收"],
    "streetlight": ["路灯坏了晚上一片黑找谁修", "小区门口路灯不亮了"],
    "property-fee": ["物业费收费标准是多少", "物业乱收费可以投诉吗"],
}


@pytest.fixture(scope="module")
def model() -> object:
    return load_model(None, MODEL_CACHE)


@pytest.fixture(scope="module")
def faq_index(model: object, tmp_path_factory: pytest.TempPathFactory) -> HybridIndex:
    index = HybridIndex(model, cache_dir=tmp_path_factory.mktemp("emb"))
    index.build([Doc(key, texts) for key, texts in FAQ.items()])
    return index


def top_key(index: HybridIndex, query: str) -> str:
    return index.search(query, k=3)[0].key


@pytest.mark.parametrize(
    ("query", "key"),
    [
        ("我的社保卡找不到了，要去哪里重新办一张", "shebao-card"),
        ("楼下工地半夜施工吵得睡不着", "noise"),
        ("出国要办护照，去哪个窗口", "passport"),
        ("公司三个月没发工资了", "wage-arrears"),
        ("我在外省住院，回来能报医保吗", "medical-reimburse"),
    ],
)
def test_paraphrase_finds_the_right_doc(faq_index: HybridIndex, query: str, key: str) -> None:
    assert top_key(faq_index, query) == key


@pytest.mark.parametrize(
    ("query", "key"),
    [
        ("社报卡丢了怎么补半", "shebao-card"),  # homophones, as speech recognition writes them
        ("公基金贷款额度怎么计算", "gjj-loan"),
        ("身分证过期了怎么换", "id-card"),
        ("驾使证到期换证要体检吗", "driving-licence"),
    ],
)
def test_typo_or_homophone_still_finds_it(faq_index: HybridIndex, query: str, key: str) -> None:
    assert top_key(faq_index, query) == key


def test_doc_scores_by_its_best_phrasing(model: object, tmp_path: Path) -> None:
    docs = [Doc(k, v) for k, v in FAQ.items() if k != "shebao-card"]
    good = "社保卡丢了怎么补办"
    docs += [Doc("only-good", [good]), Doc("good-and-noise", ["今天天气很好", "我想吃火锅", good])]
    index = HybridIndex(model, cache_dir=tmp_path)
    index.build(docs)
    hits = {h.key: h for h in index.search("社保卡丢了怎么办", k=5)}
    # Unrelated extra phrasings neither dilute nor add to a doc's score.
    assert hits["good-and-noise"].score == pytest.approx(hits["only-good"].score, abs=1e-6)
    assert hits["good-and-noise"].matched == good


def test_one_hit_per_key_best_first(faq_index: HybridIndex) -> None:
    hits = faq_index.search("公积金", k=100)
    keys = [h.key for h in hits]
    assert len(keys) == len(set(keys)) == len(FAQ)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert keys[0] in {"gjj-loan", "gjj-withdraw"}


def test_unrelated_query_scores_clearly_lower(faq_index: HybridIndex) -> None:
    related = faq_index.search("社保卡丢了去哪里补办", k=1)[0]
    unrelated = faq_index.search("给我讲个笑话吧", k=1)[0]
    assert related.key == "shebao-card"
    assert 0 <= unrelated.score < related.score - 0.3 <= 1
    assert faq_index.search("   ", k=3) == []


def test_rebuild_embeds_only_changed_texts(
    model: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoded: list[str] = []
    real = index_module.encode_passages

    def counting(model: object, texts: Sequence[str]) -> np.ndarray:
        encoded.extend(texts)
        return real(model, texts)

    monkeypatch.setattr(index_module, "encode_passages", counting)
    docs = [Doc(k, v) for k, v in list(FAQ.items())[:10]]
    HybridIndex(model, cache_dir=tmp_path).build(docs)
    assert len(encoded) == sum(len(d.texts) for d in docs)

    encoded.clear()
    docs[3] = Doc(docs[3].key, [docs[3].texts[0], "新增的一个相似问法"])
    index = HybridIndex(model, cache_dir=tmp_path)
    index.build(docs)
    assert encoded == ["新增的一个相似问法"]
    assert index.search("新增的一个相似问法", k=1)[0].key == docs[3].key


def test_float16_scan_gives_the_float32_results(
    faq_index: HybridIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large index scans float16 vectors; the best entries are rescored in float32, so the
    hits a citizen gets (keys, order, scores) are those of the float32 scan."""
    queries = ["公司三个月没发工资了", "楼下工地半夜施工吵得睡不着", "我想问问火星上能不能办社保"]
    full = [faq_index.search(q, k=5) for q in queries]
    monkeypatch.setattr(faq_index, "HALF_SCAN_FROM", 1)
    monkeypatch.setattr(faq_index, "EXACT_DOCS", 5)
    monkeypatch.setattr(faq_index, "_scan_vectors", None)
    half = [faq_index.search(q, k=5) for q in queries]
    assert faq_index._scan_vectors.dtype == torch.float16
    for a, b in zip(full, half, strict=True):
        assert [h.key for h in a] == [h.key for h in b]
        assert [h.score for h in a] == pytest.approx([h.score for h in b], abs=1e-6)


def test_bm25_matches_the_textbook_formula() -> None:
    texts = [["社保", "卡", "补办"], ["护照", "办理"], ["社保", "缴费", "社保"]]
    bm25 = SparseBM25(k1=1.2, b=0.75)
    bm25.fit(texts)
    scores, _ = bm25.scores(["社保"])
    n, df, avgdl = 3, 2, 8 / 3
    idf = np.log(1 + (n - df + 0.5) / (df + 0.5))
    expected = [
        idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * dl / avgdl)) for tf, dl in [(1, 3), (2, 3)]
    ]
    assert scores[[0, 2]] == pytest.approx(expected, rel=1e-5)
    assert scores[1] == 0


def test_tokenisers_drop_punctuation() -> None:
    assert "，" not in word_tokens("社保卡，丢了！")
    assert char_bigrams("社保卡，丢了") == ["社保", "保卡", "丢了"]
