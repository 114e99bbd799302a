"""Alembic environment for Flask-Migrate (Flask-SQLAlchemy 3)."""

import logging
import warnings
from logging.config import fileConfig

from alembic import context
from flask import current_app

config = context.config
# Tests run migrations in-process: leave their logging alone.
if config.config_file_name and not current_app.testing:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

target_db = current_app.extensions["migrate"].db

# SQLite batch migrations reflect tables; SQLAlchemy cannot reflect the expression index
# on users (lower(email)) there and says so. Batch never recreates users, so it is kept.
warnings.filterwarnings(
    "ignore", message="Skipped unsupported reflection of expression-based index"
)


def get_engine():
    return target_db.engine


config.set_main_option(
    "sqlalchemy.url", get_engine().url.render_as_string(hide_password=False).replace("%", "%%")
)


def get_metadata():
    return target_db.metadata


def run_migrations_offline():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=get_metadata(),
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    def process_revision_directives(context, revision, directives):
        if getattr(config.cmd_opts, "autogenerate", False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info("No changes in schema detected.")

    conf_args = dict(current_app.extensions["migrate"].configure_args)
    conf_args.setdefault("process_revision_directives", process_revision_directives)

    with get_engine().connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # A batch migration copies a table and drops the old one; with foreign keys on,
            # SQLite's DROP TABLE deletes the rows first and cascades (payments would take
            # their allocations along). The pragma only works outside a transaction, so it
            # goes to the driver's connection before SQLAlchemy begins one.
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            context.configure(connection=connection, target_metadata=get_metadata(), **conf_args)
            with context.begin_transaction():
                context.run_migrations()
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"foreign keys broken by the migration: {broken}")
        finally:
            if sqlite:
                # Back on before the connection returns to the pool; a pragma inside a
                # transaction does nothing, so end it first, and drop the connection if the
                # pragma still did not take.
                connection.rollback()
                driver = connection.connection.driver_connection
                driver.execute("PRAGMA foreign_keys=ON")
                if driver.execute("PRAGMA foreign_keys").fetchone()[0] != 1:
                    connection.invalidate()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
