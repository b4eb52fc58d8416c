"""Policy files, their checks and their activation (evaluate/, docs/policy.md)."""

from typing import Final

TEXTS: Final[dict[str, tuple[str, str]]] = {
    "policy.unreadable": ("无法读取政策文件：{why}", "cannot read the policy file: {why}"),
    "policy.not_utf8": ("政策文件不是 UTF-8 编码", "the policy file is not UTF-8 text"),
    "policy.yaml": ("YAML 格式错误：{why}", "not valid YAML: {why}"),
    "policy.not_mapping": ("政策文件的顶层必须是键值映射", "the top level must be a mapping"),
    "policy.field": ("{where}：{why}", "{where}: {why}"),
    "policy.pydantic_missing": ("{where}：缺少必填项", "{where}: this field is required"),
    "policy.pydantic_extra_forbidden": (
        "{where}：不认识的字段（拼写错误？）",
        "{where}: unknown field (a typo?)",
    ),
    "policy.pydantic_literal_error": (
        "{where}：取值只能是 {expected}",
        "{where}: must be one of {expected}",
    ),
    "policy.pydantic_greater_than_equal": (
        "{where}：不能小于 {ge}",
        "{where}: must be at least {ge}",
    ),
    "policy.pydantic_less_than_equal": (
        "{where}：不能大于 {le}",
        "{where}: must be at most {le}",
    ),
    "policy.pydantic_string_type": (
        '{where}：应为文本（数字请加引号，如 "1.0.0"）',
        '{where}: must be text (quote numbers, e.g. "1.0.0")',
    ),
    "policy.pydantic_date_from_datetime_parsing": (
        "{where}：不是 YYYY-MM-DD 格式的日期",
        "{where}: not a date in YYYY-MM-DD form",
    ),
    "policy.pydantic_date_type": (
        "{where}：不是 YYYY-MM-DD 格式的日期",
        "{where}: not a date in YYYY-MM-DD form",
    ),
    "policy.pydantic_int_parsing": ("{where}：应为整数", "{where}: must be a whole number"),
    "policy.pydantic_int_type": ("{where}：应为整数", "{where}: must be a whole number"),
    "policy.pydantic_string_pattern_mismatch": (
        "{where}：格式不符合要求（{pattern}）",
        "{where}: does not have the required form ({pattern})",
    ),
    "policy.pydantic_union_tag_invalid": (
        "{where}：未知的度量类型 {tag}，可用：{expected_tags}",
        "{where}: unknown measure type {tag}; known: {expected_tags}",
    ),
    "policy.not_number": (
        "“{value}”不是数字或 1/3 这样的分数",
        "{value!r} is not a number or a fraction like 1/3",
    ),
    "policy.number_size": (
        "{value} 过大或过于精细（分母不超过一百万）",
        "{value} is too large or too fine (denominator at most one million)",
    ),
    "policy.band": (
        "分档需要 at_least、at_most 或两者",
        "a band needs at_least, at_most or both",
    ),
    "policy.duplicate": ("“{what}”重复出现", "{what!r} appears twice"),
    "policy.unknown_dimension": (
        "未知维度“{what}”；已定义：{known}",
        "unknown dimension {what!r}; defined: {known}",
    ),
    "policy.unknown_grade": ("未知等级“{what}”", "unknown grade {what!r}"),
    "policy.unknown_kind": (
        "“{what}”不是数据元标准中的数据集",
        "{what!r} is not a data set of the data element standard",
    ),
    "policy.unknown_attr": (
        "“{what}”不是数据集 {kind} 的字段",
        "{what!r} is not a field of the data set {kind}",
    ),
    "policy.weight_unit": (
        "权重 {weight} 必须为正，且最多四位小数",
        "weight {weight} must be positive with at most four decimals",
    ),
    "policy.weight_sum": (
        "维度权重之和为 {total}，应为 1",
        "the dimension weights sum to {total}, not 1",
    ),
    "policy.indicator_weight_sum": (
        "维度 {what} 的指标权重之和为 {total}，应为 1",
        "the indicator weights of dimension {what} sum to {total}, not 1",
    ),
    "policy.empty_dimension": ("维度 {what} 没有指标", "dimension {what} has no indicator"),
    "policy.ahp_size": (
        "判断矩阵为 {n} 阶，但有 {m} 个权重",
        "the comparison matrix has order {n} but there are {m} weights",
    ),
    "policy.ahp_disagrees": (
        "{member} 的权重 {stored} 与层次分析法推导的 {derived:.4f} 不一致",
        "the weight {stored} of {member} disagrees with the AHP derivation {derived:.4f}",
    ),
    "policy.cutoff": (
        "等级分数线 {value} 应在 0–100 之间且最多两位小数",
        "grade cut-off {value} must be within 0–100 with at most two decimals",
    ),
    "policy.no_severities": (
        "使用了信用事件指标，但未定义 severities",
        "an events indicator needs the severities section",
    ),
    "policy.severity_order": (
        "min_months 不能大于 max_months",
        "min_months cannot exceed max_months",
    ),
    "policy.activated": (
        "政策 {policy_id} {version} 已生效（第 {number} 次启用，sha256 {sha256}），"
        "评价与解释此后默认使用它",
        "policy {policy_id} {version} is in force (activation {number}, sha256 {sha256}); "
        "evaluations and explanations use it from now on",
    ),
    "policy.none_activated": (
        "尚未启用任何政策：使用程序自带的默认政策",
        "no policy was ever activated: the packaged default is in force",
    ),
    "policy.no_activation": (
        "没有第 {number} 次政策启用",
        "there is no policy activation {number}",
    ),
    "policy.hash_mismatch": (
        "库中政策文本的 SHA-256 与启用时记录的不符：拒绝使用（运行 fpcredit audit verify）",
        "the stored policy text no longer has the SHA-256 recorded when it was activated: "
        "refused (run fpcredit audit verify)",
    ),
    "policy.reason_required": ("请用 --reason 说明启用原因", "say why with --reason"),
}
