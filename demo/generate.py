"""A realistic generated history of a 12345 centre: orders across departments and categories
with their whole life cycle, and the conversations of the web and WeChat channels.

Pure generation (rows as dicts, in batches); demo/seed.py writes them. Deterministic for a
given seed. What is realistic here:
- volume follows the working week and the day (peaks at 9-11 and 14-17), grows slowly, and each
  category has its own season (供电/水务 in summer, 燃气 in winter);
- texts are the catalogue's own examples of citizens' wording (defaults.yml) at real places of
  the gazetteer, so hot topics and repeats are meaningful;
- life cycles: 当即办结 of most 咨询, dispatch, 退单 (4%), late 签收 (8%), 延期 (5%), late 反馈
  (12%), 回访 满意/基本满意/不满意, 重办 of the unsatisfied, and orders still open near the end;
- conversations: answered, clarified then answered, abstained (knowledge gaps), handed to an
  operator, or ending in an order.
Deadlines are the configuration's SLA clocks (workorders.sla) computed at the start of the
order's two-hour slot and shifted by the offset into it: exact rules, far fewer calendar
computations (a million orders would otherwise spend ten minutes in the calendar).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from workorders import sla
from workorders.config import WorkOrderConfig
from workorders.states import CREATED, Action, Role, Status

Row = dict[str, Any]
CENTRE = "中心:值班长"
SLOT = timedelta(hours=2)

KIND_WEIGHTS = {"投诉": 34, "咨询": 26, "求助": 20, "举报": 8, "建议": 10, "表扬": 2}
CHANNEL_WEIGHTS = {"voice": 55, "web": 20, "wechat": 20, "api": 5}
SUMMER, WINTER = {"供电", "水务", "生态环境"}, {"燃气", "住房建设"}
CONSULT = [
    "公积金怎么提取",
    "社保卡丢了怎么补办",
    "新生儿医保怎么办理",
    "居住证需要什么材料",
    "退休手续在哪里办",
    "失业金怎么领取",
    "不动产证多久能拿到",
    "孩子上学需要哪些证明",
]
GAPS = [
    "电动车上牌要预约吗",
    "狗证在哪里办",
    "外地驾照可以在本地换证吗",
    "新能源车充电桩能装在小区吗",
    "老年人乘公交免费吗",
    "宠物疫苗在哪里打",
    "灵活就业可以交公积金吗",
    "临时身份证多久能办好",
]


@dataclass
class Batch:
    orders: list[Row] = field(default_factory=list)
    events: list[Row] = field(default_factory=list)
    links: list[Row] = field(default_factory=list)
    turns: list[Row] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)


class Generator:
    def __init__(
        self,
        cfg: WorkOrderConfig,
        start: datetime,
        end: datetime,
        orders: int,
        seed: int = 12345,
        first_id: int = 1,
        first_event: int = 1,
    ) -> None:
        self.cfg, self.start, self.end, self.n = cfg, start, end, orders
        self.rng = random.Random(seed)
        self.next_id, self.next_event, self.next_link = first_id, first_event, 1
        cats = list(cfg.categories)
        # A long tail: the first categories of the catalogue are the common ones.
        self.categories = cats
        self.cat_weights = [1 / (i + 1) ** 0.8 for i in range(len(cats))]
        self.places = [(d, p) for d, names in cfg.gazetteer.items() for p in names]
        self.day_counter: dict[str, int] = {}
        self.recent_by_place: dict[str, tuple[int, str, datetime]] = {}
        self._clock = lru_cache(maxsize=None)(self._clock_at_slot)

    # --- time ---------------------------------------------------------------------------------

    def _moment(self, lo: datetime, hi: datetime) -> datetime:
        """A creation instant in [lo, hi): weekdays and office hours busier, and a slow growth
        over the whole period."""
        span = (hi - lo).total_seconds()
        whole = (self.end - self.start).total_seconds()
        while True:
            at = lo + timedelta(seconds=span * self.rng.random())
            local = at.astimezone(self.cfg.tz)
            weight = (0.45 if local.weekday() >= 5 else 1.0) * _hourly(local.hour)
            weight *= 0.8 + 0.2 * (at - self.start).total_seconds() / whole
            if self.rng.random() < weight:
                return at

    def _clock_at_slot(
        self, slot: datetime, name: str, kind: str, priority: str, category: str | None
    ) -> sla.Clock:
        if name == "sign":
            return sla.sign_clock(self.cfg, slot, priority)
        return sla.reply_clock(self.cfg, slot, kind, priority, category)

    def clock(
        self,
        at: datetime,
        name: str,
        kind: str = "",
        priority: str = "normal",
        category: str | None = None,
    ) -> sla.Clock:
        slot = self.start + ((at - self.start) // SLOT) * SLOT
        special = category if category in self.cfg.deadlines.reply.by_category else None
        c = self._clock(slot, name, kind, priority, special)
        shift = at - slot
        return sla.Clock(
            c.basis, c.started_at + shift, c.yellow_at + shift, c.orange_at + shift, c.due + shift
        )

    # --- one order ----------------------------------------------------------------------------

    def _category(self, created: datetime) -> Any:
        month = created.astimezone(self.cfg.tz).month
        weights = list(self.cat_weights)
        for i, c in enumerate(self.categories):
            if c.name in SUMMER and month in (6, 7, 8, 9):
                weights[i] *= 2.5
            if c.name in WINTER and month in (11, 12, 1, 2):
                weights[i] *= 2.5
        return self.rng.choices(self.categories, weights)[0]

    def _number(self, created: datetime, batch: Batch) -> str:
        day = created.astimezone(self.cfg.tz).strftime("%Y%m%d")
        n = self.day_counter.get(day, 0) + 1
        self.day_counter[day] = batch.counters[day] = n
        return f"{day}-{n:04d}"

    def order(self, batch: Batch, now: datetime, created: datetime) -> None:
        rng = self.rng
        cat = self._category(created)
        kind = rng.choices(list(KIND_WEIGHTS), list(KIND_WEIGHTS.values()))[0]
        channel = rng.choices(list(CHANNEL_WEIGHTS), list(CHANNEL_WEIGHTS.values()))[0]
        district, place = rng.choice(self.places) if self.places else (None, "")
        example = rng.choice(cat.examples) if cat.examples else f"{cat.name}方面的问题"
        where = rng.choice(("{p}附近，", "在{p}，", "{p}这边", "")).format(p=place)
        text = f"{where}{example}"
        oid = self.next_id
        self.next_id += 1
        conv = f"{channel}:demo{oid}" if channel in ("web", "wechat") else None
        reply = self.clock(created, "reply", kind, "normal", cat.name)
        o: Row = {
            "id": oid,
            "number": self._number(created, batch),
            "idempotency_key": None,
            "channel": channel,
            "citizen_name": rng.choice("张王李赵刘陈杨黄周吴") + "先生",
            "citizen_phone": f"13{rng.randint(0, 9)}{rng.randint(10_000_000, 99_999_999)}",
            "wechat_openid": None,
            "request_text": text,
            "summary": text[:100],
            "kind": kind,
            "category": cat.name,
            "department": None,
            "co_departments": [],
            "level": None,
            "district": district,
            "address": f"{district}{place}" if district else None,
            "priority": "normal",
            "status": Status.PENDING.value,
            "satisfaction": None,
            "conversation_id": conv,
            "merged_into": None,
            "redo_count": 0,
            "created_at": created,
            "updated_at": created,
            "dispatched_at": None,
            "signed_at": None,
            "replied_at": None,
            "closed_at": None,
            "visited_at": None,
        }
        _set_clock(o, "sign", None)
        _set_clock(o, "reply", reply)
        batch.orders.append(o)
        ev = _Events(self, batch, o)
        ev.add(
            created,
            f"市民:{channel}",
            Role.CITIZEN,
            CREATED,
            None,
            Status.PENDING,
            data={"channel": channel, "kind": kind},
        )
        if conv:
            self._conversation(batch, conv, channel, created, text)
        self._life(ev, o, cat, now)
        if district and place:
            key = f"{district}{place}{cat.name}"
            earlier = self.recent_by_place.get(key)
            if earlier and created - earlier[2] < timedelta(days=30) and rng.random() < 0.05:
                batch.links.append(
                    {
                        "order_id": oid,
                        "related_id": earlier[0],
                        "kind": "repeat",
                        "created_at": created,
                        "actor": "系统:repeats",
                    }
                )
            self.recent_by_place[key] = (oid, o["number"], created)

    def _life(self, ev: _Events, o: Row, cat: Any, now: datetime) -> None:
        rng, t = self.rng, o["created_at"]
        if o["kind"] == "咨询" and rng.random() < 0.6:  # 当即办结
            t += timedelta(minutes=rng.randint(2, 20))
            if t < now:
                o["closed_at"] = t
                ev.transition(
                    t,
                    CENTRE,
                    Role.CENTRE,
                    Action.CLOSE,
                    Status.CLOSED,
                    note="已当场答复",
                    data={"direct": True},
                )
            return
        t += timedelta(minutes=rng.randint(5, 90))
        unit = self.cfg.default_department(cat.name, o["district"])
        if rng.random() < 0.04 and t < now:  # 退单: routed to a wrong unit first
            wrong = rng.choice(sorted(self.cfg.all_departments - {unit}))
            self._dispatch(ev, o, wrong, t)
            t += timedelta(minutes=rng.randint(20, 240))
            if t >= now:
                return
            ev.transition(
                t,
                f"部门:{wrong}",
                Role.DEPARTMENT,
                Action.RETURN,
                Status.RETURN_PENDING,
                note="不属于本单位职责",
                data={"returned_from": wrong},
            )
            t += timedelta(minutes=rng.randint(10, 120))  # the centre reviews the return
            if t >= now:
                return
            o.update(department=None, level=None, signed_at=None)
            _set_clock(o, "sign", None)
            ev.transition(
                t,
                CENTRE,
                Role.CENTRE,
                Action.APPROVE_RETURN,
                Status.PENDING,
                data={"returned_from": wrong},
            )
            t += timedelta(minutes=rng.randint(10, 120))
        for _round in range(2):
            if t >= now:
                return
            if _round == 0:
                self._dispatch(ev, o, unit, t)
            if not self._work(ev, o, t, now):
                return
            if o["satisfaction"] != "不满意":
                return
            t = o["visited_at"] + timedelta(hours=rng.randint(1, 24))  # 重办
            if t >= now:
                return
            o.update(
                redo_count=o["redo_count"] + 1,
                satisfaction=None,
                signed_at=None,
                replied_at=None,
                closed_at=None,
                visited_at=None,
                dispatched_at=t,
            )
            _set_clock(o, "sign", self.clock(t, "sign"))
            _set_clock(o, "reply", self.clock(t, "reply", o["kind"], "normal", o["category"]))
            ev.transition(
                t,
                CENTRE,
                Role.CENTRE,
                Action.REDO,
                Status.DISPATCHED,
                note="市民不满意，重新办理",
                data={"redo_count": o["redo_count"]},
            )

    def _dispatch(self, ev: _Events, o: Row, unit: str, t: datetime) -> None:
        o.update(department=unit, level=self.cfg.level_of(unit), dispatched_at=t)
        _set_clock(o, "sign", self.clock(t, "sign"))
        ev.transition(
            t,
            CENTRE,
            Role.CENTRE,
            Action.DISPATCH,
            Status.DISPATCHED,
            data={"department": unit, "category": o["category"]},
        )

    def _work(self, ev: _Events, o: Row, t: datetime, now: datetime) -> bool:
        """签收 → 办理 → (延期) → 反馈 → 办结 → 回访; False when `now` comes first."""
        rng, unit = self.rng, f"部门:{o['department']}"
        sign_due, reply_due = o["sign_due"], o["reply_due"]
        span = sign_due - t
        t = t + span * (rng.uniform(1.05, 3) if rng.random() < 0.08 else rng.uniform(0.05, 0.9))
        if t >= now:
            return False
        o["signed_at"] = t
        ev.transition(
            t, unit, Role.DEPARTMENT, Action.SIGN, Status.SIGNED, data={"on_time": t <= sign_due}
        )
        t += timedelta(minutes=rng.randint(5, 240))
        if t >= now:
            return False
        ev.transition(t, unit, Role.DEPARTMENT, Action.START, Status.IN_PROGRESS)
        if rng.random() < 0.05:  # 延期: asked and (mostly) approved
            ask = t + (reply_due - t) * 0.5
            if ask >= now:
                return False
            ev.transition(
                ask,
                unit,
                Role.DEPARTMENT,
                Action.REQUEST_EXTENSION,
                Status.EXTENSION_PENDING,
                note="需协调多部门",
                data={"days": 5},
            )
            ok = rng.random() < 0.8
            ev.transition(
                ask + timedelta(hours=2),
                CENTRE,
                Role.CENTRE,
                Action.APPROVE_EXTENSION if ok else Action.REFUSE_EXTENSION,
                Status.IN_PROGRESS,
            )
            if ok:
                reply_due = reply_due + timedelta(days=7)
                o.update(reply_due=reply_due, reply_orange_at=reply_due - timedelta(days=2))
        span = reply_due - o["reply_started_at"]
        share = rng.uniform(1.02, 1.6) if rng.random() < 0.12 else rng.uniform(0.1, 0.95)
        t = max(o["reply_started_at"] + span * share, t + timedelta(minutes=30))
        if t >= now:
            return False
        o["replied_at"] = t
        ev.transition(
            t,
            unit,
            Role.DEPARTMENT,
            Action.FEEDBACK,
            Status.REPLIED,
            note="已办理",
            data={"on_time": t <= reply_due},
        )
        t += timedelta(hours=rng.uniform(0.5, 20))
        if t >= now:
            return False
        o["closed_at"] = t
        ev.transition(t, CENTRE, Role.CENTRE, Action.CLOSE, Status.CLOSED, data={"direct": False})
        t += timedelta(hours=rng.uniform(2, 72))
        if t >= now or rng.random() < 0.08:  # some are never reached for 回访
            return False
        late = o["replied_at"] > reply_due
        bad = 0.25 if late else 0.06
        rating = rng.choices(["满意", "基本满意", "不满意"], [0.82 - bad, 0.18, bad])[0]
        o.update(satisfaction=rating, visited_at=t)
        ev.transition(
            t, CENTRE, Role.CENTRE, Action.VISIT, Status.VISITED, data={"satisfaction": rating}
        )
        return True

    # --- conversations ------------------------------------------------------------------------

    def _conversation(self, batch: Batch, conv: str, channel: str, at: datetime, text: str) -> None:
        sender = conv.split(":", 1)[1]
        batch.turns.append(
            _turn(conv, channel, sender, at - timedelta(minutes=3), text, "order_draft")
        )

    def contact(self, batch: Batch, at: datetime) -> None:
        """A conversation that made no order: answered, clarified, abstained or handed over."""
        rng = self.rng
        channel = rng.choice(["web", "wechat"])
        sender = f"c{rng.getrandbits(40):x}"
        conv = f"{channel}:{sender}"
        r = rng.random()
        if r < 0.62:
            batch.turns.append(_turn(conv, channel, sender, at, rng.choice(CONSULT), "answer"))
        elif r < 0.77:
            batch.turns.append(_turn(conv, channel, sender, at, rng.choice(CONSULT)[:4], "clarify"))
            batch.turns.append(
                _turn(conv, channel, sender, at + timedelta(seconds=20), "第一个", "answer")
            )
        elif r < 0.93:
            batch.turns.append(_turn(conv, channel, sender, at, rng.choice(GAPS), "abstain"))
        else:
            batch.turns.append(_turn(conv, channel, sender, at, rng.choice(GAPS), "abstain"))
            batch.turns.append(
                _turn(
                    conv,
                    channel,
                    sender,
                    at + timedelta(seconds=30),
                    "转人工",
                    "handoff",
                    state="human",
                )
            )
            reply = _turn(conv, channel, sender, at + timedelta(minutes=2), "", None, state="human")
            reply["operator"] = "op1"
            batch.turns.append(reply)

    def batches(self, now: datetime, size: int = 20_000, contacts: float = 0.5) -> Iterator[Batch]:
        """`self.n` orders and about `contacts` × that many order-less conversations, in time
        order: each batch covers its share of the period (numbers rise with time, as the
        store's counter makes them, and index inserts mostly append)."""
        count = -(-self.n // size)
        span = (self.end - self.start) / count
        for k in range(count):
            lo, hi = self.start + span * k, self.start + span * (k + 1)
            n = min(size, self.n - k * size)
            batch = Batch()
            for created in sorted(self._moment(lo, hi) for _ in range(n)):
                self.order(batch, now, created)
                if self.rng.random() < contacts:
                    self.contact(batch, created + timedelta(minutes=self.rng.randint(1, 90)))
            yield batch


class _Events:
    """The timeline of one order, with seq numbers, kept in step with its status."""

    def __init__(self, gen: Generator, batch: Batch, order: Row) -> None:
        self.gen, self.batch, self.order, self.seq = gen, batch, order, 0

    def add(
        self,
        at: datetime,
        actor: str,
        role: Role,
        action: str,
        before: Status | None,
        after: Status | None,
        note: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        self.seq += 1
        self.batch.events.append(
            {
                "id": self.gen.next_event,
                "order_id": self.order["id"],
                "seq": self.seq,
                "at": at,
                "actor": actor,
                "actor_role": role.value,
                "action": str(action),
                "from_status": before.value if before else None,
                "to_status": after.value if after else None,
                "note": note,
                "data": data or {},
            }
        )
        self.gen.next_event += 1

    def transition(
        self,
        at: datetime,
        actor: str,
        role: Role,
        action: Action,
        to: Status,
        note: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        before = Status(self.order["status"])
        self.order["status"], self.order["updated_at"] = to.value, at
        self.add(at, actor, role, action, before, to, note, data)


def _set_clock(o: Row, name: str, clock: sla.Clock | None) -> None:
    values = (
        (clock.basis, clock.started_at, clock.yellow_at, clock.orange_at, clock.due)
        if clock
        else (None,) * 5
    )
    for suffix, value in zip(
        ("basis", "started_at", "yellow_at", "orange_at", "due"), values, strict=True
    ):
        o[f"{name}_{suffix}"] = value


def _turn(
    conv: str,
    channel: str,
    sender: str,
    at: datetime,
    text: str,
    kind: str | None,
    state: str = "bot",
) -> Row:
    return {
        "conversation_id": conv,
        "channel": channel,
        "sender": sender,
        "user_text": text,
        "bot_replies": [{"text": "（示例回复）", "buttons": []}],
        "intent": None,
        "confidence": None,
        "state": state,
        "error": None,
        "metadata": {"triage": {"kind": kind, "handoff": kind == "handoff"}} if kind else {},
        "received_at": at.astimezone(UTC),
        "replied_at": at.astimezone(UTC) + timedelta(seconds=1),
        "latency_ms": 1000,
        "operator": None,
    }


def _hourly(hour: int) -> float:
    if 9 <= hour <= 11 or 14 <= hour <= 17:
        return 1.0
    if 7 <= hour <= 21:
        return 0.55
    return 0.08
