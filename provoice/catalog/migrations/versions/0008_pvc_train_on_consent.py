"""a PVC that starts training once its speaker's consent is verified; a dataset's description

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pvcs") as batch:
        batch.add_column(sa.Column("train_on_consent", sa.Boolean, nullable=False, server_default=sa.false()))
    with op.batch_alter_table("datasets") as batch:
        batch.add_column(sa.Column("description", sa.Text, nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("datasets") as batch:
        batch.drop_column("description")
    with op.batch_alter_table("pvcs") as batch:
        batch.drop_column("train_on_consent")
