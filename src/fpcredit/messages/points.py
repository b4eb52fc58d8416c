"""The points ledger: redeemables in the policy, redemptions and their refusals (R21)."""

from typing import Final

TEXTS: Final[dict[str, tuple[str, str]]] = {
    "points.window_order": (
        "可兑换服务 {id} 的有效期结束日 {end} 早于开始日 {start}",
        "redeemable {id}: its validity ends ({end}) before it starts ({start})",
    ),
    "points.duplicate_redeemable": (
        "可兑换服务编号 {id} 重复出现",
        "redeemable id {id} appears more than once",
    ),
    "points.unbalanced": (
        "积分记账不平：{legs} 笔分录合计 {total}（至少两笔、非零、合计为零）",
        "unbalanced posting: {legs} legs summing to {total} (at least two, none zero, summing "
        "to zero)",
    ),
    "points.key_missing": (
        "缺少 Idempotency-Key 请求头：每次兑换须带一个唯一的键，重试时使用同一个键",
        "the Idempotency-Key header is missing: send a unique key with each redemption and the "
        "same key when retrying it",
    ),
    "points.key_invalid": (
        "Idempotency-Key 须为 8 至 64 个字母、数字或 - _ . : 字符",
        "the Idempotency-Key must be 8 to 64 letters, digits or - _ . : characters",
    ),
    "points.key_reused": (
        "该 Idempotency-Key 已用于另一项兑换请求；新的请求请使用新的键",
        "this Idempotency-Key was already used for a different redemption request; use a new "
        "key for a new request",
    ),
    "points.unknown_redeemable": (
        "没有编号为 {id} 的可兑换服务",
        "there is no redeemable service {id}",
    ),
    "points.closed": (
        "可兑换服务 {id} 当前不在有效期内",
        "redeemable service {id} is outside its validity window today",
    ),
    "points.insufficient": (
        "积分不足：余额 {balance}，所需 {price}",
        "not enough points: the balance is {balance}, the service costs {price}",
    ),
    "points.no_redemption": ("没有编号为 {id} 的兑换记录", "there is no redemption {id}"),
    "points.not_provider": (
        "兑换 {id} 的服务不由本部门提供，只有提供部门可以撤销",
        "redemption {id} is not for a service of your department: only the providing "
        "department may cancel it",
    ),
}
