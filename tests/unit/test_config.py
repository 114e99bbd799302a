"""Configuration (issue 2.3): environment variables with safe defaults."""

from __future__ import annotations

import pytest

from b2bshop.config import from_env

VARS = [
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "MAIL_SERVER",
    "MAIL_BACKEND",
    "FLASK_DEBUG",
    "SESSION_COOKIE_SECURE",
]


@pytest.fixture
def clean_env(monkeypatch):
    for name in VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_embedded_defaults(clean_env, tmp_path):
    config = from_env(str(tmp_path))
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'b2bshop.db'}"
    assert config["REDIS_URL"] == "" and config["QUEUE_EMBEDDED_WORKER"] is True
    assert config["RATELIMIT_STORAGE_URI"] == "memory://"
    assert config["MAIL_BACKEND"] == "b2bshop.mailing.EmlFileEmailBackend"
    assert config["MAIL_FILE_PATH"] == str(tmp_path / "mail")


def test_secret_key_is_generated_once_into_instance(clean_env, tmp_path):
    first = from_env(str(tmp_path))["SECRET_KEY"]
    assert len(first) == 64
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0  # private to the owner
    assert from_env(str(tmp_path))["SECRET_KEY"] == first
    assert from_env(str(tmp_path / "other"))["SECRET_KEY"] != first
    clean_env.setenv("SECRET_KEY", "from-env")
    assert from_env(str(tmp_path))["SECRET_KEY"] == "from-env"


def test_production_settings(clean_env, tmp_path):
    clean_env.setenv("DATABASE_URL", "postgres://shop@db.internal/shop")
    clean_env.setenv("REDIS_URL", "redis://cache.internal:6379/0")
    clean_env.setenv("MAIL_SERVER", "smtp.internal")
    config = from_env(str(tmp_path))
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://shop@db.internal/shop"
    assert config["QUEUE_EMBEDDED_WORKER"] is False
    assert config["RATELIMIT_STORAGE_URI"] == "redis://cache.internal:6379/0"
    assert config["MAIL_BACKEND"] == "smtp" and config["MAIL_SERVER"] == "smtp.internal"


def test_no_secret_key_in_the_code():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "b2bshop"
    for path in root.rglob("*.py"):
        text = path.read_text()
        assert 'SECRET_KEY": "' not in text and 'SECRET_KEY = "' not in text, path
