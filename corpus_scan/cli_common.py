"""What every `corpus-scan` command module shares: the consoles, the --db option, one-line
errors."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

# Piped output (docs, files) keeps long rows instead of wrapping at 80 columns.
console = Console(width=None if sys.stdout.isatty() else 240)
err = Console(stderr=True)

DbOption = Annotated[Path, typer.Option("--db", help="DuckDB scan database")]


def fail(message: str, code: int = 2) -> NoReturn:
    """Print a one-line error and exit with `code`."""
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def fields(value: str) -> tuple[str, ...]:
    """`--text-field a,b` -> ("a", "b")."""
    return tuple(f.strip() for f in value.split(",") if f.strip())
