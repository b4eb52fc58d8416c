"""The person index: linkage settings, link runs and their stages, review (docs/linkage.md)."""

from typing import Final

TEXTS: Final[dict[str, tuple[str, str]]] = {
    "link.config_bad": (
        "关联配置文件 {path} 有误：{reason}",
        "the linkage settings file {path} is invalid: {reason}",
    ),
    "link.concurrent": (
        "另一次关联或导入在此期间写入了数据库，本次未写入；请重新运行",
        "another link run or ingestion wrote meanwhile; nothing was written, run again",
    ),
    "link.write_orphans": (
        "本次关联指向 {n} 个不存在的人员，未写入；请保留日志并联系运维",
        "this run would link records to {n} persons that do not exist; nothing was written, "
        "keep the log and tell the operator",
    ),
    "link.review_unknown": ("复核编号 {id} 不存在", "there is no review {id}"),
    "link.review_decided": (
        "复核 {id} 已处理（{status}）",
        "review {id} was already decided ({status})",
    ),
    "link.person_unknown": (
        "人员编号 {id} 不存在或已合并",
        "person {id} does not exist or was merged",
    ),
    "link.merge_same": ("不能把一个人与自己合并", "cannot merge a person with itself"),
    "link.unmerge_nothing": (
        "人员 {id} 的档案中没有所列记录",
        "none of the listed records is in person {id}'s file",
    ),
    "link.unmerge_everything": (
        "不能拆出人员 {id} 的全部记录；至少保留一条",
        "cannot split off all of person {id}'s records; keep at least one",
    ),
    "link.nothing": (
        "还没有可关联的记录；请先用 `fpcredit ingest` 导入部门数据",
        "there are no records to link yet; ingest department files first (`fpcredit ingest`)",
    ),
    "link.backend_bad": (
        "关联计算引擎“{backend}”无效；可用：duckdb、spark",
        "unknown linkage backend {backend!r}; use duckdb or spark",
    ),
    "link.spark_missing": (
        "用 Spark 关联需要 pyspark 4 或更高版本（pip install 'fpcredit[spark]'）",
        "the spark linkage backend needs pyspark 4 or later (pip install 'fpcredit[spark]')",
    ),
    "link.java_missing": (
        "用 Spark 关联需要 Java 17 或更高版本：未找到 java（请安装或设置 JAVA_HOME）",
        "the spark linkage backend needs Java 17 or later: no java found (install it or set "
        "JAVA_HOME)",
    ),
    "link.spark_failed": ("Spark 无法启动（{reason}）", "Spark could not start ({reason})"),
    "link.stage_read": ("读取记录", "reading records"),
    "link.stage_train": ("训练匹配模型（EM）", "training the match model (EM)"),
    "link.stage_id": ("身份证号确定性匹配：{n} 条", "ID-number pass: {n} mentions"),
    "link.stage_crosswalk": (
        "证件编号交叉关联：{pairs} 对，新关联 {linked} 条；冲突 {conflicts} 对（以身份证号为准），"
        "{deferred} 对双方尚无归属人员、交概率匹配",
        "certificate crosswalks: {pairs} pairs, {linked} mentions linked; {conflicts} conflicts "
        "(the ID number wins), {deferred} pairs with no person on either side yet, left to the "
        "probabilistic pass",
    ),
    "link.stage_persons": ("整理人员最佳值", "collecting persons' best values"),
    "link.stage_splink": (
        "概率匹配：{n} 条对 {persons} 人",
        "probabilistic pass: {n} mentions against {persons} persons",
    ),
    "link.stage_adopt": (
        "新身份号码与已有无号档案比对：{n} 人",
        "new ID numbers against persons filed without one: {n}",
    ),
    "link.stage_dedupe": ("未匹配记录聚类：{n} 条", "clustering {n} unmatched mentions"),
    "link.stage_write": ("写入 {n} 条关联", "writing {n} links"),
    "link.no_model": (
        "尚无按当前关联配置训练的匹配模型，请先运行 `fpcredit link`",
        "no match model trained under the current linkage settings; run `fpcredit link` first",
    ),
}
