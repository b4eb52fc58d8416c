"""Labels of fields that are not data elements, in quality messages (collect/quality.py)."""

from typing import Final

TEXTS: Final[dict[str, tuple[str, str]]] = {
    "field.row": ("整行", "row"),
    "field.record_key": ("记录编号", "record key"),
    "field.kind": ("业务类型", "record type"),
    "field.message": ("跨省交换消息", "cross-province exchange message"),
}
