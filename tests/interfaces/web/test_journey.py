"""The whole Pro Voice Clone journey in a real browser, as a voice owner does it without a terminal:
upload recordings of several formats (and two bad files), watch each upload, read the quality
report, record consent, start training on a tiny base model, watch it through its states to
completed without reloading, listen to a voice and synthesise text into a downloadable WAV."""

from __future__ import annotations

import wave

import pytest
from playwright.sync_api import expect

from interfaces.web.pages import TIMELINE
from provoice import synthetic
from provoice.credits import PVC_TRAINING_CREDITS, grant
from provoice.settings import Settings
from provoice.voice_models import BaseModelRegistry
from tests.conftest import read_aloud
from tests.interfaces.web.conftest import shot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@pytest.fixture
def recordings(tmp_path):
    """Four chapters in four formats, a text file named `.wav` and a text file."""
    synthetic.require_tools()
    folder = tmp_path / "recordings"
    folder.mkdir()
    files = []
    for i, fmt in enumerate(("wav", "mp3", "flac", "ogg")):
        wav = synthetic.speech_file(folder / f"chapter{i}.src.wav", synthetic.corpus(14, start=3 * i))
        files.append(
            wav.rename(folder / f"chapter{i}.wav")
            if fmt == "wav"
            else synthetic.encode(wav, folder / f"chapter{i}.{fmt}", fmt)
        )
    (folder / "broken.wav").write_text("this is a text file, not audio\n")
    (folder / "notes.txt").write_text("reading notes\n")
    return [*files, folder / "broken.wav", folder / "notes.txt"]


