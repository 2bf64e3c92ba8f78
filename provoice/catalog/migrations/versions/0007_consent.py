"""consent prompts and the recordings submitted against them; a PVC's speaker name

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pvcs") as batch:
        batch.add_column(sa.Column("speaker_name", sa.String(200)))
    op.create_table(
        "consent_prompts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("pvc_id", sa.String(32), sa.ForeignKey("pvcs.id"), nullable=False, index=True),
        sa.Column("account_id", sa.String(32), nullable=False, index=True),
        sa.Column("prompt", sa.Text, nullable=False),
        sa.Column("phrase", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        sa.Column("attempts_used", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("verified_attempt_id", sa.String(32)),
        sa.Column("verified_at", sa.DateTime(timezone=True)),
        sa.Column("invalid_reason", sa.Text),
        sa.Column("invalidated_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "consent_attempts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("prompt_id", sa.String(32), sa.ForeignKey("consent_prompts.id"), nullable=False, index=True),
        sa.Column("pvc_id", sa.String(32), sa.ForeignKey("pvcs.id"), nullable=False, index=True),
        sa.Column("account_id", sa.String(32), nullable=False, index=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("original_name", sa.String(255), nullable=False),
        sa.Column("recording_key", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column("verified", sa.Boolean, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("transcript", sa.Text),
        sa.Column("prompt_wer", sa.Float),
        sa.Column("speaker_similarity", sa.Float),
        sa.Column("speech_seconds", sa.Float),
        sa.Column("dataset_version", sa.String(64)),
        sa.Column("voice", sa.JSON),
    )


def downgrade() -> None:
    op.drop_table("consent_attempts")
    op.drop_table("consent_prompts")
    with op.batch_alter_table("pvcs") as batch:
        batch.drop_column("speaker_name")
