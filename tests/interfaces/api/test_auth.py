import pytest

from provoice.accounts import list_api_keys, revoke_api_key
from provoice.credits import grant

pytestmark = pytest.mark.both_databases


def test_missing_and_invalid_keys_are_401_with_a_clear_error(client, alice):
    r = client.get("/datasets")
    assert r.status_code == 401
    assert r.json()["error"] == "AuthError" and "X-API-Key" in r.json()["detail"]
    r = client.get("/credits/balance", headers={"X-API-Key": "pv_not-a-real-key"})
    assert r.status_code == 401 and r.json()["detail"] == "invalid API key"
    assert client.get("/datasets", headers=alice.headers).status_code == 200


def test_a_revoked_key_is_refused(client, app, alice):
    revoke_api_key(app.state.catalog, list_api_keys(app.state.catalog, alice.account_id)[0].id)
    r = client.get("/voices", headers=alice.headers)
    assert r.status_code == 401 and "was revoked" in r.json()["detail"]


def test_openapi_docs_are_public(client):
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/datasets/{dataset_id}/files", "/fine-tunes/{pvc_id}/retry", "/tts", "/credits/balance"} <= set(paths)


def test_credits_balance(client, app, alice):
    assert client.get("/credits/balance", headers=alice.headers).json()["balance"] == 0.0
    grant(app.state.catalog, alice.account_id, "12.5")
    assert client.get("/credits/balance", headers=alice.headers).json()["available"] == 12.5


def test_the_key_comes_the_way_each_client_sends_it(client, alice):
    key = alice.headers["X-API-Key"]
    for headers in ({"X-API-Key": key}, {"Authorization": f"Bearer {key}"}, {"xi-api-key": key}):
        assert client.get("/credits/balance", headers=headers).status_code == 200
    for headers in ({"Authorization": "Bearer wrong"}, {"xi-api-key": "wrong"}, {"Authorization": f"Basic {key}"}):
        r = client.get("/credits/balance", headers=headers)
        assert r.status_code == 401 and r.json()["error"] == "AuthError"


def test_the_playground_cookie_opens_only_provoices_own_routes(client, alice):
    """The hosted services' routes take a key: a page of another site cannot use a signed-in
    browser's cookie on them (some of their GETs change something)."""
    import re

    login = re.search(r'name="login" value="([^"]+)"', client.get("/ui/sign-in").text).group(1)
    client.post(
        "/ui/sign-in", data={"api_key": alice.headers["X-API-Key"], "login": login, "next": "/"}, follow_redirects=False
    )
    assert client.get("/voices").status_code == 200
    assert client.get("/v1/models").status_code == 401
    assert client.get("/cartesia/voices").status_code == 401
    assert client.get("/elevenlabs/v1/voices").status_code == 401


def test_a_caller_lists_and_revokes_only_its_own_keys(client, app, alice, bob):
    from provoice.accounts import create_api_key

    _, spare = create_api_key(app.state.catalog, alice.account_id)
    keys = client.get("/account/keys", headers=alice.headers).json()
    assert len(keys) == 2 and {k["account_id"] for k in keys} == {alice.account_id}
    assert not any("secret" in k or "key_hash" in k for k in keys) and all(k["revoked_at"] is None for k in keys)
    spare_id = next(k["key_id"] for k in keys if spare.startswith(k["prefix"]))
    bob_key = client.get("/account/keys", headers=bob.headers).json()[0]["key_id"]

    r = client.delete(f"/account/keys/{bob_key}", headers=alice.headers)  # another account's: as unknown
    assert r.status_code == 404 and r.json()["error"] == "NotFound"
    assert client.delete("/account/keys/key_nope", headers=alice.headers).status_code == 404
    assert client.get("/credits/balance", headers=bob.headers).status_code == 200

    revoked = client.delete(f"/account/keys/{spare_id}", headers=alice.headers)
    assert revoked.status_code == 200 and revoked.json()["key_id"] == spare_id and revoked.json()["revoked_at"]
    r = client.get("/credits/balance", headers={"X-API-Key": spare})
    assert r.status_code == 401 and "was revoked" in r.json()["detail"]
    again = client.delete(f"/account/keys/{spare_id}", headers=alice.headers)  # changes nothing
    assert again.status_code == 200 and again.json()["revoked_at"] == revoked.json()["revoked_at"]
    assert client.get("/credits/balance", headers=alice.headers).status_code == 200  # the other key still works
