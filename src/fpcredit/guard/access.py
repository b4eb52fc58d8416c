"""Who may do what: roles, the purpose vocabulary, region scope and the caller (`Principal`).

Administration is split three ways (三员分立, GB/T 22239-2019 §8.1.4): the system administrator
(`sysadmin`: staff accounts and department clients), the security administrator (`secadmin`:
keys, access settings, the activation of policies) and the audit administrator (`auditor`: the
trail, read-only). An account holds exactly one role, fixed when it is created; none of the
three may name a purpose that reads a person's data (`guard/auth/admin.py` checks their duties).

The purpose vocabulary is closed and has no commercial, marketing or insurance purpose, so such
use of the data cannot even be named in a request (SPEC R27). Each role may name only the
purposes `ROLE_PURPOSES` lists; a department client is further limited to the purposes it was
registered with.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "ADMIN_ROLES",
    "NATIONAL_REGION",
    "PURPOSES",
    "ROLE_PURPOSES",
    "STAFF_ROLES",
    "Principal",
    "Purpose",
    "Role",
    "in_scope",
    "region_prefix",
]


class Role(enum.StrEnum):
    """A caller's role. Staff roles are the four administrative levels (四级联动)."""

    NATIONAL = "national"
    PROVINCE = "province"
    CITY = "city"
    COUNTY = "county"
    AUDITOR = "auditor"  # 审计管理员: the trail, read-only
    SYSADMIN = "sysadmin"  # 系统管理员: staff accounts and department clients
    SECADMIN = "secadmin"  # 安全管理员: keys, access settings, policies' activation
    DEPARTMENT = "department"
    CITIZEN = "citizen"


STAFF_ROLES: Final = frozenset({Role.NATIONAL, Role.PROVINCE, Role.CITY, Role.COUNTY})
# The three administrators of 三员分立; their accounts are made and reset only at the server's
# command line (break-glass), never through the API.
ADMIN_ROLES: Final = frozenset({Role.SYSADMIN, Role.SECADMIN, Role.AUDITOR})
NATIONAL_REGION: Final = "000000"


class Purpose(enum.StrEnum):
    """Why personal data is read. Closed: there is no commercial or insurance purpose."""

    CREDIT_EVALUATION = "credit_evaluation"  # 信用评价：核对、复核评价结果
    INCENTIVE_VERIFICATION = "incentive_verification"  # 激励核验：部门核验激励资格
    SERVICE_DELIVERY = "service_delivery"  # 公共服务办理：落实奖励扶助、补贴
    OBJECTION_HANDLING = "objection_handling"  # 异议处理
    RECORD_LINKAGE = "record_linkage"  # 一人一档：人工复核归档
    DATA_QUALITY = "data_quality"  # 数据质量核查
    SUPERVISION = "supervision"  # 监督检查
    AUDIT = "audit"  # 安全审计
    SELF_SERVICE = "self_service"  # 本人查询


PURPOSES: Final = tuple(p.value for p in Purpose)

_STAFF: Final = frozenset(
    {
        Purpose.CREDIT_EVALUATION,
        Purpose.SERVICE_DELIVERY,
        Purpose.OBJECTION_HANDLING,
        Purpose.RECORD_LINKAGE,
        Purpose.DATA_QUALITY,
        Purpose.SUPERVISION,
    }
)
ROLE_PURPOSES: Final[dict[Role, frozenset[Purpose]]] = {
    Role.NATIONAL: _STAFF,
    Role.PROVINCE: _STAFF,
    Role.CITY: _STAFF,
    Role.COUNTY: _STAFF,
    Role.AUDITOR: frozenset({Purpose.AUDIT, Purpose.SUPERVISION}),
    # Accounts, clients, keys and policies are not personal data: no purpose at all.
    Role.SYSADMIN: frozenset(),
    Role.SECADMIN: frozenset(),
    Role.DEPARTMENT: frozenset(
        {Purpose.INCENTIVE_VERIFICATION, Purpose.SERVICE_DELIVERY, Purpose.DATA_QUALITY}
    ),
    Role.CITIZEN: frozenset({Purpose.SELF_SERVICE}),
}


def region_prefix(role: Role, region: str) -> str:
    """The leading digits of the region codes a caller's scope covers ('' for the nation).

    GB/T 2260 codes are PPCCDD: a province clerk covers PP…, a city CCCC…, a county all six.
    """
    if role is Role.NATIONAL or region == NATIONAL_REGION:
        return ""
    width = {Role.PROVINCE: 2, Role.CITY: 4}.get(role, 6)
    return region[:width]


def in_scope(prefix: str, *regions: str | None) -> bool:
    """Whether any of a person's regions (hukou, residence) lies inside the scope `prefix`."""
    if not prefix:
        return True
    return any(r is not None and r.startswith(prefix) for r in regions)


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of a request or command.

    `subject` is the staff username, the department client id, or the citizen's person id.
    `purposes` are the purposes this caller may name: the role's, narrowed for a department
    client to those it was registered with.
    """

    role: Role
    subject: str
    region: str = NATIONAL_REGION
    purposes: frozenset[Purpose] = field(default_factory=frozenset)
    source: str | None = None  # a department client's department (health, police, …)

    @property
    def scope(self) -> str:
        return region_prefix(self.role, self.region)

    def covers(self, *regions: str | None) -> bool:
        """Whether a person with these regions (hukou, residence) is inside the caller's scope."""
        return in_scope(self.scope, *regions)

    def may(self, purpose: Purpose) -> bool:
        return purpose in self.purposes and purpose in ROLE_PURPOSES[self.role]
