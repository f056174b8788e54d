"""delivery.retrying_since (retry horizon) and delivery.resent_at (one automatic resend)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("delivery") as batch_op:
        batch_op.add_column(sa.Column("retrying_since", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("resent_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # ALTER TABLE .. DROP COLUMN in place (SQLite >= 3.35): a batch operation would copy the
    # table and drop the original, which the foreign keys of delivery_note, attempt and
    # delivery_event refuse while PRAGMA foreign_keys is on.
    op.drop_column("delivery", "resent_at")
    op.drop_column("delivery", "retrying_since")
