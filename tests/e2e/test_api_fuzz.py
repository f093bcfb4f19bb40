"""Schemathesis fuzzes every service's OpenAPI on a running platform; no input may cause a 5xx."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error

from tests.conftest import Platform, start_platform

pytestmark = pytest.mark.e2e

FUZZ = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],
)


@pytest.fixture(scope="module")
def fuzz_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """A platform of its own: fuzzing creates and deletes products at random."""
    running = start_platform(tmp_path_factory.mktemp("fuzz"), seed=50)
    yield running
    running.stop()


def _schema(platform: Platform, service: str) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{platform.url(service)}/openapi.json")


@pytest.fixture(scope="module")
def frontend_api(fuzz_platform: Platform) -> schemathesis.BaseSchema:
    return _schema(fuzz_platform, "frontend")


@pytest.fixture(scope="module")
def product_api(fuzz_platform: Platform) -> schemathesis.BaseSchema:
    return _schema(fuzz_platform, "product")


@pytest.fixture(scope="module")
def search_api(fuzz_platform: Platform) -> schemathesis.BaseSchema:
    return _schema(fuzz_platform, "search")


@pytest.fixture(scope="module")
def analytics_api(fuzz_platform: Platform) -> schemathesis.BaseSchema:
    return _schema(fuzz_platform, "analytics")


def _call(case: schemathesis.Case, platform: Platform) -> None:
    """Send the case as an admin, so the fuzzer gets past authentication to the validation it tests."""
    case.call_and_validate(headers={"Authorization": f"Bearer {platform.admin_token}"}, checks=[not_a_server_error])


frontend_schema = schemathesis.pytest.from_fixture("frontend_api")
product_schema = schemathesis.pytest.from_fixture("product_api")
search_schema = schemathesis.pytest.from_fixture("search_api")
analytics_schema = schemathesis.pytest.from_fixture("analytics_api")


@frontend_schema.parametrize()
@FUZZ
def test_the_gateway_api_never_fails_with_a_5xx(case: schemathesis.Case, fuzz_platform: Platform) -> None:
    _call(case, fuzz_platform)


@product_schema.parametrize()
@FUZZ
def test_the_product_api_never_fails_with_a_5xx(case: schemathesis.Case, fuzz_platform: Platform) -> None:
    _call(case, fuzz_platform)


@search_schema.parametrize()
@FUZZ
def test_the_search_api_never_fails_with_a_5xx(case: schemathesis.Case, fuzz_platform: Platform) -> None:
    _call(case, fuzz_platform)


@analytics_schema.parametrize()
@FUZZ
def test_the_analytics_api_never_fails_with_a_5xx(case: schemathesis.Case, fuzz_platform: Platform) -> None:
    _call(case, fuzz_platform)
