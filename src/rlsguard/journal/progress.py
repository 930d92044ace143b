"""Live progress of a journal's steps on a rich console (the gate's and the drills')."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.status import Status

from rlsguard.journal.record import Step

MARK = {
    "passed": "[green]✓[/]",
    "failed": "[red]✗[/]",
    "skipped": "[dim]-[/]",
    "error": "[red]![/]",
    "interrupted": "[yellow]⏹[/]",
}


class LiveProgress:
    """One line per finished step; a spinner on the running one when the console is a terminal."""

    def __init__(self, console: Console, prefix: str = "") -> None:
        self.console = console
        self.prefix = prefix
        self._status: Status | None = None

    def started(self, name: str, title: str) -> None:
        if self.console.is_terminal:
            self._status = self.console.status(f"{escape(self.prefix)}{escape(title)}…")
            self._status.start()

    def finished(self, step: Step) -> None:
        self.close()
        detail = f" [dim]{escape(step.detail)}[/]" if step.detail else ""
        self.console.print(
            f"{MARK[step.status]} {escape(self.prefix)}{escape(step.title)} "
            f"[dim]({step.seconds:.1f} s)[/]{detail}",
            soft_wrap=True,
        )

    def close(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None
