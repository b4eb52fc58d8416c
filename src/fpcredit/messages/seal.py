"""Table digests and row seals (guard/trail/seal.py, guard/trail/sealing.py; docs/trail.md)."""

from typing import Final

TEXTS: Final[dict[str, tuple[str, str]]] = {
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
    "seal.row_refused": (
        "该记录在平台之外被修改过，拒绝使用；请联系安全管理员",
        "this record was changed outside fpcredit and is refused; contact the security "
        "administrator",
    ),
}
