"""The served province of tests/web, for the citizen's export and feedback routes."""

from tests.web.conftest import explained_here, web

__all__ = ["explained_here", "web"]
