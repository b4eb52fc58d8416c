"""docs/security.md shows the role × purpose table and the route table the code enforces."""

from __future__ import annotations

from pathlib import Path

from fpcredit.guard.access import ROLE_PURPOSES, Purpose, Role
from fpcredit.web.rules import RULES

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"


def purpose_table() -> str:
    roles = list(Role)
    lines = ["| purpose | " + " | ".join(r.value for r in roles) + " |"]
    lines.append("|---|" + "---|" * len(roles))
    for p in Purpose:
        marks = ["✓" if p in ROLE_PURPOSES[r] else "" for r in roles]
        lines.append(f"| `{p.value}` | " + " | ".join(marks) + " |")
    return "\n".join(lines)


def route_table() -> str:
    lines = ["| route | who may call it | personal data (purpose, trail) | person |"]
    lines.append("|---|---|---|---|")
    for (method, path), rule in sorted(RULES.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        who = ", ".join(sorted(r.value for r in rule.roles)) or "anyone"
        personal = "yes" if rule.personal else ""
        scope = {"person": "in the caller's region", "self": "the citizen's own"}.get(
            rule.scope or "", ""
        )
        lines.append(f"| `{method} {path}` | {who} | {personal} | {scope} |")
    return "\n".join(lines)


def test_the_role_purpose_table_is_the_code() -> None:
    assert purpose_table() in DOC.read_text(encoding="utf-8"), purpose_table()


def test_the_route_table_is_the_code() -> None:
    assert route_table() in DOC.read_text(encoding="utf-8"), route_table()
