from workorders.citizen_view import kind_of, spoken_number


def test_kind_from_the_citizens_words() -> None:
    assert kind_of("我要投诉物业乱收费") == "投诉"
    assert kind_of("举报有人偷排污水") == "举报"
    assert kind_of("建议学校门口加个红绿灯") == "建议"
    assert kind_of("表扬社区王主任") == "表扬"
    assert kind_of("小区路灯坏了") == "求助"


def test_numbers_are_read_digit_by_digit() -> None:
    assert spoken_number("20261122-0042") == "二零二六一一二二 零零四二"
