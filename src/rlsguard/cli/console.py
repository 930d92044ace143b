"""How every ``rlsguard`` command prints a message it did not write itself.

Messages carry user-derived text (SQL, file paths, persona names, Postgres errors): printed as
rich markup, ``[/b]`` in a failing statement crashes the report and ``[bold red]`` vanishes
from it. Everything user-derived goes through :func:`rich.markup.escape` here.
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape


def print_error(console: Console, message: object, *, label: str = "error") -> None:
    """One ``error: ...`` line (or more, when the message has them), the message verbatim."""
    console.print(f"[red]{label}:[/] {escape(str(message))}", soft_wrap=True, highlight=False)
