"""Relationships (leads, prospects, contacts), account applications and campaigns (issue 17).

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 10:30:00

- parties (lead / prospect / customer), contacts, follow_up_tasks, account_applications;
- campaigns, campaign_messages (subject and Markdown body per language), campaign_recipients
  (the frozen list and each email's intent);
- b2b_requests: kind gains 'account_application' (its CHECK), and customer_id and
  requester_id may be NULL (an application has neither yet). No triggers on b2b_requests,
  so SQLite copies it in batch mode;
- number_sequences: 'customer' (CU-), the numbers of converted customers.
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

OLD_KINDS = ("invoice_copy", "add_user", "change_user", "remove_user")
NEW_KINDS = (*OLD_KINDS, "account_application")


def _kinds(values):
    return sa.Enum(*values, name="request_kind", native_enum=False, create_constraint=True, length=20)


def _enum(name, *values):
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=20)


def upgrade():
    op.create_table(
        "parties",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", _enum("party_kind", "lead", "prospect", "customer"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("country_code", sa.String(2), nullable=False),
        sa.Column("vat_number", sa.String(40), nullable=False),
        sa.Column("street", sa.String(200), nullable=False),
        sa.Column("postal_code", sa.String(20), nullable=False),
        sa.Column("city", sa.String(100), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("qualified_at", sa.DateTime(), nullable=True),
        sa.Column("converted_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_parties_customer_id_customers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parties")),
        sa.UniqueConstraint("customer_id", name=op.f("uq_parties_customer_id")),
    )
    op.create_index("ix_parties_kind_name", "parties", ["kind", "name", "id"])
    op.create_index("ix_parties_vat_number", "parties", ["vat_number"])
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("phone", sa.String(40), nullable=False),
        sa.Column("role", sa.String(100), nullable=False),
        sa.Column("language", sa.String(5), nullable=False),
        sa.Column("marketing_consent", sa.Boolean(), nullable=False),
        sa.Column("unsubscribed_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(["party_id"], ["parties.id"], name=op.f("fk_contacts_party_id_parties"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
    )
    op.create_index("ix_contacts_party_id", "contacts", ["party_id"])
    op.create_index("ix_contacts_email", "contacts", ["email"])
    op.create_index("ix_contacts_targetable", "contacts", ["marketing_consent", "language", "party_id"])
    op.create_table(
        "follow_up_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("campaign_recipient_id", sa.Integer(), nullable=True),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(["party_id"], ["parties.id"], name=op.f("fk_follow_up_tasks_party_id_parties"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_up_tasks")),
        sa.UniqueConstraint("campaign_recipient_id", name=op.f("uq_follow_up_tasks_campaign_recipient_id")),
    )
    op.create_index("ix_follow_up_tasks_party_id", "follow_up_tasks", ["party_id"])

    with op.batch_alter_table("b2b_requests", recreate="auto") as batch_op:
        batch_op.alter_column("kind", existing_type=_kinds(OLD_KINDS), type_=_kinds(NEW_KINDS), existing_nullable=False)
        batch_op.alter_column("customer_id", existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column("requester_id", existing_type=sa.Integer(), nullable=True)

    op.create_table(
        "account_applications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("status", _enum("application_status", "pending", "approved", "rejected"), nullable=False),
        sa.Column("repeats", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["party_id"], ["parties.id"], name=op.f("fk_account_applications_party_id_parties"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name=op.f("fk_account_applications_contact_id_contacts")),
        sa.ForeignKeyConstraint(["request_id"], ["b2b_requests.id"], name=op.f("fk_account_applications_request_id_b2b_requests")),
        sa.ForeignKeyConstraint(["decided_by_id"], ["users.id"], name=op.f("fk_account_applications_decided_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_applications")),
        sa.UniqueConstraint("request_id", name=op.f("uq_account_applications_request_id")),
    )
    op.create_index("ix_account_applications_party_id", "account_applications", ["party_id"])

    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("channel", _enum("campaign_channel", "email", "mailing", "telemarketing"), nullable=False),
        sa.Column("status", _enum("campaign_status", "draft", "sending", "paused", "done"), nullable=False),
        sa.Column("target_filter", sa.JSON(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_campaigns_created_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    op.create_index("ix_campaigns_created", "campaigns", ["created_at", "id"])
    op.create_table(
        "campaign_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(5), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], name=op.f("fk_campaign_messages_campaign_id_campaigns"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_messages")),
        sa.UniqueConstraint("campaign_id", "language", name=op.f("uq_campaign_messages_campaign_id")),
    )
    op.create_table(
        "campaign_recipients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=False),
        sa.Column("party_kind", sa.String(20), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("language", sa.String(5), nullable=False),
        sa.Column("state", _enum("recipient_state", "queued", "sending", "sent", "failed", "listed"), nullable=False),
        sa.Column("message_id", sa.String(200), nullable=True),
        sa.Column("sends", sa.Integer(), nullable=False),
        sa.Column("lease_expires_at", sa.DateTime(), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("response", _enum("campaign_response", "interested", "not_interested", "bounced"), nullable=True),
        sa.Column("responded_at", sa.DateTime(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("unsubscribed_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], name=op.f("fk_campaign_recipients_campaign_id_campaigns"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name=op.f("fk_campaign_recipients_contact_id_contacts"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["party_id"], ["parties.id"], name=op.f("fk_campaign_recipients_party_id_parties"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_recipients")),
        sa.UniqueConstraint("campaign_id", "contact_id", name=op.f("uq_campaign_recipients_campaign_id")),
    )
    op.create_index("ix_campaign_recipients_state", "campaign_recipients", ["campaign_id", "state", "id"])
    op.create_index("ix_campaign_recipients_party_id", "campaign_recipients", ["party_id"])
    op.execute("INSERT INTO number_sequences (name, prefix, next_value) VALUES ('customer', 'CU-', 1)")


def downgrade():
    op.execute("DELETE FROM number_sequences WHERE name = 'customer'")
    op.drop_table("campaign_recipients")
    op.drop_table("campaign_messages")
    op.drop_table("campaigns")
    op.drop_table("account_applications")
    # Applications have no place in the older schema (no customer, no requester).
    op.execute("DELETE FROM b2b_requests WHERE kind = 'account_application'")
    with op.batch_alter_table("b2b_requests", recreate="auto") as batch_op:
        batch_op.alter_column("requester_id", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("customer_id", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("kind", existing_type=_kinds(NEW_KINDS), type_=_kinds(OLD_KINDS), existing_nullable=False)
    op.drop_table("follow_up_tasks")
    op.drop_table("contacts")
    op.drop_table("parties")
