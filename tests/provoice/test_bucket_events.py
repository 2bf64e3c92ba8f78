import json

import pytest

from provoice.bucket_events import (
    BadNotification,
    CreatedObject,
    Ignored,
    parse_body,
    parse_notification,
    plan_uploads,
)


def s3_record(key: str, event: str = "ObjectCreated:Put", bucket: str = "voices") -> dict:
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventName": event,
        "s3": {
            "s3SchemaVersion": "1.0",
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            "object": {"key": key, "size": 1024, "eTag": "0123", "sequencer": "0A1B"},
        },
    }


def aws(*records: dict) -> dict:
    return {"Records": list(records)}


def sns(message: dict) -> dict:
    return {
        "Type": "Notification",
        "MessageId": "da41e39f",
        "TopicArn": "arn:aws:sns:us-west-2:1:uploads",
        "Subject": "Amazon S3 Notification",
        "Message": json.dumps(message),
        "Timestamp": "2026-01-01T00:00:00Z",
    }


def minio(bucket: str, key_escaped: str, key: str, event: str = "s3:ObjectCreated:Put") -> dict:
    record = s3_record(key_escaped, event, bucket) | {"eventSource": "minio:s3"}
    return {"EventName": event, "Key": f"{bucket}/{key}", "Records": [record]}


def eventbridge(key: str, detail_type: str = "Object Created", bucket: str = "voices") -> dict:
    return {
        "version": "0",
        "id": "17793124",
        "detail-type": detail_type,
        "source": "aws.s3",
        "account": "111122223333",
        "region": "ca-central-1",
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {"key": key, "size": 5, "etag": "b194"},
            "reason": "PutObject",
        },
    }


def test_aws_records_decode_form_encoded_keys():
    n = parse_notification(
        aws(
            s3_record("uploads/ds_1/red+flower.wav"),
            s3_record("uploads/ds_1/%C3%9Cbung+%2B+1%3F.wav", "ObjectCreated:CompleteMultipartUpload"),
        )
    )
    assert n.created == [
        CreatedObject("voices", "uploads/ds_1/red flower.wav"),
        CreatedObject("voices", "uploads/ds_1/Übung + 1?.wav"),
    ]
    assert n.created[1].uri == "s3://voices/uploads/ds_1/Übung + 1?.wav"
    assert n.ignored == [] and n.subscription is None


def test_non_creation_events_are_ignored_with_a_reason():
    n = parse_notification(
        aws(s3_record("uploads/ds_1/a.wav", "ObjectRemoved:Delete"), s3_record("uploads/ds_1/b.wav"))
    )
    assert n.created == [CreatedObject("voices", "uploads/ds_1/b.wav")]
    assert n.ignored == [
        Ignored("uploads/ds_1/a.wav", "ObjectRemoved:Delete is not an upload (only ObjectCreated events are ingested)")
    ]


def test_s3_test_event_is_ignored():
    n = parse_notification(
        {
            "Service": "Amazon S3",
            "Event": "s3:TestEvent",
            "Time": "2026-01-01T00:00:00Z",
            "Bucket": "voices",
            "RequestId": "5582815E1AEA5ADF",
            "HostId": "8cLeGAmw",
        }
    )
    assert n.created == [] and len(n.ignored) == 1
    assert n.ignored[0].key is None and n.ignored[0].reason.startswith("s3:TestEvent")


def test_sns_notification_unwraps_the_message():
    n = parse_notification(sns(aws(s3_record("uploads/ds_1/take+2.wav"))))
    assert n.created == [CreatedObject("voices", "uploads/ds_1/take 2.wav")]
    test_event = parse_notification(sns({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "voices"}))
    assert test_event.created == [] and test_event.ignored[0].reason.startswith("s3:TestEvent")


def test_sns_subscription_confirmation_is_handed_back_not_fetched():
    n = parse_notification(
        {
            "Type": "SubscriptionConfirmation",
            "MessageId": "165545c9",
            "Token": "2336412f37",
            "TopicArn": "arn:aws:sns:us-west-2:1:uploads",
            "Message": "You have chosen to subscribe",
            "SubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&Token=2336412f37",
        }
    )
    assert n.subscription.topic_arn == "arn:aws:sns:us-west-2:1:uploads"
    assert n.subscription.subscribe_url.endswith("Token=2336412f37")
    assert n.created == [] and n.ignored == []


def test_minio_webhook_body_uses_its_records():
    n = parse_notification(minio("voices", "uploads%2Fds_1%2Fmy+take+%C3%A9.wav", "uploads/ds_1/my take é.wav"))
    assert n.created == [CreatedObject("voices", "uploads/ds_1/my take é.wav")]
    removed = parse_notification(
        minio("voices", "uploads%2Fds_1%2Fa.wav", "uploads/ds_1/a.wav", "s3:ObjectRemoved:Delete")
    )
    assert removed.created == [] and removed.ignored[0].reason.startswith("s3:ObjectRemoved:Delete is not")


