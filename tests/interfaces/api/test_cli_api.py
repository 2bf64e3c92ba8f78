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
