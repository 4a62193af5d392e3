"""Which server process owns a training run, and whether that process still lives.

An owner is ``"<hostname>:<pid>:<start>"``. ``<start>`` is ``<boot id>/<start ticks>`` read
from ``/proc`` (field 22 of ``/proc/<pid>/stat``, the start time in clock ticks since boot),
so a reused pid, or the same pid after a reboot, is not mistaken for the owner. Where
``/proc`` is missing, ``<start>`` is ``?`` and a live pid counts as the owner (we cannot tell).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import NamedTuple

UNKNOWN_START = "?"


class Owner(NamedTuple):
    host: str
    pid: int
    start: str


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def process_start(pid: int) -> str | None:
    """``<boot id>/<start ticks>`` of a process, or None without ``/proc`` or the process."""
    boot = _boot_id()
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    if boot is None:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ")".
    return f"{boot}/{stat.rsplit(')', 1)[1].split()[19]}"


def current_owner() -> str:
    """The owner string of this process."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{process_start(pid) or UNKNOWN_START}"


def parse_owner(owner: str) -> Owner | None:
    """Split an owner string; None if it is not one."""
    host, sep, rest = owner.partition(":")
    pid, sep2, start = rest.partition(":")
    if not (sep and sep2 and host and pid.isdigit()):
        return None
    return Owner(host, int(pid), start)


def owner_alive(owner: str) -> bool:
    """Whether the owner, a process on THIS host, is still running."""
    parsed = parse_owner(owner)
    if parsed is None:
        return False
    try:
        os.kill(parsed.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by another user
    start = process_start(parsed.pid)
    if start is None or parsed.start == UNKNOWN_START:
        return True  # the pid lives and we cannot tell whose it is: do not interrupt its run
    return start == parsed.start
