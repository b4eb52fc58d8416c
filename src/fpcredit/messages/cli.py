"""The purpose a reading command must name at the command line (guard/auth/operator.py)."""

from typing import Final

TEXTS: Final[dict[str, tuple[str, str]]] = {
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
}
