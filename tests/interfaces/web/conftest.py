"""The Playground in a real browser: Debian's Chromium driven by Playwright, against the app on a
real uvicorn socket, with accounts, credits and a tiny base model made here."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from interfaces.api.app import create_app
from provoice.accounts import create_account, create_api_key
from provoice.settings import Settings
from tests.interfaces.api.conftest import live

CHROMIUM = os.environ.get("PROVOICE_CHROMIUM", "/usr/bin/chromium")
#: Where the journey saves its screenshots when set (the README's come from `docs/screenshots`).
SCREENSHOTS = os.environ.get("PROVOICE_SCREENSHOTS")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium by its path (Playwright's own browser download is not reachable), with its
    background networking off (this machine's network is closed) and a fake microphone."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make install` installs Debian's chromium package")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            "--autoplay-policy=no-user-gesture-required",
        ],
    }


@dataclass
class Site:
    url: str
    app: object
    settings: Settings

    @property
    def catalog(self):
        return self.app.state.catalog

    def account(self, name: str) -> tuple[str, str]:
        """A new account and an API key of it: (account id, key)."""
        account = create_account(self.catalog, name)
        return account.id, create_api_key(self.catalog, account.id)[1]


@pytest.fixture
def site(prefect_harness, settings, monkeypatch):
    """The app on a socket. Embedded runs (PVCs, preparation) start on threads of the server, which do
    not inherit the harness's settings context, so the harness's API is put in the environment (after
    the app chose its embedded runner)."""
    from prefect.settings import PREFECT_API_URL

    app = create_app(settings)
    monkeypatch.setenv("PREFECT_API_URL", PREFECT_API_URL.value())
    with live(app) as url:
        yield Site(url, app, settings)


def sign_in(page, url: str, key: str) -> None:
    page.goto(url + "/")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(url + "/")


def shot(page, name: str, full_page: bool = True) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=full_page)


def csrf_of(page) -> str:
    return page.locator('meta[name="csrf-token"]').get_attribute("content")


def ids_in(text: str, prefix: str) -> list[str]:
    return re.findall(rf"{prefix}_[0-9a-f]+", text)
