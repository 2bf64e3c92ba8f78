"""Bucket notifications in, "these objects were uploaded to that dataset" out.

Self-hosted Prefect has no webhooks, so the HTTP API receives the bucket's own notifications and
turns them into `provoice.dataset.files-uploaded` events. This module is the part that needs no
HTTP or Prefect: it reads the four shapes senders use and maps object keys to datasets.

- S3 event notifications: `{"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket":
  {"name"}, "object": {"key"}}}]}`. Keys are URL-encoded, a space as `+`.
- The same inside an SNS HTTP notification: `{"Type": "Notification", "Message": "<json>"}`. A
  `SubscriptionConfirmation` is handed back for the operator to confirm; it is never fetched here.
- EventBridge: `{"source": "aws.s3", "detail-type": "Object Created", "detail": {"bucket": {"name"},
  "object": {"key"}}}`.
- MinIO's webhook: `{"EventName": "s3:ObjectCreated:Put", "Key": "bucket/key", "Records": [...]}`;
  its records are S3 records whose event names start with `s3:`.

Objects at `<upload_prefix><dataset_id>/<file>` belong to dataset `<dataset_id>`. Anything else
(removals, S3's `s3:TestEvent`, keys outside the prefix, folder markers, unknown datasets) is
ignored with a reason the sender's operator can read.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from provoice.errors import ProVoiceError

CREATED = "ObjectCreated:"
TEST_EVENT = "s3:TestEvent"


class BadNotification(ProVoiceError):
    """A request body that is not a bucket notification this endpoint can read; says what is wrong."""


@dataclass(frozen=True)
class CreatedObject:
    bucket: str
    key: str  # decoded: the object's real key

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class Ignored:
    key: str | None  # None for notifications about no object (test events, SNS housekeeping)
    reason: str

    def to_json(self) -> dict[str, str | None]:
        return {"key": self.key, "reason": self.reason}


@dataclass(frozen=True)
class SubscriptionConfirmation:
    """SNS asks the endpoint's owner to prove they want the topic; someone must open the URL."""

    topic_arn: str | None
    subscribe_url: str


@dataclass
class Notification:
    created: list[CreatedObject] = field(default_factory=list)
    ignored: list[Ignored] = field(default_factory=list)
    subscription: SubscriptionConfirmation | None = None


@dataclass
class DatasetUpload:
    """The objects of one notification that belong to one dataset (one bucket), in arrival order."""

    dataset_id: str
    bucket: str
    uris: list[str] = field(default_factory=list)


