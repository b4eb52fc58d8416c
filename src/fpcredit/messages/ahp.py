"""AHP weights that cannot be derived (evaluate/ahp.py); rows and columns counted from 1."""

from typing import Final

TEXTS: Final[dict[str, tuple[str, str]]] = {
    "ahp.empty": ("判断矩阵为空", "the comparison matrix is empty"),
    "ahp.too_large": (
        "判断矩阵有 {n} 阶，最多支持 {limit} 阶",
        "the comparison matrix has {n} rows; at most {limit} are supported",
    ),
    "ahp.not_square": (
        "判断矩阵不是方阵：第 {row} 行应有 {n} 个数",
        "the comparison matrix is not square: row {row} should hold {n} numbers",
    ),
    "ahp.entry": (
        "第 {row} 行第 {col} 列须为正的有限数（而不是 {value}）",
        "row {row}, column {col} must be a positive finite number, not {value}",
    ),
    "ahp.diagonal": (
        "对角线第 {row} 项须为 1（而不是 {value}）",
        "diagonal entry {row} must be 1, not {value}",
    ),
    "ahp.not_reciprocal": (
        "第 {row} 行第 {col} 列（{a}）与第 {col} 行第 {row} 列（{b}）不互为倒数",
        "entry ({row}, {col}) = {a} and entry ({col}, {row}) = {b} are not reciprocals",
    ),
    "ahp.inconsistent": (
        "判断矩阵的一致性比率 CR = {cr:.3f}，须小于 0.10；请修改相互矛盾的判断",
        "the consistency ratio CR = {cr:.3f} is not below 0.10; revise the contradictory "
        "judgements",
    ),
    "ahp.upper_shape": (
        "上三角第 {row} 行应有 {expected} 个数（而不是 {count} 个）",
        "row {row} of the upper triangle should hold {expected} numbers, not {count}",
    ),
    "ahp.upper_entry": (
        "上三角第 {row} 行第 {col} 项“{value}”不是正数或分数（如 3、0.5、1/3）",
        'upper-triangle entry ({row}, {col}) "{value}" is not a positive number or fraction '
        "such as 3, 0.5 or 1/3",
    ),
    "ahp.blend_length": (
        "专家权重有 {expert} 项，公众权重有 {public} 项，项数须相同",
        "the expert weights have {expert} entries but the public weights {public}",
    ),
    "ahp.blend_share": (
        "专家权重占比须在 0 到 1 之间（而不是 {share}）",
        "the experts' share must be between 0 and 1, not {share}",
    ),
    "ahp.blend_weights": (
        "权重须为非负的有限数且不能全为零",
        "weights must be non-negative finite numbers, not all zero",
    ),
}
