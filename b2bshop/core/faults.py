"""Crash points for the fault-injection tests, off unless FAULT_CRASH_AT names one.

A real process has to die at the worst moment (after the card was charged, before the
store recorded it) for the tests to prove that reconcile repairs it; a mock would prove
nothing about a process that never comes back. `make test` starts the store with
FAULT_CRASH_AT set in a subprocess of its own; nothing else ever sets it.
"""

from __future__ import annotations

import os
import signal

from flask import current_app


def crash_point(name: str) -> None:
    """SIGKILL this process when FAULT_CRASH_AT is `name`: no cleanup, no rollback."""
    if current_app.config.get("FAULT_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
