from datetime import UTC, datetime

from workorders.citizen_view import confirmation, kind_of
from workorders.model import WorkOrder


def test_kind_from_the_citizens_words() -> None:
    assert kind_of("我要投诉物业乱收费") == "投诉"
    assert kind_of("举报有人偷排污水") == "举报"
    assert kind_of("建议学校门口加个红绿灯") == "建议"
    assert kind_of("表扬社区王主任") == "表扬"
    assert kind_of("小区路灯坏了") == "求助"


def test_on_the_phone_the_order_number_is_read_digit_by_digit() -> None:
    order = WorkOrder(number="20261122-0042", reply_due=datetime(2026, 11, 27, 9, 30, tzinfo=UTC))
    assert "工单号是20261122-0042。" in confirmation(order, "Asia/Shanghai")
    said = confirmation(order, "Asia/Shanghai", voice=True)
    assert "工单号是二零二六幺幺二二，零零四二。" in said
    assert "11月27日17:30前" in said
