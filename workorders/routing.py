"""One call for a channel or the dialogue: `route` (category, department, district, gate and
the emergency flag of a request), and the emergency rules (110/119/120), checked before any
routing.

The router itself lives in workorders/router_model.py (model), router_calibration.py (gate),
router_source.py (which router: trained folder or table) and districts.py; its names stay
importable from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from workorders.config import WorkOrderConfig
from workorders.districts import resolve_district
from workorders.emergency import is_emergency
from workorders.router_calibration import (
    Gate,
    Prediction,
    Thresholds,
    TrainReport,
    calibrate,
    evaluate,
    gate,
)

# Names that used to be defined here: other parts and saved routers import them from this module.
# The private ones are named by routers pickled before the split (router.joblib refers to
# workorders.routing._Model and the vectorisers' preprocessors); keep them while such folders may
# exist.
from workorders.router_model import (  # noqa: F401
    EMBED_CHARS,
    FORMAT_VERSION,
    META_FILE,
    MODEL_FILE,
    Embedder,
    OutdatedRouterError,
    Router,
    RouterUnavailable,
    _head_text,
    _Model,
    _ngram_text,
    _words,
    normalise,
)
from workorders.router_source import table_examples

__all__ = [
    "EMBED_CHARS",
    "FORMAT_VERSION",
    "META_FILE",
    "MODEL_FILE",
    "Embedder",
    "Gate",
    "OutdatedRouterError",
    "Prediction",
    "Router",
    "RouterUnavailable",
    "Routing",
    "Thresholds",
    "TrainReport",
    "calibrate",
    "evaluate",
    "gate",
    "normalise",
    "resolve_district",
    "route",
    "table_examples",
]

# ---------------------------------------------------------------------------------------------
# One call for a channel or the dialogue


@dataclass(frozen=True)
class Routing:
    category: str  # the router's label
    department: str | None  # None when the label is not a category of the configuration
    district: str | None
    gate: Gate
    confidence: float
    top3: tuple[tuple[str, float], ...]
    emergency: str | None  # 110/119/120: tell the caller at once; the order is flagged


def route(
    text: str,
    router: Router,
    config: WorkOrderConfig,
    address: str | None = None,
    district: str | None = None,
) -> Routing:
    """Category, department (the district's unit for 区县-level types) and gate of a request.

    `district`, when the channel knows it, wins over the one found in the address or text.
    An emergency always goes to a person, whatever the classifier's confidence.
    """
    emergency = is_emergency(text)
    prediction = router.predict([text])[0]
    known = prediction.label in config.category_by_name
    district = district or resolve_district(address, config) or resolve_district(text, config)
    department = config.default_department(prediction.label, district) if known else None
    decided = router.gate(prediction) if known else "manual"
    return Routing(
        category=prediction.label,
        department=department,
        district=district,
        gate="manual" if emergency else decided,
        confidence=prediction.confidence,
        top3=prediction.top3,
        emergency=emergency,
    )
