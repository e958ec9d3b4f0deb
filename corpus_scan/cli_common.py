"""What every `corpus-scan` command module shares: the consoles, the --db option, one-line
errors, SIGTERM taken as an interrupt."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer
from rich.console import Console

from corpus_scan.documents import InputError

# Piped output (docs, files) keeps long rows instead of wrapping at 80 columns.
console = Console(width=None if sys.stdout.isatty() else 240)
err = Console(stderr=True)

T = TypeVar("T")
DbOption = Annotated[Path, typer.Option("--db", help="DuckDB scan database")]
HeadOption = Annotated[
    Path | None, typer.Option(help="head folder from `train --out` (default: the shipped one)")
]


def fail(message: str, code: int = 2) -> NoReturn:
    """Print a one-line error and exit with `code`."""
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def fields(value: str) -> tuple[str, ...]:
    """`--text-field a,b` -> ("a", "b")."""
    return tuple(f.strip() for f in value.split(",") if f.strip())


RESUME_HINT = "what was committed is kept: re-run the same command to resume"


@contextmanager
def terminate_as_interrupt() -> Iterator[list[int]]:
    """Within the block, SIGTERM raises KeyboardInterrupt as Ctrl-C does, so the work's
    `finally` blocks run (a scan marks its run `interrupted`, a filter removes its temporary
    file) instead of the process dying mid-write with the run left `running`. Yields a list
    that receives the number of each SIGTERM or SIGINT caught; the old handlers come back
    afterwards."""
    caught: list[int] = []

    def on_signal(signum: int, frame: object) -> None:
        caught.append(signum)
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield caught
        return
    old = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield caught
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def interrupted(what: str, caught: list[int]) -> NoReturn:
    """The one line a command prints when Ctrl-C or SIGTERM stopped it; exits 128 + signal."""
    sig = caught[0] if caught else int(signal.SIGINT)
    fail(f"{what} ({signal.Signals(sig).name}); {RESUME_HINT}", code=128 + sig)


def run_interruptible(what: str, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
    """A command's long library call: an InputError becomes its one line (exit 2), Ctrl-C or
    SIGTERM the line `what (SIGNAL); ...resume` (exit 128 + signal), also when the signal
    surfaced as another error (DuckDB turns one that lands mid-query into "Query
    interrupted")."""
    with terminate_as_interrupt() as caught:
        try:
            return fn(*args, **kwargs)
        except BaseException as exc:
            if caught or isinstance(exc, KeyboardInterrupt):
                interrupted(what, caught)
            if isinstance(exc, InputError):
                fail(str(exc))
            if type(exc).__module__.split(".")[0] in ("duckdb", "_duckdb"):
                # e.g. a WAL that cannot be written beside a database in a read-only folder
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                fail(f"the database could not be written or read: {first} (is its folder "
                     "writable, and is there room on the disk?)")
            raise
