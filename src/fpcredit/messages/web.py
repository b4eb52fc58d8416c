"""The HTTP service's answers (web/; docs/security.md)."""

from typing import Final

TEXTS: Final[dict[str, tuple[str, str]]] = {
    "web.too_large": (
        "请求体过大（上限 {limit} 字节）",
        "the request body is too large (limit {limit} bytes)",
    ),
    "web.rate_limited": ("请求过于频繁，请稍后再试", "too many requests; try again shortly"),
    "web.internal": (
        "服务内部错误，已记录（事件号 {incident}），请联系运维",
        "internal error, logged as incident {incident}; please contact the operators",
    ),
    "web.route_without_rule": (
        "路由 {route} 未在访问规则表（web/rules.py）中声明，服务拒绝启动",
        "route {route} has no access rule in web/rules.py; the service refuses to start",
    ),
    "web.token_missing": (
        "缺少访问令牌（Authorization: Bearer …）",
        "missing access token (Authorization: Bearer …)",
    ),
    "web.purpose_unknown": (
        "缺少或不认可的用途（purpose）；可用用途见 docs/security.md",
        "missing or unknown purpose; see docs/security.md for the purposes",
    ),
    "web.purpose_refused": (
        "您的角色不能以用途 {purpose} 查询个人信息",
        "your role may not read personal data for purpose {purpose}",
    ),
    "web.role_refused": ("角色 {role} 无权访问此功能", "role {role} may not use this route"),
    "web.region_refused": ("该人员不在您的辖区内", "this person is outside your region"),
    "web.person_unknown": ("没有这个人员", "no such person"),
    "web.not_evaluated": ("该人员尚无信用评价结果", "this person has no credit evaluation yet"),
    "web.explainer_down": (
        "评价说明暂时无法生成，请稍后再试",
        "explanations cannot be produced right now; try again later",
    ),
    "web.search_one_key": (
        "请只提供身份证号或姓名之一",
        "give either an ID number or a name, not both or neither",
    ),
    "web.id_invalid": ("身份证号无效：{reason}", "invalid ID number: {reason}"),
    "web.as_of_range": (
        "评价日期须在 {earliest} 至 {latest} 之间",
        "the evaluation date must lie between {earliest} and {latest}",
    ),
    # Clerical review (web/api/reviews.py) and the dashboards (web/api/dashboards.py).
    "web.review_mentions_not_person": (
        "人员 {id} 的档案中没有这些记录提及：{mentions}",
        "person {id}'s file holds none of these mentions: {mentions}",
    ),
    "web.dashboard_accuracy": ("数据准确率", "data accuracy"),
    "web.dashboard_completeness": ("数据完整率", "data completeness"),
    "web.dashboard_satisfaction": ("群众满意度", "citizens' satisfaction"),
    "web.dashboard_reach": ("政策触达率", "policy reach"),
    "web.dashboard_overdue_cases": ("逾期未办结的案件", "cases past their due date"),
    "web.dashboard_refused_accesses": (
        "近24小时被拒绝的访问",
        "accesses refused in the last 24 hours",
    ),
    "web.dashboard_quarantine_share": (
        "最近一次导入的隔离比例（按部门）",
        "share of the last ingestion quarantined (by department)",
    ),
    "web.dashboard_checkpoint_age": (
        "距上次签名检查点的秒数",
        "seconds since the last signed checkpoint",
    ),
    "web.dashboard_dead_notifications": ("投递失败的通知", "notifications given up"),
    # A department's feed pushed over HTTP (web/api/feeds.py; docs/ingestion.md).
    "web.feed_unknown_source": (
        "没有这个数据来源；可推送的来源：{known}",
        "no such department source; the sources are: {known}",
    ),
    "web.feed_other_source": (
        "本客户端只能推送本部门（{own}）的数据文件",
        "this client may push only its own department's feeds ({own})",
    ),
    "web.feed_rate_limited": (
        "本客户端推送过于频繁（每分钟至多 {count} 次），请稍后再试",
        "too many pushes from this client (at most {count} a minute); try again later",
    ),
    "web.feed_unusable": (
        "文件无法入库，未写入任何数据：{reason}",
        "the file cannot be ingested and nothing of it was stored: {reason}",
    ),
    "web.feed_trail_failed": (
        "文件已入库，但留痕暂时无法写入；请稍后重发同一文件，将返回首次入库的报告",
        "the file was stored but the trail cannot be written just now; send the same file "
        "again later to get its report",
    ),
}
