"""The batch engines (compute/): a step an engine failed."""

from typing import Final

TEXTS: Final[dict[str, tuple[str, str]]] = {
    "compute.failed": (
        "计算步骤“{step}”在 {engine} 上执行失败（{error}），请将此信息报告给系统管理员",
        "the computation step {step!r} failed on {engine} ({error}); please report this to the "
        "system administrator",
    ),
}
