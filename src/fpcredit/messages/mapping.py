"""Department mapping files (collect/mapping.py): a department is a mapping file, packaged or in
FPCREDIT_MAPPINGS_DIR (docs/ingestion.md), and what the demo does without its feed."""

from typing import Final

TEXTS: Final[dict[str, tuple[str, str]]] = {
    "mapping.invalid": ("映射文件 {file} 有误：{why}", "mapping file {file} is invalid: {why}"),
    "mapping.not_utf8": ("文件不是UTF-8编码", "the file is not UTF-8"),
    "mapping.source_differs": (
        "文件中的 source“{named}”与文件名“{source}”不一致",
        "source {named!r} differs from the file's name {source!r}",
    ),
    "mapping.bad_name": (
        "映射文件 {file} 的文件名不能作为数据来源名"
        "（须以小写字母开头，只含小写字母、数字和下划线）",
        "mapping file {file}: its name cannot be a source name (a lower-case letter, then"
        " lower-case letters, digits or _)",
    ),
    "mapping.packaged": (
        "映射文件 {file} 重复定义了内置的数据来源“{source}”；新部门请另取文件名",
        "mapping file {file} redefines the packaged source {source!r}; give a new department"
        " another name",
    ),
    "mapping.no_feed": (
        "以下部门在数据文件夹中没有数据文件，未导入：{sources}",
        "no feed in the feeds folder for these departments, not ingested: {sources}",
    ),
}
