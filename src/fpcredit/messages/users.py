"""Account administration: staff users and department clients (guard/auth/accounts.py)."""

from typing import Final

TEXTS: Final[dict[str, tuple[str, str]]] = {
    "users.enrolled": (
        "账号 {username}（{role}，辖区 {region}）已创建。以下内容只显示这一次，请当面交给本人：\n"
        "  一次性密码：{password}（首次登录须修改）\n"
        "  TOTP 密钥：{totp_secret}\n"
        "  验证器链接：{totp_uri}",
        "account {username} ({role}, region {region}) created. Shown this once only; hand it to "
        "the holder in person:\n"
        "  one-time password: {password} (must be changed at the first login)\n"
        "  TOTP secret: {totp_secret}\n"
        "  authenticator URI: {totp_uri}",
    ),
    "users.client_enrolled": (
        "部门客户端已登记：client_id={client_id}\n  client_secret={client_secret}"
        "（只显示这一次）\n  允许用途：{purposes}",
        "department client registered: client_id={client_id}\n  client_secret={client_secret}"
        " (shown this once only)\n  allowed purposes: {purposes}",
    ),
    "users.bad_role": (
        "角色“{role}”不能用于账户（可用：national、province、city、county、sysadmin、secadmin、"
        "auditor）",
        "role {role!r} is not an account role (national, province, city, county, sysadmin, "
        "secadmin, auditor)",
    ),
    "users.bad_region": (
        "行政区划代码“{region}”与角色 {role} 不符（国家级为 000000，省级如 330000，"
        "市级如 330100，县级如 330106）",
        "region code {region!r} does not fit role {role} (national 000000, province e.g. "
        "330000, city 330100, county 330106)",
    ),
    "users.bad_username": (
        "用户名须为3–32个小写英文字母、数字或 . _ -，并以字母开头",
        "the username needs 3–32 lower-case letters, digits or . _ -, starting with a letter",
    ),
    "users.reserved_username": (
        "“{username}”含有保留词“{word}”，像是默认或共用账户名，请使用个人的用户名",
        "{username!r} contains the reserved word {word!r} and looks like a default or shared "
        "account; use a personal name",
    ),
    "users.exists": ("用户名“{username}”已存在", "the username {username!r} is taken"),
    "users.unknown": ("没有用户“{username}”", "there is no user {username!r}"),
    "users.bad_source": (
        "“{source}”不是数据元标准中的部门",
        "{source!r} is not a department of the data element standard",
    ),
    "users.bad_purpose": (
        "部门客户端不能使用用途“{purpose}”（可用：{allowed}）",
        "a department client may not use purpose {purpose!r} (allowed: {allowed})",
    ),
    "users.no_purpose": (
        "请至少指定一个用途（可用：{allowed}）",
        "name at least one purpose (allowed: {allowed})",
    ),
    "users.client_exists": (
        "部门 {source} 已有启用的客户端；请先停用它",
        "department {source} already has an active client; disable it first",
    ),
    "users.unknown_client": ("没有客户端“{client_id}”", "there is no client {client_id!r}"),
    "users.enabled_done": ("账户 {username} 已启用", "account {username} is enabled"),
    "users.client_disabled": ("客户端 {client_id} 已停用", "client {client_id} is disabled"),
    "users.client_purposes_set": (
        "客户端 {client_id} 的允许用途：{purposes}（其会话已结束）",
        "client {client_id} may now name: {purposes} (its sessions have ended)",
    ),
}
