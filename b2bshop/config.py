"""Settings from environment variables. Every setting has a safe default (the embedded mode)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _secret_key(instance_path: Path) -> str:
    """SECRET_KEY from the environment, else one generated once into instance/.

    A key in the code would be the same on every install; a key per process would sign
    everyone out on each restart and break sessions across gunicorn workers.
    """
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = instance_path / "secret_key"
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two workers starting together must not write two different keys.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
    return path.read_text().strip()


def _engine_options(database_url: str) -> dict:
    # No pool_pre_ping: a pooled PostgreSQL connection is checked without a round trip
    # (core/connections.py).
    options: dict = {}
    if database_url.startswith("postgresql+psycopg"):
        # psycopg prepares a statement on its 5th run on a connection and forgets them all at
        # a ROLLBACK. Views marked @read_only run without a transaction, so they never roll
        # back and keep theirs: the signed-in user's query, run by every request, is planned
        # once per connection. "none" turns preparing off (PgBouncer before 1.21 in
        # transaction pooling cannot keep prepared statements).
        threshold = os.environ.get("DATABASE_PREPARE_THRESHOLD", "5")
        options["connect_args"] = {
            "prepare_threshold": None if threshold.lower() == "none" else int(threshold)
        }
    return options


def from_env(instance_path: str) -> dict:
    instance = Path(instance_path)
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{instance / 'b2bshop.db'}"
    # Heroku-style URLs say postgres://; SQLAlchemy wants a driver name.
    if database_url.startswith("postgres://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgres://") :]
    elif database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://") :]
    redis_url = os.environ.get("REDIS_URL", "")
    debug = _bool("FLASK_DEBUG", False)
    mail_server = os.environ.get("MAIL_SERVER", "")
    return {
        "SECRET_KEY": _secret_key(instance),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": _engine_options(database_url),
        "REDIS_URL": redis_url,
        # Embedded mode runs the RQ worker as a thread of the web process.
        "QUEUE_EMBEDDED_WORKER": _bool("QUEUE_EMBEDDED_WORKER", not redis_url),
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        "RATELIMIT_HEADERS_ENABLED": True,
        # Each web process keeps its own bounded cache by default; RedisCache shares one.
        "CACHE_TYPE": os.environ.get("CACHE_TYPE", "SimpleCache"),
        "CACHE_REDIS_URL": os.environ.get("CACHE_REDIS_URL", redis_url),
        "CACHE_KEY_PREFIX": "b2bshop:",
        "CACHE_DEFAULT_TIMEOUT": int(os.environ.get("CACHE_DEFAULT_TIMEOUT", "600")),
        "CACHE_THRESHOLD": int(os.environ.get("CACHE_THRESHOLD", "200")),
        "LOGIN_RATE_LIMIT": os.environ.get("LOGIN_RATE_LIMIT", "10 per minute;50 per hour"),
        #: Sign-in attempts per account (the email typed), whatever address they come from.
        "LOGIN_ACCOUNT_RATE_LIMIT": os.environ.get(
            "LOGIN_ACCOUNT_RATE_LIMIT", "10 per 15 minutes;30 per day"
        ),
        # Redis down must not take sign-in down: limits fall back to this process's memory.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RATELIMIT_STORAGE_OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        #: How many proxies in front may set X-Forwarded-For / -Proto / -Host (0: none, so
        #: no forwarded header is trusted). Behind one TLS-terminating proxy: 1 each.
        "PROXY_FIX_X_FOR": int(os.environ.get("PROXY_FIX_X_FOR", "0")),
        "PROXY_FIX_X_PROTO": int(os.environ.get("PROXY_FIX_X_PROTO", "0")),
        "PROXY_FIX_X_HOST": int(os.environ.get("PROXY_FIX_X_HOST", "0")),
        #: The largest request body in bytes (forms): a bigger one is refused with 413 before
        #: it is read. 1 MiB holds any form of the store many times over.
        "MAX_CONTENT_LENGTH": int(os.environ.get("MAX_CONTENT_LENGTH", str(1024 * 1024))),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE", not debug),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE", not debug),
        "WTF_CSRF_TIME_LIMIT": int(os.environ.get("WTF_CSRF_TIME_LIMIT", "7200")),
        "BABEL_DEFAULT_LOCALE": "en",
        #: The store's time zone, an IANA name (Europe/Amsterdam): timestamps are kept in
        #: UTC and shown in this zone, with its name beside them.
        "STORE_TIMEZONE": os.environ.get("STORE_TIMEZONE")
        or os.environ.get("BABEL_DEFAULT_TIMEZONE")
        or "UTC",
        "LANGUAGES": ["en", "fr", "nb", "nl"],
        # Mail: SMTP when MAIL_SERVER is set, otherwise one .eml file per message.
        "MAIL_BACKEND": os.environ.get("MAIL_BACKEND")
        or ("smtp" if mail_server else "b2bshop.mailing.EmlFileEmailBackend"),
        "MAIL_FILE_PATH": os.environ.get("MAIL_FILE_PATH") or str(instance / "mail"),
        "MAIL_SERVER": mail_server or "localhost",
        "MAIL_PORT": int(os.environ.get("MAIL_PORT", "25")),
        "MAIL_USE_TLS": _bool("MAIL_USE_TLS", False),
        "MAIL_USE_SSL": _bool("MAIL_USE_SSL", False),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD") or None,
        "MAIL_TIMEOUT": int(os.environ.get("MAIL_TIMEOUT", "10")),
        "MAIL_DEFAULT_SENDER": os.environ.get(
            "MAIL_DEFAULT_SENDER", "b2bshop <no-reply@b2bshop.example>"
        ),
        "STORE_NAME": os.environ.get("STORE_NAME", "b2bshop"),
        #: The legal entity (its code) this storefront sells for; empty: the first entity.
        "STORE_ENTITY": os.environ.get("STORE_ENTITY", ""),
        #: Links in emails point here.
        "STORE_URL": os.environ.get("STORE_URL", "http://127.0.0.1:5000"),
        #: Dotted path of the card payment provider (b2bshop/payments/providers.py).
        "CARD_PROVIDER": os.environ.get(
            "CARD_PROVIDER", "b2bshop.payments.providers.SandboxCardProvider"
        ),
        #: A bank transfer not confirmed within this many days expires (the cron), and its
        #: invoices are open to pay again.
        "BANK_TRANSFER_EXPIRY_DAYS": int(os.environ.get("BANK_TRANSFER_EXPIRY_DAYS", "14")),
        #: A card payment still pending after this many seconds is resolved by reconcile,
        #: which asks the provider by the payment's key.
        "CARD_PENDING_TIMEOUT": int(os.environ.get("CARD_PENDING_TIMEOUT", "120")),
        #: Seconds between two runs of the payment reconcile job.
        "RECONCILE_INTERVAL": int(os.environ.get("RECONCILE_INTERVAL", "300")),
        #: Fault-injection tests only (core/faults.py); never set in production.
        "FAULT_CRASH_AT": os.environ.get("FAULT_CRASH_AT", ""),
        #: Shown on bank-transfer receipts.
        "BANK_IBAN": os.environ.get("BANK_IBAN", "NL00 BANK 0000 0000 00"),
        #: The most e-invoices one /invoices.zip holds, per format (a Factur-X PDF takes
        #: ~50 to 100 ms to build, a UBL file ~1 ms: both caps stay inside GUNICORN_TIMEOUT).
        "EINVOICE_ZIP_MAX_UBL": int(os.environ.get("EINVOICE_ZIP_MAX_UBL", "500")),
        "EINVOICE_ZIP_MAX_FACTURX": int(os.environ.get("EINVOICE_ZIP_MAX_FACTURX", "100")),
        #: Seconds between two runs of the request sync job.
        "SYNC_INTERVAL": int(os.environ.get("SYNC_INTERVAL", "60")),
        #: Seconds between two quotation sweeps (expiry, "about to expire" emails, emails
        #: whose job was lost): tasks/quotations.py.
        "QUOTATION_SWEEP_INTERVAL": int(os.environ.get("QUOTATION_SWEEP_INTERVAL", "900")),
        #: Jobs and delivery (README, "Jobs and email delivery"): seconds a request job may
        #: run before RQ stops it; its lease on the request is that plus the margin.
        "REQUEST_JOB_TIMEOUT": int(os.environ.get("REQUEST_JOB_TIMEOUT", "120")),
        "REQUEST_LEASE_MARGIN": int(os.environ.get("REQUEST_LEASE_MARGIN", "60")),
        #: Seconds before each retry of a failed request job (as many retries as values).
        "REQUEST_RETRY_INTERVALS": os.environ.get("REQUEST_RETRY_INTERVALS", "10,60,300"),
        #: A request whose worker died this many times fails instead of being queued again.
        "REQUEST_MAX_ATTEMPTS": int(os.environ.get("REQUEST_MAX_ATTEMPTS", "10")),
        #: Seconds between two heartbeats of the scheduler, and the most it waits between
        #: two tries to reach Redis again.
        "SCHEDULER_HEARTBEAT": int(os.environ.get("SCHEDULER_HEARTBEAT", "10")),
        "SCHEDULER_MAX_BACKOFF": int(os.environ.get("SCHEDULER_MAX_BACKOFF", "15")),
        #: Seconds between an RQ worker's housekeeping: abandoned jobs, and restarting its
        #: scheduler after Redis came back (RQ's default is 600).
        "WORKER_MAINTENANCE_INTERVAL": int(os.environ.get("WORKER_MAINTENANCE_INTERVAL", "30")),
        #: Campaigns (issue 17): recipients per batch job; seconds a batch job may run; how
        #: long a claimed recipient stays with its job before the campaign sync hands it to
        #: another (longer than the job timeout, so a live job never loses its own).
        "CAMPAIGN_BATCH_SIZE": int(os.environ.get("CAMPAIGN_BATCH_SIZE", "200")),
        "CAMPAIGN_JOB_TIMEOUT": int(os.environ.get("CAMPAIGN_JOB_TIMEOUT", "600")),
        "CAMPAIGN_LEASE_SECONDS": int(os.environ.get("CAMPAIGN_LEASE_SECONDS", "660")),
        #: Partner sign-ups (POST /signup) per client address.
        "SIGNUP_RATE_LIMIT": os.environ.get("SIGNUP_RATE_LIMIT", "5 per minute;20 per hour"),
    }


def store_timezone(name: str) -> str:
    """The setting checked at start-up: a misspelt zone would otherwise show every time in
    UTC without a word."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(
            f"STORE_TIMEZONE={name!r} is not a time zone name; use one such as "
            "'Europe/Amsterdam' or 'UTC'."
        ) from error
    return name
