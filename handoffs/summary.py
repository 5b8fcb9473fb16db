"""The summary an operator reads in five seconds: what the citizen wants, what the bot tried
(knowledge hits, the order draft and the fields collected), the channel and the phone (masked)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from hotline.zh import CHANNEL_LABELS
from workorders.model import mask_phone, mask_text

REASON_LABELS = {
    "asked": "市民要求转人工",
    "misunderstood": "连续两次没听懂",
    "dtmf_0": "来电按0转人工",
    "emergency": "紧急情况",
    "anger": "市民情绪激动",
    "abuse": "市民言语辱骂",
    "undelivered": "回复未能送达",
}
FIELD_LABELS = {"wo_what": "诉求", "wo_where": "地点", "wo_when": "时间", "wo_name": "称呼",
                "wo_phone": "电话"}  # fmt: skip


@dataclass
class Summary:
    wants: str  # the citizen's words that led here (phones masked)
    reason: str
    channel: str
    phone: str = ""  # masked
    kb_hits: list[str] = field(default_factory=list)  # titles of the entries tried
    order_draft: dict[str, str] = field(default_factory=dict)  # field label → value (masked)
    order_number: str | None = None
    said: list[str] = field(default_factory=list)  # the citizen's last messages

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["line"] = self.line()
        return data

    def line(self) -> str:
        """One line for the queue: 网页 · 市民要求转人工 · 想问…"""
        parts = [
            CHANNEL_LABELS.get(self.channel, self.channel),
            REASON_LABELS.get(self.reason, self.reason),
            f"诉求：{self.wants or '（未说明）'}",
        ]
        if self.kb_hits:
            parts.append("已答：" + "、".join(self.kb_hits[:2]))
        if self.order_draft:
            parts.append("草稿：" + "，".join(f"{k}{v}" for k, v in self.order_draft.items()))
        if self.phone:
            parts.append(f"电话{self.phone}")
        return " · ".join(parts)


def build(
    *,
    said: list[str],
    reason: str,
    channel: str,
    phone: str | None = None,
    kb_hits: list[str] | None = None,
    slots: dict[str, Any] | None = None,
    order_number: str | None = None,
    wants: str | None = None,
) -> Summary:
    """The summary from what the bot knows: the citizen's recent messages, what they want (by
    default the last message; the caller knows better when that was only 转人工), knowledge
    titles tried, the form's slots. Phones are masked wherever they appear."""
    masked = [mask_text(t) for t in said if t]
    draft = {}
    for slot, label in FIELD_LABELS.items():
        value = (slots or {}).get(slot)
        if value:
            draft[label] = mask_phone(str(value)) if slot == "wo_phone" else mask_text(str(value))
    wants = mask_text(wants) if wants is not None else (masked[-1] if masked else "")
    return Summary(wants=wants, reason=reason, channel=channel, phone=mask_phone(phone),
                   kb_hits=list(kb_hits or []), order_draft=draft, order_number=order_number,
                   said=masked)  # fmt: skip
