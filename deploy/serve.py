"""Run the Procfile's processes on this machine until Ctrl-C (`make serve`, tests/deploy).

    python deploy/serve.py [--workers N]

Starts `web` once (gunicorn forks WEB_CONCURRENCY workers), `worker` N times (default 2) and
`cron` once, with this Python's bin directory first on PATH; `release` (the migrations) is
left to the caller. Each process runs in its own session, so a Ctrl-C reaches this script
only, which then sends every process one SIGTERM (gunicorn and RQ stop warm: running requests
and jobs finish), waits, and kills what is left. When a process exits by itself, the others
are stopped the same way and the exit status is 1.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GRACE = 30  # seconds; longer than gunicorn's graceful_timeout


def read_procfile(path: Path) -> dict[str, str]:
    entries = {}
    for line in path.read_text().splitlines():
        name, sep, command = line.partition(":")
        if sep and not line.startswith("#"):
            entries[name.strip()] = command.strip()
    return entries


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="RQ worker processes (2)")
    args = parser.parse_args()
    commands = read_procfile(ROOT / "Procfile")
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {**os.environ, "PATH": path}

    signals: list[int] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda signum, _frame: signals.append(signum))

    processes: list[tuple[str, subprocess.Popen]] = []
    for kind, count in (("web", 1), ("worker", args.workers), ("cron", 1)):
        for n in range(1, count + 1):
            process = subprocess.Popen(
                shlex.split(commands[kind]), cwd=ROOT, env=env, start_new_session=True
            )
            processes.append((f"{kind}.{n}", process))
            print(f"serve: {kind}.{n} (pid {process.pid}): {commands[kind]}", flush=True)

    status = 0
    while not signals:
        exited = [(label, p.returncode) for label, p in processes if p.poll() is not None]
        if exited:
            print(f"serve: {exited[0][0]} exited with {exited[0][1]}; stopping", flush=True)
            status = 1
            break
        time.sleep(0.2)
    else:
        print("serve: stopping", flush=True)

    for _label, process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + GRACE
    for label, process in processes:
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"serve: {label} still running after {GRACE} s: killed", flush=True)
            process.kill()
            process.wait()
    return status


if __name__ == "__main__":
    sys.exit(main())
