"""卫健委 birth registration (生育登记): one row per registered birth, `health.csv` in GB18030."""

from __future__ import annotations

import numpy as np
import polars as pl

from fpcredit.synth.clock import time_text
from fpcredit.synth.feeds.base import DateSlot, Feed, IdSlot, Slots, clock_time, late, shown_id
from fpcredit.synth.geography import geography
from fpcredit.synth.rng import Ints, lognormal, stream, with_tail
from fpcredit.synth.world import World, take

__all__ = ["FEED", "certificates"]


def rows(world: World, seed: int) -> pl.DataFrame:
    """Births registered by the mother: days to weeks after birth, a few months late."""
    rng = stream(seed, "health", "rows")
    children = world.children
    n = len(children.person)
    mother = children.mother
    # Some births are never registered (more often by migrants), which the indicators see.
    registered = rng.random(n) < np.where(world.persons.migrant[mother], 0.94, 0.985)
    lag = with_tail(rng, lognormal(rng, n, 15, 0.7, 1, 90), 0.03, 90, 365)
    no_father = rng.random(n) < 0.05
    no_father_id = no_father | (rng.random(n) < 0.04)
    father = np.where(no_father, -1, children.father)
    office = world.persons.residence[mother]
    frame = pl.DataFrame(
        {
            "_key": _certificate_numbers(office),
            "_recorded": late(children.birth, lag, clock_time(rng, n, 8.5, 17.5)),
            "_mother": mother,
            "_father": father,
            "_father_id": np.where(no_father_id, -1, children.father),
            "_child": children.person,
            "_parity": children.parity,
            "_gravidity": children.gravidity,
            "_office": office,
            "_no_phone": rng.random(n) < 0.06,
            "_u_mother_id": rng.random(n),
            "_u_father_id": rng.random(n),
        }
    )
    return frame.filter(pl.Series(registered))


def certificates(world: World, seed: int) -> Ints:
    """The birth registration certificate number of each person, by person index: -1 for
    anyone whose birth health did not register (base persons included). Other departments'
    records cite it."""
    frame = rows(world, seed)
    out = np.full(len(world.persons.sex), -1, dtype=np.int64)
    out[frame["_child"].to_numpy()] = frame["_key"].to_numpy()
    return out


def _certificate_numbers(office: Ints) -> Ints:
    """County code + 6-digit sequence within the county, in birth order."""
    codes = geography().code_numbers[office]
    order = np.argsort(office, kind="stable")
    first = np.searchsorted(office[order], office[order])
    rank = np.empty(len(office), dtype=np.int64)
    rank[order] = np.arange(len(office)) - first + 1
    return np.asarray(codes * 1_000_000 + rank, dtype=np.int64)


def render(frame: pl.DataFrame, world: World) -> pl.DataFrame:
    """The department's columns."""
    text = world.text
    mother, child = frame["_mother"].to_numpy(), frame["_child"].to_numpy()
    ids = text["id_number"]
    phone = take(text["phone"], np.where(frame["_no_phone"].to_numpy(), -1, mother))
    return pl.DataFrame(
        {
            "登记证编号": frame["_key"].cast(pl.Utf8),
            "母亲姓名": take(text["name"], mother),
            "母亲身份证号": shown_id(take(ids, mother), frame["_u_mother_id"], 0.4, 0.01),
            "父亲姓名": take(text["name"], frame["_father"].to_numpy()),
            "父亲身份证号": shown_id(
                take(ids, frame["_father_id"].to_numpy()), frame["_u_father_id"], 0.4, 0.01
            ),
            "新生儿姓名": take(text["name"], child),
            "新生儿性别": pl.Series(np.where(world.persons.sex[child] == 1, "男", "女")),
            "出生日期": take(text["birth"], child),
            "孩次": frame["_parity"].cast(pl.Utf8),
            "孕次": frame["_gravidity"].cast(pl.Utf8),
            "户籍地区划": take(text["hukou"], mother),
            "登记地区划": geography().code_series(frame["_office"].to_numpy()),
            "联系电话": phone,
            "登记时间": time_text(frame["_recorded"], "%Y-%m-%d %H:%M:%S"),
        }
    )


FEED = Feed(
    source="health",
    file="health.csv",
    encoding="gb18030",
    key="登记证编号",
    principal="mother",
    roles=("mother", "father", "child"),
    slots=Slots(
        ids=(IdSlot("母亲身份证号", "mother", True), IdSlot("父亲身份证号", "father", False)),
        names=(("母亲姓名", "mother"), ("父亲姓名", "father"), ("新生儿姓名", "child")),
        births=(DateSlot("出生日期", "child", "%Y-%m-%d"),),
        event=DateSlot("出生日期", "child", "%Y-%m-%d"),
        code="新生儿性别",
        unknown_codes=("不详", "X"),
        order=("孩次", "孕次"),
    ),
    rows=rows,
    render=render,
)
