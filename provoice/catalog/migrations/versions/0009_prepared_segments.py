"""every segment of a prepared dataset version in the catalog, so listings page through it

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prepared_segments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("dataset_id", sa.String(32), sa.ForeignKey("datasets.id"), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("file_id", sa.String(32), nullable=False),
        sa.Column("audio_uri", sa.Text, nullable=False),
        sa.Column("start", sa.Float, nullable=False),
        sa.Column("end", sa.Float, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("kept", sa.Boolean, nullable=False),
        sa.Column("warnings", sa.JSON, nullable=False),
        sa.UniqueConstraint("dataset_id", "version", "position", name="uq_prepared_segments_position"),
    )
    op.create_index("ix_prepared_segments_kept", "prepared_segments", ["dataset_id", "version", "kept", "position"])


def downgrade() -> None:
    op.drop_index("ix_prepared_segments_kept", table_name="prepared_segments")
    op.drop_table("prepared_segments")
