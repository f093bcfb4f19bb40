"""AWS clients built with plain boto3, so AWS_ENDPOINT_URL, AWS_REGION and the credential chain work as documented.

Errors that mean "the service cannot answer now" are told apart here once, for every adapter to map to Unavailable.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from mce.kit.errors import Unavailable

# Codes AWS answers with when it is busy, throttling or briefly failing: a later call can succeed.
TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "ThrottlingException",
        "Throttling",
        "SlowDown",
        "InternalServerError",
        "InternalError",
        "ServiceUnavailable",
        "ResourceNotFoundException",
        "NoSuchBucket",
        "AWS.SimpleQueueService.NonExistentQueue",
    }
)
# Where no region is configured on a laptop (moto accepts any); production always names one.
LOCAL_REGION = "us-east-1"


def aws_client(service: str, *, local: bool, timeout_s: float = 5.0) -> Any:
    """A boto3 client that fails fast: short timeouts, few retries; locally a region and fake keys if none are set."""
    session = boto3.session.Session()
    region = session.region_name
    credentials: dict[str, str] = {}
    if local:
        region = region or LOCAL_REGION
        # On a laptop the endpoint is moto, which accepts any keys; a real AWS endpoint would refuse these.
        if session.get_credentials() is None:
            credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    config = Config(
        connect_timeout=min(timeout_s, 2.0),
        read_timeout=timeout_s,
        retries={"max_attempts": 3, "mode": "standard"},
        max_pool_connections=32,
    )
    return session.client(service, region_name=region, config=config, **credentials)


def error_code(exc: BaseException) -> str:
    """The AWS error code of a ClientError, '' for anything else."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def is_unavailable(exc: BaseException) -> bool:
    """Whether the error says the service is down, unreachable, throttling or missing its resource for now."""
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return error_code(exc) in TRANSIENT_CODES or status >= 500
    # Connection refused, timeouts, closed connections, no credentials: the client never got an answer.
    return isinstance(exc, BotoCoreError) and not isinstance(exc, ParamValidationError)


@contextlib.contextmanager
def translated_errors(what: str) -> Iterator[None]:
    """A throttled, failing or unreachable AWS service becomes Unavailable naming what failed; other errors pass."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        if is_unavailable(exc):
            reason = error_code(exc) or type(exc).__name__
            raise Unavailable(f"{what} is unavailable: {reason}", service=what) from exc
        raise