@dataclass
class UploadPlan:
    uploads: list[DatasetUpload] = field(default_factory=list)
    ignored: list[Ignored] = field(default_factory=list)

    def datasets(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for upload in self.uploads:
            out.setdefault(upload.dataset_id, []).extend(upload.uris)
        return out


def parse_body(body: bytes) -> Notification:
    """Any of the accepted shapes, from the raw request body (SNS sends JSON as text/plain)."""
    if not body.strip():
        raise BadNotification("empty request body: expected a JSON bucket notification")
    return parse_notification(_json(body, "request body"))


def parse_notification(doc: Any) -> Notification:
    if not isinstance(doc, dict):
        raise BadNotification(f"expected a JSON object, got {type(doc).__name__}")
    if "Type" in doc:
        return _sns(doc)
    return _s3_shapes(doc, "")


def _json(text: bytes | str, what: str) -> Any:
    try:
        return json.loads(text)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadNotification(f"{what} is not valid JSON: {exc}") from exc


def _sns(doc: dict) -> Notification:
    kind = doc["Type"]
    if kind == "Notification":
        message = doc.get("Message")
        if not isinstance(message, str):
            raise BadNotification("SNS notification without a Message string")
        inner = _json(message, "SNS Message")
        if not isinstance(inner, dict):
            raise BadNotification(f"SNS Message: expected a JSON object, got {type(inner).__name__}")
        return _s3_shapes(inner, "SNS Message: ")
    if kind == "SubscriptionConfirmation":
        url = doc.get("SubscribeURL")
        if not isinstance(url, str) or not url:
            raise BadNotification("SNS SubscriptionConfirmation without a SubscribeURL")
        return Notification(subscription=SubscriptionConfirmation(doc.get("TopicArn"), url))
    if kind == "UnsubscribeConfirmation":
        return Notification(
            ignored=[Ignored(None, "SNS UnsubscribeConfirmation: the topic no longer sends here; nothing to ingest")]
        )
    raise BadNotification(f"unknown SNS message Type {kind!r} (expected Notification or SubscriptionConfirmation)")


def _s3_shapes(doc: dict, where: str) -> Notification:
    """S3/MinIO records, an EventBridge event or S3's test event (`where` prefixes error messages)."""
    if "Records" in doc:
        records = doc["Records"]
        if not isinstance(records, list):
            raise BadNotification(f"{where}Records must be a list")
        out = Notification()
        for i, record in enumerate(records):
            _record(record, f"{where}Records[{i}]", out)
        return out
    if doc.get("source") == "aws.s3" and "detail-type" in doc:
        return _eventbridge(doc, where)
    if doc.get("Event") == TEST_EVENT:
        return Notification(
            ignored=[Ignored(None, f"{TEST_EVENT}: S3 checking that it can reach this endpoint; nothing to ingest")]
        )
    raise BadNotification(
        f"{where}not a bucket notification: expected S3 or MinIO 'Records', an SNS "
        "message or an EventBridge 'aws.s3' event"
    )


def _record(record: Any, where: str, out: Notification) -> None:
    if not isinstance(record, dict):
        raise BadNotification(f"{where} must be an object")
    name = record.get("eventName")
    if not isinstance(name, str) or not name:
        raise BadNotification(f"{where}: missing eventName")
    s3 = record.get("s3")
    bucket = _string(s3, ("bucket", "name"), f"{where}.s3.bucket.name")
    key = _decoded(_string(s3, ("object", "key"), f"{where}.s3.object.key"), f"{where}.s3.object.key")
    event = name.removeprefix("s3:")
    if event.startswith(CREATED):
        out.created.append(CreatedObject(bucket, key))
    else:
        out.ignored.append(Ignored(key, f"{name} is not an upload (only ObjectCreated events are ingested)"))


def _eventbridge(doc: dict, where: str) -> Notification:
    detail_type = doc["detail-type"]
    detail = doc.get("detail")
    bucket = _string(detail, ("bucket", "name"), f"{where}detail.bucket.name")
    key = _decoded(_string(detail, ("object", "key"), f"{where}detail.object.key"), f"{where}detail.object.key")
    if detail_type == "Object Created":
        return Notification(created=[CreatedObject(bucket, key)])
    return Notification(
        ignored=[
            Ignored(key, f"EventBridge {detail_type!r} is not an upload (only 'Object Created' events are ingested)")
        ]
    )


def _string(doc: Any, path: tuple[str, ...], where: str) -> str:
    for part in path:
        if not isinstance(doc, dict) or part not in doc:
            raise BadNotification(f"{where} is missing")
        doc = doc[part]
    if not isinstance(doc, str) or not doc:
        raise BadNotification(f"{where} must be a non-empty string")
    return doc


def _decoded(key: str, where: str) -> str:
    """S3, EventBridge and MinIO all send keys form-encoded (`red flower.jpg` as `red+flower.jpg`)."""
    try:
        return unquote_plus(key, errors="strict")
    except UnicodeDecodeError as exc:
        raise BadNotification(f"{where} {key!r} does not decode to UTF-8: {exc}") from exc


def plan_uploads(
    notification: Notification, upload_prefix: str, dataset_exists: Callable[[str], bool], buckets: Sequence[str] = ()
) -> UploadPlan:
    """Group created objects by dataset, each URI once; everything that cannot be ingested gets a reason.
    Only objects in `buckets` are taken (a notification's bucket name is whatever its sender says);
    `dataset_exists` is asked once per dataset id."""
    plan = UploadPlan(ignored=list(notification.ignored))
    known: dict[str, bool] = {}
    by_target: dict[tuple[str, str], DatasetUpload] = {}
    for obj in notification.created:
        if obj.bucket not in buckets:
            plan.ignored.append(
                Ignored(
                    obj.key,
                    f"bucket {obj.bucket!r} is not one ProVoice takes uploads from (PROVOICE_BUCKET_EVENTS_BUCKETS)",
                )
            )
            continue
        dataset_id, reason = _dataset_of(obj.key, upload_prefix)
        if dataset_id is not None and dataset_id not in known:
            known[dataset_id] = dataset_exists(dataset_id)
        if dataset_id is not None and not known[dataset_id]:
            reason = f"no dataset {dataset_id!r} in the catalog (create it first, then upload again)"
        if reason or dataset_id is None:
            plan.ignored.append(
                Ignored(obj.key, reason or f"no dataset in the key (upload to {upload_prefix}<dataset_id>/<file>)")
            )
            continue
        target = by_target.get((dataset_id, obj.bucket))
        if target is None:
            target = by_target[(dataset_id, obj.bucket)] = DatasetUpload(dataset_id, obj.bucket)
            plan.uploads.append(target)
        if obj.uri not in target.uris:
            target.uris.append(obj.uri)
    return plan


def _dataset_of(key: str, prefix: str) -> tuple[str | None, str | None]:
    """(dataset id, None) for `<prefix><dataset_id>/<file>`, else (None, why not)."""
    layout = f"{prefix}<dataset_id>/<file>"
    if key.endswith("/"):
        return None, "a folder marker, not a file"
    if any(part in (".", "..") for part in key.split("/")) or "\\" in key or "\x00" in key:
        return None, "the key has '.' or '..' segments, a backslash or a NUL; such objects are not ingested"
    if not key.startswith(prefix):
        return None, f"not under the upload prefix {prefix!r} (upload to {layout})"
    dataset_id, _, name = key[len(prefix) :].partition("/")
    if not dataset_id or not name:
        return None, f"no dataset in the key (upload to {layout})"
    return dataset_id, None
