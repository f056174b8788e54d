"""Connector notes kept in the queue database, each ``put`` committed on its own."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from scheduler.clock import Clock
from scheduler.db.models import DeliveryNote
from scheduler.delivery.transitions import transaction


class StoredNotes:
    def __init__(self, sessions: sessionmaker[Session], clock: Clock, delivery_id: str) -> None:
        self.sessions = sessions
        self.clock = clock
        self.delivery_id = delivery_id

    def get(self, key: str) -> str | None:
        with transaction(self.sessions) as session:
            note = session.get(DeliveryNote, (self.delivery_id, key))
            return note.value if note is not None else None

    def put(self, key: str, value: str) -> None:
        with transaction(self.sessions) as session:
            note = session.get(DeliveryNote, (self.delivery_id, key))
            if note is None:
                session.add(
                    DeliveryNote(
                        delivery_id=self.delivery_id,
                        key=key,
                        value=value,
                        updated_at=self.clock.now(),
                    )
                )
            else:
                note.value = value
                note.updated_at = self.clock.now()
