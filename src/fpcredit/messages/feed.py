"""Department files that cannot be read, and what became of their rows (collect/, link/match.py)."""

from typing import Final

TEXTS: Final[dict[str, tuple[str, str]]] = {
    "feed.quarantined": ("已隔离", "quarantined"),
    "feed.flagged": ("已标记", "flagged"),
    "feed.file_not_found": ("文件不存在", "file not found"),
    "feed.file_empty": ("文件为空", "the file is empty"),
    "feed.bad_encoding": ("文件编码不是{encoding}", "the file is not valid {encoding}"),
    "feed.bad_parquet": (
        "不是完整的Parquet文件（可能被截断）",
        "not a complete Parquet file (truncated?)",
    ),
    "feed.column_not_text": (
        "列“{column}”无法读作文本",
        "column {column!r} cannot be read as text",
    ),
    "feed.bad_csv": ("CSV文件无法读取：{detail}", "the CSV file cannot be read: {detail}"),
    "feed.missing_column": ("缺少必需列“{column}”", "required column {column!r} is missing"),
    "feed.no_rows": ("文件没有数据行", "the file has no data rows"),
    "feed.reconciled": ("行数核对一致", "counts reconcile"),
    "feed.unknown_source": (
        "未知的数据来源“{source}”；可用：{known}",
        "unknown source {source!r}; known sources: {known}",
    ),
}
