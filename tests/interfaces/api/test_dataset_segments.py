"""`GET /datasets/{id}/versions/{version}/segments`: thousands of segments, a page at a time."""

from __future__ import annotations

from tests.provoice.dataset.test_segment_pages import SEGMENTS, prepared_version


def test_the_api_pages_through_every_segment_once(client, alice, bob):
    run = prepared_version(client.app.state.catalog, account_id=alice.account_id)
    url = f"/datasets/{run.dataset_id}/versions/{run.version}/segments"
    seen, params = [], {"limit": 400}
    while True:
        r = client.get(url, params=params, headers=alice.headers)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["total"] == SEGMENTS and len(body["segments"]) <= 400
        seen += [s["index"] for s in body["segments"]]
        if body["next_cursor"] is None:
            break
        params = {"limit": 400, "cursor": body["next_cursor"]}
    assert seen == list(range(SEGMENTS))
    kept = client.get(url, params={"kept": "true", "limit": 5}, headers=alice.headers).json()
    assert kept["total"] == SEGMENTS - 429 and [s["index"] for s in kept["segments"]] == [1, 2, 3, 4, 5]
    assert client.get(url, params={"limit": 100_000}, headers=alice.headers).status_code == 422
    assert client.get(url, headers=bob.headers).status_code == 404
