"""What `mce up` checks before it starts anything, over a registry of stand-in services and a real data directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mce import registry
from mce.kit.settings import DatabaseSettings, SettingsError
from mce.registry import ServiceSpec
from mce.supervisor import plan_platform, resolve_local_secrets
from tests.conftest import free_port

HERE = "tests.integration.test_up_plan"


class CatalogSettings(DatabaseSettings):
    """A service with a database and the admin token."""

    admin_token: str | None = None

    def resolved_url(self) -> str:
        return self.resolved_database_url("catalog")


class ShopSettings(DatabaseSettings):
    """A public service with a database of its own, the admin token and a session secret."""

    admin_token: str | None = None
    session_secret: str | None = None

    def resolved_url(self) -> str:
        return self.resolved_database_url("shop")


CATALOG = ServiceSpec("catalog", "x:create_app", f"{HERE}:CatalogSettings", 8101, migrations="x:MIGRATIONS")
SHOP = ServiceSpec("shop", "x:create_app", f"{HERE}:ShopSettings", 8100, migrations="x:MIGRATIONS", public=True)


@pytest.fixture
def stand_ins(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """The registry lists the two stand-ins on free ports, and no MCE_ variable leaks in; the ports by variable."""
    for variable in [k for k in os.environ if k.startswith("MCE_")]:
        monkeypatch.delenv(variable)
    monkeypatch.setattr(registry, "SERVICES", (CATALOG, SHOP))
    ports = {variable: free_port() for variable in ("MCE_CATALOG_PORT", "MCE_SHOP_PORT", "MCE_SHOP_METRICS_PORT")}
    for variable, port in ports.items():
        monkeypatch.setenv(variable, str(port))
    return ports


def test_every_service_with_migrations_gets_a_database_of_its_own(stand_ins: dict[str, int], tmp_path: Path) -> None:
    plan = plan_platform(tmp_path, os.environ)
    assert {name: db.url for name, db in plan.databases.items()} == {
        "catalog": f"sqlite:///{tmp_path.resolve()}/catalog.db",
        "shop": f"sqlite:///{tmp_path.resolve()}/shop.db",
    }


def test_the_public_service_is_checked_with_the_metrics_settings_it_will_run_with(
    stand_ins: dict[str, int], tmp_path: Path
) -> None:
    plan = plan_platform(tmp_path, os.environ)
    shop, catalog = plan.settings["shop"], plan.settings["catalog"]
    assert (shop.metrics_port, shop.public_metrics) == (stand_ins["MCE_SHOP_METRICS_PORT"], False)
    assert (catalog.metrics_port, catalog.public_metrics) == (None, True)
    assert shop.data_dir == catalog.data_dir == tmp_path.resolve()
    assert not shop.migrate_on_start


def test_a_bad_setting_of_any_listed_service_stops_the_plan(
    stand_ins: dict[str, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MCE_SHOP_METRICS_PORT", "70000")
    with pytest.raises(SettingsError, match="^MCE_SHOP_METRICS_PORT: must be a port number"):
        plan_platform(tmp_path, os.environ)
    assert not tmp_path.joinpath("logs").exists()


def test_the_secrets_every_service_shares_are_made_once_and_kept(stand_ins: dict[str, int], tmp_path: Path) -> None:
    plan = plan_platform(tmp_path, os.environ)
    first = resolve_local_secrets(list(plan.settings.values()), plan.data_dir)
    again = resolve_local_secrets(list(plan.settings.values()), plan.data_dir)
    assert set(first) == {"admin_token", "session_secret"} and first == again
    assert (tmp_path / "secrets" / "session-secret").read_text().strip() == first["session_secret"]


def test_an_empty_session_secret_file_stops_up_before_any_other_secret_is_made(
    stand_ins: dict[str, int], tmp_path: Path
) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "session-secret").write_text("")
    plan = plan_platform(tmp_path, os.environ)
    with pytest.raises(SettingsError, match="^MCE_SESSION_SECRET: .* shorter than 16 characters"):
        resolve_local_secrets(list(plan.settings.values()), plan.data_dir)
    assert not (tmp_path / "secrets" / "admin-token").exists()


def test_a_secret_given_in_the_environment_is_used_and_not_stored(
    stand_ins: dict[str, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MCE_ADMIN_TOKEN", "a-token-long-enough-to-pass")
    plan = plan_platform(tmp_path, os.environ)
    assert resolve_local_secrets(list(plan.settings.values()), plan.data_dir)["admin_token"] == (
        "a-token-long-enough-to-pass"
    )
    assert not (tmp_path / "secrets" / "admin-token").exists()
