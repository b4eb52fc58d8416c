"""Masking (R28, docs/keys.md "Masking"): a month that is not over is not shown."""

from typing import Final

TEXTS: Final[dict[str, tuple[str, str]]] = {
    "mask.month_not_over": (
        "脱敏视图只显示已结束月份的日期：{day} 所在月份尚未结束"
        "（可选更早的评价日期，或申请查看明文）",
        "a masked view shows dates of months that are over only, and the month of {day} is not "
        "(ask for an earlier evaluation date, or for a reveal)",
    ),
}
