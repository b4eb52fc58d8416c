"""Fixtures of the Splink model tests: the settings, and a model trained on DuckDB over the
requesting module's own `data` (persons and mentions)."""

from __future__ import annotations

from typing import Any

import pytest

from fpcredit.link.config import LinkConfig, load_config
from fpcredit.link.model import train


@pytest.fixture(scope="module")
def config() -> LinkConfig:
    return load_config()


@pytest.fixture(scope="module")
def model(config: LinkConfig, data: Any) -> dict[str, Any]:
    return train(config, data.persons, data.mentions, backend="duckdb")
