"""Cases: objections, credit repair, correction and review requests, deadlines (cases/)."""

from typing import Final

TEXTS: Final[dict[str, tuple[str, str]]] = {
    "case.calendar_year": (
        "工作日历没有 {year} 年的节假日安排（现有 {first}–{last} 年）；"
        "请按国务院办公厅通知补入 cases/holidays.yaml",
        "the working-day calendar has no holidays for {year} (it covers {first}–{last}); add "
        "the State Council's notice to cases/holidays.yaml",
    ),
    "case.calendar_bad": (
        "节假日数据有误：{item}",
        "the holiday data is malformed: {item}",
    ),
    "case.fact_not_yours": (
        "事实 {fact} 不在您的档案中",
        "fact {fact} is not in your file",
    ),
    "case.fact_superseded": (
        "事实 {fact} 已被部门更正的新版本取代，不再计入评价",
        "fact {fact} was replaced by a department's corrected version and no longer counts",
    ),
    "case.already_open": (
        "事实 {fact} 已有一件同类申请正在办理，请等待其办结",
        "fact {fact} already has an open case of this kind; wait for it to close",
    ),
    "case.unknown": ("没有编号为 {case} 的案件", "there is no case {case}"),
    "case.not_negative": (
        "事实 {fact} 不是失信事件，无需信用修复",
        "fact {fact} is not a negative event; there is nothing to repair",
    ),
    "case.repair_too_early": (
        "该失信事件的最短公示期未满，{day} 起方可申请信用修复",
        "the event's minimum disclosure period is not over: repair may be applied for from {day}",
    ),
    "case.repair_expired": (
        "该失信事件已于 {day} 公示期满，自动不再计入，无需申请修复",
        "the event's disclosure period ended on {day}: it no longer counts, no repair is needed",
    ),
    "case.bad_outcome": (
        "处理结果“{outcome}”不适用于该案件（可选：{allowed}）",
        "outcome {outcome!r} does not apply to this case (allowed: {allowed})",
    ),
    "case.already_decided": (
        "案件 {case} 已经作出处理决定",
        "case {case} has already been decided",
    ),
    "case.not_decided": (
        "案件 {case} 尚未作出处理决定，不能办结",
        "case {case} has not been decided and cannot be closed",
    ),
    "case.corrected_value_required": (
        "处理结果为“更正”时须填写部门更正后的数值（corrected）",
        "an outcome of 'correct' needs the department's corrected value (corrected)",
    ),
    "case.overdue_raised": (
        "已对 {count} 件超期案件发出提醒",
        "{count} overdue cases alerted",
    ),
}
