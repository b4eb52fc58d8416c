"""The public API: arguments, summary, progress, tiny and large populations, speed."""

from __future__ import annotations

from pathlib import Path

import pytest
from pypinyin import lazy_pinyin

import fpcredit.synth as synth
from fpcredit.synth import DEFAULT_UNTIL, generate
from fpcredit.synth.names import _homophones


def test_public_api_is_explicit_and_sorted() -> None:
    assert synth.__all__ == sorted(synth.__all__)
    assert DEFAULT_UNTIL.isoformat() == "2026-06-30"


def test_progress_is_reported_a_few_times_in_order(tmp_path: Path) -> None:
    calls: list[tuple[str, int, int]] = []
    summary = generate(100, 1, tmp_path, progress=lambda *call: calls.append(call))
    assert 3 <= len(calls) <= 20
    assert [done for _, done, _ in calls] == sorted(done for _, done, _ in calls)
    assert calls[-1][1] == calls[-1][2]
    sources = {"health", "police", "civil", "hrss", "cdc", "mch", "credit"}
    assert set(summary.paths) >= sources | {"records"}
    assert all(path.exists() for path in summary.paths.values())


def test_a_handful_of_people_still_gives_every_file(tmp_path: Path) -> None:
    summary = generate(3, 1, tmp_path)
    assert summary.people >= 3
    assert len(list(tmp_path.rglob("*.*"))) == 10


def test_people_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="people"):
        generate(0, 1, tmp_path)


def test_homophone_table_pairs_sound_alike() -> None:
    for char, others in _homophones().items():
        assert others and char not in others
        assert all(lazy_pinyin(other) == lazy_pinyin(char) for other in others), char


@pytest.mark.slow
def test_a_hundred_thousand_people_generate(tmp_path: Path) -> None:
    # Speed is measured in benchmarks/synth_rate.py, not asserted here (shared, noisy machines).
    summary = generate(100_000, 1, tmp_path)
    assert summary.people > 100_000
    assert all(n > 0 for n in summary.rows.values())
