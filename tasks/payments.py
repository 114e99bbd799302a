"""The periodic payment reconcile job (payments/reconcile.py), run by the same scheduler as
the request sync: `flask cron` in production, the embedded clock in `make run`. Its runs are
recorded like the sync's (b2bshop/heartbeats.py), for /healthz and /admin/requests."""

from __future__ import annotations

from b2bshop import heartbeats
from b2bshop.payments.reconcile import reconcile


def reconcile_payments() -> str:
    """Runs inside the worker's app context; each resolution commits on its own."""
    return heartbeats.run_periodic(heartbeats.RECONCILE_PAYMENTS, lambda: reconcile().summary())
