"""`make run PORT=5101` serves on 5101, and the links in its emails point there too."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("make") is None, reason="no make on this machine")
def test_make_run_sets_the_store_url_from_host_and_port() -> None:
    out = subprocess.run(
        ["make", "-n", "run", "HOST=127.0.0.2", "PORT=5101"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert "STORE_URL=${STORE_URL:-http://127.0.0.2:5101}" in out, out
    assert "--host 127.0.0.2 --port 5101" in out, out
