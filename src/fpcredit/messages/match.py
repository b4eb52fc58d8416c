"""Matching a list of people against the person index (link/match.py)."""

from typing import Final

TEXTS: Final[dict[str, tuple[str, str]]] = {
    "match.format": (
        "名单须为 .csv 或 .parquet 文件（而不是“{ext}”）",
        "a list must be a .csv or .parquet file, not {ext!r}",
    ),
    "match.duplicate_column": ("表头中列名“{column}”重复", "column {column!r} appears twice"),
    "match.map_bad": (
        "名单列对照文件 {path} 有误：{reason}",
        "the column map {path} is invalid: {reason}",
    ),
    "match.map_missing": ("缺少必填项 {item}", "{item} is required"),
    "match.map_unknown": (
        "未知的键 {item}（可用：{known}）",
        "unknown key {item} (known: {known})",
    ),
    "match.map_no_column": (
        "{item} 指定的列“{column}”不在名单中",
        "{item} names column {column!r}, which the list does not have",
    ),
    "match.row_fields": (
        "该行有 {n} 列，与表头的 {m} 列不符，无法解析",
        "the row has {n} fields but the header has {m}; it cannot be parsed",
    ),
    "match.row_empty": (
        "该行各项均为空，不是人员信息",
        "every mapped field is empty: not a person",
    ),
    "match.row_no_name": ("姓名为空，无法匹配", "the name is empty: cannot match"),
    "match.row_no_birth_date": ("出生日期为空，无法匹配", "the birth date is empty: cannot match"),
    "match.row_bad_birth_date": (
        "出生日期无法识别或不合理（可用 YYYY-MM-DD、YYYY/MM/DD、YYYYMMDD）",
        "the birth date is not a plausible date (use YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD)",
    ),
    "match.note_id": (
        "身份证号无法使用（{reason}），仅按其他信息比对",
        "the ID number is unusable ({reason}); compared on the other fields only",
    ),
    "match.note_sex": (
        "性别无法识别，未参与比对",
        "the sex is not recognised and was not compared",
    ),
    "match.note_region": (
        "地区不是六位行政区划代码，未参与比对",
        "the region is not a six-digit region code and was not compared",
    ),
    "match.review": (
        "可能是同一人，但把握不足，需人工复核",
        "possibly the same person, but not sure enough: a clerk should decide",
    ),
    "match.none": ("人员索引中没有足够相似的人", "nobody in the person index is similar enough"),
}
