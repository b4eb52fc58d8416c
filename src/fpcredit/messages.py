"""The message catalogue: every user-facing sentence, in Chinese (default) and English."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Final, Literal, cast

__all__ = [
    "RULES",
    "Language",
    "known",
    "label",
    "language",
    "negotiate",
    "reset_language",
    "rule_message",
    "set_language",
    "text",
    "using_language",
]

Language = Literal["zh", "en"]

# Data-quality rules (docs/ingestion.md explains each and what a clerk should do).
RULES: Final[dict[str, tuple[str, str]]] = {
    "unparseable_row": ("该行无法解析（格式损坏或列数不符）", "the row cannot be parsed"),
    "required_missing": ("必填项为空", "a required value is empty"),
    "no_identity": (
        "当事人既无姓名也无身份证号，无法归档到人",
        "the person has neither a name nor an ID number",
    ),
    "code_unknown": ("代码不在对照表中", "the code is not in the code crosswalk"),
    "date_impossible": ("不是有效日期", "not a real date"),
    "date_future": ("日期晚于今天", "the date is in the future"),
    "format_invalid": ("格式不符合数据元标准", "the format does not match the standard"),
    "number_invalid": (
        "不是有效数字或超出合理范围",
        "not a number, or outside the plausible range",
    ),
    "id_length": ("身份证号长度不是15位或18位", "the ID number is not 15 or 18 characters"),
    "id_characters": ("身份证号含有非法字符", "the ID number contains invalid characters"),
    "id_region": (
        "身份证号前两位不是省级行政区划代码",
        "the ID number does not start with a province code",
    ),
    "id_birth_date": ("身份证号中的出生日期无效", "the birth date inside the ID number is invalid"),
    "id_check_digit": ("身份证号校验码错误", "the ID number's check digit is wrong"),
    "id_birth_mismatch": (
        "出生日期与身份证号不一致",
        "the birth date disagrees with the ID number",
    ),
    "id_sex_mismatch": ("性别与身份证号不一致", "the sex disagrees with the ID number"),
    "name_invalid": ("姓名含有非法字符或过长", "the name has invalid characters or is too long"),
    "phone_invalid": ("电话号码不是11位手机号", "the phone is not an 11-digit mobile number"),
    "region_invalid": ("不是有效的行政区划代码", "not a valid GB/T 2260 region code"),
    "births_gt_pregnancies": ("孩次大于孕次", "the birth order exceeds the number of pregnancies"),
    "before_birth": ("服务日期早于当事人出生日期", "the service date is before the person's birth"),
    "mother_under_14": ("生育时母亲未满14周岁", "the mother was under 14 at the birth"),
    "recorded_before_event": ("记录时间早于发生日期", "recorded before the event happened"),
    "valid_until_before_event": (
        "有效期截止日期早于认定日期",
        "the validity ends before the date of the decision",
    ),
}

_TEXTS: Final[dict[str, tuple[str, str]]] = {
    # Table digests and row seals (guard/trail/seal.py, guard/trail/sealing.py; docs/trail.md).
    "seal.count_negative": (
        "表“{table}”的摘要会出现负数行，拒绝写入（表在平台之外被改动过）",
        "the digest of table {table!r} would count fewer than no rows; refused (the table was "
        "changed outside fpcredit)",
    ),
    "seal.key_missing": (
        "缺少行封印密钥 keys/row-seal.key，无法核对表摘要",
        "the row-seal key keys/row-seal.key is missing: table digests cannot be checked",
    ),
    "seal.table_uncovered": (
        "表“{table}”有数据，但留痕中没有它的摘要（在平台之外写入）",
        "table {table!r} has rows but the trail holds no digest of it (written outside fpcredit)",
    ),
    "seal.table_changed": (
        "表“{table}”与留痕中最后的摘要不符（现有 {rows} 行，应为 {expected} 行）：有行在平台之外"
        "被修改、增加、删除或恢复",
        "table {table!r} no longer matches its last digest on the trail ({rows} rows now, "
        "{expected} expected): rows were changed, added, removed or put back outside fpcredit",
    ),
    "seal.too_busy": (
        "表“{table}”一直在被写入，无法核对其摘要，请稍后再试",
        "table {table!r} kept changing while it was read; its digest could not be checked, try "
        "again",
    ),
    "seal.row_changed": (
        "表“{table}”的第 {row} 行与其封印不符（在平台之外被修改）",
        "row {row} of table {table!r} no longer matches its seal (changed outside fpcredit)",
    ),
    "evaluation_file_altered": (
        "评价 {id} 的结果文件已被改动（与留痕中记录的 SHA-256 不符），拒绝使用",
        "the results file of evaluation {id} was changed (its SHA-256 is not the one on the "
        "trail); refused",
    ),
    "evaluation_row_altered": (
        "评价 {id} 的记录与留痕不符（在平台之外被修改），拒绝使用",
        "the record of evaluation {id} no longer matches the trail (changed outside fpcredit); "
        "refused",
    ),
    "seal.row_refused": (
        "该记录在平台之外被修改过，拒绝使用；请联系安全管理员",
        "this record was changed outside fpcredit and is refused; contact the security "
        "administrator",
    ),
    # The audit trail (guard/trail/tlog.py, guard/trail/log.py) and what `verify` reports
    # (docs/trail.md).
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
    # The trail an insider cannot rewrite: entry MACs, the checkpoint file, witnesses (trail unit).
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
    "witness.malformed": ("请求格式不正确：{why}", "malformed request: {why}"),
    "witness.unknown_log": (
        "本见证方不认识日志“{origin}”",
        "this witness does not know log {origin!r}",
    ),
    "witness.unverified": (
        "检查点没有受信任的日志公钥的有效签名",
        "the checkpoint carries no valid signature of a trusted log key",
    ),
    "witness.old_too_big": (
        "旧大小 {old} 大于检查点大小 {size}",
        "the old size {old} exceeds the checkpoint size {size}",
    ),
    "witness.proof_bad": (
        "一致性证明不成立：从 {old} 到 {size}",
        "the consistency proof from {old} to {size} does not verify",
    ),
    "witness.log_option": (
        "--log 须写作 ORIGIN=VERIFIER_KEY：{value}",
        "--log takes ORIGIN=VERIFIER_KEY: {value}",
    ),
    "witness.no_logs": (
        "请至少用 --log ORIGIN=VERIFIER_KEY 指定一个日志",
        "name at least one log with --log ORIGIN=VERIFIER_KEY",
    ),
    "witness.listening": (
        "见证方 {name} 在 {url} 监听；其公钥：{vkey}",
        "witness {name} listening on {url}; its verifier key: {vkey}",
    ),
    "quarantined": ("已隔离", "quarantined"),
    "flagged": ("已标记", "flagged"),
    "file_not_found": ("文件不存在", "file not found"),
    "file_empty": ("文件为空", "the file is empty"),
    "bad_encoding": ("文件编码不是{encoding}", "the file is not valid {encoding}"),
    "bad_parquet": (
        "不是完整的Parquet文件（可能被截断）",
        "not a complete Parquet file (truncated?)",
    ),
    "column_not_text": (
        "列“{column}”无法读作文本",
        "column {column!r} cannot be read as text",
    ),
    "bad_csv": ("CSV文件无法读取：{detail}", "the CSV file cannot be read: {detail}"),
    "missing_column": ("缺少必需列“{column}”", "required column {column!r} is missing"),
    "no_rows": ("文件没有数据行", "the file has no data rows"),
    "reconciled": ("行数核对一致", "counts reconcile"),
    # AHP weights (evaluate/ahp.py); rows and columns are counted from 1.
    "ahp_empty": ("判断矩阵为空", "the comparison matrix is empty"),
    "ahp_too_large": (
        "判断矩阵有 {n} 阶，最多支持 {limit} 阶",
        "the comparison matrix has {n} rows; at most {limit} are supported",
    ),
    "ahp_not_square": (
        "判断矩阵不是方阵：第 {row} 行应有 {n} 个数",
        "the comparison matrix is not square: row {row} should hold {n} numbers",
    ),
    "ahp_entry": (
        "第 {row} 行第 {col} 列须为正的有限数（而不是 {value}）",
        "row {row}, column {col} must be a positive finite number, not {value}",
    ),
    "ahp_diagonal": (
        "对角线第 {row} 项须为 1（而不是 {value}）",
        "diagonal entry {row} must be 1, not {value}",
    ),
    "ahp_not_reciprocal": (
        "第 {row} 行第 {col} 列（{a}）与第 {col} 行第 {row} 列（{b}）不互为倒数",
        "entry ({row}, {col}) = {a} and entry ({col}, {row}) = {b} are not reciprocals",
    ),
    "ahp_inconsistent": (
        "判断矩阵的一致性比率 CR = {cr:.3f}，须小于 0.10；请修改相互矛盾的判断",
        "the consistency ratio CR = {cr:.3f} is not below 0.10; revise the contradictory "
        "judgements",
    ),
    "ahp_upper_shape": (
        "上三角第 {row} 行应有 {expected} 个数（而不是 {count} 个）",
        "row {row} of the upper triangle should hold {expected} numbers, not {count}",
    ),
    "ahp_upper_entry": (
        "上三角第 {row} 行第 {col} 项“{value}”不是正数或分数（如 3、0.5、1/3）",
        'upper-triangle entry ({row}, {col}) "{value}" is not a positive number or fraction '
        "such as 3, 0.5 or 1/3",
    ),
    "ahp_blend_length": (
        "专家权重有 {expert} 项，公众权重有 {public} 项，项数须相同",
        "the expert weights have {expert} entries but the public weights {public}",
    ),
    "ahp_blend_share": (
        "专家权重占比须在 0 到 1 之间（而不是 {share}）",
        "the experts' share must be between 0 and 1, not {share}",
    ),
    "ahp_blend_weights": (
        "权重须为非负的有限数且不能全为零",
        "weights must be non-negative finite numbers, not all zero",
    ),
    "store_not_ready": (
        "数据库尚未初始化或版本过旧，请先运行 `fpcredit init`",
        "the store is not initialised or not up to date; run `fpcredit init`",
    ),
    "store_migration_broke_keys": (
        "数据库升级后有记录指向不存在的数据，升级已撤销，数据未变；请保留日志并联系运维",
        "after the upgrade some rows would point at rows that do not exist; the upgrade was "
        "rolled back and nothing changed; keep the log and tell the operator",
    ),
    # Labels of person roles and of fields that are not data elements, in quality messages.
    "role.self": ("本人", "person"),
    "role.mother": ("母亲", "mother"),
    "role.father": ("父亲", "father"),
    "role.child": ("子女", "child"),
    "role.husband": ("男方", "husband"),
    "role.wife": ("女方", "wife"),
    "field.row": ("整行", "row"),
    "field.record_key": ("记录编号", "record key"),
    "field.kind": ("业务类型", "record type"),
    "store_write_failed": (
        "写入数据库失败（{reason}），本文件未入库，可稍后重试",
        "writing to the database failed ({reason}); nothing of this file was stored, retry later",
    ),
    "store_read_failed": ("读取数据库失败（{reason}）", "reading the database failed ({reason})"),
    "linkage_config_bad": (
        "关联配置文件 {path} 有误：{reason}",
        "the linkage settings file {path} is invalid: {reason}",
    ),
    "link_concurrent": (
        "另一次关联或导入在此期间写入了数据库，本次未写入；请重新运行",
        "another link run or ingestion wrote meanwhile; nothing was written, run again",
    ),
    "link_write_orphans": (
        "本次关联指向 {n} 个不存在的人员，未写入；请保留日志并联系运维",
        "this run would link records to {n} persons that do not exist; nothing was written, "
        "keep the log and tell the operator",
    ),
    "review_unknown": ("复核编号 {id} 不存在", "there is no review {id}"),
    "review_decided": (
        "复核 {id} 已处理（{status}）",
        "review {id} was already decided ({status})",
    ),
    "person_unknown": ("人员编号 {id} 不存在或已合并", "person {id} does not exist or was merged"),
    "merge_same": ("不能把一个人与自己合并", "cannot merge a person with itself"),
    "unmerge_nothing": (
        "人员 {id} 的档案中没有所列记录",
        "none of the listed records is in person {id}'s file",
    ),
    "unmerge_everything": (
        "不能拆出人员 {id} 的全部记录；至少保留一条",
        "cannot split off all of person {id}'s records; keep at least one",
    ),
    "link_nothing": (
        "还没有可关联的记录；请先用 `fpcredit ingest` 导入部门数据",
        "there are no records to link yet; ingest department files first (`fpcredit ingest`)",
    ),
    "link_backend_bad": (
        "关联计算引擎“{backend}”无效；可用：duckdb、spark",
        "unknown linkage backend {backend!r}; use duckdb or spark",
    ),
    "link_spark_missing": (
        "用 Spark 关联需要 pyspark 4 或更高版本（pip install 'fpcredit[spark]'）",
        "the spark linkage backend needs pyspark 4 or later (pip install 'fpcredit[spark]')",
    ),
    "link_java_missing": (
        "用 Spark 关联需要 Java 17 或更高版本：未找到 java（请安装或设置 JAVA_HOME）",
        "the spark linkage backend needs Java 17 or later: no java found (install it or set "
        "JAVA_HOME)",
    ),
    "link_spark_failed": ("Spark 无法启动（{reason}）", "Spark could not start ({reason})"),
    "compute_failed": (
        "计算步骤“{step}”在 {engine} 上执行失败（{error}），请将此信息报告给系统管理员",
        "the computation step {step!r} failed on {engine} ({error}); please report this to the "
        "system administrator",
    ),
    "link_stage_read": ("读取记录", "reading records"),
    "link_stage_train": ("训练匹配模型（EM）", "training the match model (EM)"),
    "link_stage_id": ("身份证号确定性匹配：{n} 条", "ID-number pass: {n} mentions"),
    "link_stage_crosswalk": (
        "证件编号交叉关联：{pairs} 对，新关联 {linked} 条；冲突 {conflicts} 对（以身份证号为准），"
        "{deferred} 对双方尚无归属人员、交概率匹配",
        "certificate crosswalks: {pairs} pairs, {linked} mentions linked; {conflicts} conflicts "
        "(the ID number wins), {deferred} pairs with no person on either side yet, left to the "
        "probabilistic pass",
    ),
    "link_stage_persons": ("整理人员最佳值", "collecting persons' best values"),
    "link_stage_splink": (
        "概率匹配：{n} 条对 {persons} 人",
        "probabilistic pass: {n} mentions against {persons} persons",
    ),
    "link_stage_adopt": (
        "新身份号码与已有无号档案比对：{n} 人",
        "new ID numbers against persons filed without one: {n}",
    ),
    "link_stage_dedupe": ("未匹配记录聚类：{n} 条", "clustering {n} unmatched mentions"),
    "link_stage_write": ("写入 {n} 条关联", "writing {n} links"),
    "link_no_model": (
        "尚无按当前关联配置训练的匹配模型，请先运行 `fpcredit link`",
        "no match model trained under the current linkage settings; run `fpcredit link` first",
    ),
    "match_format": (
        "名单须为 .csv 或 .parquet 文件（而不是“{ext}”）",
        "a list must be a .csv or .parquet file, not {ext!r}",
    ),
    "match_duplicate_column": ("表头中列名“{column}”重复", "column {column!r} appears twice"),
    "match_map_bad": (
        "名单列对照文件 {path} 有误：{reason}",
        "the column map {path} is invalid: {reason}",
    ),
    "match_map_missing": ("缺少必填项 {item}", "{item} is required"),
    "match_map_unknown": (
        "未知的键 {item}（可用：{known}）",
        "unknown key {item} (known: {known})",
    ),
    "match_map_no_column": (
        "{item} 指定的列“{column}”不在名单中",
        "{item} names column {column!r}, which the list does not have",
    ),
    "match_row_fields": (
        "该行有 {n} 列，与表头的 {m} 列不符，无法解析",
        "the row has {n} fields but the header has {m}; it cannot be parsed",
    ),
    "match_row_empty": (
        "该行各项均为空，不是人员信息",
        "every mapped field is empty: not a person",
    ),
    "match_row_no_name": ("姓名为空，无法匹配", "the name is empty: cannot match"),
    "match_row_no_birth_date": ("出生日期为空，无法匹配", "the birth date is empty: cannot match"),
    "match_row_bad_birth_date": (
        "出生日期无法识别或不合理（可用 YYYY-MM-DD、YYYY/MM/DD、YYYYMMDD）",
        "the birth date is not a plausible date (use YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD)",
    ),
    "match_note_id": (
        "身份证号无法使用（{reason}），仅按其他信息比对",
        "the ID number is unusable ({reason}); compared on the other fields only",
    ),
    "match_note_sex": (
        "性别无法识别，未参与比对",
        "the sex is not recognised and was not compared",
    ),
    "match_note_region": (
        "地区不是六位行政区划代码，未参与比对",
        "the region is not a six-digit region code and was not compared",
    ),
    "match_review": (
        "可能是同一人，但把握不足，需人工复核",
        "possibly the same person, but not sure enough: a clerk should decide",
    ),
    "match_none": ("人员索引中没有足够相似的人", "nobody in the person index is similar enough"),
    "store_unreachable": ("无法连接数据库（{url}）", "cannot connect to the database ({url})"),
    "bad_database_url": (
        "FPCREDIT_DATABASE_URL 不是可用的数据库地址",
        "FPCREDIT_DATABASE_URL is not a usable database URL",
    ),
    "unknown_source": (
        "未知的数据来源“{source}”；可用：{known}",
        "unknown source {source!r}; known sources: {known}",
    ),
    # Departments (collect/mapping.py, collect/adapters/, service.load_province): a department is
    # a mapping file, packaged or in FPCREDIT_MAPPINGS_DIR (docs/ingestion.md).
    "mapping.invalid": ("映射文件 {file} 有误：{why}", "mapping file {file} is invalid: {why}"),
    "mapping.not_utf8": ("文件不是UTF-8编码", "the file is not UTF-8"),
    "mapping.source_differs": (
        "文件中的 source“{named}”与文件名“{source}”不一致",
        "source {named!r} differs from the file's name {source!r}",
    ),
    "mapping.bad_name": (
        "映射文件 {file} 的文件名不能作为数据来源名"
        "（须以小写字母开头，只含小写字母、数字和下划线）",
        "mapping file {file}: its name cannot be a source name (a lower-case letter, then"
        " lower-case letters, digits or _)",
    ),
    "mapping.packaged": (
        "映射文件 {file} 重复定义了内置的数据来源“{source}”；新部门请另取文件名",
        "mapping file {file} redefines the packaged source {source!r}; give a new department"
        " another name",
    ),
    "departments.no_feed": (
        "以下部门在数据文件夹中没有数据文件，未导入：{sources}",
        "no feed in the feeds folder for these departments, not ingested: {sources}",
    ),
    "key_missing": (
        "密钥文件 {name} 不存在，请先运行 `fpcredit init`",
        "key file {name} is missing; run `fpcredit init`",
    ),
    "keys_damaged": ("{folder} 中的密钥文件已损坏", "key files in {folder} are damaged"),
    "cannot_decrypt": (
        "无法解密{field}字段（密钥 {kid}）",
        "cannot decrypt a {field} value (key {kid})",
    ),
    "not_ciphertext": (
        "存储值不是本平台的密文格式",
        "stored value is not in the fpcredit ciphertext format",
    ),
    # Evaluations (docs/policy.md, docs/evaluation.md).
    "evaluation_missing": (
        "没有 {as_of} 的评价结果，请先运行 `fpcredit evaluate --as-of {as_of}`",
        "no evaluation as of {as_of}; run `fpcredit evaluate --as-of {as_of}` first",
    ),
    "evaluation_file_missing": (
        "评价结果文件 {path} 不存在（FPCREDIT_HOME 是否正确？）",
        "the evaluation's result file {path} is missing (is FPCREDIT_HOME right?)",
    ),
    "explain_no_person": ("人员索引中没有人员 {person}", "no person {person} in the person index"),
    "explain_not_evaluated": (
        "人员 {person} 在 {day} 不参加评价（未满评价年龄，或当时尚无其记录）",
        "person {person} is not evaluated on {day} (under the evaluation age, or not yet known)",
    ),
    "action_count": ("再完成 {n} 次{kind}", "take up {kind} {n} more time(s)"),
    "action_measure": ("落实避孕节育措施（{code}）", "take up a contraception measure ({code})"),
    "action_schedule": (
        "为 {birth} 出生的子女完成 {what} 第 {n} 次（{months} 月龄应完成）",
        "complete {what} no. {n} for the child born {birth} (due at {months} months)",
    ),
    "action_payment": ("补缴 {period} 的生育保险", "pay the maternity insurance for {period}"),
    "action_repair": (
        "就 {day} 的信用事件申请信用修复（已过最短公示期）",
        "apply for credit repair of the event of {day} (its minimum disclosure period has passed)",
    ),
    "action_flag_id_valid": (
        "到户籍所在地派出所核验身份证号",
        "have the ID number verified at the local police station",
    ),
    "action_flag_name_consistent": (
        "申请核对并更正各部门登记的姓名",
        "ask for the name held by the departments to be checked and corrected",
    ),
    "action_flag_birth_date_consistent": (
        "申请核对并更正各部门登记的出生日期",
        "ask for the birth date held by the departments to be checked and corrected",
    ),
    "action_flag_hukou_known": ("补充户籍地信息", "complete the hukou registration details"),
    "action_flag_residence_known": ("办理居住登记", "register the place of residence"),
    "action_flag_phone_known": ("登记联系电话", "register a contact phone number"),
    # Policy files (docs/policy.md).
    "policy_unreadable": ("无法读取政策文件：{why}", "cannot read the policy file: {why}"),
    "policy_not_utf8": ("政策文件不是 UTF-8 编码", "the policy file is not UTF-8 text"),
    "policy_yaml": ("YAML 格式错误：{why}", "not valid YAML: {why}"),
    "policy_not_mapping": ("政策文件的顶层必须是键值映射", "the top level must be a mapping"),
    "policy_field": ("{where}：{why}", "{where}: {why}"),
    "policy_pydantic_missing": ("{where}：缺少必填项", "{where}: this field is required"),
    "policy_pydantic_extra_forbidden": (
        "{where}：不认识的字段（拼写错误？）",
        "{where}: unknown field (a typo?)",
    ),
    "policy_pydantic_literal_error": (
        "{where}：取值只能是 {expected}",
        "{where}: must be one of {expected}",
    ),
    "policy_pydantic_greater_than_equal": (
        "{where}：不能小于 {ge}",
        "{where}: must be at least {ge}",
    ),
    "policy_pydantic_less_than_equal": (
        "{where}：不能大于 {le}",
        "{where}: must be at most {le}",
    ),
    "policy_pydantic_string_type": (
        '{where}：应为文本（数字请加引号，如 "1.0.0"）',
        '{where}: must be text (quote numbers, e.g. "1.0.0")',
    ),
    "policy_pydantic_date_from_datetime_parsing": (
        "{where}：不是 YYYY-MM-DD 格式的日期",
        "{where}: not a date in YYYY-MM-DD form",
    ),
    "policy_pydantic_date_type": (
        "{where}：不是 YYYY-MM-DD 格式的日期",
        "{where}: not a date in YYYY-MM-DD form",
    ),
    "policy_pydantic_int_parsing": ("{where}：应为整数", "{where}: must be a whole number"),
    "policy_pydantic_int_type": ("{where}：应为整数", "{where}: must be a whole number"),
    "policy_pydantic_string_pattern_mismatch": (
        "{where}：格式不符合要求（{pattern}）",
        "{where}: does not have the required form ({pattern})",
    ),
    "policy_pydantic_union_tag_invalid": (
        "{where}：未知的度量类型 {tag}，可用：{expected_tags}",
        "{where}: unknown measure type {tag}; known: {expected_tags}",
    ),
    "policy_not_number": (
        "“{value}”不是数字或 1/3 这样的分数",
        "{value!r} is not a number or a fraction like 1/3",
    ),
    "policy_number_size": (
        "{value} 过大或过于精细（分母不超过一百万）",
        "{value} is too large or too fine (denominator at most one million)",
    ),
    "policy_band": (
        "分档需要 at_least、at_most 或两者",
        "a band needs at_least, at_most or both",
    ),
    "policy_duplicate": ("“{what}”重复出现", "{what!r} appears twice"),
    "policy_unknown_dimension": (
        "未知维度“{what}”；已定义：{known}",
        "unknown dimension {what!r}; defined: {known}",
    ),
    "policy_unknown_grade": ("未知等级“{what}”", "unknown grade {what!r}"),
    "policy_unknown_kind": (
        "“{what}”不是数据元标准中的数据集",
        "{what!r} is not a data set of the data element standard",
    ),
    "policy_unknown_attr": (
        "“{what}”不是数据集 {kind} 的字段",
        "{what!r} is not a field of the data set {kind}",
    ),
    "policy_weight_unit": (
        "权重 {weight} 必须为正，且最多四位小数",
        "weight {weight} must be positive with at most four decimals",
    ),
    "policy_weight_sum": (
        "维度权重之和为 {total}，应为 1",
        "the dimension weights sum to {total}, not 1",
    ),
    "policy_indicator_weight_sum": (
        "维度 {what} 的指标权重之和为 {total}，应为 1",
        "the indicator weights of dimension {what} sum to {total}, not 1",
    ),
    "policy_empty_dimension": ("维度 {what} 没有指标", "dimension {what} has no indicator"),
    "policy_ahp_size": (
        "判断矩阵为 {n} 阶，但有 {m} 个权重",
        "the comparison matrix has order {n} but there are {m} weights",
    ),
    "policy_ahp_disagrees": (
        "{member} 的权重 {stored} 与层次分析法推导的 {derived:.4f} 不一致",
        "the weight {stored} of {member} disagrees with the AHP derivation {derived:.4f}",
    ),
    "policy_cutoff": (
        "等级分数线 {value} 应在 0–100 之间且最多两位小数",
        "grade cut-off {value} must be within 0–100 with at most two decimals",
    ),
    # Key rotation (docs/keys.md).
    "keys.rotate_started": (
        "新数据密钥 {kid} 已启用，开始重新加密存量密文",
        "data key {kid} is active; re-encrypting stored values",
    ),
    "keys.rotate_resumed": (
        "继续上次未完成的密钥轮换（数据密钥 {kid}）",
        "resuming the unfinished rotation (data key {kid})",
    ),
    "keys.rotate_progress": ("{table}：已重新加密 {rows} 行", "{table}: {rows} rows re-encrypted"),
    "keys.rotate_counting": ("统计各密钥仍在使用的密文", "counting the values each key seals"),
    "keys.rotate_kept": (
        "旧密钥 {kid} 仍有 {count} 个密文在用，暂不退役；请稍后再次运行 `fpcredit keys rotate`",
        "old key {kid} still seals {count} values and is kept; run `fpcredit keys rotate` again",
    ),
    "keys.rotate_done": (
        "密钥轮换完成：当前数据密钥 {kid}，已退役 {retired}",
        "key rotation done: data key {kid} is active, retired {retired}",
    ),
    "keys.cannot_reencrypt": (
        "无法重新加密 {table}.{column}：密钥环中没有能解密它的密钥",
        "cannot re-encrypt {table}.{column}: no key in the keyring decrypts it",
    ),
    "keys.composite_key": (
        "表 {table} 没有单列主键，无法分批重新加密",
        "table {table} has no single-column primary key to re-encrypt it in batches",
    ),
    # Crypto profiles and moves between them (gm unit; docs/keys.md).
    "keys.rotate_active": (
        "当前数据密钥 {kid}：已重新加密 {rows} 个密文（{tables}）",
        "active key {kid}: {rows} values re-encrypted ({tables})",
    ),
    "keys.rotate_retired": ("已退役：{kids}", "retired: {kids}"),
    "keys.rotate_still_used": (
        "仍在使用，请稍后再次运行：{kept}",
        "still in use, run again: {kept}",
    ),
    "keys.move_started": (
        "开始迁移到 {profile} 密码配置：新数据密钥 {kid}（{data}）已启用，盲索引改用 {index}",
        "moving to the {profile} crypto profile: data key {kid} ({data}) is active, "
        "blind indexes move to {index}",
    ),
    "keys.move_progress": (
        "{table}：已重新加密并重算盲索引 {rows} 行",
        "{table}: {rows} rows re-encrypted and re-indexed",
    ),
    "keys.index_moved": (
        "全部盲索引已改用 {index}，旧的盲索引密钥已删除",
        "every blind index now uses {index}; the old blind-index key is deleted",
    ),
    "keys.move_unfinished": (
        "上一次轮换（到 {profile} 密码配置）尚未完成：请先运行 "
        "`fpcredit keys rotate --profile {profile}` 完成它",
        "the last rotation (to the {profile} crypto profile) is unfinished; finish it first "
        "with `fpcredit keys rotate --profile {profile}`",
    ),
    "keys.move_blocks": (
        "数据库正在迁移到 {profile} 密码配置，批量链接、名单匹配和评价须等迁移完成："
        "请运行 `fpcredit keys rotate --profile {profile}` 完成迁移",
        "the store is moving to the {profile} crypto profile; batch linkage, list matching and "
        "evaluation wait until it is finished (run `fpcredit keys rotate --profile {profile}`)",
    ),
    "keys.index_unpaired": (
        "{table}.{column} 没有对应的 {source} 列，无法重算盲索引",
        "cannot recompute {table}.{column}: the table has no {source} column to compute it from",
    ),
    "keys.profile_differs": (
        "FPCREDIT_CRYPTO={setting}，但此数据库的密钥环是 {profile} 配置；"
        "运行 `fpcredit keys rotate --profile {setting}` 迁移",
        "FPCREDIT_CRYPTO={setting} but this store's keyring is in the {profile} profile; "
        "`fpcredit keys rotate --profile {setting}` moves it",
    ),
    "keys.status": (
        "密码配置 {profile}：数据密钥 {kid}（{data}），盲索引 {index}",
        "crypto profile {profile}: data key {kid} ({data}), blind index {index}",
    ),
    "keys.status_moving": (
        "正在迁移：盲索引由 {old} 改为 {new}，查找同时使用两者",
        "moving: blind indexes change from {old} to {new}; lookups use both",
    ),
    "keys.status_readable": (
        "仍可解密的旧数据密钥：{kids}",
        "older data keys still readable: {kids}",
    ),
    "gm.key_name_invalid": (
        "签名密钥名 {name!r} 无效：不能为空，也不能含空白或“+”",
        "note key name {name!r} is invalid: it must be non-empty, without spaces or '+'",
    ),
    "gm.signer_key_malformed": (
        "SM2 签名私钥格式错误（应为 PRIVATE+KEY+名称+密钥号+base64）",
        "the SM2 note signer key is malformed (PRIVATE+KEY+name+id+base64 expected)",
    ),
    "gm.verifier_key_malformed": (
        "SM2 验签公钥格式错误（应为 名称+密钥号+base64）",
        "the SM2 note verifier key is malformed (name+id+base64 expected)",
    ),
    "gm.key_pair_mismatch": (
        "SM2 私钥与公钥不匹配（自检签名未通过）",
        "the SM2 private and public keys do not match (the self-test signature fails)",
    ),
    "gm.key_damaged": ("SM2 签名密钥文件 {name} 已损坏", "the SM2 note key file {name} is damaged"),
    "policy_no_severities": (
        "使用了信用事件指标，但未定义 severities",
        "an events indicator needs the severities section",
    ),
    # The HTTP service (docs/security.md).
    "serve.tls_pair": ("--tls-cert 与 --tls-key 须同时给出", "give both --tls-cert and --tls-key"),
    "serve.plain_refused": (
        "拒绝在非本机地址 {host} 上以明文 HTTP 提供服务：请给出 --tls-cert/--tls-key，"
        "或在 TLS 反向代理之后使用 --plain-http",
        "refusing plain HTTP on the non-loopback address {host}: give --tls-cert/--tls-key, "
        "or --plain-http behind a TLS-terminating proxy",
    ),
    "serve.listening": (
        "服务已启动：{url}（接口说明 {url}/openapi.json）",
        "serving on {url} (API description at {url}/openapi.json)",
    ),
    "users.enrolled": (
        "账号 {username}（{role}，辖区 {region}）已创建。以下内容只显示这一次，请当面交给本人：\n"
        "  一次性密码：{password}（首次登录须修改）\n"
        "  TOTP 密钥：{totp_secret}\n"
        "  验证器链接：{totp_uri}",
        "account {username} ({role}, region {region}) created. Shown this once only; hand it to "
        "the holder in person:\n"
        "  one-time password: {password} (must be changed at the first login)\n"
        "  TOTP secret: {totp_secret}\n"
        "  authenticator URI: {totp_uri}",
    ),
    "users.client_enrolled": (
        "部门客户端已登记：client_id={client_id}\n  client_secret={client_secret}"
        "（只显示这一次）\n  允许用途：{purposes}",
        "department client registered: client_id={client_id}\n  client_secret={client_secret}"
        " (shown this once only)\n  allowed purposes: {purposes}",
    ),
    "trail.unavailable": (
        "访问留痕暂时无法写入，为保护个人信息本次查询被拒绝，请稍后再试",
        "the access trail cannot be written just now, so the read was refused; try again shortly",
    ),
    # -- masking (R28, docs/keys.md "Masking") --
    "mask.month_not_over": (
        "脱敏视图只显示已结束月份的日期：{day} 所在月份尚未结束"
        "（可选更早的评价日期，或申请查看明文）",
        "a masked view shows dates of months that are over only, and the month of {day} is not "
        "(ask for an earlier evaluation date, or for a reveal)",
    ),
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
    "policy_severity_order": (
        "min_months 不能大于 max_months",
        "min_months cannot exceed max_months",
    ),
    # Identities and authentication (guard/auth/identity.py, docs/identities.md). `auth.*` answer a
    # login or a token; `users.*` answer account administration.
    "auth.bad_credentials": (
        "用户名或密码（或动态口令）错误",
        "wrong username, password or TOTP code",
    ),
    "auth.locked": (
        "连续登录失败次数过多，账户已锁定至 {until}",
        "too many failed logins: the account is locked until {until}",
    ),
    "auth.totp_required": (
        "请输入身份验证器中的6位动态口令",
        "enter the 6-digit code from your authenticator app",
    ),
    "auth.disabled": ("账户已停用，请联系管理员", "the account is disabled; ask an administrator"),
    "auth.dormant": (
        "账户已连续 {days} 天未使用，已停用；请管理员重置",
        "the account was not used for {days} days and is disabled; ask for a reset",
    ),
    "auth.password_change_required": (
        "首次登录须修改一次性密码，请同时提供新密码",
        "this one-time password must be changed: give a new password as well",
    ),
    "auth.password_too_short": (
        "密码至少需要 {min} 个字符",
        "the password needs at least {min} characters",
    ),
    "auth.password_too_long": (
        "密码不能超过 {max} 个字符",
        "the password cannot be longer than {max} characters",
    ),
    "auth.password_characters": (
        "密码只能包含英文字母、数字和英文标点符号（不含空格、全角字符或汉字）",
        "the password may contain only ASCII letters, digits and punctuation (no spaces)",
    ),
    "auth.password_classes": (
        "密码须包含小写字母、大写字母、数字、符号四类中的至少 {classes} 类",
        "the password needs at least {classes} of: lower-case, upper-case, digit, symbol",
    ),
    "auth.password_username": ("密码不能包含用户名", "the password cannot contain the username"),
    "auth.password_reused": (
        "新密码不能与最近 {history} 次使用过的密码（含一次性密码）相同",
        "the new password cannot repeat any of the last {history} (one-time passwords included)",
    ),
    "auth.password_common": (
        "密码太常见或太容易猜到（常用密码、键盘序列、单词加数字或年份等），请换一个",
        "the password is too common or easy to guess (a common password, a keyboard run, "
        "a word with digits or a year); choose another",
    ),
    "auth.invalid_token": ("访问令牌无效", "the access token is invalid"),
    "auth.expired": ("访问令牌已过期，请刷新或重新登录", "the access token has expired"),
    "auth.session_closed": ("会话已结束，请重新登录", "the session has ended; log in again"),
    "auth.session_idle": (
        "会话超过 {minutes} 分钟未操作，已自动退出，请重新登录",
        "the session was idle for {minutes} minutes and was closed; log in again",
    ),
    "auth.bad_code": (
        "验证码错误或已失效，请重新获取",
        "the code is wrong or no longer valid; request a new one",
    ),
    "auth.biometric_not_configured": (
        "未配置生物特征核验服务",
        "no biometric verification service is configured",
    ),
    "auth.sms_code": (
        "【计生信用】您的登录验证码为 {code}，{minutes} 分钟内有效。请勿告诉他人。",
        "[fpcredit] Your login code is {code}, valid for {minutes} minutes. Do not share it.",
    ),
    "users.bad_role": (
        "角色“{role}”不能用于账户（可用：national、province、city、county、sysadmin、secadmin、"
        "auditor）",
        "role {role!r} is not an account role (national, province, city, county, sysadmin, "
        "secadmin, auditor)",
    ),
    "users.bad_region": (
        "行政区划代码“{region}”与角色 {role} 不符（国家级为 000000，省级如 330000，"
        "市级如 330100，县级如 330106）",
        "region code {region!r} does not fit role {role} (national 000000, province e.g. "
        "330000, city 330100, county 330106)",
    ),
    "users.bad_username": (
        "用户名须为3–32个小写英文字母、数字或 . _ -，并以字母开头",
        "the username needs 3–32 lower-case letters, digits or . _ -, starting with a letter",
    ),
    "users.reserved_username": (
        "“{username}”含有保留词“{word}”，像是默认或共用账户名，请使用个人的用户名",
        "{username!r} contains the reserved word {word!r} and looks like a default or shared "
        "account; use a personal name",
    ),
    "users.exists": ("用户名“{username}”已存在", "the username {username!r} is taken"),
    "users.unknown": ("没有用户“{username}”", "there is no user {username!r}"),
    "users.bad_source": (
        "“{source}”不是数据元标准中的部门",
        "{source!r} is not a department of the data element standard",
    ),
    "users.bad_purpose": (
        "部门客户端不能使用用途“{purpose}”（可用：{allowed}）",
        "a department client may not use purpose {purpose!r} (allowed: {allowed})",
    ),
    "users.no_purpose": (
        "请至少指定一个用途（可用：{allowed}）",
        "name at least one purpose (allowed: {allowed})",
    ),
    "users.client_exists": (
        "部门 {source} 已有启用的客户端；请先停用它",
        "department {source} already has an active client; disable it first",
    ),
    "users.unknown_client": ("没有客户端“{client_id}”", "there is no client {client_id!r}"),
    # 三员分立, policy activation and the operator's reads at the command line (admin unit,
    # issue 21; guard/auth/admin.py, guard/auth/operator.py, evaluate/active.py, docs/security.md).
    "admin.refused_role": (
        "角色 {role} 不能执行“{action}”：三员分立，这是另一名管理员的职责",
        "role {role} may not {action}: separation of duties makes it another administrator's",
    ),
    "admin.refused_target": (
        "系统管理员只能管理工作人员账户，不能管理 {role} 账户：管理员账户只能在服务器上由"
        "操作系统操作员用命令行创建和重置",
        "a system administrator manages staff accounts only, not a {role} account: "
        "administrators' accounts are made and reset only at the server's command line",
    ),
    "admin.rotation_running": (
        "密钥轮换正在进行，请等它结束（GET /v1/admin/keys/rotation）",
        "a key rotation is running; wait for it to end (GET /v1/admin/keys/rotation)",
    ),
    "cli.purpose_required": (
        "读取个人信息须用 --purpose 说明用途（此命令可用：{allowed}）",
        "reading personal data needs --purpose (this command allows: {allowed})",
    ),
    "cli.purpose_unknown": (
        "“{purpose}”不在用途词表中（此命令可用：{allowed}）",
        "{purpose!r} is not in the purpose vocabulary (this command allows: {allowed})",
    ),
    "cli.purpose_refused": (
        "此命令不能以用途“{purpose}”读取个人信息（可用：{allowed}）",
        "this command may not read personal data for {purpose!r} (allowed: {allowed})",
    ),
    "users.enabled_done": ("账户 {username} 已启用", "account {username} is enabled"),
    "users.client_disabled": ("客户端 {client_id} 已停用", "client {client_id} is disabled"),
    "users.client_purposes_set": (
        "客户端 {client_id} 的允许用途：{purposes}（其会话已结束）",
        "client {client_id} may now name: {purposes} (its sessions have ended)",
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
    # The service's edges (issue 21): dates, exports outside the home, forwarded headers.
    "web.as_of_range": (
        "评价日期须在 {earliest} 至 {latest} 之间",
        "the evaluation date must lie between {earliest} and {latest}",
    ),
    "export.outside_home": (
        "注意：{path} 含有个人信息，且位于受保护目录 FPCREDIT_HOME（{home}）之外；"
        "请妥善保管，用完即删",
        "note: {path} holds personal data and lies outside the protected folder FPCREDIT_HOME "
        "({home}); keep it safe and delete it when done",
    ),
    "config.invalid": (
        "设置 {variable} 的值无效：{why}",
        "the setting {variable} is invalid: {why}",
    ),
    "config.bad_proxy": (
        "可信代理须为 IP 地址或网段（如 10.0.0.5 或 10.0.0.0/24），而不是“{value}”",
        "a trusted proxy must be an IP address or network (e.g. 10.0.0.5 or 10.0.0.0/24), "
        "not {value!r}",
    ),
}

# The language of the current CLI run or request: a context variable, so two requests served
# at once (each its own task or thread context) write their own.
_language: ContextVar[Language] = ContextVar("fpcredit_language", default="zh")


def set_language(lang: Language) -> Token[Language]:
    """Choose the language of messages in the current context (a CLI run, a request); returns
    the token `reset_language` takes to undo it."""
    return _language.set(lang)


def reset_language(token: Token[Language]) -> None:
    """Go back to the language before `set_language` returned `token`."""
    _language.reset(token)


@contextmanager
def using_language(lang: Language) -> Iterator[None]:
    """Messages in `lang` within the block, in this context only."""
    token = _language.set(lang)
    try:
        yield
    finally:
        _language.reset(token)


def language() -> Language:
    """The language messages are currently written in."""
    return _language.get()


def negotiate(accept_language: str | None, default: Language) -> Language:
    """The language an `Accept-Language` header prefers (RFC 9110 §12.5.4) among zh and en:
    the one of higher weight (`q`), the earlier on a tie; `default` when it names neither (or
    `*` only, or nothing)."""
    best: tuple[float, int, Language] | None = None
    for position, item in enumerate((accept_language or "").split(",")):
        tag, _, params = item.strip().partition(";")
        primary = tag.strip().lower().partition("-")[0]
        if primary not in ("zh", "en"):
            continue
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if weight <= 0 or weight > 1:
            continue
        candidate = (-weight, position, cast(Language, primary))
        if best is None or candidate < best:
            best = candidate
    return default if best is None else best[2]


def text(key: str, lang: Language | None = None, **values: object) -> str:
    """A catalogue sentence, formatted, in `lang` or the current context's language."""
    zh, en = _TEXTS[key]
    lang = lang or _language.get()
    return (zh if lang == "zh" else en).format(**values)


def known(key: str) -> bool:
    """Whether the catalogue has a sentence for `key`."""
    return key in _TEXTS


def label(key: str, lang: Language | None = None) -> str:
    """A catalogue label such as `role.mother`, or the key's last part when there is none."""
    return text(key, lang) if key in _TEXTS else key.partition(".")[2]


def rule_message(rule: str, field_label: str, field: str, lang: Language | None = None) -> str:
    """`母亲·公民身份号码（mother.id_number）：…校验码错误` — names field and rule."""
    zh, en = RULES[rule]
    lang = lang or _language.get()
    if lang == "zh":
        return f"{field_label}（{field}）：{zh}［{rule}］"
    return f"{field_label} ({field}): {en} [{rule}]"
