"""Labels of person roles, in quality messages (collect/quality.py)."""

from typing import Final

TEXTS: Final[dict[str, tuple[str, str]]] = {
    "role.self": ("本人", "person"),
    "role.mother": ("母亲", "mother"),
    "role.father": ("父亲", "father"),
    "role.child": ("子女", "child"),
    "role.husband": ("男方", "husband"),
    "role.wife": ("女方", "wife"),
}
