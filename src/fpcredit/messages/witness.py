"""The witness that cosigns other logs' checkpoints (guard/trail/witness.py; docs/trail.md)."""

from typing import Final

TEXTS: Final[dict[str, tuple[str, str]]] = {
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
}
