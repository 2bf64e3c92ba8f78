"""The dataset page shows one page of a big version's segments: a bounded number of players."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from interfaces.api.app import create_app
from provoice.accounts import create_account, create_api_key
from provoice.storage import Storage
from tests.provoice.dataset.test_segment_pages import SEGMENTS, prepared_version


def test_the_dataset_page_shows_one_page_of_segments(settings):
    with TestClient(create_app(settings)) as client:
        catalog = client.app.state.catalog
        account = create_account(catalog, "Dana")
        login = re.search(r'name="login" value="([^"]+)"', client.get("/ui/sign-in").text).group(1)
        key = create_api_key(catalog, account.id)[1]
        client.post("/ui/sign-in", data={"api_key": key, "login": login, "next": "/"})
        run = prepared_version(catalog, account_id=account.id)
        files = [{"id": f"f_{i:03d}", "name": f"take{i}.wav", "status": "accepted"} for i in range(30)]
        report = {"files": files, "accepted_seconds": 2000.0, "min_seconds": 60.0, "enough": True, "message": "ok"}
        uri = Storage.from_settings(settings).write_json(f"datasets/{run.dataset_id}/v1/report.json", report)
        catalog.update_run(run.id, report_uri=uri)

        first = client.get(f"/ui/datasets/{run.dataset_id}").text
        assert first.count("<audio") == 50 and f"{SEGMENTS - 429} of {SEGMENTS} segments kept" in first
        assert "page 1 of 60" in first and 'rel="next"' in first and "take0.wav" in first
        last = client.get(f"/ui/datasets/{run.dataset_id}", params={"segments": 60}).text
        assert last.count("<audio") == 50 and 'data-segment="2999"' in last and 'rel="next"' not in last
        rejected = client.get(f"/ui/datasets/{run.dataset_id}", params={"segments": 1, "shown": "rejected"}).text
        assert "page 1 of 9" in rejected and rejected.count('badge accepted">kept') == 0
        assert "too quiet" in rejected and rejected.count("<audio") == 50
        wav = client.get(f"/ui/datasets/{run.dataset_id}/versions/v1/segments/3000.wav")
        assert wav.status_code == 404
