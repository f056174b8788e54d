"""The daily cap counter, reserved atomically in the claim's transaction.

``INSERT .. ON CONFLICT .. DO UPDATE SET used = used + 1 WHERE used < cap RETURNING``:
the row is created or incremented only while under the cap, in one statement, so two
workers can never both take the last unit (SQLite serialises writers with BEGIN
IMMEDIATE; PostgreSQL locks the conflicting row).
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from scheduler.db.models import DailyUsage


def reserve(session: Session, account: str, day: str, cap: int) -> bool:
    """Take one unit of ``account``'s cap on local ``day``; False when the day is full."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(DailyUsage)
        .values(account=account, local_day=day, used=1)
        .on_conflict_do_update(
            index_elements=[DailyUsage.account, DailyUsage.local_day],
            set_={"used": DailyUsage.used + 1},
            where=DailyUsage.used < cap,
        )
        .returning(DailyUsage.used)
    )
    return session.execute(statement).first() is not None


def release(session: Session, account: str, day: str) -> None:
    """Give a unit back: the delivery that held it did not go out (yet)."""
    session.execute(
        update(DailyUsage)
        .where(DailyUsage.account == account, DailyUsage.local_day == day, DailyUsage.used > 0)
        .values(used=DailyUsage.used - 1)
    )
