"""Data-quality rule messages by rule id (docs/ingestion.md); the ids are stored, never renamed."""

from typing import Final

from fpcredit.messages.exchange import REASONS as EXCHANGE_REASONS

RULES: Final[dict[str, tuple[str, str]]] = {
    "unparseable_row": ("该行无法解析（格式损坏或列数不符）", "the row cannot be parsed"),
    "required_missing": ("必填项为空", "a required value is empty"),
    "no_identity": (
        "当事人既无姓名也无身份证号，无法归档到人",
        "the person has neither a name nor an ID number",
    ),
    "code_unknown": ("代码不在对照表中", "the code is not in the code crosswalk"),
    "date_impossible": ("不是有效日期", "not a real date"),
    "date_future": ("日期晚于今天", "the date is in the future"),
    "format_invalid": ("格式不符合数据元标准", "the format does not match the standard"),
    "number_invalid": (
        "不是有效数字或超出合理范围",
        "not a number, or outside the plausible range",
    ),
    "id_length": ("身份证号长度不是15位或18位", "the ID number is not 15 or 18 characters"),
    "id_characters": ("身份证号含有非法字符", "the ID number contains invalid characters"),
    "id_region": (
        "身份证号前两位不是省级行政区划代码",
        "the ID number does not start with a province code",
    ),
    "id_birth_date": ("身份证号中的出生日期无效", "the birth date inside the ID number is invalid"),
    "id_check_digit": ("身份证号校验码错误", "the ID number's check digit is wrong"),
    "id_birth_mismatch": (
        "出生日期与身份证号不一致",
        "the birth date disagrees with the ID number",
    ),
    "id_sex_mismatch": ("性别与身份证号不一致", "the sex disagrees with the ID number"),
    "name_invalid": ("姓名含有非法字符或过长", "the name has invalid characters or is too long"),
    "phone_invalid": ("电话号码不是11位手机号", "the phone is not an 11-digit mobile number"),
    "region_invalid": ("不是有效的行政区划代码", "not a valid GB/T 2260 region code"),
    "births_gt_pregnancies": ("孩次大于孕次", "the birth order exceeds the number of pregnancies"),
    "before_birth": ("服务日期早于当事人出生日期", "the service date is before the person's birth"),
    "mother_under_14": ("生育时母亲未满14周岁", "the mother was under 14 at the birth"),
    "recorded_before_event": ("记录时间早于发生日期", "recorded before the event happened"),
    "valid_until_before_event": (
        "有效期截止日期早于认定日期",
        "the validity ends before the date of the decision",
    ),
    # The exchange's quarantine (exchange/receive.py): one rule per reason of a message.
    **{f"exchange_{code}": (zh, en) for code, zh, en in EXCHANGE_REASONS},
}
