"""Incentives: the catalogue, eligibility and department verification (incentives/)."""

from typing import Final

TEXTS: Final[dict[str, tuple[str, str]]] = {
    "incentive.not_money": (
        "“{value}”不是金额（元，最多两位小数）",
        "{value!r} is not an amount of money (yuan, at most two decimal places)",
    ),
    "incentive.money_places": (
        "金额 {value} 超过两位小数（精确到分）",
        "the amount {value} has more than two decimal places (fen are the smallest unit)",
    ),
    "incentive.money_negative": (
        "金额 {value} 不能为负数",
        "the amount {value} must not be negative",
    ),
    "incentive.duplicate": ("激励编号“{what}”重复出现", "incentive id {what!r} appears twice"),
    "incentive.unknown_grade": (
        "未知等级“{what}”，可用：{known}",
        "unknown grade {what!r}; known: {known}",
    ),
    "incentive.window": (
        "有效期开始日 {start} 晚于结束日 {end}",
        "the validity window starts ({start}) after it ends ({end})",
    ),
    "incentive.unknown_condition": (
        "未知的条件类型“{what}”，可用：{known}",
        "unknown condition kind {what!r}; known: {known}",
    ),
    "incentive.condition_needs": (
        "条件 {kind} 需要字段 {field}",
        "a {kind} condition needs the field {field}",
    ),
    "incentive.condition_extra": (
        "条件 {kind} 不使用字段 {field}",
        "a {kind} condition does not use the field {field}",
    ),
    "incentive.age_order": (
        "子女年龄下限 {low} 大于上限 {high}",
        "the child's minimum age {low} is above the maximum {high}",
    ),
    # Why a person does not qualify, and what would change it.
    "incentive.fails_grade": (
        "信用等级为 {grade}，本项激励需要 {needed}",
        "the grade is {grade}; this incentive needs {needed}",
    ),
    "incentive.fails_not_graded": (
        "尚无正式评价结果，本项激励需要等级 {needed}",
        "there is no official grade yet; this incentive needs {needed}",
    ),
    "incentive.fails_child_age": (
        "没有 {low} 至 {high} 周岁的子女",
        "no child aged {low} to {high}",
    ),
    "incentive.fails_region": (
        "户籍/居住类型为 {group}，本项激励限于 {needed}",
        "the region type is {group}; this incentive is for {needed}",
    ),
    "incentive.fails_occupation": (
        "职业不在本项激励的范围内（{needed}）",
        "the occupation is not among this incentive's ({needed})",
    ),
    "incentive.fails_window": (
        "本项激励的有效期为 {start} 至 {end}",
        "this incentive is offered from {start} to {end}",
    ),
    "incentive.change_grade": (
        "达到等级 {needed}：{actions}",
        "reach grade {needed}: {actions}",
    ),
    "incentive.change_grade_unreachable": (
        "达到等级 {needed}（目前没有可以立即完成的事项能达到）",
        "reach grade {needed} (no action available now reaches it)",
    ),
    "incentive.change_grade_path": (
        "达到等级 {needed}：{path}",
        "reach grade {needed}: {path}",
    ),
    "incentive.change_none": (
        "该条件取决于家庭或户籍情况，无法通过补办事项改变",
        "this condition depends on family or residence, not on an action that can be taken",
    ),
    "incentive.change_window": (
        "本项激励不在有效期内，无法申请",
        "this incentive is not offered now",
    ),
    # Department verification.
    "incentive.unknown": ("没有编号为“{what}”的激励", "there is no incentive {what!r}"),
    "incentive.not_registered": (
        "本部门未登记核验激励“{what}”",
        "this department is not registered to verify incentive {what!r}",
    ),
    "incentive.purpose": (
        "核验只能以 incentive_verification 为目的，而不是“{purpose}”",
        "a verification may only name the purpose incentive_verification, not {purpose!r}",
    ),
    "incentive.one_of": (
        "请提供 id_number 或 person_token 之一（只能一个）",
        "give exactly one of id_number and person_token",
    ),
    "incentive.bad_id": ("身份证号码无效", "the ID number is not valid"),
    "incentive.no_person": (
        "未找到此人（没有相应的一人一档）",
        "no such person (no person file matches)",
    ),
    "incentive.bad_token": (
        "该 person_token 不是本部门签发的",
        "this person_token was not issued to this department",
    ),
    "incentive.not_department": (
        "只有部门客户端可以核验激励",
        "only department clients verify incentives",
    ),
    "incentive.unknown_department": (
        "政策中没有激励由“{what}”提供，不能登记为核验部门",
        "no incentive of the policy is provided by {what!r}: it cannot be registered",
    ),
    "incentive.not_department_incentive": (
        "激励“{what}”不是部门“{department}”提供的",
        "incentive {what!r} is not provided by department {department!r}",
    ),
    "incentive.ambiguous": (
        "姓名与出生日期等信息对应多于一个人，或不足以确定一人",
        "the name, birth date and other details match no single person",
    ),
    "incentive.row_incomplete": (
        "本行既无有效身份证号码，也无可匹配的姓名和出生日期",
        "the row has neither a valid ID number nor a name and birth date to match",
    ),
    "incentive.batch_too_large": (
        "批量核验最多 {limit} 行",
        "a batch verification takes at most {limit} rows",
    ),
    "incentive.batch_line": (
        "第 {row} 行不是有效的 JSON 对象：{why}",
        "row {row} is not a valid JSON object: {why}",
    ),
}
