"""Every setting naming another service's URL is checked at start, with one line naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from mce.functions.image_processor.settings import ImageProcessorSettings
from mce.kit.keepalive import KeepAliveTransport
from mce.kit.settings import SettingsError, _without_credentials, load_settings
from mce.services.cart.settings import CartSettings
from mce.services.events_producer.settings import ProducerSettings
from mce.services.frontend.settings import FrontendSettings
from mce.services.order.settings import OrderSettings
from mce.services.search.settings import SearchSettings

SERVICE_URLS = [
    (CartSettings, "product_url"),
    (ProducerSettings, "product_url"),
    (FrontendSettings, "product_url"),
    (FrontendSettings, "search_url"),
    (FrontendSettings, "cart_url"),
    (FrontendSettings, "order_url"),
    (FrontendSettings, "analytics_url"),
    (OrderSettings, "cart_url"),
    (OrderSettings, "product_url"),
    (SearchSettings, "product_url"),
    (ImageProcessorSettings, "product_url"),
]
BAD = [
    "product:8000",
    "ftp://product:8000",
    "http://",
    "http://admin:secret@product:8000",
    "http://admin:secret@product:8000/?a=b@c",
    "http://product:8000/?debug=1",
    "http://product:8000/#x",
    "http://product:99999",
]


@pytest.mark.parametrize(("settings", "field"), SERVICE_URLS, ids=lambda v: getattr(v, "__name__", v))
@pytest.mark.parametrize("url", BAD)
def test_a_bad_service_url_stops_the_start_naming_its_variable(
    settings: type, field: str, url: str, tmp_path: Path
) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(settings, data_dir=tmp_path, **{field: url})
    message = str(raised.value)
    assert message.startswith(f"MCE_{field.upper()}: ")
    # The value is echoed to help, but a password in it never is.
    assert "secret" not in message


@pytest.mark.parametrize(("settings", "field"), SERVICE_URLS, ids=lambda v: getattr(v, "__name__", v))
@pytest.mark.parametrize(
    "url", ["http://product.mce.svc.cluster.local:8000", "https://product.example.com", "http://[::1]:8001/base"]
)
def test_a_good_service_url_is_taken_as_given(settings: type, field: str, url: str, tmp_path: Path) -> None:
    assert getattr(load_settings(settings, data_dir=tmp_path, **{field: url}), field) == url


def test_the_transport_never_puts_a_user_name_or_password_in_the_host_header() -> None:
    assert KeepAliveTransport("http://admin:secret@product:8000").host_header == b"host: product:8000\r\n"
    assert KeepAliveTransport("http://[::1]:8001").host_header == b"host: [::1]:8001\r\n"
    assert KeepAliveTransport("https://product.example.com").host_header == b"host: product.example.com\r\n"


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("postgresql://mce:secret@db:5432/mce", "postgresql://mce:***@db:5432/mce"),
        ("http://admin:secret@product:8000/?a=b@c", "http://admin:***@product:8000/?a=b@c"),
        ("http://product:8000/?a=b@c", "http://product:8000/?a=b@c"),
        ("not a url", "not a url"),
    ],
)
def test_an_echoed_url_never_shows_its_password(given: str, shown: str) -> None:
    assert _without_credentials(given) == shown
