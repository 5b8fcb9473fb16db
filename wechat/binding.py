"""A phone number bound to a WeChat openid (绑定手机), so orders made by phone show under 查询工单.

Proof that the phone is the citizen's: an order number together with the phone given when that
order was filed (both are on the confirmation the citizen got, by phone or SMS). Nothing else
is sent anywhere, so no SMS provider is needed and no code can leak through a log. Guessing is
limited: after FAILURES_PER_DAY failed attempts in 24 h for an openid, or for a phone number
(whoever tries it), further attempts are refused, so knowing someone's number does not let an
account walk the order numbers of a day. An openid holds at most MAX_PHONES numbers.
docs/wechat.md ("Binding a phone") says why this proof was chosen over an SMS code.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import BigInteger, Boolean, DateTime, Integer, String, delete, func, select
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db import Base, session_scope
from hotline.numbers import InvalidPhone, canonical_order_number, canonical_phone
from workorders import store

FAILURES_PER_DAY = 5
MAX_PHONES = 3
WINDOW = timedelta(hours=24)


class WechatPhoneBinding(Base):
    __tablename__ = "wechat_phone_bindings"

    openid: Mapped[str] = mapped_column(String(64), primary_key=True)
    phone: Mapped[str] = mapped_column(String(32), primary_key=True)
    proof: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WechatBindAttempt(Base):
    __tablename__ = "wechat_bind_attempts"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    openid: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(32))
    ok: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


Outcome = Literal["bound", "no_match", "too_many", "full", "malformed"]


@dataclass(frozen=True)
class Request:
    """What the citizen sent: 绑定手机 <order number> <phone>, or 解除绑定."""

    unbind: bool
    order_number: str | None = None
    phone: str | None = None


_BIND = re.compile(r"^绑定(手机|电话|号码)")
_UNBIND = re.compile(r"^(解除绑定|解绑|取消绑定)")
_ORDER = re.compile(r"(?<!\d)20\d{6}-?\d{4}(?!\d)")
_PHONE = re.compile(r"(?<!\d)(1[3-9]\d(?:[ -]?\d{4}){2}|0\d{2,3}-?\d{7,8})(?!\d)")


def request_of(text: str) -> Request | None:
    """The binding request in a message, None when the message is not one."""
    text = unicodedata.normalize("NFKC", text).strip()
    if _UNBIND.match(text):
        return Request(unbind=True)
    number = _ORDER.search(text)
    if not (_BIND.match(text) or (text.startswith("绑定") and number)):
        return None  # 绑定社保卡怎么办 is a question for the bot
    rest = text.replace(number.group(), " ") if number else text
    phone = _PHONE.search(rest)
    return Request(False, canonical_order_number(number.group()) if number else None,
                   phone.group() if phone else None)  # fmt: skip


def _failures(url: str, now: datetime, **who: str) -> int:
    (column, value), = who.items()  # fmt: skip
    with session_scope(url) as session:
        count = session.scalar(
            select(func.count()).where(
                getattr(WechatBindAttempt, column) == value,
                WechatBindAttempt.ok.is_(False),
                WechatBindAttempt.at >= now - WINDOW,
            )
        )
    return int(count or 0)


def bind(url: str, openid: str, order_number: str | None, raw_phone: str | None,
         now: datetime | None = None) -> Outcome:  # fmt: skip
    """Bind the phone if the order was filed with it. An unknown order and a wrong phone give
    the same answer (no_match), so an attempt tells nothing about other citizens' orders."""
    now = now or datetime.now(UTC)
    try:
        phone = canonical_phone(raw_phone or "")
    except InvalidPhone:
        return "malformed"
    if not order_number:
        return "malformed"
    if (_failures(url, now, openid=openid) >= FAILURES_PER_DAY
            or _failures(url, now, phone=phone) >= FAILURES_PER_DAY):  # fmt: skip
        return "too_many"
    try:
        order = store.get(url, order_number)
        ok = order.citizen_phone == phone
    except store.WorkOrderError:
        ok = False
    mine = phones_of(url, openid)
    with session_scope(url) as session:
        session.add(WechatBindAttempt(openid=openid, phone=phone, ok=ok, at=now))
        if ok and phone not in mine:
            if len(mine) >= MAX_PHONES:
                return "full"
            proof = f"order:{order_number}"
            session.add(WechatPhoneBinding(openid=openid, phone=phone, proof=proof, created_at=now))
    return "bound" if ok else "no_match"


def phones_of(url: str, openid: str) -> list[str]:
    with session_scope(url) as session:
        stmt = select(WechatPhoneBinding.phone).where(WechatPhoneBinding.openid == openid)
        return list(session.scalars(stmt.order_by(WechatPhoneBinding.created_at)))


def unbind(url: str, openid: str) -> int:
    """Remove every phone bound to the openid; how many."""
    with session_scope(url) as session:
        result = session.execute(
            delete(WechatPhoneBinding).where(WechatPhoneBinding.openid == openid)
        )
        return int(getattr(result, "rowcount", 0) or 0)
