"""The frontend fails closed: in production every secret must be given and session cookies are Secure."""

import pytest
from frontend_fakes import ADMIN_TOKEN, SESSION_SECRET, FakeCatalog, frontend_client

from mce.kit.settings import SettingsError
from mce.services.frontend.app import create_app
from mce.services.frontend.settings import FrontendSettings


def test_production_refuses_to_start_without_its_secrets_naming_them(tmp_path):
    settings = FrontendSettings(data_dir=tmp_path, env="production", database_url=f"sqlite:///{tmp_path}/f.db")
    with pytest.raises(SettingsError) as raised:
        create_app(settings)
    assert "MCE_ADMIN_TOKEN" in str(raised.value)
    with pytest.raises(SettingsError) as raised:
        create_app(settings.model_copy(update={"admin_token": ADMIN_TOKEN}))
    assert "MCE_SESSION_SECRET" in str(raised.value)
    assert not (tmp_path / "secrets").exists()


def test_production_refuses_insecure_cookies(tmp_path):
    with pytest.raises(ValueError, match="MCE_COOKIE_SECURE"):
        FrontendSettings(data_dir=tmp_path, env="production", database_url="postgresql://db/x", cookie_secure=False)


def test_an_empty_local_secrets_file_stops_the_frontend_instead_of_opening_the_admin(tmp_path):
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "admin-token").write_text("")
    with pytest.raises(SettingsError, match="admin-token"):
        create_app(FrontendSettings(data_dir=tmp_path, session_secret=SESSION_SECRET))


def test_production_cookies_are_secure(tmp_path):
    url = f"sqlite:///{tmp_path}/frontend.db"
    with frontend_client(tmp_path, FakeCatalog(), env="production", database_url=url) as client:
        cookie = client.get("/admin/login").headers["set-cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie
