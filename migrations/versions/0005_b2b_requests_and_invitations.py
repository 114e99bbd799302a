"""b2b requests and invitations

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 17:29:35.744831

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sent_emails',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('message_id', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sent_emails')),
    sa.UniqueConstraint('key', name=op.f('uq_sent_emails_key'))
    )
    op.create_table('b2b_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('invoice_copy', 'add_user', 'change_user', 'remove_user', name='request_kind', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('status', sa.Enum('pending', 'processing', 'completed', 'failed', name='request_status', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('requester_id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('locale', sa.String(length=5), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('job_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('completed_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_b2b_requests_customer_id_customers')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_b2b_requests_invoice_id_invoices')),
    sa.ForeignKeyConstraint(['requester_id'], ['users.id'], name=op.f('fk_b2b_requests_requester_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_b2b_requests'))
    )
    with op.batch_alter_table('b2b_requests', schema=None) as batch_op:
        batch_op.create_index('ix_b2b_requests_customer_created', ['customer_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_b2b_requests_requester_id'), ['requester_id'], unique=False)
        batch_op.create_index('ix_b2b_requests_status', ['status'], unique=False)

    op.create_table('invitations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('used_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_invitations_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invitations')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_invitations_token_hash'))
    )
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invitations_user_id'), ['user_id'], unique=False)



def downgrade():
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invitations_user_id'))

    op.drop_table('invitations')
    with op.batch_alter_table('b2b_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_b2b_requests_status')
        batch_op.drop_index(batch_op.f('ix_b2b_requests_requester_id'))
        batch_op.drop_index('ix_b2b_requests_customer_created')

    op.drop_table('b2b_requests')
    op.drop_table('sent_emails')
