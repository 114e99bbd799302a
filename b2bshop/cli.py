"""Flask commands: `flask --app wsgi demo | worker`."""

from __future__ import annotations

import time

import click
from flask import Flask, current_app

from b2bshop import benchdata, demo, jobs
from b2bshop.extensions import db


def register(app: Flask) -> None:
    @app.cli.command("demo")
    @click.option("--if-empty", is_flag=True, help="Do nothing when the database has users.")
    def demo_command(if_empty: bool) -> None:
        """Load the demo data (accounts with password 'demo')."""
        if not demo.is_empty():
            if if_empty:
                click.echo("Database has data; demo data not loaded.")
                return
            raise click.ClickException("The database is not empty; refusing to load demo data.")
        demo.load()
        demo.load_sister_company()  # a second legal entity buying from the store (issue 20)
        db.session.commit()
        click.echo("Demo data loaded. Sign in as buyer@contoso.example / demo.")

    @app.cli.command("bench-data")
    @click.option("--customers", default=10_000, show_default=True)
    @click.option("--invoices", default=1_000_000, show_default=True)
    @click.option(
        "--org-invoices",
        default=50_000,
        show_default=True,
        help="Invoices of the invoice account the bench user also sees.",
    )
    @click.option("--seed", default=42, show_default=True)
    def bench_data_command(customers: int, invoices: int, org_invoices: int, seed: int) -> None:
        """Generate a large reproducible data set (empty database only)."""
        size = benchdata.BenchSize(customers, invoices, org_invoices, seed)
        started = time.monotonic()
        try:
            with click.progressbar(length=invoices, label="Invoices") as bar:
                counts = benchdata.generate(size, progress=bar.update)
        except benchdata.NotEmpty as exc:
            raise click.ClickException(str(exc)) from exc
        db.session.commit()
        click.echo("Analyzing ...")
        benchdata.analyze()
        summary = ", ".join(f"{v:,} {k}" for k, v in counts.items())
        click.echo(f"Done in {time.monotonic() - started:.0f} s: {summary}.")
        click.echo(f"Sign in as {benchdata.BENCH_USER} / {benchdata.BENCH_PASSWORD}.")

    @app.cli.command("bench-contacts")
    @click.option("--contacts", default=50_000, show_default=True)
    @click.option("--seed", default=42, show_default=True)
    def bench_contacts_command(contacts: int, seed: int) -> None:
        """Generate leads, prospects and customer parties with contacts, for campaigns."""
        try:
            counts = benchdata.generate_contacts(contacts, seed)
        except benchdata.NotEmpty as exc:
            raise click.ClickException(str(exc)) from exc
        db.session.commit()
        benchdata.analyze()
        click.echo(", ".join(f"{v:,} {k}" for k, v in counts.items()) + ".")

    @app.cli.command("cron")
    def cron_command() -> None:
        """Queue the periodic jobs (the request sync every SYNC_INTERVAL seconds, the payment
        reconcile every RECONCILE_INTERVAL) on REDIS_URL. Run one, next to any workers. It
        waits out Redis outages (never exits on one) and writes a heartbeat to the database."""
        app = current_app._get_current_object()
        if not app.config.get("REDIS_URL"):
            raise click.ClickException(
                "REDIS_URL is not set: the embedded mode runs its clock inside the web process."
            )
        jobs.run_cron(app)

    @app.cli.group("payments")
    def payments_group() -> None:
        """Payments: reconcile with the card provider."""

    @payments_group.command("reconcile")
    def reconcile_command() -> None:
        """Match provider charges to payments: complete or fail stale pending card
        payments, refund charges without a payment, expire old bank transfers."""
        from b2bshop.payments.reconcile import reconcile

        report = reconcile()
        click.echo(f"Reconciled: {report.summary()}.")

    @app.cli.command("worker")
    @click.option("--burst", is_flag=True, help="Quit when the queues are empty.")
    @click.option("--with-scheduler/--without-scheduler", default=True)
    def worker_command(burst: bool, with_scheduler: bool) -> None:
        """Run an RQ worker (and its scheduler) on REDIS_URL, inside the app; started again
        when RQ's loop stops on a Redis error."""
        app = current_app._get_current_object()
        if not app.config.get("REDIS_URL"):
            raise click.ClickException(
                "REDIS_URL is not set: the embedded mode runs its worker inside the web process."
            )
        jobs.run_worker(app, burst=burst, with_scheduler=with_scheduler)
