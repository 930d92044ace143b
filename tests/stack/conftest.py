"""Helpers shared by the stack tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import psutil

T = TypeVar("T")


def listening_addresses(pid: int) -> set[str]:
    """IP addresses the process (and its children) listen on over TCP."""
    procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    found: set[str] = set()
    for proc in procs:
        try:
            conns = proc.net_connections(kind="inet")
        except psutil.NoSuchProcess:  # a short-lived child (e.g. a backend) just exited
            continue
        found.update(c.laddr.ip for c in conns if c.status == psutil.CONN_LISTEN)
    return found


def eventually(check: Callable[[], T], timeout: float = 60.0, interval: float = 0.005) -> T:
    """Poll ``check`` until it is truthy; fail with its last value after ``timeout``.

    The timeout only bounds a failure: a loaded machine may take seconds for what takes
    milliseconds here, and a passing test returns as soon as the condition holds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition still false after {timeout}s (last: {value!r})")
        time.sleep(interval)


def process_states(pids: list[int]) -> set[str]:
    """States of the processes still alive (short-lived children may exit meanwhile)."""
    states = set()
    for pid in pids:
        try:
            states.add(psutil.Process(pid).status())
        except psutil.NoSuchProcess:
            continue
    return states
