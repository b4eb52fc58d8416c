"""`fpcredit demo` (cli/demo.py): its steps, and the demo accounts it seeds
(`service.seed_demo_accounts`)."""

from typing import Final

TEXTS: Final[dict[str, tuple[str, str]]] = {
    "demo.synthesised": (
        "1. 合成省份：{people} 人（随机种子 {seed}）→ {feeds}",
        "1. synthetic province: {people} people (seed {seed}) → {feeds}",
    ),
    "demo.store_ready": ("2. 存储就绪：{url}", "2. store ready: {url}"),
    "demo.ingested": ("3. 已采集各部门数据：", "3. ingested every department feed:"),
    "demo.store_counts": (
        "存储：{records} 条记录，{facts} 条事实，{quarantined} 条隔离 · 见 `fpcredit quality list`",
        "store: {records} records, {facts} facts, {quarantined} quarantined"
        " · see `fpcredit quality list`",
    ),
    "demo.linked": (
        "4. 已将每条记录关联到一个人（一人一档）：",
        "4. linked every record to one person (一人一档):",
    ),
    "demo.evaluated": (
        "5. 已按现行政策评价每个人（信用评价）：",
        "5. evaluated everyone under the active policy (信用评价):",
    ),
    "demo.explain_hint": (
        "查看任何人的评价说明：fpcredit explain PERSON_ID --as-of {as_of} --purpose"
        " credit_evaluation · 导出：fpcredit export scores --as-of {as_of} --out scores.csv"
        " --purpose credit_evaluation",
        "explain anyone: fpcredit explain PERSON_ID --as-of {as_of} --purpose credit_evaluation"
        " · export: fpcredit export scores --as-of {as_of} --out scores.csv"
        " --purpose credit_evaluation",
    ),
    "demo.no_evaluation": (
        "尚无正式评价：演示账号要从最近一次正式评价中挑选群众",
        "there is no official evaluation yet: the demo's citizens are chosen from the newest one",
    ),
    "demo.accounts_head": (
        "6. 演示账号（已写入 {path}，仅此一次显示；再次运行 demo 会重置它们）：",
        "6. demo accounts (written to {path}, shown this once; running demo again resets them):",
    ),
    "demo.staff_line": (
        "   {role_label} {username}（区域 {region}）：一次性密码 {password}"
        " · TOTP 密钥 {totp_secret}",
        "   {role_label} {username} (region {region}): one-time password {password}"
        " · TOTP secret {totp_secret}",
    ),
    "demo.staff_rule": (
        "   工作人员首次登录须改设新密码（平台规定）；TOTP 码由身份验证器应用按上面的密钥生成。",
        "   staff must set a new password at their first login (the platform's rule); the TOTP"
        " code comes from an authenticator app given the secret above.",
    ),
    "demo.client_line": (
        "   部门客户端（{department}）：client_id {client_id} · client_secret {client_secret}"
        " · 用途 {purposes} · 可核验 {incentives}",
        "   department client ({department}): client_id {client_id} · client_secret"
        " {client_secret} · purposes {purposes} · may verify {incentives}",
    ),
    "demo.citizen_line": (
        "   群众 {name}（{kind_label}，{grade} 级，{total} 分，户籍 {region}）："
        "身份证号 {id_number} · 手机 {phone}",
        "   citizen {name} ({kind_label}, grade {grade}, {total} points, hukou {region}):"
        " ID number {id_number} · phone {phone}",
    ),
    "demo.role_county": ("县区工作人员", "county clerk"),
    "demo.role_province": ("省级分析人员", "province analyst"),
    "demo.role_auditor": ("审计管理员", "auditor"),
    "demo.citizen_best_a": ("A 级中得分最高", "the best graded A"),
    "demo.citizen_best_below_a": ("A 级以下得分最高", "the best graded below A"),
    "demo.citizen_other_county": ("另一县区", "another county"),
    "demo.citizen_codes": (
        "   群众以身份证号 + 短信验证码登录（均为合成人员）；演示环境的短信写入开发发件箱：验证码见"
        " `fpcredit outbox list --purpose service_delivery --reveal`。",
        "   citizens (synthetic people) log in with their ID number + an SMS code; the demo's"
        " texts go to the development outbox: citizens' codes appear in"
        " `fpcredit outbox list --purpose service_delivery --reveal`.",
    ),
    "demo.serving": (
        "7. 服务地址 http://127.0.0.1:{port} — 群众门户 /portal/，工作台 /console/"
        "（OpenAPI：/openapi.json，健康检查：/healthz）。按 Ctrl-C 停止。",
        "7. serving on http://127.0.0.1:{port} — portal /portal/, console /console/"
        " (OpenAPI: /openapi.json, health: /healthz). Ctrl-C stops it.",
    ),
}
