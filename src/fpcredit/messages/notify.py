"""Notifications (R24): the message of each kind, rendered at delivery, and the `notify` CLI."""

from typing import Final

# `notify.<kind>` for each kind of notify/outbox.py KINDS: the text a person receives, in the
# receiver's language. A placeholder a notification's params lack is shown as "—".
TEXTS: Final[dict[str, tuple[str, str]]] = {
    "notify.grade_changed": (
        "【计生信用】您截至 {as_of} 的信用等级由 {old_grade} 调整为 {new_grade}。",
        "[FP credit] Your credit grade as of {as_of} changed from {old_grade} to {new_grade}.",
    ),
    "notify.eligibility": (
        "【计生信用】您已符合激励项目 {incentive} 的条件（截至 {as_of}）。",
        "[FP credit] You now qualify for the incentive {incentive} (as of {as_of}).",
    ),
    "notify.case_opened": (
        "【计生信用】您的{case_kind}申请已受理，案件编号 {case_id}。",
        "[FP credit] Your {case_kind} was received; case number {case_id}.",
    ),
    "notify.case_step": (
        "【计生信用】案件 {case_id} 有新进展：{step}。",
        "[FP credit] Case {case_id} moved on: {step}.",
    ),
    "notify.case_outcome": (
        "【计生信用】案件 {case_id} 已办结，结果：{outcome}。",
        "[FP credit] Case {case_id} is closed; outcome: {outcome}.",
    ),
    "notify.redemption": (
        "【计生信用】积分兑换 {redemption_id}：{points} 分，状态 {status}。",
        "[FP credit] Points redemption {redemption_id}: {points} points, {status}.",
    ),
    "notify.verification": (
        "【计生信用】{department} 于 {date} 核验了您的 {incentive} 资格。",
        "[FP credit] {department} verified your eligibility for {incentive} on {date}.",
    ),
    # The command line (cli/notify.py).
    "notify.drained": (
        "已投递 {delivered} 条，待重试 {retried} 条，转入死信 {dead} 条",
        "{delivered} delivered, {retried} to retry, {dead} dead",
    ),
    "notify.no_message": (
        "没有消息编号为 {message_id} 的死信",
        "no dead notification has the message id {message_id}",
    ),
    "notify.retried": (
        "通知 {message_id} 已重新排队",
        "notification {message_id} queued again",
    ),
    "notify.webhook_set": (
        "部门 {source} 的回调地址已登记：{url}\n  签名密钥（只显示这一次）：{secret}",
        "the webhook of department {source} is registered: {url}\n"
        "  signing secret (shown this once only): {secret}",
    ),
    "notify.bad_url": (
        "回调地址“{url}”不是 http(s) 地址",
        "webhook URL {url!r} is not an http(s) URL",
    ),
    "notify.bad_source": (
        "部门代码“{source}”无效（小写字母、数字、下划线，至多 32 个字符）",
        "department source {source!r} is not valid (lower-case letters, digits, underscores, "
        "at most 32 characters)",
    ),
    "notify.nothing": ("没有通知", "no notifications"),
    "notify.bad_state": (
        "未知状态“{state}”（可用：pending、delivered、dead）",
        "unknown state {state!r} (pending, delivered, dead)",
    ),
}
