"""tests/deploy runs only when named on the command line (`make smoke`): it boots the whole
production stack on the machine's PostgreSQL and Redis, which a plain `pytest` must not need."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def _named(config: pytest.Config) -> bool:
    for arg in config.args:
        path = Path(arg.split("::")[0]).resolve()
        if path == HERE or HERE in path.parents:
            return True
    return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _named(config):
        return
    deselected = [item for item in items if HERE in item.path.parents]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if HERE not in item.path.parents]


@pytest.fixture(autouse=True)
def _clean_database() -> None:
    """The stack has a database of its own: no test app, no truncation here."""
