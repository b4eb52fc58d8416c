"""The cross-province exchange (exchange/, `fpcredit exchange`; docs/exchange.md)."""

from typing import Final

# Why a message was quarantined: (code, zh, en). The same words serve the quarantine's rules
# (`exchange_<code>`, messages/rules.py) and `exchange status`.
REASONS: Final[tuple[tuple[str, str, str], ...]] = (
    ("malformed", "交换消息格式不正确", "the exchange message is malformed"),
    ("version", "交换消息版本不受支持", "the exchange message's version is not supported"),
    ("not_for_us", "交换消息不是发给本省的", "the exchange message is not for this province"),
    (
        "sender_unknown",
        "发送省份不在本省的交换伙伴登记中",
        "the sending province is not in this province's registry",
    ),
    (
        "signature",
        "交换消息的签名与发送省份的公钥不符",
        "the message's signature does not verify with the sender's key",
    ),
    ("purpose", "交换消息的用途不是公共服务办理", "the message's purpose is not service_delivery"),
    ("seal", "交换消息的密封内容无法用本省密钥打开", "the sealed body does not open with our key"),
    (
        "kind",
        "该数据集不在标准规定的交换范围内",
        "the standard does not mark this data set for exchange",
    ),
    (
        "not_exchanged",
        "消息含有标准未规定交换的数据元",
        "the message carries an element the standard does not mark for exchange",
    ),
    ("id_missing", "消息缺少当事人的公民身份号码", "the message has no ID number of its person"),
    ("id_invalid", "消息中的公民身份号码无效", "the message's ID number is invalid"),
    ("value", "消息中有数据元的值不符合标准", "a value in the message does not match the standard"),
    (
        "person_unknown",
        "本省尚无此人档案：待其档案建立后自动归档",
        "this province has no file of the person yet: linked when it arrives",
    ),
    (
        "person_ambiguous",
        "此身份证号对应本省多个档案：待人工复核合并后自动归档",
        "the ID number matches several files here: linked once a clerk merges them",
    ),
    (
        "unwritable",
        "本省数据库拒绝写入该消息（已隔离，请联系运维人员）",
        "this province's store refused to write the message (quarantined; tell the operator)",
    ),
)

TEXTS: Final[dict[str, tuple[str, str]]] = {
    **{f"exchange.reject_{code}": (zh, en) for code, zh, en in REASONS},
    "exchange.card_bad": ("省份名片不正确：{why}", "the province card is invalid: {why}"),
    "exchange.card_unreadable": (
        "无法读取省份名片 {path}（{why}）",
        "cannot read the province card {path} ({why})",
    ),
    "exchange.province_unknown": (
        "“{code}”不是 GB/T 2260 的省级行政区划代码（两位数字）",
        "{code!r} is not a province code of GB/T 2260 (two digits)",
    ),
    "exchange.identity_other": (
        "本库已是省份 {have} 的交换节点，不能改为其他省份",
        "this home is already province {have} on the exchange; it cannot become another",
    ),
    "exchange.no_identity": (
        "本库尚未加入跨省交换：先运行 fpcredit exchange init --province 省级代码",
        "this home is not on the exchange yet: run fpcredit exchange init --province CODE",
    ),
    "exchange.partner_self": (
        "不能把本省（{code}）登记为交换伙伴",
        "this province ({code}) cannot be its own partner",
    ),
    "exchange.partner_added": (
        "已登记省份 {province} 的公钥（{added_at}）",
        "registered the keys of province {province} ({added_at})",
    ),
    "exchange.nats_down": (
        "无法连接 NATS 服务器 {url}（{why}）：待发消息仍保存在发件箱中",
        "cannot reach the NATS server {url} ({why}); messages stay in the outbox",
    ),
    "exchange.run_report": (
        "已发送 {published} 条；收到 {received} 条：入库 {accepted}，待归档 {waiting}，"
        "拒收 {rejected}，重复 {duplicates}；稍后归档 {linked_later}",
        "published {published}; received {received}: accepted {accepted}, waiting "
        "{waiting}, rejected {rejected}, duplicates {duplicates}; linked later {linked_later}",
    ),
    "exchange.status_head": (
        "本省 {province}，交换伙伴 {partners} 个",
        "province {province}, {partners} partners",
    ),
    "exchange.col_what": ("项目", "what"),
    "exchange.col_count": ("数量", "count"),
    "exchange.row_queued": ("发件箱：已入队", "outbox: queued"),
    "exchange.row_sent": ("发件箱：已发送", "outbox: sent"),
    "exchange.row_pending": ("发件箱：待发送", "outbox: pending"),
    "exchange.row_lag_s": ("最早待发消息已等待（秒）", "oldest pending message's age (s)"),
    "exchange.row_received": ("收件：收到", "inbox: received"),
    "exchange.row_accepted": ("收件：已入库并归档", "inbox: accepted and linked"),
    "exchange.row_waiting": ("收件：待其档案建立", "inbox: waiting for their person"),
    "exchange.row_linked_later": ("收件：稍后归档", "inbox: linked later"),
    "exchange.row_rejected": ("收件：拒收（已隔离）", "inbox: rejected (quarantined)"),
    "exchange.row_latency_p99_s": (
        "从对方提交到本省提交的延迟 p99（秒）",
        "latency from their commit to ours, p99 (s)",
    ),
}
