"""decisions of retraining PVCs on a new base model

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pvc_retrains",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("pvc_id", sa.String(32), sa.ForeignKey("pvcs.id"), nullable=False),
        sa.Column("base_model_id", sa.String(100), nullable=False),
        sa.Column("old_base_model_id", sa.String(100), nullable=False),
        sa.Column("old_model_id", sa.String(200), nullable=False),
        sa.Column("new_model_id", sa.String(200)),
        sa.Column("old_evaluation", sa.JSON, nullable=False),
        sa.Column("new_evaluation", sa.JSON, nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("pvc_id", "base_model_id", name="uq_pvc_retrains_pvc_base"),
    )


def downgrade() -> None:
    op.drop_table("pvc_retrains")
