"""How AWS errors are read: a lost race is StaleVersion's, an outage Unavailable's, anything else a bug's."""

from __future__ import annotations

from botocore.exceptions import ClientError, EndpointConnectionError, ParamValidationError

from mce.kit.aws import is_unavailable
from mce.services.cart.store.dynamo import _lost_race, _throttled


def client_error(code: str, status: int = 400, reasons: list[str] | None = None, message: str = "") -> ClientError:
    response: dict = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
    if reasons is not None:
        response["CancellationReasons"] = [{"Code": reason} for reason in reasons]
    return ClientError(response, "TransactWriteItems")


def test_a_failed_condition_or_a_transaction_cancelled_by_one_is_a_lost_race() -> None:
    assert _lost_race(client_error("ConditionalCheckFailedException"))
    assert _lost_race(client_error("TransactionCanceledException", reasons=["None", "ConditionalCheckFailed"]))
    assert _lost_race(client_error("TransactionCanceledException", reasons=["TransactionConflict", "None"]))
    assert _lost_race(
        client_error("TransactionCanceledException", message="reasons [None, ConditionalCheckFailed]", reasons=None)
    )


def test_a_transaction_cancelled_for_another_reason_is_not_a_lost_race() -> None:
    assert not _lost_race(client_error("TransactionCanceledException", reasons=["ValidationError", "None"]))
    assert not _lost_race(client_error("TransactionCanceledException", reasons=["ThrottlingError"]))
    assert not _lost_race(client_error("ValidationException"))


def test_throttling_server_errors_missing_tables_and_no_connection_are_unavailable() -> None:
    for code in ("ProvisionedThroughputExceededException", "ThrottlingException", "ResourceNotFoundException"):
        assert is_unavailable(client_error(code))
    assert is_unavailable(client_error("Whatever", status=503))
    assert is_unavailable(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"))


def test_a_request_we_built_wrong_is_not_an_outage() -> None:
    assert not is_unavailable(client_error("ValidationException"))
    assert not is_unavailable(ParamValidationError(report="bad"))


def test_a_transaction_cancelled_by_throttling_is_told_apart() -> None:
    assert _throttled(client_error("TransactionCanceledException", reasons=["ThrottlingError", "None"]))
    assert not _throttled(client_error("TransactionCanceledException", reasons=["ConditionalCheckFailed"]))
