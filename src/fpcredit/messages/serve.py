"""Starting the HTTP service (web/server.py, cli/common.py)."""

from typing import Final

TEXTS: Final[dict[str, tuple[str, str]]] = {
    "serve.tls_pair": ("--tls-cert 与 --tls-key 须同时给出", "give both --tls-cert and --tls-key"),
    "serve.plain_refused": (
        "拒绝在非本机地址 {host} 上以明文 HTTP 提供服务：请给出 --tls-cert/--tls-key，"
        "或在 TLS 反向代理之后使用 --plain-http",
        "refusing plain HTTP on the non-loopback address {host}: give --tls-cert/--tls-key, "
        "or --plain-http behind a TLS-terminating proxy",
    ),
    "serve.listening": (
        "服务已启动：{url}（接口说明 {url}/openapi.json）",
        "serving on {url} (API description at {url}/openapi.json)",
    ),
}
