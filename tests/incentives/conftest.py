"""The served province of tests/web (`web`), for the incentive and verification routes."""

from tests.web.conftest import web

__all__ = ["web"]
