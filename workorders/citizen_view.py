"""What a citizen is told about a work order, in plain Chinese: its kind from their words, the
confirmation after creation, and the state with its last step for a status query."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from hotline.numbers import number_aloud
from workorders.model import WorkOrder, WorkOrderEvent
from workorders.states import Status

# Order matters: the first match wins ("投诉举报" is a complaint, "表扬建议" praise).
_KINDS = [
    ("表扬", ("表扬", "感谢", "点赞", "锦旗", "夸", "服务很好", "态度很好")),
    ("举报", ("举报", "检举", "揭发", "偷排", "非法", "违法", "造假", "传销", "诈骗")),
    ("投诉", ("投诉", "反映", "不作为", "乱收费", "态度差", "扰民", "拖欠", "欠薪", "不给退")),
    ("建议", ("建议", "提议", "希望增加", "能不能增设", "意见")),
]

_PLAIN = {
    Status.PENDING: "已受理，正在分派给负责的部门",
    Status.DISPATCHED: "已转交{department}，等待部门签收",
    Status.SIGNED: "{department}已签收，正在处理",
    Status.IN_PROGRESS: "{department}正在办理",
    Status.EXTENSION_PENDING: "{department}正在办理，已申请延长办理时间",
    Status.RETURN_PENDING: "已受理，正在核定负责的部门",
    Status.REPLIED: "{department}已答复，等待中心审核办结",
    Status.CLOSED: "已办结",
    Status.VISITED: "已办结并完成回访",
    Status.MERGED: "已与同一问题的工单{merged_into}合并办理",
}


def kind_of(text: str) -> str:
    """咨询/求助/投诉/举报/建议/表扬 from the citizen's words; 求助 when nothing says otherwise."""
    for kind, words in _KINDS:
        if any(w in text for w in words):
            return kind
    return "求助"


def local_time(value: datetime, timezone: str) -> str:
    """'11月27日17:30' in the centre's timezone."""
    t = value.astimezone(ZoneInfo(timezone))
    return f"{t.month}月{t.day}日{t:%H:%M}"


def confirmation(order: WorkOrder, timezone: str, voice: bool = False) -> str:
    number = number_aloud(order.number) if voice else order.number
    text = f"您的诉求已登记，工单号是{number}。"
    if order.reply_due:
        text += f"相关部门将在{local_time(order.reply_due, timezone)}前答复您。"
    return text + "您可以随时凭工单号查询办理进度。"


def status_line(
    order: WorkOrder, events: list[WorkOrderEvent], timezone: str, voice: bool = False
) -> str:
    """The order's state and its last step, e.g. 'X部门已于11月22日10:30签收，正在处理'."""
    status = Status(order.status)
    state = _PLAIN[status].format(
        department=order.department or "相关部门", merged_into=order.merged_into or ""
    )
    number = number_aloud(order.number) if voice else order.number
    text = f"工单{number}（{order.summary}）：{state}。"
    last = next((e for e in reversed(events) if e.to_status or e.action), None)
    if last is not None and status not in (Status.PENDING,):
        text += f"最近一步：{local_time(last.at, timezone)}{last.action}。"
    if status in (Status.REPLIED, Status.CLOSED, Status.VISITED):
        reply = next((e.note for e in reversed(events) if e.action == "反馈" and e.note), None)
        if reply:
            text += f"答复内容：{reply}"
    return text
