"""Writing small department feeds in their native formats, for tests."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from fpcredit.standard.idcard import check_digit


def make_id(region: str, born: str, seq: str) -> str:
    """A valid ID number: region (6), birth date YYYYMMDD, 3-digit sequence."""
    first17 = region + born + seq
    return first17 + check_digit(first17)


def corrupt(id_number: str) -> str:
    """Same number with a wrong check digit."""
    return id_number[:-1] + ("0" if id_number[-1] != "0" else "1")


MOTHER = make_id("330106", "19900307", "002")
FATHER = make_id("330106", "19880101", "011")

HEALTH_COLUMNS = [
    "登记证编号",
    "母亲姓名",
    "母亲身份证号",
    "父亲姓名",
    "父亲身份证号",
    "新生儿姓名",
    "新生儿性别",
    "出生日期",
    "孩次",
    "孕次",
    "户籍地区划",
    "登记地区划",
    "联系电话",
    "登记时间",
]


def health_row(key: str, **over: str) -> dict[str, str]:
    row = {
        "登记证编号": key,
        "母亲姓名": "王芳",
        "母亲身份证号": MOTHER,
        "父亲姓名": "张伟",
        "父亲身份证号": FATHER,
        "新生儿姓名": "张小明",
        "新生儿性别": "男",
        "出生日期": "2021-05-03",
        "孩次": "1",
        "孕次": "1",
        "户籍地区划": "330106",
        "登记地区划": "330106",
        "联系电话": "13812345678",
        "登记时间": "2021-05-20 10:00:00",
    }
    row.update(over)
    return row


def write_csv(path: Path, rows: list[dict[str, str]], encoding: str = "gb18030") -> Path:
    buf = io.StringIO()
    columns = list(dict.fromkeys(k for r in rows for k in r))
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def write_jsonl(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def write_parquet(path: Path, rows: list[dict[str, str]]) -> Path:
    columns = list(dict.fromkeys(k for r in rows for k in r))
    table = pa.table({c: pa.array([r.get(c) for r in rows], pa.string()) for c in columns})
    pq.write_table(table, path)
    return path
