"""Who an activity event is attributed to: account, session pseudonym, or the day's visitor hash."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from mce.services.frontend.activity import IdentityKeys, bounded, is_bot, user_id_for

KEYS = IdentityKeys.derive(b"a-session-secret-of-some-length")
NOON = int(datetime(2025, 3, 1, 12, tzinfo=UTC).timestamp())
DAY = 86_400


def visitor(address: str = "203.0.113.7", agent: str = "Firefox", now_s: int = NOON, keys: IdentityKeys = KEYS) -> str:
    return user_id_for(keys, None, token=None, address=address, user_agent=agent, now_s=now_s)


def test_a_signed_in_shopper_is_their_account_whatever_else_the_session_holds() -> None:
    session = {"account": {"id": 42, "name": "Ada"}, "sid": "abc"}
    assert user_id_for(KEYS, session, token="t" * 43, address="x", user_agent="y", now_s=NOON) == "account-42"


def test_a_guest_is_a_keyed_hash_of_their_shopper_id_never_the_id_or_the_token() -> None:
    token = "T" * 43
    with_sid = user_id_for(KEYS, {"sid": "shopper-1"}, token=token, address="x", user_agent="y", now_s=NOON)
    renewed = user_id_for(KEYS, {"sid": "shopper-1"}, token="U" * 43, address="z", user_agent="w", now_s=NOON + DAY)
    only_token = user_id_for(KEYS, {"csrf": "c"}, token=token, address="x", user_agent="y", now_s=NOON)
    assert re.fullmatch(r"session-[0-9a-f]{24}", with_sid) and with_sid == renewed
    assert re.fullmatch(r"session-[0-9a-f]{24}", only_token) and only_token != with_sid
    assert "shopper-1" not in with_sid and token not in only_token
    other = IdentityKeys.derive(b"another-secret-entirely")
    assert user_id_for(other, {"sid": "shopper-1"}, token=None, address="", user_agent="", now_s=NOON) != with_sid


def test_a_visitor_is_the_same_all_day_a_stranger_the_next_and_never_their_address() -> None:
    morning = visitor(now_s=NOON - 11 * 3600)
    assert visitor() == morning
    assert visitor(now_s=NOON + DAY) != morning
    assert visitor(address="203.0.113.8") != morning and visitor(agent="Safari") != morning
    assert re.fullmatch(r"visitor-[0-9a-f]{24}", morning) and "203" not in morning
    assert visitor(keys=IdentityKeys.derive(b"another-secret-entirely")) != morning


def test_crawlers_and_probes_are_bots_and_browsers_are_not() -> None:
    assert is_bot("Mozilla/5.0 (compatible; Googlebot/2.1)") and is_bot("kube-probe/1.30")
    assert is_bot("Prometheus/2.53") and not is_bot("Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0")


def test_search_text_is_trimmed_stripped_of_control_characters_and_bounded() -> None:
    assert bounded("  red\x00 lamp\n ") == "red lamp"
    assert len(bounded("x" * 1000)) == 200
