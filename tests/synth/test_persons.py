"""Hard property 3 and the truth persons: valid, unique ID numbers that agree with the person."""

from __future__ import annotations

import re
from collections import Counter

from fpcredit.standard import idcard, regions
from fpcredit.synth.clock import ymd
from fpcredit.synth.world import build_world
from tests.synth.conftest import LATE, Run


def test_id_numbers_are_valid_and_encode_the_person(run: Run) -> None:
    for row in run.truth("persons").iter_rows(named=True):
        parsed = idcard.parse(row["id_number"], today=LATE)
        assert parsed.text == row["id_number"]
        assert parsed.region == row["hukou_region"]
        assert parsed.birth_date.isoformat() == row["birth_date"]
        assert str(parsed.sex) == row["sex"]


def test_person_keys_and_id_numbers_are_unique(late: Run) -> None:
    persons = late.truth("persons")
    keys = persons["person_key"].to_list()
    assert all(re.fullmatch(r"P\d{7}", key) for key in keys)
    assert len(set(keys)) == len(keys) == persons.height
    assert persons["id_number"].n_unique() == persons.height


def test_persons_are_those_born_by_until(run: Run, late: Run) -> None:
    born = run.truth("persons")["birth_date"].to_list()
    assert max(born) <= run.summary.until.isoformat()
    assert run.summary.people == len(born)
    assert late.summary.people > run.summary.people


def test_regions_are_known_and_everyone_lives_in_zhejiang(run: Run) -> None:
    persons = run.truth("persons")
    assert all(regions.is_known(code) for code in persons["hukou_region"].unique())
    assert all(code.startswith("33") for code in persons["residence_region"].to_list())
    assert set(persons["urban_rural"].unique()) == {"urban", "rural"}
    assert set(persons["occupation"].unique()) <= set("12345678FSN")


def test_shares_of_urban_and_migrants_are_those_of_zhejiang(run: Run) -> None:
    persons = run.truth("persons")
    urban = (persons["urban_rural"] == "urban").mean()
    migrants = (~persons["hukou_region"].str.starts_with("33")).mean()
    assert 0.64 <= urban <= 0.76  # type: ignore[operator]
    assert 0.15 <= migrants <= 0.25  # type: ignore[operator]


def test_some_people_share_a_name_birth_year_and_county() -> None:
    world = build_world(5, 50_000)
    year = ymd(world.persons.birth)[0]
    same = Counter(zip(world.text["name"], year, world.persons.hukou, strict=True))
    assert sum(1 for count in same.values() if count > 1) >= 5
    names = Counter(world.text["name"])
    assert min(names["张伟"], names["王芳"], names["王伟"], names["李娜"]) >= 3


def test_common_surnames_come_first(late: Run) -> None:
    surnames = Counter(name[0] for name in late.truth("persons")["name"].to_list())
    top = [s for s, _ in surnames.most_common(5)]
    assert {"王", "李", "张", "陈"} & set(top[:3])
