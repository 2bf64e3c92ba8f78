"""a lease on each preparation run, so one whose process died is found and failed

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("preparation_runs") as batch:
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
    # Runs left "running" before leases existed had no process renewing them: lapsed at once.
    op.execute("UPDATE preparation_runs SET lease_until = created_at WHERE status = 'running'")


def downgrade() -> None:
    with op.batch_alter_table("preparation_runs") as batch:
        batch.drop_column("lease_until")
