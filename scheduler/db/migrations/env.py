"""Alembic environment: the URL comes from relais' own config, never from alembic.ini."""

from __future__ import annotations

from alembic import context

from scheduler.db.engines import make_engine
from scheduler.db.models import Base

config = context.config
url = config.attributes["database_url"]
engine = make_engine(url)

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
