"""Fixtures of the reliability tests (the helpers live in clirun.py)."""

from tests.reliability.clirun import run_root

__all__ = ["run_root"]
