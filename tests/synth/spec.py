"""docs/feeds.md as data, for checking the generated feeds against it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Spec:
    """What docs/feeds.md says about one feed's columns."""

    columns: tuple[str, ...]
    key: str
    key_pattern: str
    ids: dict[str, str]  # column → role
    optional_ids: frozenset[str]  # columns whose absence is normal
    names: dict[str, str]  # column → role
    births: dict[str, tuple[str, str]]  # column → (role, format)
    event: tuple[str, str]  # column, format
    recorded: tuple[str, str]
    code: tuple[str, frozenset[str]]
    codes: dict[str, frozenset[str]] = field(default_factory=dict)  # other coded columns
    # ID columns normally filled but empty on some clean rows, so that an injected `id_missing`
    # looks like a normal absence (credit: some decisions name no ID number).
    sometimes_empty: frozenset[str] = frozenset()


ISO = "%Y-%m-%d"
COMPACT = "%Y%m%d"
TIME = "%Y-%m-%d %H:%M:%S"

SPECS = {
    "health": Spec(
        columns=("登记证编号", "母亲姓名", "母亲身份证号", "父亲姓名", "父亲身份证号", "新生儿姓名",
                 "新生儿性别", "出生日期", "孩次", "孕次", "户籍地区划", "登记地区划", "联系电话",
                 "登记时间"),
        key="登记证编号", key_pattern=r"\d{12}",
        ids={"母亲身份证号": "mother", "父亲身份证号": "father"},
        optional_ids=frozenset({"父亲身份证号"}),
        names={"母亲姓名": "mother", "父亲姓名": "father", "新生儿姓名": "child"},
        births={"出生日期": ("child", ISO)},
        event=("出生日期", ISO), recorded=("登记时间", TIME),
        code=("新生儿性别", frozenset({"男", "女"})),
    ),
    "police": Spec(
        columns=("rkbm", "hh", "gmsfhm", "xm", "xb", "csrq", "yhzgx", "hkxz", "hjdz_xzqh",
                 "jzd_xzqh", "zy", "lxdh", "zz", "csdjzbh", "jhzbh", "bdrq", "djsj"),
        key="rkbm", key_pattern=r"R\d{11}",
        ids={"gmsfhm": "self"}, optional_ids=frozenset(),
        names={"xm": "self"}, births={"csrq": ("self", COMPACT)},
        event=("bdrq", COMPACT), recorded=("djsj", "%Y-%m-%dT%H:%M:%S"),
        code=("yhzgx", frozenset({"02", "10", "20", "30", "50", "99"})),
        codes={"xb": frozenset({"1", "2"}), "hkxz": frozenset({"1", "2"}),
               "zy": frozenset("12345678FSN")},
    ),
    "civil": Spec(
        columns=("cert_no", "reg_type", "reg_date", "man_name", "man_id", "man_birth",
                 "woman_name", "woman_id", "woman_birth", "reg_org", "entry_time"),
        key="cert_no", key_pattern=r"\d{10}",
        ids={"man_id": "husband", "woman_id": "wife"}, optional_ids=frozenset(),
        names={"man_name": "husband", "woman_name": "wife"},
        births={"man_birth": ("husband", ISO), "woman_birth": ("wife", ISO)},
        event=("reg_date", ISO), recorded=("entry_time", TIME),
        code=("reg_type", frozenset({"1", "2"})),
    ),
    "hrss": Spec(
        columns=("AAZ220", "AAC002", "AAC003", "AAC004", "AAE002", "AAE019", "AAC008", "AAC013",
                 "AAB301", "AAE036"),
        key="AAZ220", key_pattern=r"P\d{12}",
        ids={"AAC002": "self"}, optional_ids=frozenset(),
        names={"AAC003": "self"}, births={},
        event=("AAE002", "%Y%m"), recorded=("AAE036", TIME),
        code=("AAC013", frozenset({"10", "20", "30"})),
        codes={"AAC004": frozenset({"1", "2"}), "AAC008": frozenset({"1", "2", "3"})},
    ),
    "cdc": Spec(
        columns=("jzjlid", "etxm", "etsfz", "xb", "csrq", "mqxm", "mqsfz", "ymdm", "jc", "jzrq",
                 "jzdw", "scsj"),
        key="jzjlid", key_pattern=r"V\d{12}",
        ids={"etsfz": "child", "mqsfz": "mother"}, optional_ids=frozenset({"etsfz"}),
        names={"etxm": "child", "mqxm": "mother"}, births={"csrq": ("child", ISO)},
        event=("jzrq", ISO), recorded=("scsj", TIME),
        code=("ymdm", frozenset({"0101", "0201", "0301", "0302", "0401", "0402", "1201", "1401",
                                 "1601", "1701", "1801"})),
        codes={"xb": frozenset({"M", "F"})},
    ),
    "mch": Spec(
        columns=("fwbh", "fwlx", "dxxm", "dxsfz", "dxxb", "dxcsrq", "fwrq", "jycs", "ccs", "jgdm",
                 "sbsj"),
        key="fwbh", key_pattern=r"M\d{12}",
        ids={"dxsfz": "self"}, optional_ids=frozenset(),  # but a child's may be empty
        names={"dxxm": "self"}, births={"dxcsrq": ("self", COMPACT)},
        event=("fwrq", ISO), recorded=("sbsj", TIME),
        code=("fwlx", frozenset({"01", "02", "03", "04", "05"})),
        codes={"dxxb": frozenset({"1", "2"}),
               "jycs": frozenset({"", "01", "02", "03", "04", "05", "06", "07", "99"})},
    ),
    "credit": Spec(
        columns=("记录编号", "类别", "姓名", "身份证号", "性别", "出生日期", "事件类型", "严重程度",
                 "困难范围", "困难原因", "有效期至", "认定日期", "认定地区划", "录入时间"),
        key="记录编号", key_pattern=r"C\d{12}",
        ids={"身份证号": "self"}, optional_ids=frozenset(),
        names={"姓名": "self"}, births={"出生日期": ("self", ISO)},
        event=("认定日期", ISO), recorded=("录入时间", TIME),
        code=("类别", frozenset({"信用事件", "客观困难"})),
        codes={"性别": frozenset({"男", "女"}),
               "事件类型": frozenset({"", "虚假申报", "数据造假", "冒用身份"}),
               "严重程度": frozenset({"", "轻微", "一般", "严重"}),
               "困难范围": frozenset({"", "避孕节育", "生育保险缴费", "健康检查", "预防接种",
                                      "婴幼儿照护"}),
               "困难原因": frozenset({"", "疾病", "残疾", "自然灾害", "外出务工", "收入困难",
                                      "其他"})},
        sometimes_empty=frozenset({"身份证号"}),
    ),
}  # fmt: skip

VOCABULARY = frozenset(
    {
        "id_check_digit",
        "id_missing",
        "id_15",
        "name_homophone",
        "birth_day_month_swap",
        "birth_year_wrong",
        "event_date_impossible",
        "code_unknown",
        "births_gt_pregnancies",
        "duplicate",
    }
)
BIRTH_KINDS = frozenset({"birth_day_month_swap", "birth_year_wrong", "event_date_impossible"})


def parse_date(text: str, fmt: str) -> dt.date | None:
    """The date, or None when the text is not a real date in that format."""
    try:
        return dt.datetime.strptime(text, fmt).date()
    except ValueError:
        return None


def parse_time(text: str, fmt: str) -> dt.datetime:
    """A recorded time."""
    return dt.datetime.strptime(text, fmt)
