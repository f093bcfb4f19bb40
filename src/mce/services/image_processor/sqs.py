"""The image processor's notifications from S3 through SQS: long-poll, handle, delete only what was handled.

S3 sends an `s3:TestEvent` message when a bucket's notification configuration is written; it names no object and is
deleted unread. A message whose handling raised is left in the queue: it comes back after a backoff (its visibility
timeout) and, after the queue's redrive limit of receives, SQS moves it to the dead-letter queue.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from mce.kit.loop import BackgroundLoop

log = logging.getLogger(__name__)

Handle = Callable[[Mapping[str, Any]], None]
# The longest a failed message waits before it comes back, however many times it has failed.
RETRY_MAX_S = 900


def is_test_event(body: Any) -> bool:
    """Whether a message is S3's test message, sent when a bucket's notifications are configured."""
    return isinstance(body, dict) and body.get("Event") == "s3:TestEvent"


class SqsNotifications(BackgroundLoop):
    """Follows a queue of S3 event notifications in a thread, handing each S3 event to `handle`."""

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        handle: Handle,
        *,
        max_messages: int = 10,
        wait_s: int = 5,
        retry_s: int = 10,
    ) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.handle = handle
        self.max_messages = max(1, min(10, max_messages))
        self.wait_s = wait_s
        self.retry_s = retry_s
        self.handled = 0
        self.failed = 0
        self.test_events = 0
        self.last_error: str | None = None
        super().__init__("sqs-notifications")

    def stop(self, timeout: float | None = None) -> None:
        """Stop after the current long poll and the messages it brought."""
        super().stop(self.wait_s + 10 if timeout is None else timeout)

    def ping(self) -> None:
        """Raise unless the queue answers."""
        self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])

    def run(self) -> None:
        """Long-poll until stopped; a failing queue is retried after a pause."""
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception as exc:
                # The queue itself failed (SQS down): say so, wait, and poll again.
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("receiving from %s failed; will retry", self.queue_url)
                self._stop.wait(1.0)

    def poll_once(self) -> int:
        """One long poll; each message handled then deleted, or left to come back. How many were received."""
        answer = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.max_messages,
            WaitTimeSeconds=self.wait_s,
            AttributeNames=["ApproximateReceiveCount"],
        )
        messages = answer.get("Messages", [])
        for message in messages:
            self._one(message)
        return len(messages)

    def _one(self, message: Mapping[str, Any]) -> None:
        receipt = message["ReceiptHandle"]
        received = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
        try:
            body = json.loads(message["Body"])
            if is_test_event(body):
                self.test_events += 1
                log.info("skipped S3's test message on %s", self.queue_url)
            else:
                self.handle(body)
                self.handled += 1
        except Exception as exc:
            self.failed += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            backoff = min(RETRY_MAX_S, self.retry_s * received)
            log.warning(
                "message %s failed on receive %d (%s); it comes back in %d s, or goes to the dead-letter queue",
                message.get("MessageId"),
                received,
                self.last_error,
                backoff,
            )
            self.sqs.change_message_visibility(
                QueueUrl=self.queue_url, ReceiptHandle=receipt, VisibilityTimeout=backoff
            )
            return
        # Deleted only now: a crash before this line makes SQS deliver it again, and handling is idempotent.
        self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=receipt)
