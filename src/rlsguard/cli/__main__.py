"""``python -m rlsguard.cli``: the same as the ``rlsguard`` command."""

from rlsguard.cli import main

main()
