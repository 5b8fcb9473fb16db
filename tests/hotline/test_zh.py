from datetime import date

from hotline.zh import format_date


def test_format_date() -> None:
    assert format_date(date(2026, 11, 22)) == "2026年11月22日，星期日"
    assert format_date(date(2026, 1, 5)) == "2026年1月5日，星期一"
