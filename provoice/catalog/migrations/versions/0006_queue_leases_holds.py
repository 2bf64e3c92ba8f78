"""queued PVCs with leases and budgets, credit holds, idempotent requests

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pvcs") as batch:
        batch.add_column(sa.Column("flow_run_id", sa.String(64)))
        batch.add_column(sa.Column("lease_expires_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("budget_steps", sa.Integer))
        batch.add_column(sa.Column("budget_minutes", sa.Float))
        batch.add_column(sa.Column("failure_kind", sa.String(32)))
    op.create_table(
        "credit_holds",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("account_id", sa.String(32), sa.ForeignKey("accounts.id"), nullable=False, index=True),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("reference", sa.String(200), index=True),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("charge_entry_id", sa.String(32)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("idempotency_key", name="uq_credit_holds_idempotency_key"),
    )
    op.create_table(
        "idempotent_requests",
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("account_id", sa.String(32), nullable=False, index=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("media_type", sa.String(100)),
        sa.Column("result_key", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("idempotent_requests")
    op.drop_table("credit_holds")
    with op.batch_alter_table("pvcs") as batch:
        for name in ("failure_kind", "budget_minutes", "budget_steps", "lease_expires_at", "flow_run_id"):
            batch.drop_column(name)
