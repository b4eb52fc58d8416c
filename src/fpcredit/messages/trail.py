"""The audit trail: the log, its keys and checkpoints, entry MACs, witnesses (docs/trail.md)."""

from typing import Final

TEXTS: Final[dict[str, tuple[str, str]]] = {
    "trail.index_out_of_range": (
        "条目序号 {index} 超出日志范围（共 {size} 条）",
        "entry {index} is outside a log of {size} entries",
    ),
    "trail.sizes_invalid": (
        "无法证明日志从 {old} 条到 {new} 条的一致性（须 0 ≤ 旧大小 ≤ 新大小）",
        "cannot prove consistency from size {old} to size {new} (need 0 ≤ old ≤ new)",
    ),
    "trail.tree_damaged": (
        "日志树缺少或损坏了节点（层 {level}，序号 {index}）",
        "the log's tree lacks or has a damaged node (level {level}, index {index})",
    ),
    "trail.checkpoint_malformed": ("检查点格式不正确", "the checkpoint is malformed"),
    "trail.verifier_key_malformed": (
        "验证公钥字符串格式不正确或密钥编号不符",
        "the verifier key string is malformed or its key id does not match",
    ),
    "trail.signer_key_malformed": ("签名私钥格式不正确", "the signing key is malformed"),
    "trail.key_name_invalid": (
        "密钥名称“{name}”无效（不能为空，不能含空白或加号）",
        "the key name {name!r} is invalid (empty, or has a space or '+')",
    ),
    "trail.note_malformed": ("签名文本格式不正确", "the signed note is malformed"),
    "trail.note_bad_signature": (
        "签名文本上 {name} 的签名无效",
        "the signature of {name} on the note is invalid",
    ),
    "trail.note_unverified": (
        "签名文本没有任何可信密钥的有效签名",
        "the note carries no valid signature of a known key",
    ),
    "trail.inconsistent": (
        "日志当前的树（{size} 条）与上次签名的检查点（{old} 条）不一致，拒绝签名",
        "the stored tree ({size} entries) is inconsistent with the last signed checkpoint "
        "({old} entries); refusing to sign",
    ),
    "trail.table_not_covered": (
        "表“{table}”不在留痕范围内（可用：{tables}）",
        "table {table!r} is not covered by the trail (covered: {tables})",
    ),
    "trail.range_invalid": (
        "编号范围 {first}–{last} 无效",
        "the id range {first}–{last} is invalid",
    ),
    "trail.code_invalid": (
        "留痕字段 {field} 只能是代码（字母、数字和 ._:/@+-，至多 64 个字符，"
        "不含 11 位以上的数字串），不能是个人信息",
        "the trail's {field} must be a code (letters, digits, ._:/@+-, at most 64 characters, no "
        "run of 11 or more digits), never personal data",
    ),
    "trail.key_damaged": ("留痕密钥文件 {name} 已损坏", "the trail key file {name} is damaged"),
    "trail.format_unknown": (
        "未知的留痕条目格式版本 {v}",
        "unknown trail entry format version {v}",
    ),
    "trail.refused": (
        "拒绝签名检查点：{why}",
        "refusing to sign a checkpoint: {why}",
    ),
    "trail.file_damaged": (
        "检查点文件 {path} 第 {line} 行已损坏",
        "line {line} of the checkpoint file {path} is damaged",
    ),
    "trail.mac_key_missing": (
        "缺少留痕 MAC 密钥（keys/trail-mac.key），无法写入或核验条目",
        "the trail MAC key (keys/trail-mac.key) is missing: entries cannot be written or checked",
    ),
    "trail.seal_refused": (
        "留痕核验未通过，未给已有的 {count} 条条目补写 MAC：{reason}",
        "the trail does not verify, so its {count} existing entries were not given MACs: {reason}",
    ),
    "trail.sealed": (
        "已有的 {count} 条留痕条目核验通过，已补写 MAC",
        "{count} existing trail entries verified and given their MACs",
    ),
    "trail.witness_failed": (
        "见证方 {url} 未接受大小为 {size} 的检查点：{error}",
        "witness {url} did not take the checkpoint of size {size}: {error}",
    ),
    "trail.witness_ahead": (
        "见证方 {url} 已连署过 {known} 条的树，而本日志只签到 {size} 条：日志丢失了条目或被改写",
        "witness {url} has cosigned a tree of {known} entries but this log signed {size}: the "
        "log lost entries or was rewritten",
    ),
    "trail.witness_fork": (
        "见证方 {url} 拒绝大小为 {size} 的检查点：与其已连署的检查点不一致（分叉）",
        "witness {url} refused the checkpoint of size {size}: it is inconsistent with the one it "
        "cosigned (a fork)",
    ),
    "trail.witness_unverified": (
        "见证方 {url} 的应答中没有能用其公钥验证的连署",
        "the answer of witness {url} holds no cosignature its pinned key verifies",
    ),
    "trail.witness_setting": (
        "FPCREDIT_WITNESSES 中见证方 {url} 的公钥格式不正确",
        "the key of witness {url} in FPCREDIT_WITNESSES is malformed",
    ),
    "trail.unavailable": (
        "访问留痕暂时无法写入，为保护个人信息本次查询被拒绝，请稍后再试",
        "the access trail cannot be written just now, so the read was refused; try again shortly",
    ),
}
