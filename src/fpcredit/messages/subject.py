"""Data-subject requests: the citizen's export of their file (JSON, PDF) and feedback intake."""

from typing import Final

TEXTS: Final[dict[str, tuple[str, str]]] = {
    "subject.export_title": ("个人信用档案导出", "Personal credit file export"),
    "subject.export_intro": (
        "本文件是您在计生信用信息平台中的个人档案，依据《个人信息保护法》第四十五条提供。"
        "身份信息已作脱敏处理。",
        "This is your file on the family-planning credit platform, provided under article 45 "
        "of the Personal Information Protection Law. Identifiers are masked.",
    ),
    "subject.generated_at": ("导出时间：{at}（UTC）", "Exported at: {at} (UTC)"),
    "subject.section_file": ("一、档案信息", "1. Your file"),
    "subject.section_credit": ("二、最新信用评价", "2. Latest credit evaluation"),
    "subject.section_explanation": ("三、评价说明摘要", "3. Summary of the explanation"),
    "subject.section_access": ("四、查询记录摘要", "4. Summary of the access log"),
    "subject.field_person_id": ("档案编号", "File number"),
    "subject.field_name": ("姓名", "Name"),
    "subject.field_id_number": ("身份证号", "ID number"),
    "subject.field_phone": ("电话", "Phone"),
    "subject.field_address": ("地址", "Address"),
    "subject.field_sex": ("性别", "Sex"),
    "subject.field_birth_date": ("出生日期", "Birth date"),
    "subject.field_hukou_region": ("户籍地", "Hukou region"),
    "subject.field_residence_region": ("居住地", "Residence region"),
    "subject.field_urban_rural": ("城乡类别", "Urban or rural"),
    "subject.field_occupation": ("职业", "Occupation"),
    "subject.field_records": ("各部门记录数", "Records by department"),
    "subject.field_facts": ("事实数量", "Facts"),
    "subject.field_disputed": ("有异议的事实", "Disputed facts"),
    "subject.field_total": ("总分", "Total score"),
    "subject.field_grade": ("信用等级", "Grade"),
    "subject.field_points": ("信用积分", "Points"),
    "subject.field_policy": ("评价政策", "Policy"),
    "subject.field_score_date": ("评分日期", "Score date"),
    "subject.field_access_total": ("查询记录条数", "Entries in the access log"),
    "subject.not_evaluated": ("尚无评价结果", "Not evaluated yet"),
    "subject.none": ("无", "none"),
    "subject.dimension_line": ("维度 {name}：{score}", "Dimension {name}: {score}"),
    "subject.indicator_line": (
        "指标 {name}：{status}，得分 {points}",
        "Indicator {name}: {status}, points {points}",
    ),
    "subject.access_line": (
        "{at}  {actor}  {action}  用途 {purpose}  结果 {outcome}",
        "{at}  {actor}  {action}  purpose {purpose}  outcome {outcome}",
    ),
    "subject.access_count": ("{action}：{count} 次", "{action}: {count} times"),
    "subject.page": ("第 {page} 页", "Page {page}"),
    "subject.font_missing": (
        "导出 PDF 所需的中文字体不存在：{path}（运行 scripts/setup 安装 fonts-wqy-zenhei）",
        "the Chinese font the PDF export needs is missing: {path} (scripts/setup installs "
        "fonts-wqy-zenhei)",
    ),
    "subject.complaint_too_long": (
        "投诉内容不能超过 {limit} 个字符",
        "a complaint may be at most {limit} characters",
    ),
    "subject.complaint_blank": ("投诉内容不能为空白", "a complaint may not be blank"),
    "subject.ref_unknown": (
        "没有编号为 {ref} 的{about}",
        "there is no {about} with the reference {ref}",
    ),
    "subject.about_unknown": (
        "反馈对象只能是 incentive（激励项目）或 case（案件），而不是 {about}",
        "feedback is about an incentive or a case, not {about}",
    ),
    "subject.satisfaction_range": (
        "满意度须为 1 至 5 的整数",
        "satisfaction is a whole number from 1 to 5",
    ),
    "subject.about_incentive": ("激励项目", "incentive"),
    "subject.about_case": ("案件", "case"),
    "subject.report_title": ("满意度与投诉统计", "Satisfaction and complaints"),
    "subject.report_line": (
        "{about} {ref}（{region_type}）：反馈 {count} 条，满意 {satisfied} 条，满意率 {rate}，"
        "投诉 {complaints} 条",
        "{about} {ref} ({region_type}): {count} responses, {satisfied} satisfied, rate {rate}, "
        "{complaints} complaints",
    ),
    "subject.report_total": (
        "合计：反馈 {count} 条，满意率 {rate}（目标 ≥ {target}），投诉 {complaints} 条",
        "in all: {count} responses, satisfaction {rate} (target ≥ {target}), "
        "{complaints} complaints",
    ),
    "subject.report_empty": ("尚无反馈", "no feedback yet"),
    "subject.region_unknown": ("未知", "unknown"),
}