def test_the_whole_journey_in_the_browser(site, page, monkeypatch, recordings, tmp_path, steady_phrase):
    monkeypatch.setenv("PROVOICE_REQUIRE_CONSENT", "true")
    site.app.state.settings = Settings()
    account, key = site.account("Dana Studio")
    BaseModelRegistry(site.settings).create_random("tiny-base", tiny=True)
    sign_in(page, site.url, key)
    shot(page, "home-empty")

    # A new PVC from uploaded files: the text file is refused before upload, the others go one by one.
    page.get_by_role("link", name="New voice clone").first.click()
    page.get_by_label("Name", exact=True).fill("Audiobook narrator")
    page.get_by_label("Speaker's name").fill("Dana")
    expect(page.get_by_label("Base model")).to_have_value("tiny-base")
    page.get_by_label("Or at most this many steps").fill("2")
    page.get_by_label("Audio files").set_input_files([str(p) for p in recordings])
    uploads = page.locator("[data-upload-list] li")
    expect(uploads).to_have_count(6)
    expect(page.locator('li[data-name="notes.txt"]')).to_contain_text(
        "refused before upload: .txt is not an accepted format"
    )
    shot(page, "new-voice-clone")
    page.get_by_role("button", name="Create and check the data").click()
    page.wait_for_url("**/ui/pvcs/pvc_*")
    pvc_url = page.url

    # The data report is shown first (prepared while we watch), then the file table with reasons.
    expect(page.locator("[data-report-message]")).to_contain_text("enough for training", timeout=120_000)
    page.get_by_role("link", name="Open the quality report").click()
    table = page.locator("table.files")
    expect(table.locator("tbody tr")).to_have_count(5)
    for name in ("chapter0.wav", "chapter1.mp3", "chapter2.flac", "chapter3.ogg"):
        expect(table.locator(f'tr[data-file="{name}"] .badge')).to_have_text("accepted")
    broken = table.locator('tr[data-file="broken.wav"]')
    expect(broken.locator(".badge")).to_have_text("rejected")
    assert broken.locator(".reason").inner_text().strip()
    expect(page.locator(".bars .bar-row").first).to_contain_text("accepted speech")
    page.locator("details summary").first.click()
    segment = page.locator("details[open] audio").first
    segment.evaluate("a => a.load()")
    page.wait_for_function("a => a.readyState >= 1 && a.duration > 0", arg=segment.element_handle())
    shot(page, "dataset-quality-report")

    # Adding a file on the dataset page: its upload shows progress, then the table shows why it was rejected.
    fake = tmp_path / "interview.mp3"
    fake.write_text("not an mp3 either\n")
    page.get_by_label("Audio files").set_input_files(str(fake))
    added = page.locator('[data-upload-list] li[data-name="interview.mp3"]')
    expect(added).to_contain_text("rejected:")
    assert added.locator("progress").evaluate("p => p.value") == 100
    expect(table.locator('tr[data-file="interview.mp3"] .reason')).not_to_be_empty()

    # Without credits, starting is refused with the figures; consent comes first anyway.
    page.goto(pvc_url)
    expect(page.get_by_role("button", name="Start training")).to_be_disabled()
    page.get_by_role("button", name="Get the consent statement").click()
    prompt = page.locator("[data-consent-prompt]").inner_text()
    assert "I am Dana," in prompt and "Dana Studio" in prompt
    # The microphone (Chromium's fake device plays a beep, not the statement): recorded, sent, refused with why.
    page.get_by_role("button", name="Record with the microphone").click()
    expect(page.locator("[data-record-state]")).to_contain_text("recording")
    page.wait_for_timeout(2500)
    page.get_by_role("button", name="Stop").click()
    expect(page.locator("[data-record-state]")).to_contain_text("recorded")
    page.get_by_role("button", name="Submit recording").click()
    expect(page.locator("[data-consent-result]")).to_contain_text("Not verified:", timeout=60_000)
    reading = read_aloud(prompt, tmp_path / "consent.wav")
    page.get_by_label("Or upload a recording").set_input_files(str(reading))
    shot(page, "consent")
    page.get_by_role("button", name="Submit recording").click()
    expect(page.locator("[data-consent-result]")).to_contain_text("Consent verified", timeout=60_000)
    expect(page.get_by_role("button", name="Start training")).to_be_enabled(timeout=10_000)
    page.get_by_role("button", name="Start training").click()
    expect(page.get_by_role("alert")).to_contain_text("credits")
    assert page.locator("[data-live-root]").get_attribute("data-status") == "draft"

    grant(site.catalog, account, PVC_TRAINING_CREDITS + 1000)
    page.goto(pvc_url)
    page.get_by_role("button", name="Start training").click()
    page.wait_for_url(pvc_url)
    seen = page.evaluate("""() => new Promise(resolve => {
        const seen = [];
        const look = () => {
          const root = document.querySelector('[data-live-root]');
          const s = root && root.dataset.status;
          if (s && seen[seen.length - 1] !== s) seen.push(s);
          if (s === 'completed' || s === 'failed') resolve(seen); else setTimeout(look, 100);
        };
        look();
    })""")
    assert seen[-1] == "completed", (seen, page.locator("[data-failure]").all_inner_texts())
    assert "queued" in seen or "training" in seen, seen
    # every step the flow sets, and "completed"
    expect(page.locator(".timeline li.done")).to_have_count(len(TIMELINE) + 1)
    expect(page.locator("table.scores")).to_contain_text("Word error rate")
    shot(page, "pvc-completed")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "pvc-completed-phone", full_page=False)
    page.set_viewport_size({"width": 1280, "height": 800})

    # Listen to a voice: its preview loads and has a duration.
    preview = page.locator("[data-preview]").first
    preview.evaluate("a => a.load()")
    page.wait_for_function("a => a.readyState >= 1 && a.duration > 0", arg=preview.element_handle())
    assert page.locator("article.voice").count() == 4

    # Synthesise text with a voice, then download the WAV; the cost is shown before and after.
    page.get_by_label("Text").fill("Welcome back. This is the narrator.")
    expect(page.locator("[data-tts-cost]")).to_contain_text("35 characters: 52.5 credits")
    page.get_by_role("button", name="Synthesise").click()
    expect(page.locator("[data-tts-state]")).to_contain_text("charged 52.5 credits", timeout=60_000)
    with page.expect_download() as done:
        page.get_by_role("link", name="Download the WAV").click()
    path = done.value.path()
    with wave.open(str(path)) as w:
        assert w.getnchannels() == 1 and w.getnframes() > w.getframerate() // 2

    page.get_by_role("link", name="My Voices").click()
    expect(page.locator("article.voice")).to_have_count(4)
    shot(page, "my-voices")
    page.get_by_role("link", name="Credits").click()
    expect(page.locator("table").last).to_contain_text("pvc_training")
    shot(page, "credits")
    page.goto(site.url + "/")
    expect(page.locator("[data-status]").first).to_have_text("Completed")
    shot(page, "home")
