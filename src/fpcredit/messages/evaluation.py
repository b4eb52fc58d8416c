"""Evaluations, explanations, what would raise a grade (evaluate/; docs/policy.md)."""

from typing import Final

TEXTS: Final[dict[str, tuple[str, str]]] = {
    "evaluation.file_altered": (
        "评价 {id} 的结果文件已被改动（与留痕中记录的 SHA-256 不符），拒绝使用",
        "the results file of evaluation {id} was changed (its SHA-256 is not the one on the "
        "trail); refused",
    ),
    "evaluation.row_altered": (
        "评价 {id} 的记录与留痕不符（在平台之外被修改），拒绝使用",
        "the record of evaluation {id} no longer matches the trail (changed outside fpcredit); "
        "refused",
    ),
    "evaluation.missing": (
        "没有 {as_of} 的评价结果，请先运行 `fpcredit evaluate --as-of {as_of}`",
        "no evaluation as of {as_of}; run `fpcredit evaluate --as-of {as_of}` first",
    ),
    "evaluation.file_missing": (
        "评价结果文件 {path} 不存在（FPCREDIT_HOME 是否正确？）",
        "the evaluation's result file {path} is missing (is FPCREDIT_HOME right?)",
    ),
    "evaluation.future_as_of": (
        "评价日期 {day} 尚未到来（今天是 {today}）：只能按今天或以前的日期评价",
        "{day} has not come yet (today is {today}): evaluate as of today or an earlier day",
    ),
    "evaluation.explain_no_person": (
        "人员索引中没有人员 {person}",
        "no person {person} in the person index",
    ),
    "evaluation.explain_not_evaluated": (
        "人员 {person} 在 {day} 不参加评价（未满评价年龄，或当时尚无其记录）",
        "person {person} is not evaluated on {day} (under the evaluation age, or not yet known)",
    ),
    "evaluation.action_count": ("再完成 {n} 次{kind}", "take up {kind} {n} more time(s)"),
    "evaluation.action_measure": (
        "落实避孕节育措施（{code}）",
        "take up a contraception measure ({code})",
    ),
    "evaluation.action_schedule": (
        "为 {birth} 出生的子女完成 {what} 第 {n} 次（{months} 月龄应完成）",
        "complete {what} no. {n} for the child born {birth} (due at {months} months)",
    ),
    "evaluation.action_payment": (
        "补缴 {period} 的生育保险",
        "pay the maternity insurance for {period}",
    ),
    "evaluation.action_repair": (
        "就 {day} 的信用事件申请信用修复（已过最短公示期）",
        "apply for credit repair of the event of {day} (its minimum disclosure period has passed)",
    ),
    "evaluation.path": (
        "如无其他变化，自 {day} 起「{names}」不再拉低您的得分，届时您的等级为 {grade}",
        "if nothing else changes, from {day} these stop lowering your score: {names}; your grade"
        " is then {grade}",
    ),
    "evaluation.explain_head": (
        "人员 {person}，截至 {as_of}：总分 {total}（评分日 {score_date}），等级 {grade}（定级日"
        " {grade_date}），积分 {points}；政策 {policy} {version}",
        "person {person} as of {as_of}: total {total} (score date {score_date}), grade {grade}"
        " (grade date {grade_date}), points {points}; policy {policy} {version}",
    ),
    "evaluation.run_head": (
        "评价 {id}：{persons} 人，截至 {as_of}（评分日 {score_date}，定级日 {grade_date}），"
        "政策 {policy} {version}",
        "evaluation {id}: {persons} persons as of {as_of} (score {score_date}, grade"
        " {grade_date}), policy {policy} {version}",
    ),
    "evaluation.run_grades": ("等级分布：{grades}", "grades: {grades}"),
    "evaluation.rate_by_group": ("按户籍/居住类型的 A 级比例", "A-rate by region type"),
    "evaluation.rate_by_occupation": ("按职业的 A 级比例", "A-rate by occupation"),
    "evaluation.column_group": ("户籍/居住类型", "region type"),
    "evaluation.column_occupation": ("职业", "occupation"),
    "evaluation.column_persons": ("人数", "persons"),
    "evaluation.column_a_rate": ("A 级比例", "A-rate"),
    "evaluation.column_ratio": ("与最高组之比", "ratio to best"),
    "evaluation.column_four_fifths": ("≥ 4/5", "≥ 4/5"),
    "evaluation.four_fifths_yes": ("是", "yes"),
    "evaluation.four_fifths_no": ("否", "NO"),
    "evaluation.group_urban": ("城镇", "urban"),
    "evaluation.group_rural": ("农村", "rural"),
    "evaluation.group_migrant": ("流动人口", "migrant"),
    "evaluation.group_unknown": ("未知", "unknown"),
    "evaluation.occupation_unknown": ("未登记", "not recorded"),
    "evaluation.column_indicator": ("指标", "indicator"),
    "evaluation.column_name": ("名称", "name"),
    "evaluation.column_status": ("状态", "status"),
    "evaluation.column_value": ("取值", "value"),
    "evaluation.column_points": ("得分", "points"),
    "evaluation.column_weight": ("权重", "weight"),
    "evaluation.column_counted": ("计入", "counted"),
    "evaluation.column_contribution": ("贡献", "contrib."),
    "evaluation.status_scored": ("已评分", "scored"),
    "evaluation.status_not_applicable": ("不适用", "not applicable"),
    "evaluation.status_exempt": ("豁免", "exempt"),
    "evaluation.counted_yes": ("是", "yes"),
    "evaluation.counted_not_raising": ("未拉高，不计入", "not raising"),
    "evaluation.dimension_line": (
        "  {name}：{score}（权重 {weight}）",
        "  {name}: {score} (weight {weight})",
    ),
    "evaluation.dimension_left_out": (
        "  {name}：不计入总分（{why}）",
        "  {name}: left out of the total ({why})",
    ),
    "evaluation.left_out_none_applies": ("没有适用于您的指标", "no indicator applies"),
    "evaluation.left_out_not_raising": (
        "计入不会提高总分",
        "counting it would not raise the total",
    ),
    "evaluation.already_best": ("已是最高等级", "already the best grade"),
    "evaluation.no_path": (
        "本季度没有可以提高等级的行动，十年内也没有会到期的记录",
        "no achievable action raises the grade this quarter, and nothing stops counting within"
        " ten years",
    ),
    "evaluation.to_reach": ("达到 {grade}（{total}）需要：", "to reach {grade} ({total}):"),
    "evaluation.action_flag_id_valid": (
        "到户籍所在地派出所核验身份证号",
        "have the ID number verified at the local police station",
    ),
    "evaluation.action_flag_name_consistent": (
        "申请核对并更正各部门登记的姓名",
        "ask for the name held by the departments to be checked and corrected",
    ),
    "evaluation.action_flag_birth_date_consistent": (
        "申请核对并更正各部门登记的出生日期",
        "ask for the birth date held by the departments to be checked and corrected",
    ),
    "evaluation.action_flag_hukou_known": (
        "补充户籍地信息",
        "complete the hukou registration details",
    ),
    "evaluation.action_flag_residence_known": ("办理居住登记", "register the place of residence"),
    "evaluation.action_flag_phone_known": ("登记联系电话", "register a contact phone number"),
}
