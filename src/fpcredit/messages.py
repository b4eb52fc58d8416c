"""The message catalogue: every user-facing sentence, in Chinese (default) and English."""

from __future__ import annotations

from typing import Final, Literal

__all__ = ["RULES", "Language", "label", "language", "rule_message", "set_language", "text"]

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
}

_TEXTS: Final[dict[str, tuple[str, str]]] = {
    "quarantined": ("已隔离", "quarantined"),
    "flagged": ("已标记", "flagged"),
    "file_not_found": ("文件不存在", "file not found"),
    "file_empty": ("文件为空", "the file is empty"),
    "bad_encoding": ("文件编码不是{encoding}", "the file is not valid {encoding}"),
    "bad_parquet": (
        "不是完整的Parquet文件（可能被截断）",
        "not a complete Parquet file (truncated?)",
    ),
    "bad_csv": ("CSV文件无法读取：{detail}", "the CSV file cannot be read: {detail}"),
    "missing_column": ("缺少必需列“{column}”", "required column {column!r} is missing"),
    "no_rows": ("文件没有数据行", "the file has no data rows"),
    "reconciled": ("行数核对一致", "counts reconcile"),
    "store_not_ready": (
        "数据库尚未初始化或版本过旧，请先运行 `fpcredit init`",
        "the store is not initialised or not up to date; run `fpcredit init`",
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
        "another link run or ingestion wrote to the store meanwhile; nothing was written, run again",
    ),
    "link_stage_read": ("读取记录", "reading records"),
    "link_stage_train": ("训练匹配模型（EM）", "training the match model (EM)"),
    "link_stage_id": ("身份证号确定性匹配：{n} 条", "ID-number pass: {n} mentions"),
    "link_stage_persons": ("整理人员最佳值", "collecting persons' best values"),
    "link_stage_splink": (
        "概率匹配：{n} 条对 {persons} 人",
        "probabilistic pass: {n} mentions against {persons} persons",
    ),
    "link_stage_dedupe": ("未匹配记录聚类：{n} 条", "clustering {n} unmatched mentions"),
    "link_stage_write": ("写入 {n} 条关联", "writing {n} links"),
    "store_unreachable": ("无法连接数据库（{url}）", "cannot connect to the database ({url})"),
    "bad_database_url": (
        "FPCREDIT_DATABASE_URL 不是可用的数据库地址",
        "FPCREDIT_DATABASE_URL is not a usable database URL",
    ),
    "unknown_source": (
        "未知的数据来源“{source}”；可用：{known}",
        "unknown source {source!r}; known sources: {known}",
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
}

_language: Language = "zh"


def set_language(lang: Language) -> None:
    """Choose the language of messages for this process (FPCREDIT_LANGUAGE)."""
    global _language
    _language = lang


def language() -> Language:
    """The language messages are currently written in."""
    return _language


def text(key: str, lang: Language | None = None, **values: object) -> str:
    """A catalogue sentence, formatted, in `lang` or the process's language."""
    zh, en = _TEXTS[key]
    lang = lang or _language
    return (zh if lang == "zh" else en).format(**values)


def label(key: str, lang: Language | None = None) -> str:
    """A catalogue label such as `role.mother`, or the key's last part when there is none."""
    return text(key, lang) if key in _TEXTS else key.partition(".")[2]


def rule_message(rule: str, field_label: str, field: str, lang: Language | None = None) -> str:
    """`母亲·公民身份号码（mother.id_number）：…校验码错误` — names field and rule."""
    zh, en = RULES[rule]
    lang = lang or _language
    if lang == "zh":
        return f"{field_label}（{field}）：{zh}［{rule}］"
    return f"{field_label} ({field}): {en} [{rule}]"
