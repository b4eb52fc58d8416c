"""The store: connecting, migrating, reading and writing (store/, collect/ingest.py)."""

from typing import Final

TEXTS: Final[dict[str, tuple[str, str]]] = {
    "store.not_ready": (
        "数据库尚未初始化或版本过旧，请先运行 `fpcredit init`",
        "the store is not initialised or not up to date; run `fpcredit init`",
    ),
    "store.migration_broke_keys": (
        "数据库升级后有记录指向不存在的数据，升级已撤销，数据未变；请保留日志并联系运维",
        "after the upgrade some rows would point at rows that do not exist; the upgrade was "
        "rolled back and nothing changed; keep the log and tell the operator",
    ),
    "store.write_failed": (
        "写入数据库失败（{reason}），本文件未入库，可稍后重试",
        "writing to the database failed ({reason}); nothing of this file was stored, retry later",
    ),
    "store.read_failed": ("读取数据库失败（{reason}）", "reading the database failed ({reason})"),
    "store.unreachable": ("无法连接数据库（{url}）", "cannot connect to the database ({url})"),
    "store.bad_database_url": (
        "FPCREDIT_DATABASE_URL 不是可用的数据库地址",
        "FPCREDIT_DATABASE_URL is not a usable database URL",
    ),
}
