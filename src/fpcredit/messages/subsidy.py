"""Subsidy rolls (incentives/subsidy.py, `fpcredit subsidy roll`)."""

from typing import Final

TEXTS: Final[dict[str, tuple[str, str]]] = {
    "subsidy.not_money": (
        "{what} 不是以元为单位、最多两位小数的金额：{value}",
        "{what} is not an amount in yuan with at most two decimal places: {value}",
    ),
    "subsidy.not_positive": (
        "{what} 须为正数（预算可为 0）：{value}",
        "{what} must be positive (a budget may be 0): {value}",
    ),
    "subsidy.not_valid": (
        "激励项目 {incentive} 在 {period} 不在有效期内（{start} 至 {end}）",
        "incentive {incentive} is not offered on {period} (valid {start} to {end})",
    ),
    "subsidy.incentive_unknown": (
        "现行政策的激励目录中没有 {incentive}；已有：{known}",
        "the active policy's catalogue has no incentive {incentive}; it has: {known}",
    ),
    "subsidy.period_bad": (
        "期间应为评价日期 YYYY-MM-DD，或 YYYY-MM（该月最后一天）：{value}",
        "a period is an evaluation date, YYYY-MM-DD, or YYYY-MM (the month's last day): {value}",
    ),
    "subsidy.written": (
        "补贴名册（评价 {evaluation_id}，{period}，{incentive}）→ {path}\n"
        "  发放 {paid_persons} 人，合计 {total} 元"
        "（预算 {budget} 元，每人 {amount_per_person} 元）\n"
        "  异议待决暂缓 {held_persons} 人，预留 {held} 元；"
        "预算不足未发放 {unfunded_persons} 人\n"
        "  文件 SHA-256：{sha256}",
        "subsidy roll (evaluation {evaluation_id}, {period}, {incentive}) → {path}\n"
        "  paid {paid_persons} persons, {total} yuan in all (budget {budget} yuan, "
        "{amount_per_person} yuan each)\n"
        "  held for an open objection {held_persons} persons, {held} yuan reserved; "
        "unfunded {unfunded_persons} persons\n"
        "  file SHA-256: {sha256}",
    ),
}
