"""The API describes itself: a response schema on every route, and `/docs` served without a CDN."""

import re


def test_every_route_has_a_response_schema(client):
    spec = client.get("/openapi.json").json()
    missing = []
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            ok = [code for code in op["responses"] if code.startswith("2")]
            described = [
                code
                for code in ok
                if "content" in op["responses"][code]
                and any("schema" in c for c in op["responses"][code]["content"].values())
            ]
            if not described:
                missing.append(f"{method.upper()} {path}")
    assert missing == []
    schemas = spec["components"]["schemas"]
    assert {
        "DatasetView",
        "DatasetRow",
        "FileView",
        "PvcView",
        "VoiceView",
        "BalanceView",
        "PrepareStarted",
        "ErrorBody",
    } <= set(schemas)


def test_docs_load_their_assets_from_this_server(client):
    page = client.get("/docs")
    assert page.status_code == 200
    assets = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", page.text)
    assert assets and not [a for a in assets if a.startswith("http")]
    for asset in assets:
        assert client.get(asset).status_code == 200, asset


def test_the_compatible_routes_have_their_own_sections_in_the_docs(client):
    spec = client.get("/openapi.json").json()
    tags = {t["name"]: t["description"] for t in spec["tags"]}
    expected = {
        "/v1/": "OpenAI-compatible",
        "/cartesia/": "Cartesia-compatible",
        "/elevenlabs/": "ElevenLabs-compatible",
    }
    for prefix, tag in expected.items():
        assert prefix.rstrip("/") + '"' in tags[tag]  # the base URL to give the client
        ops = [op for path, methods in spec["paths"].items() if path.startswith(prefix) for op in methods.values()]
        assert ops and all(op["tags"] == [tag] for op in ops), prefix
    assert {"/v1/audio/speech", "/cartesia/tts/bytes", "/elevenlabs/v1/text-to-speech/{voice_id}"} <= set(spec["paths"])
