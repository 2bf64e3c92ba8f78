import base64
import json
import logging
from urllib.parse import quote_plus

import pytest
from fastapi.testclient import TestClient

from interfaces.api.app import create_app
from interfaces.api.bucket_events import prefect_emitter
from provoice.events import FILES_UPLOADED, STAGE_BUCKET, UPLOAD_STAGE
from provoice.settings import Settings

SECRET = "bucket-s3cret"
BEARER = {"Authorization": f"Bearer {SECRET}"}


def record(key: str, event: str = "ObjectCreated:Put", bucket: str = "voices") -> dict:
    return {
        "eventName": event,
        "eventSource": "aws:s3",
        "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 2048}},
    }


def s3_body(*keys: str) -> dict:
    return {"Records": [record(k) for k in keys]}


@pytest.fixture
def events() -> list[dict]:
    return []


@pytest.fixture
def bucket_app(settings, monkeypatch, events):
    """An app with the bucket secret set whose events land in `events` instead of Prefect."""
    monkeypatch.setenv("PROVOICE_BUCKET_EVENTS_SECRET", SECRET)
    monkeypatch.setenv("PROVOICE_BUCKET_EVENTS_BUCKETS", "voices")
    app = create_app(Settings())

    def capture(event, resource_kind, resource_id, payload=None, labels=None):
        events.append({"event": event, "kind": resource_kind, "id": resource_id, "payload": payload, "labels": labels})

    app.state.emit_event = capture
    return app


@pytest.fixture
def bucket_client(bucket_app):
    with TestClient(bucket_app) as c:
        yield c


@pytest.fixture
def dataset_ids(bucket_app) -> list[str]:
    catalog = bucket_app.state.catalog
    return [catalog.create_dataset("first").id, catalog.create_dataset("second").id]


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.mark.parametrize(
    "headers",
    [
        BEARER,
        {"Authorization": SECRET},  # MinIO before it added "Bearer "
        {"authorization": f"bearer   {SECRET}"},  # scheme is case-insensitive
        {"X-ProVoice-Secret": SECRET},
        basic("sns", SECRET),  # SNS: https://sns:<secret>@host/bucket-events
    ],
    ids=["bearer", "bare", "bearer-lowercase", "x-provoice-secret", "basic"],
)
def test_every_secret_form_is_accepted(bucket_client, dataset_ids, events, headers):
    ds = dataset_ids[0]
    r = bucket_client.post("/bucket-events", json=s3_body(f"uploads/{ds}/a.wav"), headers=headers)
    assert r.status_code == 202, r.text
    assert r.json() == {"datasets": {ds: [f"s3://voices/uploads/{ds}/a.wav"]}, "ignored": []}
    assert len(events) == 1


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "missing bucket events secret"),
        ({"X-API-Key": "pv_some-api-key"}, "missing bucket events secret"),
        ({"Authorization": "Bearer not-it"}, "invalid bucket events secret"),
        ({"Authorization": "not-it"}, "invalid bucket events secret"),
        ({"X-ProVoice-Secret": SECRET[:-1]}, "invalid bucket events secret"),
        ({"X-ProVoice-Secret": ""}, "invalid bucket events secret"),
        (basic(SECRET, "wrong"), "invalid bucket events secret"),
        ({"Authorization": "Basic !!!not-base64"}, "invalid bucket events secret"),
    ],
)
def test_missing_or_wrong_secret_is_401_and_nothing_is_emitted(bucket_client, dataset_ids, events, headers, detail):
    r = bucket_client.post("/bucket-events", json=s3_body(f"uploads/{dataset_ids[0]}/a.wav"), headers=headers)
    assert r.status_code == 401
    assert r.json()["error"] == "AuthError" and r.json()["detail"].startswith(detail)
    assert "PROVOICE_BUCKET_EVENTS_SECRET" in r.json()["detail"]
    assert r.headers["WWW-Authenticate"].startswith("Basic realm=")  # SNS sends credentials only when challenged
    assert events == []


def test_without_a_configured_secret_the_endpoint_is_503(client, app):
    app.state.emit_event = lambda *a, **k: pytest.fail("nothing may be emitted")
    r = client.post("/bucket-events", json=s3_body("uploads/ds_x/a.wav"), headers=BEARER)
    assert r.status_code == 503
    assert r.json()["error"] == "BucketEventsDisabled" and "set PROVOICE_BUCKET_EVENTS_SECRET" in r.json()["detail"]


