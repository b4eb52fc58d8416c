"""The access rule of every route, in one table: who may call it, and does it read personal data.

`create_app` refuses to start when a route has no rule here, so a new route cannot be reached
before someone has decided who may call it. A rule with `personal=True` needs a `purpose` the
caller may name (fpcredit.guard.access) and every call — allowed or refused — is appended to the
trail. `scope` says how the person a route reads is found, to check the caller's region:
"person" = the `person_id` path parameter, "self" = the citizen's own person, None = no person.
An `admin` rule reads no personal data, but a caller refused by role is on the trail too (an
administrator trying another's duty, 三员分立); the route itself puts every action there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from fpcredit.guard.access import STAFF_ROLES, Role
from fpcredit.guard.auth.admin import DUTIES

__all__ = ["PUBLIC", "RULES", "Rule", "rule_for"]

PUBLIC: Final[frozenset[Role]] = frozenset()


@dataclass(frozen=True)
class Rule:
    """Who may call a route. An empty `roles` set means anyone, without a token."""

    roles: frozenset[Role]
    action: str
    personal: bool = False
    scope: Literal["person", "self"] | None = None
    admin: bool = False

    @property
    def public(self) -> bool:
        return not self.roles

    @property
    def audited(self) -> bool:
        """Whether the gate puts a refusal by role on the trail."""
        return self.personal or self.admin


_STAFF = frozenset(STAFF_ROLES)
# Department clients read no person file and no credit: verification is their only door (R20).
# They also push their own department's feed files (web/api/feeds.py), which reads nothing.
_DEPARTMENT = frozenset({Role.DEPARTMENT})
_AUDIT = frozenset({Role.AUDITOR})
_CITIZEN = frozenset({Role.CITIZEN})
_ADMINS = frozenset({Role.SYSADMIN, Role.SECADMIN, Role.AUDITOR})
_SIGNED_IN = _STAFF | _DEPARTMENT | _ADMINS | _CITIZEN


def _admin(action: str, duty: str | None = None) -> Rule:
    """An administrator's route: the roles whose duty `duty` (default `action`) is."""
    return Rule(DUTIES[duty or action], action, admin=True)


