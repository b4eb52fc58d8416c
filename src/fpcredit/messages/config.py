"""Settings that are invalid (config.py)."""

from typing import Final

TEXTS: Final[dict[str, tuple[str, str]]] = {
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
