"""pro voice clones, voices, and the owner account of datasets

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("datasets") as batch:
        batch.add_column(sa.Column("account_id", sa.String(32), nullable=False, server_default="acct_local"))
    op.create_table(
        "pvcs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("account_id", sa.String(32), nullable=False, index=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("dataset_id", sa.String(32), sa.ForeignKey("datasets.id"), nullable=False, index=True),
        sa.Column("dataset_version", sa.String(64)),
        sa.Column("base_model_id", sa.String(100), nullable=False),
        sa.Column("model_id", sa.String(200)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("step", sa.String(64)),
        sa.Column("reason", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("webhook_url", sa.Text),
        sa.Column("auto_retrain", sa.Boolean, nullable=False),
        sa.Column("evaluation", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "voices",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("account_id", sa.String(32), nullable=False, index=True),
        sa.Column("pvc_id", sa.String(32), sa.ForeignKey("pvcs.id"), nullable=False, index=True),
        sa.Column("model_id", sa.String(200), nullable=False, index=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("source_file_id", sa.String(32), nullable=False),
        sa.Column("clip_uri", sa.Text, nullable=False),
        sa.Column("clip_start", sa.Float, nullable=False),
        sa.Column("clip_end", sa.Float, nullable=False),
        sa.Column("embedding", sa.JSON, nullable=False),
        sa.Column("preview_uri", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("voices")
    op.drop_table("pvcs")
    with op.batch_alter_table("datasets") as batch:
        batch.drop_column("account_id")
