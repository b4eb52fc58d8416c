"""Exports of personal data written outside the protected home (cli/common.py)."""

from typing import Final

TEXTS: Final[dict[str, tuple[str, str]]] = {
    "export.outside_home": (
        "注意：{path} 含有个人信息，且位于受保护目录 FPCREDIT_HOME（{home}）之外；"
        "请妥善保管，用完即删",
        "note: {path} holds personal data and lies outside the protected folder FPCREDIT_HOME "
        "({home}); keep it safe and delete it when done",
    ),
}