def test_without_a_prefect_api_the_endpoint_is_503(bucket_client, bucket_app):
    bucket_app.state.emit_event = None
    r = bucket_client.post("/bucket-events", json=s3_body("uploads/ds_x/a.wav"), headers=BEARER)
    assert r.status_code == 503 and "PREFECT_API_URL" in r.json()["detail"]


def test_the_emitter_is_prefects_only_with_a_prefect_api():
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from tasks.events import emit

    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        assert prefect_emitter() is None
    with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:4200/api"}):
        assert prefect_emitter() is emit


def test_objects_are_grouped_per_dataset_into_one_event_each(bucket_client, dataset_ids, events):
    first, second = dataset_ids
    body = {
        "Records": [
            record(f"uploads/{first}/take+1.wav"),
            record(f"uploads/{second}/b.wav"),
            record(f"uploads/{first}/take+1.wav"),
            record(f"uploads/{first}/%C3%A9t%C3%A9+2.mp3"),
            record(f"uploads/{first}/old.wav", "ObjectRemoved:Delete"),
            record(f"uploads/{first}/folder/"),
            record("elsewhere/x.wav"),
            record("uploads/ds_missing/c.wav"),
        ]
    }
    r = bucket_client.post("/bucket-events", json=body, headers=BEARER)
    assert r.status_code == 202, r.text
    first_uris = [f"s3://voices/uploads/{first}/take 1.wav", f"s3://voices/uploads/{first}/été 2.mp3"]
    assert r.json()["datasets"] == {first: first_uris, second: [f"s3://voices/uploads/{second}/b.wav"]}
    assert [(i["key"], i["reason"].split(" ")[0]) for i in r.json()["ignored"]] == [
        (f"uploads/{first}/old.wav", "ObjectRemoved:Delete"),
        (f"uploads/{first}/folder/", "a"),
        ("elsewhere/x.wav", "not"),
        ("uploads/ds_missing/c.wav", "no"),
    ]
    assert "no dataset 'ds_missing' in the catalog" in r.json()["ignored"][3]["reason"]
    assert events == [
        {
            "event": FILES_UPLOADED,
            "kind": "dataset",
            "id": first,
            "labels": {UPLOAD_STAGE: STAGE_BUCKET},
            "payload": {"objects": first_uris, "bucket": "voices"},
        },
        {
            "event": FILES_UPLOADED,
            "kind": "dataset",
            "id": second,
            "labels": {UPLOAD_STAGE: STAGE_BUCKET},
            "payload": {"objects": [f"s3://voices/uploads/{second}/b.wav"], "bucket": "voices"},
        },
    ]


def test_minio_webhook(bucket_client, dataset_ids, events):
    ds = dataset_ids[1]
    key = f"uploads/{ds}/my take ñ.wav"
    rec = record(f"uploads%2F{ds}%2Fmy+take+%C3%B1.wav", "s3:ObjectCreated:Put") | {"eventSource": "minio:s3"}
    r = bucket_client.post(
        "/bucket-events",
        json={"EventName": "s3:ObjectCreated:Put", "Key": f"voices/{key}", "Records": [rec]},
        headers=BEARER,
    )
    assert r.status_code == 202
    assert events[0]["payload"] == {"objects": [f"s3://voices/{key}"], "bucket": "voices"}


def test_sns_notification_sent_as_text_plain(bucket_client, dataset_ids, events):
    ds = dataset_ids[0]
    envelope = {
        "Type": "Notification",
        "TopicArn": "arn:aws:sns:us-east-1:1:uploads",
        "Message": json.dumps(s3_body(f"uploads/{ds}/a.wav")),
    }
    r = bucket_client.post(
        "/bucket-events",
        content=json.dumps(envelope),
        headers={"Content-Type": "text/plain; charset=UTF-8", **basic("sns", SECRET)},
    )
    assert r.status_code == 202 and r.json()["datasets"] == {ds: [f"s3://voices/uploads/{ds}/a.wav"]}
    assert len(events) == 1


