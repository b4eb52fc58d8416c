"""Data keys: key files, decryption, rotation, moves between crypto profiles (docs/keys.md)."""

from typing import Final

TEXTS: Final[dict[str, tuple[str, str]]] = {
    "keys.missing": (
        "密钥文件 {name} 不存在，请先运行 `fpcredit init`",
        "key file {name} is missing; run `fpcredit init`",
    ),
    "keys.damaged": ("{folder} 中的密钥文件已损坏", "key files in {folder} are damaged"),
    "keys.cannot_decrypt": (
        "无法解密{field}字段（密钥 {kid}）",
        "cannot decrypt a {field} value (key {kid})",
    ),
    "keys.not_ciphertext": (
        "存储值不是本平台的密文格式",
        "stored value is not in the fpcredit ciphertext format",
    ),
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
}
