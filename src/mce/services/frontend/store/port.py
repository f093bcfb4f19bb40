"""Ports of the frontend's own data: sessions and shoppers' accounts."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class StoredSession:
    """A session as kept on the server."""

    data: dict[str, Any]
    created_at: datetime
    last_seen_at: datetime


class SessionStore(ABC):
    """Sessions by the keyed hash of their token; ending one here ends it everywhere, whatever cookies remain."""

    @abstractmethod
    def load(self, key_hash: str) -> StoredSession | None:
        """The session, or None when there is none (never made, ended or purged)."""

    @abstractmethod
    def save(self, key_hash: str, session: StoredSession) -> None:
        """Create or replace the session."""

    @abstractmethod
    def update(self, key_hash: str, session: StoredSession) -> bool:
        """Replace a live session's data and last use; False, changing nothing, when it has ended meanwhile."""

    @abstractmethod
    def delete(self, key_hash: str) -> None:
        """End the session; nothing happens when there is none."""

    @abstractmethod
    def purge(self, *, unused_since: datetime, created_before: datetime) -> int:
        """Delete sessions unused since a moment or made before another; returns how many."""

    @abstractmethod
    def ping(self) -> None:
        """Raise if the store does not answer."""


@dataclass(frozen=True)
class Account:
    """A shopper's account; `password_hash` never leaves the frontend."""

    id: int
    email: str
    name: str
    password_hash: str
    created_at: datetime


class AccountStore(ABC):
    """Accounts, unique by their normalised email."""

    @abstractmethod
    def create(self, *, email: str, email_key: str, name: str, password_hash: str, now: datetime) -> Account:
        """Add an account; Conflict when one with that email key exists (however the two raced)."""

    @abstractmethod
    def find(self, email_key: str) -> Account | None:
        """The account signed in to with that email key, or None."""

    @abstractmethod
    def get(self, account_id: int) -> Account | None:
        """The account with that id, or None (deleted, or never made)."""

    @abstractmethod
    def set_password_hash(self, account_id: int, password_hash: str) -> None:
        """Replace the stored hash (after a rehash with stronger parameters)."""