def test_sns_subscription_confirmation_is_answered_with_its_url(bucket_client, events, caplog):
    url = "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=t&Token=2336"
    with caplog.at_level(logging.WARNING, logger="interfaces.api.bucket_events"):
        r = bucket_client.post(
            "/bucket-events",
            headers=BEARER,
            json={
                "Type": "SubscriptionConfirmation",
                "TopicArn": "arn:aws:sns:us-east-1:1:uploads",
                "Token": "2336",
                "Message": "You have chosen to subscribe",
                "SubscribeURL": url,
            },
        )
    assert r.status_code == 200
    assert r.json()["subscribe_url"] == url and r.json()["topic_arn"] == "arn:aws:sns:us-east-1:1:uploads"
    assert any(url in m and "confirm" in m for m in caplog.messages)
    assert events == []


def test_test_events_are_accepted_and_ignored(bucket_client, events):
    r = bucket_client.post(
        "/bucket-events", headers=BEARER, json={"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "voices"}
    )
    assert r.status_code == 202
    assert r.json()["datasets"] == {} and r.json()["ignored"][0]["key"] is None
    assert events == []


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        (b"{broken", "request body is not valid JSON"),
        (b"", "empty request body"),
        (b'{"Records": [{"eventName": "ObjectCreated:Put"}]}', "Records[0].s3.bucket.name is missing"),
    ],
)
def test_malformed_bodies_are_400_with_the_reason(bucket_client, events, content, detail):
    r = bucket_client.post("/bucket-events", content=content, headers=BEARER)
    assert r.status_code == 400
    assert r.json()["error"] == "BadNotification" and detail in r.json()["detail"]
    assert events == []


def test_bodies_over_one_mib_are_413(bucket_client, events):
    big = json.dumps(s3_body(*[f"uploads/ds_x/{i:07d}-{'x' * 80}.wav" for i in range(8000)])).encode()
    assert len(big) > 1024 * 1024
    r = bucket_client.post("/bucket-events", content=big, headers=BEARER)
    assert r.status_code == 413 and r.json()["detail"] == "the request body is larger than the limit of 1 MiB"

    def chunks():  # no Content-Length: the limit holds while streaming
        for start in range(0, len(big), 64 * 1024):
            yield big[start : start + 64 * 1024]

    r = bucket_client.post("/bucket-events", content=chunks(), headers=BEARER)
    assert r.status_code == 413
    assert events == []


def test_openapi_documents_the_route_and_its_secret(bucket_client):
    spec = bucket_client.get("/openapi.json").json()
    op = spec["paths"]["/bucket-events"]["post"]
    assert op["summary"] == "Receive bucket upload notifications"
    assert "PROVOICE_BUCKET_EVENTS_SECRET" in op["description"] and FILES_UPLOADED in op["description"]
    assert {"401", "413", "503"} <= set(op["responses"])
    assert {name for requirement in op["security"] for name in requirement} == {
        "BucketEventsSecret",
        "BucketEventsBearer",
    }


def test_emitted_objects_are_sources_the_ingest_flow_can_read(s3_settings, monkeypatch, events):
    """`ingest-upload` passes payload.objects to `list_sources`; exact object URIs must resolve to one file each."""
    import s3fs

    from provoice.dataset.sources import list_sources

    monkeypatch.setenv("PROVOICE_BUCKET_EVENTS_SECRET", SECRET)
    bucket = s3_settings.storage_uri.split("/")[2]
    monkeypatch.setenv("PROVOICE_BUCKET_EVENTS_BUCKETS", bucket)
    app = create_app(Settings())
    app.state.emit_event = lambda event, kind, object_id, payload=None, labels=None: events.append(payload)
    ds = app.state.catalog.create_dataset("voice").id
    names = ["plain.wav", "my take 1.wav", "Übung ñ 日本.wav", "a+b=c?.wav", "100%.wav"]
    fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": s3_settings.s3_endpoint_url})
    for name in names:
        fs.pipe(f"{bucket}/uploads/{ds}/{name}", name.encode())
    body = {"Records": [record(quote_plus(f"uploads/{ds}/{n}"), bucket=bucket) for n in names]}
    with TestClient(app) as client:
        assert client.post("/bucket-events", json=body, headers=BEARER).status_code == 202
    [payload] = events
    sources = list_sources(payload["objects"], s3_settings)
    assert [s.display_name for s in sources] == names
    assert [s.uri for s in sources] == [f"s3://{bucket}/uploads/{ds}/{n}" for n in names]