RULES: Final[dict[tuple[str, str], Rule]] = {
    ("GET", "/healthz"): Rule(PUBLIC, "health"),
    ("GET", "/metrics"): Rule(PUBLIC, "metrics"),
    ("GET", "/v1/ping"): Rule(PUBLIC, "ping"),
    ("POST", "/v1/auth/token"): Rule(PUBLIC, "login"),
    ("POST", "/v1/auth/citizen-code"): Rule(PUBLIC, "citizen_code"),
    ("POST", "/v1/auth/refresh"): Rule(_SIGNED_IN, "refresh"),
    ("POST", "/v1/auth/logout"): Rule(_SIGNED_IN, "logout"),
    ("GET", "/v1/auth/session"): Rule(_SIGNED_IN, "session_read"),
    # The pages' front door (web/pages): a signpost to the portal and the console.
    ("GET", "/"): Rule(PUBLIC, "front_door"),
    ("POST", "/v1/persons/search"): Rule(_STAFF, "person_search", personal=True),
    ("GET", "/v1/persons/{person_id}"): Rule(_STAFF, "person_read", True, "person"),
    ("GET", "/v1/persons/{person_id}/credit"): Rule(_STAFF, "credit_read", True, "person"),
    ("GET", "/v1/persons/{person_id}/explanation"): Rule(
        _STAFF, "explanation_read", True, "person"
    ),
    ("GET", "/v1/me"): Rule(_CITIZEN, "self_read", True, "self"),
    ("GET", "/v1/me/credit"): Rule(_CITIZEN, "self_credit_read", True, "self"),
    ("GET", "/v1/me/explanation"): Rule(_CITIZEN, "self_explanation_read", True, "self"),
    ("GET", "/v1/me/access-log"): Rule(_CITIZEN, "self_access_log", True, "self"),
    ("GET", "/v1/me/notifications"): Rule(_CITIZEN, "self_notifications", True, "self"),
    # The points ledger (R21, web/api/points.py): the providing department's client cancels.
    ("GET", "/v1/redeemables"): Rule(PUBLIC, "redeemables"),
    ("GET", "/v1/me/points"): Rule(_CITIZEN, "self_points_read", True, "self"),
    ("POST", "/v1/me/redemptions"): Rule(_CITIZEN, "self_redeem", True, "self"),
    ("POST", "/v1/redemptions/{redemption_id}/cancel"): Rule(
        frozenset({Role.DEPARTMENT}), "redemption_cancel"
    ),
    ("GET", "/v1/me/export"): Rule(_CITIZEN, "self_export", True, "self"),
    ("POST", "/v1/me/feedback"): Rule(_CITIZEN, "self_feedback", True, "self"),
    # Incentives (R19) and department verification (R20): the verification routes write their
    # rows, a change entry and one access entry per person verified themselves (docs/services.md).
    ("GET", "/v1/incentives"): Rule(PUBLIC, "incentive_catalogue"),
    ("GET", "/v1/me/incentives"): Rule(_CITIZEN, "self_incentives", True, "self"),
    ("POST", "/v1/verifications"): Rule(_DEPARTMENT, "incentive_verify"),
    ("POST", "/v1/verifications/batch"): Rule(_DEPARTMENT, "incentive_verify_batch"),
    # A department's feed pushed over HTTP (R2, web/api/feeds.py): only its own source, checked
    # in the handler. It supplies records and reads none, so it names no purpose (R27 limits
    # reads); the handler puts the push, a re-send and a refusal on the trail itself.
    ("POST", "/v1/feeds/{source}"): Rule(_DEPARTMENT, "feed_push"),
    # Cases (web/api/cases.py): the citizen's own; the clerks' queue scoped by region in the
    # handler (a case of another region is answered 404, the refusal on the trail).
    ("GET", "/v1/me/cases"): Rule(_CITIZEN, "self_cases", True, "self"),
    ("GET", "/v1/me/cases/{case_id}"): Rule(_CITIZEN, "self_case", True, "self"),
    ("POST", "/v1/me/objections"): Rule(_CITIZEN, "objection_open", True, "self"),
    ("POST", "/v1/me/repairs"): Rule(_CITIZEN, "repair_apply", True, "self"),
    ("POST", "/v1/me/corrections"): Rule(_CITIZEN, "correction_request", True, "self"),
    ("POST", "/v1/me/reviews"): Rule(_CITIZEN, "review_request", True, "self"),
    ("GET", "/v1/cases"): Rule(_STAFF, "case_queue", personal=True),
    ("POST", "/v1/cases/{case_id}/decision"): Rule(_STAFF, "case_decide", personal=True),
    # Clerical review of doubtful links (R4, web/api/reviews.py): the pairs scoped by region in
    # the handler (a pair of another region is answered 404, the refusal on the trail); merge
    # and unmerge check `person_id` at the gate, the second person in the handler.
    ("GET", "/v1/reviews"): Rule(_STAFF, "review_list", personal=True),
    ("GET", "/v1/reviews/{review_id}"): Rule(_STAFF, "review_show", personal=True),
    ("POST", "/v1/reviews/{review_id}/decision"): Rule(_STAFF, "review_decide", personal=True),
    ("POST", "/v1/persons/{person_id}/merge"): Rule(_STAFF, "person_merge", True, "person"),
    ("POST", "/v1/persons/{person_id}/unmerge"): Rule(_STAFF, "person_unmerge", True, "person"),
    # Dashboards (web/api/dashboards.py): aggregates naming nobody, each call on the trail.
    ("GET", "/v1/dashboards/grades"): Rule(_STAFF, "dashboard_grades", personal=True),
    ("GET", "/v1/dashboards/quality"): Rule(_STAFF, "dashboard_quality", personal=True),
    ("GET", "/v1/dashboards/monitoring"): Rule(_STAFF, "dashboard_monitoring", personal=True),
    ("GET", "/v1/audit/checkpoint"): Rule(PUBLIC, "checkpoint"),
    ("GET", "/v1/audit/proof/inclusion"): Rule(PUBLIC, "inclusion_proof"),
    ("GET", "/v1/audit/proof/consistency"): Rule(PUBLIC, "consistency_proof"),
    ("GET", "/v1/audit/entries"): Rule(_AUDIT, "audit_read", personal=True),
    ("GET", "/v1/audit/verify"): Rule(_AUDIT, "audit_verify", admin=True),
    # 三员分立 (guard/auth/admin.py DUTIES): accounts and clients for the system administrator,
    # client purposes, keys and policies for the security administrator.
    ("GET", "/v1/admin/users"): _admin("user_list"),
    ("POST", "/v1/admin/users"): _admin("user_add"),
    ("POST", "/v1/admin/users/{username}/reset"): _admin("user_reset"),
    ("POST", "/v1/admin/users/{username}/disable"): _admin("user_disable"),
    ("POST", "/v1/admin/users/{username}/enable"): _admin("user_enable"),
    ("GET", "/v1/admin/clients"): _admin("client_list"),
    ("POST", "/v1/admin/clients"): _admin("client_add"),
    ("POST", "/v1/admin/clients/{client_id}/disable"): _admin("client_disable"),
    ("PUT", "/v1/admin/clients/{client_id}/purposes"): _admin("client_purposes"),
    ("POST", "/v1/admin/keys/rotation"): _admin("key_rotate"),
    ("GET", "/v1/admin/keys/rotation"): _admin("key_rotation_status", "key_rotate"),
    ("GET", "/v1/admin/policies"): _admin("policy_list"),
    ("POST", "/v1/admin/policies"): _admin("policy_activate"),
}


def rule_for(method: str, path: str) -> Rule | None:
    """The rule of a route template (as FastAPI writes it, e.g. /v1/persons/{person_id})."""
    return RULES.get((method.upper(), path))
