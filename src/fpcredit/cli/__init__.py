"""The `fpcredit` command line: thin Typer commands over the library.

`common.py` holds the root app and what the commands share, `reports.py` the tables several
commands print; each other module holds a group of commands. Importing a module registers its
commands, so the order below is the order of `fpcredit --help`.
"""

from __future__ import annotations

import importlib
import logging

from fpcredit.cli.audit import audit_app, witness_app
from fpcredit.cli.cases import cases_app
from fpcredit.cli.common import app, err
from fpcredit.cli.exchange import exchange_app
from fpcredit.cli.export import export_app
from fpcredit.cli.feedback import feedback_app
from fpcredit.cli.keys import keys_app
from fpcredit.cli.notify import notify_app
from fpcredit.cli.outbox import outbox_app
from fpcredit.cli.policy import policy_app
from fpcredit.cli.quality import quality_app
from fpcredit.cli.review import review_app
from fpcredit.cli.standard import standard_app
from fpcredit.cli.subsidy import subsidy_app
from fpcredit.cli.users import users_app

__all__ = ["app", "main"]

for _commands in ("root", "demo", "link", "evaluation", "serve"):  # the root app's, in order
    importlib.import_module(f"fpcredit.cli.{_commands}")

app.add_typer(quality_app, name="quality")
app.add_typer(policy_app, name="policy")
app.add_typer(standard_app, name="standard")
app.add_typer(review_app, name="review")
app.add_typer(export_app, name="export")
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")
app.add_typer(outbox_app, name="outbox")
app.add_typer(notify_app, name="notify")
app.add_typer(feedback_app, name="feedback")
app.add_typer(subsidy_app, name="subsidy")
app.add_typer(cases_app, name="cases")
app.add_typer(audit_app, name="audit")
app.add_typer(witness_app, name="witness")
app.add_typer(exchange_app, name="exchange")


def main() -> None:
    """Console-script entry point: no traceback ever reaches the user."""
    from fpcredit.config import debug_requested
    from fpcredit.errors import FpcreditError
    from fpcredit.guard.redact import configure_logging

    configure_logging(json=False, level=logging.WARNING)
    try:
        app()
    except (KeyboardInterrupt, BrokenPipeError):
        raise SystemExit(130) from None
    except FpcreditError as e:  # one a command read outside `errors()`, e.g. a bad setting
        err.print(f"[red]error:[/red] {e}", highlight=False, soft_wrap=True)
        raise SystemExit(1) from None
    except Exception as e:
        logging.getLogger("fpcredit").debug("unexpected error", exc_info=True)
        err.print(
            f"[red]error:[/red] internal error ({type(e).__name__}); "
            "rerun with FPCREDIT_DEBUG=1 for details",
            highlight=False,
        )
        if debug_requested():
            raise
        raise SystemExit(2) from None
