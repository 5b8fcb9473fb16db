"""智能派单: the out-of-box router, its gate, persistence, which router a process uses,
districts, emergencies and the CLI.

The e5 model is loaded once for the module and the table router trained once (into a temporary
cache), so the whole file runs in well under a minute once the model is on disk.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from hotline.settings import ModelPaths, Settings, model_paths
from workorders import router_cli
from workorders.config import WorkOrderConfig, default_config, load_config
from workorders.districts import resolve_district
from workorders.emergency import is_emergency
from workorders.router_calibration import Prediction, Thresholds, calibrate, gate
from workorders.router_model import Embedder, OutdatedRouterError, Router, RouterUnavailable
from workorders.router_source import (
    configured_router,
    process_router,
    router_state,
    table_folder,
    table_router,
)
from workorders.routing import route, table_examples

CACHE = model_paths().cache_dir


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    import torch

    torch.set_num_threads(1)  # other processes may be busy; 2 threads under contention crawl
    return Embedder(ModelPaths(None, CACHE))  # the e5 these tests are written for


@pytest.fixture(scope="module")
def cfg() -> WorkOrderConfig:
    return default_config()


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("router-cache")


@pytest.fixture(scope="module")
def router(cfg: WorkOrderConfig, embedder: Embedder, cache: Path) -> Router:
    """The table's router, trained into a temporary cache with the module's model."""
    return table_router(cfg, Embedder(ModelPaths(None, cache), model=embedder.model))


# ---------------------------------------------------------------------------------------------
# The out-of-box router


# Clearly worded requests that are NOT among the table's examples.
CLEAR = [
    ("我家门口那盏路灯不亮了，晚上出门看不见路", "城市管理"),
    ("工地干了两个月活，包工头一分工资都没结给我们", "劳动保障"),
    ("小区里的垃圾堆了好几天都没人拉走", "市容环卫"),
    ("整栋楼突然停电了，到现在还没恢复", "供电"),
    ("水龙头里流出来的水浑浊发黄", "水务"),
    ("电梯三天两头出故障，物业光收钱不办事", "物业管理"),
    ("孩子明年读一年级，户口在这边能上哪所小学", "教育"),
    ("路口红绿灯一直是黄灯闪，车和人都乱走", "公安交管"),
    ("想问问社保卡密码忘了怎么重置", "社会保险"),
    ("附近工厂一到晚上就往外排黑烟，呛得没法开窗", "生态环境"),
    ("在家打电话信号只有一格，老是听不清", "通信"),
    ("我家老人没收入，想问怎么申请最低生活保障", "民政"),
]


def test_table_trains_every_category(cfg: WorkOrderConfig, router: Router) -> None:
    texts, labels = table_examples(cfg)
    assert set(labels) == {c.name for c in cfg.categories} == set(router.labels)
    meta = router.metadata
    assert meta["training_data"]["size"] == len(texts)
    assert meta["embedding_model"] and meta["thresholds"] and meta["metrics"]["macro_f1"] > 0.7


@pytest.mark.parametrize(("text", "category"), CLEAR)
def test_clear_requests_go_to_their_category(router: Router, text: str, category: str) -> None:
    texts, _ = table_examples(default_config())
    assert text not in texts
    prediction = router.predict([text])[0]
    assert prediction.label == category, prediction.top3
    assert prediction.top3[0][0] == category and len(prediction.top3) == 3


def test_route_gives_the_department_and_the_district_unit(
    router: Router, cfg: WorkOrderConfig
) -> None:
    lamp = route("东湖路上的路灯晚上全都不亮", router, cfg)
    assert (lamp.category, lamp.district) == ("城市管理", "城东区")
    assert lamp.department == "城东区人民政府"  # 区县-level type, district known
    wages = route("公司拖欠工资半年了不给", router, cfg)
    assert (wages.category, wages.district) == ("劳动保障", None)
    assert wages.department == "市人力资源和社会保障局"  # no district: the 市直 department
    fire = route("楼下饭店着火了，烟好大", router, cfg)
    assert fire.emergency == "119" and fire.gate == "manual"


# ---------------------------------------------------------------------------------------------
# Gate


def test_gate_follows_the_thresholds() -> None:
    t = Thresholds(auto=0.8, confirm=0.5)

    def p(c: float) -> Prediction:
        return Prediction("供电", c, (("供电", c),))

    assert [gate(p(c), t) for c in (0.95, 0.8, 0.79, 0.5, 0.49)] == [
        "auto", "auto", "confirm", "confirm", "manual"
    ]  # fmt: skip
    assert gate(p(0.99), Thresholds(auto=None, confirm=None)) == "manual"


def test_router_gate_uses_its_calibrated_thresholds(router: Router) -> None:
    t = router.thresholds
    assert t.auto is not None and t.confirm is not None and t.confirm <= t.auto
    assert router.metadata["thresholds"]["auto"] == t.auto
    assert router.gate(Prediction("供电", t.auto, ())) == "auto"
    below = (t.confirm + t.auto) / 2 if t.confirm < t.auto else t.confirm
    assert router.gate(Prediction("供电", below, ())) in ("confirm", "auto")
    assert router.gate(Prediction("供电", t.confirm - 1e-6, ())) == "manual"


def test_calibration_meets_its_precision_targets() -> None:
    """Confidences drawn from Beta(5, 1) (most predictions confident, as in practice), each
    right with probability = its confidence; the true precision of a band is then the mean
    confidence inside it, measured on a large sample."""
    population = np.random.default_rng(99).beta(5, 1, 200_000)

    def true_precision(lo: float, hi: float = 1.0) -> float:
        return float(population[(population >= lo) & (population < hi + 1e-12)].mean())

    auto, band = [], []
    for seed in range(20):
        rng = np.random.default_rng(seed)
        conf = rng.beta(5, 1, 1000)
        t = calibrate(conf, rng.uniform(0, 1, 1000) < conf)
        assert t.auto is not None and t.confirm is not None and t.confirm < t.auto
        auto.append(true_precision(t.auto))
        band.append(true_precision(t.confirm, t.auto))
    # targets met on average and in most draws (lower bounds, not lucky point estimates) ...
    assert np.mean(auto) >= 0.95 and np.mean(np.array(auto) >= 0.95) >= 0.75
    assert np.mean(band) >= 0.70 and np.mean(np.array(band) >= 0.70) >= 0.75
    # ... without needless strictness
    assert np.mean(auto) < 0.97 and np.mean(band) < 0.8


def test_calibration_refuses_too_few_predictions() -> None:
    conf = np.linspace(1.0, 0.9, 10)
    assert calibrate(conf, np.ones(10, dtype=bool)) == Thresholds(auto=None, confirm=None)


# ---------------------------------------------------------------------------------------------
# Persistence


def test_router_and_knowledge_service_share_one_model(embedder: Embedder) -> None:
    from knowledge.decision import Thresholds as KbThresholds
    from knowledge.embedding_model import DEFAULT_MODEL
    from knowledge.service import KnowledgeService

    e5 = ModelPaths(None, CACHE)
    service = KnowledgeService("sqlite://", e5, KbThresholds(1.0, 1.0, 1.0))
    assert service.model is embedder.model  # one model per process, whoever loads it first
    by_id = Embedder(ModelPaths(DEFAULT_MODEL, CACHE))
    assert by_id.model is embedder.model  # the default, by its id
    assert service.encode(["路灯不亮"]).shape == (1, embedder.encode(["路灯不亮"]).shape[1])


def test_save_load_round_trip(router: Router, embedder: Embedder, tmp_path: Path) -> None:
    texts = [text for text, _ in CLEAR[:4]] + ["随便说点什么"]
    before = router.predict(texts)
    router.save(tmp_path / "model")
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == [
        "router.joblib",
        "router.json",
    ]
    loaded = Router.load(tmp_path / "model", embedder)
    after = loaded.predict(texts)
    assert [p.label for p in after] == [p.label for p in before]
    assert np.allclose([p.confidence for p in after], [p.confidence for p in before])
    assert loaded.thresholds == router.thresholds and loaded.labels == router.labels


def test_the_table_router_is_trained_once_into_its_cache(
    cfg: WorkOrderConfig,
    router: Router,
    embedder: Embedder,
    cache: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    paths = ModelPaths(None, cache)
    assert router.source == "table" and router.folder == table_folder(cfg, paths)
    assert router.folder.parent == cache / "router"
    monkeypatch.setattr(Router, "train", lambda *a, **k: pytest.fail("retrained"))
    again = table_router(cfg, Embedder(paths, model=embedder.model))
    assert again.labels == router.labels and again.thresholds == router.thresholds


def test_hotline_router_dir_selects_the_trained_router(
    cfg: WorkOrderConfig, router: Router, embedder: Embedder, tmp_path: Path
) -> None:
    folder = router.save(tmp_path / "trained")
    settings = Settings(var_dir=tmp_path, router_dir=folder)
    loaded = configured_router(settings, cfg, embedder)
    assert (loaded.source, loaded.folder) == ("trained", folder.resolve())
    assert loaded.labels == router.labels
    state = router_state(settings, cfg)
    assert state == {
        "status": "ok", "source": "trained", "path": str(folder.resolve()),
        "labels": len(router.labels), "loaded": False,
    }  # fmt: skip
    table = router_state(Settings(var_dir=tmp_path, cache_dir=tmp_path / "c"), cfg)
    assert (table["status"], table["source"], table["labels"]) == (
        "ok",
        "table",
        len(cfg.categories),
    )
    assert table["path"].startswith(str(tmp_path / "c" / "router"))


def test_a_missing_router_folder_is_an_error_not_the_table(
    cfg: WorkOrderConfig, tmp_path: Path
) -> None:
    settings = Settings(var_dir=tmp_path, router_dir=tmp_path / "no-such-router")
    with pytest.raises(RouterUnavailable, match="does not exist"):
        configured_router(settings, cfg)
    state = router_state(settings, cfg)
    assert state["status"] == "down" and state["source"] == "trained"
    assert "hotline router train --out" in state["error"]
    (tmp_path / "empty").mkdir()
    empty = Settings(var_dir=tmp_path, router_dir=tmp_path / "empty")
    with pytest.raises(RouterUnavailable, match="holds no trained router"):
        process_router(empty, cfg)
    assert "holds no trained router" in router_state(empty, cfg)["error"]


def test_a_router_of_an_earlier_format_must_be_retrained(
    cfg: WorkOrderConfig, router: Router, embedder: Embedder, tmp_path: Path
) -> None:
    folder = router.save(tmp_path / "trained")
    meta = json.loads((folder / "router.json").read_text(encoding="utf-8"))
    (folder / "router.json").write_text(json.dumps({**meta, "format_version": 1}))
    settings = Settings(var_dir=tmp_path, router_dir=folder)
    with pytest.raises(OutdatedRouterError, match="retrain it with `hotline router train`"):
        configured_router(settings, cfg, embedder)
    state = router_state(settings, cfg)
    assert state["status"] == "down" and "retrain" in state["error"]

    result = CliRunner().invoke(router_cli.app, ["predict", "路灯不亮", "--model", str(folder)])
    assert result.exit_code == 2 and "retrain" in result.output


def test_house_numbers_and_dates_do_not_change_the_category(router: Router) -> None:
    bare, numbered = router.predict(
        ["幸福路小区的路灯不亮了", "3月12日起幸福路18号小区A2栋的路灯不亮了"]
    )
    assert bare.label == numbered.label == "城市管理"


# ---------------------------------------------------------------------------------------------
# Districts


@pytest.mark.parametrize(
    ("address", "district"),
    [
        ("城东区幸福路12号", "城东区"),
        ("城西玉泉社区3栋", "城西区"),  # district name without 区
        ("东湖公园北门对面", "城东区"),
        ("南湖大道和解放路交叉口", "城南区"),
        ("经开区创业路8号", "经济开发区"),
        ("住在北关街道青松社区", "城北区"),
        ("市中心人民广场", None),
        ("", None),
    ],
)
def test_resolve_district(cfg: WorkOrderConfig, address: str, district: str | None) -> None:
    assert resolve_district(address, cfg) == district


def test_resolve_district_prefers_the_longest_name() -> None:
    cfg = load_config(overrides={"gazetteer": {"城东区": ["新华路"], "城西区": ["新华路口"]}})
    assert resolve_district("新华路口东侧", cfg) == "城西区"
    assert resolve_district("新华路88号", cfg) == "城东区"


# ---------------------------------------------------------------------------------------------
# Emergencies


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("我家厨房煤气漏了 味道好大", "119"),
        ("闻到一股天然气的味儿", "119"),
        ("燃起泄露了怎么办", "119"),  # ASR: 燃起 for 燃气
        ("着火了着火了快来人啊", "119"),
        ("我 家 着 火 了", "119"),  # ASR spacing
        ("对面楼冒黑烟好像烧起来了", "119"),
        ("楼下有个老人晕倒了叫不醒", "120"),
        ("我爸突然倒地不起口吐白沫", "120"),
        ("有人触电了倒在地上", "120"),
        ("我家娃被锁车里了车里好热", "119"),
        ("小孩掉到河里了", "119"),
        ("孩子走丢了找不到了", "110"),
        ("有个男的拿着刀在小区里追人", "110"),
        ("他说要弄死我我好怕", "110"),
        ("我老公又打我了", "110"),
        ("隔壁两口子在打架 女的一直在喊救命", "110"),
        ("水淹进屋里了老人出不来", "119"),
        ("电线断了掉在路上还在冒火花", "119"),
    ],
)
def test_emergencies_are_caught(text: str, number: str) -> None:
    assert is_emergency(text) == number


@pytest.mark.parametrize(
    "text",
    [
        "路灯不亮好几天了",
        "燃气费怎么涨了这么多",
        "天然气开户要带什么",
        "小区消防通道被车堵了，万一着火怎么办",
        "小区燃气管道有泄漏隐患，请派人检查",
        "楼下烧烤店油烟太大",
        "工厂烟囱冒浓烟污染空气",
        "施工围墙严重威胁行人安全",
        "晚上休息被打扰了",
        "推销电话一天打我手机十几次",
        "跳楼价清仓，商家虚假宣传",
        "我有心脏病，楼下广场舞太吵了",
        "辛辛苦苦流血流汗挣的钱被拖欠",
        "建议学校加强防溺水宣传",
        "下雨路面积水很深",
        "孩子今年考上大学 家里困难 助学贷款怎么申请",  # 困难 is not 困在
        "",
    ],
)
def test_ordinary_complaints_are_not_emergencies(text: str) -> None:
    assert is_emergency(text) is None


# ---------------------------------------------------------------------------------------------
# CLI


def _csv(path: Path, body: str, bom: bool = True) -> Path:
    path.write_text(("\ufeff" if bom else "") + body, encoding="utf-8")
    return path


TRAIN_CSV = """id,text,category
1,"路灯坏了
晚上很黑",城市管理
2,,城市管理
3,路边摆摊占道,城市管理
4,违章搭建没人管,城市管理
5,老板拖欠工资,劳动保障
6,公司不签劳动合同,
7,被辞退没有补偿,劳动保障
8,加班费不给,劳动保障
"""


def test_cli_train_reports_bad_rows_by_line_and_saves(
    embedder: Embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(router_cli, "_embedder", lambda: embedder)
    data = _csv(tmp_path / "orders.csv", TRAIN_CSV)
    out = tmp_path / "model"
    result = CliRunner().invoke(
        router_cli.app,
        ["train", "--csv", str(data), "--text-col", "text", "--label-col", "category",
         "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    # line 1 header, lines 2-3 the quoted two-line row, so the empty text is on line 4
    assert "orders.csv:4: missing text" in result.output
    assert "orders.csv:8: missing label" in result.output
    assert "macro-F1" in result.output and (out / "router.json").exists()
    unwrapped = "".join(result.output.splitlines())  # rich wraps long lines
    assert f"HOTLINE_ROUTER_DIR={out.resolve()}" in unwrapped  # how the app gets to use it

    # Without --model, the router the app would use: HOTLINE_ROUTER_DIR's (two labels only).
    monkeypatch.setattr(router_cli, "_settings", lambda: Settings(var_dir=tmp_path, router_dir=out))
    app_router = CliRunner().invoke(router_cli.app, ["predict", "路灯不亮"])
    assert app_router.exit_code == 0, app_router.output
    top3 = next(line for line in app_router.output.splitlines() if line.startswith("top3:"))
    assert top3.startswith("top3: 城市管理") and top3.count(",") == 1  # the table has 20 labels
    missing = Settings(var_dir=tmp_path, router_dir=tmp_path / "gone")
    monkeypatch.setattr(router_cli, "_settings", lambda: missing)
    refused = CliRunner().invoke(router_cli.app, ["predict", "路灯不亮"])
    assert refused.exit_code == 2 and "HOTLINE_ROUTER_DIR" in refused.output

    predicted = CliRunner().invoke(router_cli.app, ["predict", "公司欠我工资", "--model", str(out)])
    assert predicted.exit_code == 0, predicted.output
    assert "劳动保障" in predicted.output and "gate:" in predicted.output

    evaluated = CliRunner().invoke(
        router_cli.app,
        ["eval", "--csv", str(_csv(tmp_path / "test.csv", "text,cat\n工资没发,劳动保障\n", False)),
         "--text-col", "text", "--label-col", "cat", "--model", str(out)],
    )  # fmt: skip
    assert evaluated.exit_code == 0, evaluated.output
    assert "accuracy" in evaluated.output


def test_cli_rejects_a_missing_column(tmp_path: Path) -> None:
    data = _csv(tmp_path / "x.csv", "text,label\n路灯坏了,城市管理\n")
    result = CliRunner().invoke(
        router_cli.app, ["train", "--csv", str(data), "--text-col", "正文", "--label-col", "label"]
    )
    assert result.exit_code != 0 and "正文" in result.output
