import json

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from interfaces.api.app import create_app
from interfaces.cli import app as cli

runner = CliRunner()


def test_create_key_prints_a_secret_that_the_api_accepts(settings):
    r = runner.invoke(cli, ["account", "create-key", "--json"])
    assert r.exit_code == 0, r.stderr
    key = json.loads(r.stdout)
    assert key["account_id"] == "acct_local" and key["secret"].startswith("pv_")
    client = TestClient(create_app(settings))
    assert client.get("/credits/balance", headers={"X-API-Key": key["secret"]}).json()["balance"] == 0.0
    r = runner.invoke(cli, ["account", "create-key", "--account", "acct_missing"])
    assert r.exit_code == 1 and r.stderr.strip() == "error: no account with id 'acct_missing'"


def test_api_serves_the_app_with_uvicorn(settings, monkeypatch):
    import uvicorn

    served = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, host, port: served.update(app=app, host=host, port=port))
    r = runner.invoke(cli, ["api", "--port", "8123"])
    assert r.exit_code == 0, r.stderr
    assert (served["host"], served["port"]) == ("127.0.0.1", 8123)
    assert served["app"].state.settings.home == settings.home


def test_keys_are_listed_and_a_revoked_one_is_refused_by_the_api(settings):
    created = [json.loads(runner.invoke(cli, ["account", "create-key", "--json"]).stdout) for _ in range(2)]
    r = runner.invoke(cli, ["account", "keys", "list", "--json"])
    assert r.exit_code == 0, r.stderr
    listed = json.loads(r.stdout)
    assert [k["key_id"] for k in listed] == [c["key_id"] for c in created]
    assert all(k["revoked_at"] is None and "secret" not in k for k in listed)

    r = runner.invoke(cli, ["account", "keys", "revoke", created[0]["key_id"], "--json"])
    assert r.exit_code == 0, r.stderr
    revoked = json.loads(r.stdout)
    assert revoked["key_id"] == created[0]["key_id"] and revoked["revoked_at"]
    r = runner.invoke(cli, ["account", "keys", "revoke", created[0]["key_id"]])  # for people; again: no change
    assert r.exit_code == 0 and f"revoked API key {created[0]['key_id']}" in r.stdout
    r = runner.invoke(cli, ["account", "keys", "list"])
    assert "revoked" in r.stdout and "active" in r.stdout

    client = TestClient(create_app(settings))
    refused = client.get("/credits/balance", headers={"X-API-Key": created[0]["secret"]})
    assert refused.status_code == 401 and "was revoked" in refused.json()["detail"]
    assert client.get("/credits/balance", headers={"X-API-Key": created[1]["secret"]}).status_code == 200
    r = runner.invoke(cli, ["account", "keys", "revoke", "key_nope"])
    assert r.exit_code == 1 and r.stderr.strip() == "error: no API key with id 'key_nope'"
