"""`fpcredit standard`: the data element standard (数据元标准)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

standard_app = typer.Typer(help="The data element standard (数据元标准).")


@standard_app.command("render")
def standard_render(
    output: Annotated[
        Path | None, typer.Option("--out", help="File to write (default stdout).")
    ] = None,
) -> None:
    """Render the data element standard as Markdown (docs/standard.md)."""
    from fpcredit.standard.render import render_markdown

    text = render_markdown()
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
