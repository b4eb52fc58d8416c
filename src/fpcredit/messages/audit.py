"""What `fpcredit audit verify` finds wrong with the trail (guard/trail/; docs/trail.md)."""

from typing import Final

TEXTS: Final[dict[str, tuple[str, str]]] = {
    "audit.entry_missing": (
        "留痕条目编号不连续：缺少第 {idx} 条",
        "trail entry {idx} is missing (entries must be numbered 0, 1, 2, …)",
    ),
    "audit.entry_altered": (
        "留痕条目 {idx} 与其叶哈希不符（被修改或移动）",
        "trail entry {idx} does not match its leaf hash (altered or moved)",
    ),
    "audit.node_bad": (
        "日志树节点（层 {level}，序号 {index}）与条目不符或缺失",
        "the log tree node (level {level}, index {index}) is missing or does not match the entries",
    ),
    "audit.checkpoint_bad": (
        "大小为 {size} 的签名检查点与日志不符，或签名无效",
        "the signed checkpoint of size {size} does not match the log, or its signature is invalid",
    ),
    "audit.no_verifier_key": (
        "没有验证公钥，无法检查签名检查点",
        "there is no verifier key to check the signed checkpoints with",
    ),
    "audit.rows_changed": (
        "表 {table} 编号 {first}–{last} 的行与留痕条目 {idx} 不符",
        "rows {first}–{last} of {table} no longer match trail entry {idx}",
    ),
    "audit.rows_overlap": (
        "留痕条目 {idx} 覆盖的表 {table} 的行已被之前的条目覆盖",
        "trail entry {idx} covers rows of {table} that an earlier entry already covers",
    ),
    "audit.rows_uncovered": (
        "表 {table} 编号 {id} 的行没有留痕条目覆盖",
        "row {id} of {table} is covered by no trail entry",
    ),
    "audit.fact_state": (
        "事实 {id} 的异议状态与留痕记录不符",
        "the disputed state of fact {id} disagrees with the trail",
    ),
    "audit.superseded": (
        "事实 {id} 的失效时间与其后续版本不符",
        "superseded_at of fact {id} disagrees with its later versions",
    ),
    "audit.mac_missing": (
        "留痕条目 {idx} 没有 MAC（MAC 之前写入的条目由 fpcredit init 在核验通过后补写）",
        "trail entry {idx} has no MAC (entries written before MACs get theirs from `fpcredit "
        "init`, once they verify)",
    ),
    "audit.mac_bad": (
        "留痕条目 {idx} 的 MAC 无效：该条目不是本日志写入的，或被改写",
        "trail entry {idx} has an invalid MAC: it was not written by this log, or was rewritten",
    ),
    "audit.file_checkpoint_bad": (
        "检查点文件第 {line} 行（大小 {size}）与日志不符，或签名无效",
        "the checkpoint on line {line} of the checkpoint file (size {size}) does not match the "
        "log, or its signature is invalid",
    ),
    "audit.file_backwards": (
        "检查点文件第 {line} 行的大小 {size} 小于之前签名的 {before}：日志倒退了",
        "line {line} of the checkpoint file has size {size}, below the {before} signed before: "
        "the log went backwards",
    ),
    "audit.checkpoint_deleted": (
        "检查点文件中大小为 {size} 的检查点在数据库中不存在（被删除）",
        "the checkpoint of size {size} in the checkpoint file is missing from the database "
        "(deleted)",
    ),
    "audit.checkpoint_beyond": (
        "大小为 {size} 的已签名检查点超出了日志现有的 {entries} 条：条目被删除",
        "a checkpoint of size {size} was signed but the log holds {entries} entries: entries "
        "were deleted",
    ),
    "audit.witness_unreachable": (
        "无法从见证方 {url} 取得检查点：{error}",
        "cannot fetch the checkpoint from witness {url}: {error}",
    ),
    "audit.witness_none": (
        "见证方 {url} 没有本日志（{origin}）的检查点",
        "witness {url} holds no checkpoint of this log ({origin})",
    ),
    "audit.witness_unverified": (
        "见证方 {url} 给出的检查点无法用固定的见证公钥和本日志公钥验证",
        "the checkpoint from witness {url} does not verify with the pinned witness key and this "
        "log's key",
    ),
    "audit.witness_key_missing": (
        "没有见证方 {url} 的公钥（用 --witness-key 或 FPCREDIT_WITNESSES 给出）",
        "no key for witness {url} (give --witness-key or list it in FPCREDIT_WITNESSES)",
    ),
    "audit.witness_checkpoint_bad": (
        "见证方 {url} 连署的检查点（大小 {size}）与日志不符：日志被改写或截断",
        "the checkpoint witness {url} cosigned (size {size}) does not match the log: the log "
        "was rewritten or truncated",
    ),
    "audit.witness_not_in_file": (
        "见证方连署的大小为 {size} 的检查点不在检查点文件中（文件被截断或替换）",
        "the checkpoint of size {size} the witness cosigned is not in the checkpoint file (the "
        "file was truncated or replaced)",
    ),
}
