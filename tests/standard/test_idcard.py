"""Property-based tests for GB 11643 ID number validation (fpcredit.standard.idcard)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from fpcredit.errors import InvalidIdNumber
from fpcredit.standard import idcard

TODAY = dt.date.today()
PREFIXES = sorted(idcard.PROVINCE_PREFIXES)
NON_PREFIXES = sorted({f"{n:02d}" for n in range(100)} - idcard.PROVINCE_PREFIXES)
DIGITS = "0123456789"


def mod11_2(first17: str) -> str:
    """Independent oracle: ISO 7064 MOD 11-2, weights 2^(17-i) mod 11, check (12 - S) mod 11."""
    total = sum(int(c) * pow(2, 17 - i, 11) for i, c in enumerate(first17))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


def build(prefix: str, born: dt.date | str, seq: str) -> str:
    """An 18-character number from its parts with a correct check character."""
    date = born if isinstance(born, str) else born.strftime("%Y%m%d")
    first17 = prefix + date + seq
    return first17 + mod11_2(first17)


@st.composite
def valid_ids(
    draw: st.DrawFn, earliest: dt.date = dt.date(1900, 1, 1), latest: dt.date = TODAY
) -> str:
    province = draw(st.sampled_from(PREFIXES))
    county = draw(st.text(DIGITS, min_size=4, max_size=4))
    born = draw(st.dates(min_value=earliest, max_value=latest))
    seq = draw(st.text(DIGITS, min_size=3, max_size=3))
    return build(province + county, born, seq)


def reason_of(text: str, today: dt.date | None = None) -> str:
    with pytest.raises(InvalidIdNumber) as info:
        idcard.parse(text, today=today)
    return info.value.reason


def expected_reason(text: str) -> str:
    """Which check a well-formed 18-digit string should fail first, or "" if none."""
    if text[:2] not in idcard.PROVINCE_PREFIXES:
        return "region"
    try:
        born = dt.date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        return "birth_date"
    if not dt.date(1900, 1, 1) <= born <= TODAY:
        return "birth_date"
    return "" if mod11_2(text[:17]) == text[17] else "check_digit"


# --- valid numbers ---------------------------------------------------------------------------


@given(valid_ids())
def test_generated_ids_are_valid(text: str) -> None:
    assert idcard.is_valid(text)
    assert idcard.check_digit(text[:17]) == text[17]
    assert idcard.normalize(text) == text


@given(valid_ids())
def test_normalize_is_idempotent(text: str) -> None:
    once = idcard.normalize(text)
    assert idcard.normalize(once) == once


@given(
    valid_ids(),
    st.lists(st.tuples(st.integers(0, 18), st.sampled_from([" ", "\u3000", "-", "\t"]))),
)
def test_lower_x_and_spaces_normalise_to_the_same(
    text: str, inserts: list[tuple[int, str]]
) -> None:
    messy = text.lower()
    for position, filler in inserts:
        messy = messy[:position] + filler + messy[position:]
    assert idcard.normalize(messy) == text


@given(valid_ids())
def test_extraction_agrees_with_generator(text: str) -> None:
    parsed = idcard.parse(text)
    assert parsed.text == text
    assert idcard.region_code(text) == parsed.region == text[:6]
    expected_birth = dt.datetime.strptime(text[6:14], "%Y%m%d").date()
    assert idcard.birth_date(text) == parsed.birth_date == expected_birth
    assert idcard.sex(text) == parsed.sex == (1 if int(text[16]) % 2 else 2)


# --- single substitutions ----------------------------------------------------------------------


@given(valid_ids(), st.integers(0, 16), st.sampled_from(DIGITS))
def test_any_single_digit_change_is_rejected(text: str, position: int, digit: str) -> None:
    assume(text[position] != digit)
    mutated = text[:position] + digit + text[position + 1 :]
    reason = reason_of(mutated)
    assert reason in {"region", "birth_date", "check_digit"}
    assert reason == expected_reason(mutated)
    if position >= 14:  # the sequence code: nothing but the check digit can notice
        assert reason == "check_digit"
    if 2 <= position <= 5:  # county digits are deliberately not checked
        assert reason == "check_digit"


@given(valid_ids(), st.sampled_from(DIGITS + "Xx"))
def test_changed_check_char_is_rejected(text: str, check: str) -> None:
    assume(text[17] != check.upper())
    assert reason_of(text[:17] + check) == "check_digit"


# --- 15-digit legacy numbers --------------------------------------------------------------------


@given(valid_ids(latest=dt.date(1999, 12, 31)))
def test_legacy_15_upgrades_to_the_original(text: str) -> None:
    legacy = text[:6] + text[8:17]
    assert len(legacy) == 15
    assert idcard.upgrade15(legacy) == text
    assert idcard.normalize(legacy) == text
    assert idcard.sex(legacy) == idcard.sex(text)
    assert idcard.birth_date(legacy) == idcard.birth_date(text)


# --- rejections ----------------------------------------------------------------------------------


@given(st.text(DIGITS, max_size=30).filter(lambda s: len(s) not in (0, 15, 18)))
def test_wrong_length(text: str) -> None:
    assert reason_of(text) == "length"


@pytest.mark.parametrize("text", ["", "   ", "\u3000", "- -"])
def test_empty(text: str) -> None:
    assert reason_of(text) == "empty"


@given(valid_ids(), st.integers(0, 16), st.characters(blacklist_categories=("Nd", "Zs", "Cc")))
def test_letters_in_body(text: str, position: int, char: str) -> None:
    # Separators are stripped, and characters like ß grow on upper() and fail the length check.
    assume(char not in "-\u3000" and not char.isspace() and len(char.upper()) == 1)
    assert reason_of(text[:position] + char + text[position + 1 :]) == "characters"


@given(valid_ids(), st.sampled_from("AYZy*１"))
def test_bad_check_char(text: str, char: str) -> None:
    assert reason_of(text[:17] + char) == "characters"


@given(valid_ids(), st.sampled_from(NON_PREFIXES))
def test_bad_province(text: str, prefix: str) -> None:
    assert reason_of(build(prefix + text[2:6], text[6:14], text[14:17])) == "region"


@pytest.mark.parametrize(
    "date",
    [
        "19900230",
        "20000230",
        "19010229",
        "19901301",
        "19900001",
        "19900100",
        "19900431",
        "18991231",  # before the earliest plausible birth date
    ],
)
def test_impossible_birth_dates(date: str) -> None:
    assert reason_of(build("330106", date, "123")) == "birth_date"


@pytest.mark.parametrize("date", ["900230", "010229", "901301", "900001", "900100", "900431"])
def test_impossible_birth_dates_in_legacy_numbers(date: str) -> None:
    assert reason_of("330106" + date + "123") == "birth_date"


@given(
    valid_ids(), st.dates(min_value=TODAY + dt.timedelta(days=1), max_value=dt.date(9999, 12, 31))
)
def test_future_birth_date(text: str, born: dt.date) -> None:
    assert reason_of(build(text[:6], born, text[14:17])) == "birth_date"


@given(valid_ids(earliest=dt.date(1900, 1, 2)))  # so the day before is not itself too early
def test_birth_date_relative_to_given_today(text: str) -> None:
    born = idcard.birth_date(text)
    assert idcard.parse(text, today=born).birth_date == born
    assert reason_of(text, today=born - dt.timedelta(days=1)) == "birth_date"


@given(
    st.one_of(
        valid_ids().map(lambda s: s[:17] + ("0" if s[17] != "0" else "1")),
        st.text(DIGITS + "xX -", max_size=25),
    )
)
def test_message_never_contains_the_input(text: str) -> None:
    try:
        idcard.parse(text)
    except InvalidIdNumber as exc:
        # Short inputs may coincide with the "15"/"18" of the message; 5+ digits must not leak.
        digits = re.sub(r"\D", "", text)
        assert len(digits) < 5 or digits not in repr(exc.args)
        assert re.search(r"\d{5}", str(exc)) is None
        assert exc.length == len(text)


# --- fixed examples ------------------------------------------------------------------------------


def test_known_valid_example() -> None:
    parsed = idcard.parse("11010519491231002X")
    assert parsed.text == "11010519491231002X"
    assert parsed.sex == 2
    assert parsed.birth_date == dt.date(1949, 12, 31)
    assert parsed.region == "110105"
    assert idcard.normalize("110105 19491231 002x") == "11010519491231002X"


def test_known_legacy_example() -> None:
    assert idcard.upgrade15("110105491231002") == "11010519491231002X"
    assert idcard.normalize("110105491231002") == "11010519491231002X"


def test_weights_match_the_oracle() -> None:
    assert tuple(pow(2, 17 - i, 11) for i in range(17)) == idcard.WEIGHTS
