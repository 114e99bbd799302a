"""The buyer's first views in instructions per request (valgrind's callgrind), for before and
after comparisons on a shared machine (issue 21).

    .venv/bin/python bench/instructions.py [--requests 20]

CPU time on these machines swings by half from one minute to the next, and request work
swings more than hello's; an instruction count does not. The same scenarios as
bench/first_views.py (whose set-up this imports: the bench database, signed in as the bench
user), each request counted after warm-up, under callgrind with instrumentation on only
while the counted requests run. Instructions are user space only: the kernel's work (the
socket to PostgreSQL, the answer's bytes) and waiting are not in them, so they rank changes
to the Python rather than predict throughput. Needs valgrind and a C compiler (Debian's
valgrind and gcc); one run takes about a minute.

Like first_views.py, it imports only the tree it sits in: a copy in a worktree of an older
commit counts that commit.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHIM = """
#include <valgrind/callgrind.h>
void count_start(void) {
    CALLGRIND_ZERO_STATS; CALLGRIND_START_INSTRUMENTATION; CALLGRIND_TOGGLE_COLLECT;
}
void count_stop(const char *name) {
    CALLGRIND_TOGGLE_COLLECT; CALLGRIND_DUMP_STATS_AT(name); CALLGRIND_STOP_INSTRUMENTATION;
}
"""


def build_shim(directory: Path) -> Path:
    source, library = directory / "shim.c", directory / "libshim.so"
    source.write_text(SHIM)
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", library, source], check=True)
    return library


def counted(library: str, requests: int, names: Path) -> None:
    """Inside valgrind: run each scenario, counting its requests only."""
    sys.path.insert(0, str(HERE))
    import first_views

    from b2bshop import create_app

    shim = ctypes.CDLL(library)
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": first_views.DATABASE,
            "REDIS_URL": "",
            "RATELIMIT_ENABLED": True,  # as deployed: its hooks run on every request
            "QUEUE_EMBEDDED_WORKER": False,
        }
    )
    cases = first_views.scenarios(app)
    names.write_text("\n".join(cases))
    for i, call in enumerate(cases.values()):
        for _ in range(15):
            call()
        shim.count_start()
        for _ in range(requests):
            call()
        shim.count_stop(f"scenario-{i}".encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--inside", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        counted(args.inside, args.requests, Path(args.inside).parent / "names.txt")
        return
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        library = build_shim(directory)
        out = directory / "callgrind.out"
        subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--instr-atstart=no",
                "--collect-atstart=no",
                f"--callgrind-out-file={out}",
                sys.executable,
                __file__,
                "--inside",
                str(library),
                "--requests",
                str(args.requests),
            ],
            check=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        counts = []
        for dump in sorted(directory.glob("callgrind.out.*"), key=lambda p: int(p.suffix[1:])):
            total = re.search(r"^summary: (\d+)", dump.read_text(), re.M)
            counts.append(int(total.group(1)) / args.requests if total else float("nan"))
        names = (directory / "names.txt").read_text().splitlines()
    print("| request | instructions per request | × hello |")
    print("|---|---:|---:|")
    for name, count in zip(names, counts, strict=True):
        print(f"| {name} | {count / 1e6:.2f} M | {count / counts[0]:.1f} |")


if __name__ == "__main__":
    main()
