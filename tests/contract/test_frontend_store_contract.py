"""The frontend's own store (sessions, failed sign-ins, accounts), written once and run on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mce.kit.errors import Conflict, TooManyRequests
from mce.services.frontend.store.port import StoredSession
from mce.services.frontend.store.sql import SqlAccountStore, SqlAttemptLimiter, SqlSessionStore
from mce.services.frontend.store.tables import MIGRATIONS
from tests.dbs import engine_fixtures

postgres_engine, engine = engine_fixtures(MIGRATIONS, "sessions, auth_failures, accounts")


def _session(data: dict, created_ago: float = 0, seen_ago: float = 0) -> StoredSession:
    now = datetime.now(UTC)
    return StoredSession(data, now - timedelta(seconds=created_ago), now - timedelta(seconds=seen_ago))


def test_a_session_reads_back_exactly_and_is_replaced_by_a_save(engine) -> None:
    store = SqlSessionStore(engine)
    saved = _session({"csrf": "abc", "flashes": [{"kind": "info", "message": "Hi ✓"}]})
    store.save("k1", saved)
    assert store.load("k1") == saved
    store.save("k1", _session({"csrf": "new"}))
    assert store.load("k1").data == {"csrf": "new"}
    assert store.load("missing") is None


def test_a_deleted_session_is_gone_for_good(engine) -> None:
    store = SqlSessionStore(engine)
    store.save("k1", _session({"a": 1}))
    store.delete("k1")
    store.delete("k1")
    assert store.load("k1") is None


def test_purging_drops_unused_and_too_old_sessions_only(engine) -> None:
    store = SqlSessionStore(engine)
    store.save("fresh", _session({"a": 1}))
    store.save("idle", _session({"a": 1}, seen_ago=7200))
    store.save("ancient", _session({"a": 1}, created_ago=10 * 86400))
    now = datetime.now(UTC)
    assert store.purge(unused_since=now - timedelta(hours=1), created_before=now - timedelta(days=5)) == 2
    assert store.load("fresh") is not None and store.load("idle") is None and store.load("ancient") is None


def test_failed_sign_ins_lock_a_client_out_for_the_rest_of_the_window(engine) -> None:
    limiter = SqlAttemptLimiter(engine, max_failures=3, window_s=60)
    for _ in range(3):
        limiter.check("10.0.0.1")
        limiter.failed("10.0.0.1")
    with pytest.raises(TooManyRequests) as raised:
        limiter.check("10.0.0.1")
    assert 0 < raised.value.retry_after_s <= 61
    limiter.check("10.0.0.2")


def test_a_new_window_starts_once_the_last_has_passed(engine) -> None:
    limiter = SqlAttemptLimiter(engine, max_failures=2, window_s=0.2)
    limiter.failed("c")
    limiter.failed("c")
    with pytest.raises(TooManyRequests):
        limiter.check("c")
    import time

    time.sleep(0.25)
    limiter.check("c")
    limiter.failed("c")
    limiter.check("c")
    assert limiter.purge() == 0


def test_an_update_never_brings_back_a_session_that_ended_meanwhile(engine) -> None:
    store = SqlSessionStore(engine)
    store.save("k1", _session({"admin": {"mark": "m"}}))
    assert store.update("k1", _session({"admin": {"mark": "m"}, "csrf": "x"})) is True
    assert store.load("k1").data["csrf"] == "x"
    store.delete("k1")
    assert store.update("k1", _session({"admin": {"mark": "m"}})) is False
    assert store.load("k1") is None


def _new_account(store: SqlAccountStore, email: str = "Ada@Example.com", key: str = "ada@example.com"):
    return store.create(email=email, email_key=key, name="Ada", password_hash="$argon2id$x", now=datetime.now(UTC))


def test_an_account_reads_back_by_its_email_key_and_its_id(engine) -> None:
    store = SqlAccountStore(engine)
    made = _new_account(store)
    assert store.find("ada@example.com") == made == store.get(made.id)
    assert (made.email, made.name, made.password_hash) == ("Ada@Example.com", "Ada", "$argon2id$x")
    assert store.find("ADA@example.com") is None and store.get(made.id + 1) is None


def test_a_second_account_for_one_email_key_is_a_conflict(engine) -> None:
    store = SqlAccountStore(engine)
    first = _new_account(store)
    with pytest.raises(Conflict):
        _new_account(store, email="ADA@example.com")
    assert store.find("ada@example.com") == first
    assert _new_account(store, email="bo@example.com", key="bo@example.com").id != first.id


def test_a_rehashed_password_replaces_the_stored_hash(engine) -> None:
    store = SqlAccountStore(engine)
    made = _new_account(store)
    store.set_password_hash(made.id, "$argon2id$stronger")
    assert store.get(made.id).password_hash == "$argon2id$stronger"
