"""Answers to a login or a token (guard/auth/identity.py; docs/identities.md)."""

from typing import Final

TEXTS: Final[dict[str, tuple[str, str]]] = {
    "auth.bad_credentials": (
        "用户名或密码（或动态口令）错误",
        "wrong username, password or TOTP code",
    ),
    "auth.locked": (
        "连续登录失败次数过多，账户已锁定至 {until}",
        "too many failed logins: the account is locked until {until}",
    ),
    "auth.totp_required": (
        "请输入身份验证器中的6位动态口令",
        "enter the 6-digit code from your authenticator app",
    ),
    "auth.disabled": ("账户已停用，请联系管理员", "the account is disabled; ask an administrator"),
    "auth.dormant": (
        "账户已连续 {days} 天未使用，已停用；请管理员重置",
        "the account was not used for {days} days and is disabled; ask for a reset",
    ),
    "auth.password_change_required": (
        "首次登录须修改一次性密码，请同时提供新密码",
        "this one-time password must be changed: give a new password as well",
    ),
    "auth.password_too_short": (
        "密码至少需要 {min} 个字符",
        "the password needs at least {min} characters",
    ),
    "auth.password_too_long": (
        "密码不能超过 {max} 个字符",
        "the password cannot be longer than {max} characters",
    ),
    "auth.password_characters": (
        "密码只能包含英文字母、数字和英文标点符号（不含空格、全角字符或汉字）",
        "the password may contain only ASCII letters, digits and punctuation (no spaces)",
    ),
    "auth.password_classes": (
        "密码须包含小写字母、大写字母、数字、符号四类中的至少 {classes} 类",
        "the password needs at least {classes} of: lower-case, upper-case, digit, symbol",
    ),
    "auth.password_username": ("密码不能包含用户名", "the password cannot contain the username"),
    "auth.password_reused": (
        "新密码不能与最近 {history} 次使用过的密码（含一次性密码）相同",
        "the new password cannot repeat any of the last {history} (one-time passwords included)",
    ),
    "auth.password_common": (
        "密码太常见或太容易猜到（常用密码、键盘序列、单词加数字或年份等），请换一个",
        "the password is too common or easy to guess (a common password, a keyboard run, "
        "a word with digits or a year); choose another",
    ),
    "auth.invalid_token": ("访问令牌无效", "the access token is invalid"),
    "auth.expired": ("访问令牌已过期，请刷新或重新登录", "the access token has expired"),
    "auth.session_closed": ("会话已结束，请重新登录", "the session has ended; log in again"),
    "auth.session_idle": (
        "会话超过 {minutes} 分钟未操作，已自动退出，请重新登录",
        "the session was idle for {minutes} minutes and was closed; log in again",
    ),
    "auth.bad_code": (
        "验证码错误或已失效，请重新获取",
        "the code is wrong or no longer valid; request a new one",
    ),
    "auth.biometric_not_configured": (
        "未配置生物特征核验服务",
        "no biometric verification service is configured",
    ),
    "auth.sms_code": (
        "【计生信用】您的登录验证码为 {code}，{minutes} 分钟内有效。请勿告诉他人。",
        "[fpcredit] Your login code is {code}, valid for {minutes} minutes. Do not share it.",
    ),
}