def test_eventbridge_object_created_and_others():
    assert parse_notification(eventbridge("uploads/ds_1/a+b.wav")).created == [
        CreatedObject("voices", "uploads/ds_1/a b.wav")
    ]
    deleted = parse_notification(eventbridge("uploads/ds_1/a.wav", "Object Deleted"))
    assert deleted.created == [] and deleted.ignored[0].reason.startswith("EventBridge 'Object Deleted'")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty request body"),
        (b"{not json", "request body is not valid JSON"),
        (b"\xff\xfe\x00garbage", "request body is not valid JSON"),
        (b"[1, 2]", "expected a JSON object, got list"),
        (b'{"hello": "world"}', "not a bucket notification"),
        (b'{"Records": {}}', "Records must be a list"),
        (
            b'{"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}}}]}',
            "Records[0].s3.object.key is missing",
        ),
        (b'{"Records": [{"s3": {}}]}', "Records[0]: missing eventName"),
        (
            b'{"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}, "object": {"key": 7}}}]}',
            "Records[0].s3.object.key must be a non-empty string",
        ),
        (
            b'{"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}, '
            b'"object": {"key": "%ff"}}}]}',
            "does not decode to UTF-8",
        ),
        (b'{"Type": "Notification", "Message": "{oops"}', "SNS Message is not valid JSON"),
        (b'{"Type": "Notification"}', "SNS notification without a Message"),
        (b'{"Type": "SubscriptionConfirmation"}', "without a SubscribeURL"),
        (b'{"Type": "Gossip"}', "unknown SNS message Type 'Gossip'"),
        (
            b'{"source": "aws.s3", "detail-type": "Object Created", "detail": {"bucket": {"name": "b"}}}',
            "detail.object.key is missing",
        ),
    ],
)
def test_malformed_bodies_say_what_is_wrong(body, message):
    with pytest.raises(BadNotification) as info:
        parse_body(body)
    assert message in str(info.value)


def test_plan_groups_by_dataset_dedupes_and_explains_what_it_skips():
    n = parse_notification(
        aws(
            s3_record("uploads/ds_a/one.wav"),
            s3_record("uploads/ds_b/x/two.wav"),
            s3_record("uploads/ds_a/one.wav"),
            s3_record("uploads/ds_a/three+3.wav"),
            s3_record("uploads/ds_a/folder/"),
            s3_record("elsewhere/ds_a/four.wav"),
            s3_record("uploads/ds_a"),
            s3_record("uploads//five.wav"),
            s3_record("uploads/ds_gone/six.wav"),
            s3_record("uploads/ds_a/seven.wav", "ObjectRemoved:Delete"),
        )
    )
    asked = []
    plan = plan_uploads(n, "uploads/", lambda ds: asked.append(ds) or ds != "ds_gone", ["voices"])
    assert plan.datasets() == {
        "ds_a": ["s3://voices/uploads/ds_a/one.wav", "s3://voices/uploads/ds_a/three 3.wav"],
        "ds_b": ["s3://voices/uploads/ds_b/x/two.wav"],
    }
    assert [(u.dataset_id, u.bucket) for u in plan.uploads] == [("ds_a", "voices"), ("ds_b", "voices")]
    assert sorted(asked) == ["ds_a", "ds_b", "ds_gone"]
    reasons = {i.key: i.reason for i in plan.ignored}
    assert reasons == {
        "uploads/ds_a/seven.wav": "ObjectRemoved:Delete is not an upload (only ObjectCreated events are ingested)",
        "uploads/ds_a/folder/": "a folder marker, not a file",
        "elsewhere/ds_a/four.wav": "not under the upload prefix 'uploads/' (upload to uploads/<dataset_id>/<file>)",
        "uploads/ds_a": "no dataset in the key (upload to uploads/<dataset_id>/<file>)",
        "uploads//five.wav": "no dataset in the key (upload to uploads/<dataset_id>/<file>)",
        "uploads/ds_gone/six.wav": "no dataset 'ds_gone' in the catalog (create it first, then upload again)",
    }


def test_plan_with_another_prefix_and_two_buckets():
    n = parse_notification(aws(s3_record("in/ds_a/one.wav", bucket="b1"), s3_record("in/ds_a/two.wav", bucket="b2")))
    plan = plan_uploads(n, "in/", lambda ds: True, ["b1", "b2"])
    assert [(u.dataset_id, u.bucket, u.uris) for u in plan.uploads] == [
        ("ds_a", "b1", ["s3://b1/in/ds_a/one.wav"]),
        ("ds_a", "b2", ["s3://b2/in/ds_a/two.wav"]),
    ]
    assert plan.datasets() == {"ds_a": ["s3://b1/in/ds_a/one.wav", "s3://b2/in/ds_a/two.wav"]}


def test_only_listed_buckets_and_plain_keys_are_taken():
    n = parse_notification(
        aws(
            s3_record("uploads/ds_a/one.wav", bucket="voices"),
            s3_record("uploads/ds_a/two.wav", bucket="someone-elses"),
            s3_record("uploads/ds_a/../../etc/passwd", bucket="voices"),
            s3_record("uploads/ds_a/./three.wav", bucket="voices"),
        )
    )
    plan = plan_uploads(n, "uploads/", lambda ds: True, ["voices"])
    assert plan.datasets() == {"ds_a": ["s3://voices/uploads/ds_a/one.wav"]}
    reasons = {i.key: i.reason for i in plan.ignored}
    assert "is not one ProVoice takes uploads from" in reasons["uploads/ds_a/two.wav"]
    assert "'..' segments" in reasons["uploads/ds_a/../../etc/passwd"]
    assert "'..' segments" in reasons["uploads/ds_a/./three.wav"]
    assert plan_uploads(n, "uploads/", lambda ds: True).uploads == [], "no bucket is taken unless listed"
