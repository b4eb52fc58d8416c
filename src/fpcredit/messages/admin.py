"""三员分立: a duty refused to an administrator (guard/auth/admin.py; docs/security.md)."""

from typing import Final

TEXTS: Final[dict[str, tuple[str, str]]] = {
    "admin.refused_role": (
        "角色 {role} 不能执行“{action}”：三员分立，这是另一名管理员的职责",
        "role {role} may not {action}: separation of duties makes it another administrator's",
    ),
    "admin.refused_target": (
        "系统管理员只能管理工作人员账户，不能管理 {role} 账户：管理员账户只能在服务器上由"
        "操作系统操作员用命令行创建和重置",
        "a system administrator manages staff accounts only, not a {role} account: "
        "administrators' accounts are made and reset only at the server's command line",
    ),
    "admin.rotation_running": (
        "密钥轮换正在进行，请等它结束（GET /v1/admin/keys/rotation）",
        "a key rotation is running; wait for it to end (GET /v1/admin/keys/rotation)",
    ),
}
