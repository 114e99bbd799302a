"""job leases, email sends, periodic job heartbeats

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 09:00:00

- b2b_requests.lease_expires_at: a job holds a request until then; the sync job puts a
  request still processing after it back to pending (its worker died).
- sent_emails.sends: SMTP conversations started for one email (same Message-ID each time).
- job_heartbeats: the scheduler's tick and each periodic job's last run, in the database so
  that they outlive a Redis outage.

Plain ADD COLUMN and a new table: no batch copy of any table (SQLite would drop the
triggers of the tables it copies).
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("b2b_requests", sa.Column("lease_expires_at", sa.DateTime(), nullable=True))
    op.add_column(
        "sent_emails", sa.Column("sends", sa.Integer(), server_default="0", nullable=False)
    )
    op.create_table(
        "job_heartbeats",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("last_ok_at", sa.DateTime(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("detail", sa.String(length=500), nullable=True),
        sa.Column("last_error_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("process", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_job_heartbeats")),
    )


def downgrade():
    op.drop_table("job_heartbeats")
    # SQLite 3.35+ drops a column in place (no table copy).
    op.drop_column("sent_emails", "sends")
    op.drop_column("b2b_requests", "lease_expires_at")
