"""The web console in a real headless Chromium whose microphone is a WAV file of real (espeak-ng) speech.

Each test runs the page against a real bridge and the emulator; reply audio is checked where it ends up,
in the page's AudioWorklet player (samples received and played, and their peak), not in a log line.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from gemini_live_emulator import Emulator, Scenario
from playwright.async_api import Page, expect

from tests.audio import silence, speech_pcm, write_wav
from tests.scenarios import TIME_SCENARIO
from wyoming_bridge.app import Bridge

from .browser_helpers import browser_page, debug, touch_hold, wait_until
from .console_helpers import console_bridge

ARABIC_SCENARIO = Scenario.from_data(
    {
        "turns": [
            {
                "user": "كم الساعة الآن؟",
                "language": "ar-EG",
                "model": [
                    {"call": {"name": "get_current_time"}},
                    {"say": "الساعة الآن {result[output][time]}."},
                ],
            }
        ]
    }
)
SPOKEN_S = 2.5  # how much of the microphone a push-to-talk turn sends


@pytest.fixture
def question_wav(tmp_path: Path) -> Path:
    """The fake microphone: "What time is it?" then silence (Chromium loops the file)."""
    path = tmp_path / "question.wav"
    write_wav(path, speech_pcm("What time is it?", "en-US") + silence(4.0, 16000), 16000)
    return path


async def open_console(page: Page, bridge: Bridge, query: str = "") -> None:
    """Load the console and wait until the bridge said ready."""
    assert bridge.console is not None
    await page.goto(bridge.console.url + query)
    await page.wait_for_selector("body[data-ready='1']")


async def spoken_long_enough(page: Page, seconds: float) -> None:
    """Until the page has sent ``seconds`` of microphone audio."""
    await wait_until(page, f"window.consoleDebug.samplesSent >= {seconds} * window.consoleDebug.captureRate")


async def assert_reply_played(page: Page) -> None:
    """The turn completed and its audio went through the page's player."""
    await wait_until(page, "window.consoleDebug.turns >= 1")
    await wait_until(page, "window.consoleDebug.samplesPlayed >= 24000")  # a second at 24 kHz
    assert int(await debug(page, "samplesReceived")) >= 24000
    assert int(await debug(page, "peakPlayed")) > 1000, "the played reply is speech, not silence"


async def test_press_and_hold_the_button(emulator: Emulator, question_wav: Path) -> None:
    """Holding the talk button sends speech; letting go ends the turn; transcripts appear; the reply plays."""
    emulator.scenario = TIME_SCENARIO
    async with console_bridge(emulator) as bridge, browser_page(question_wav) as page:
        await open_console(page, bridge)
        talk = page.locator("#talk")
        await talk.hover()
        await page.mouse.down()
        await expect(talk).to_have_attribute("aria-pressed", "true")
        await spoken_long_enough(page, SPOKEN_S)
        await page.mouse.up()
        await assert_reply_played(page)
        await expect(page.locator("#transcript .line.user")).to_have_text(["What time is it?"])
        await expect(page.locator("#transcript .line.model").first).to_contain_text("It is ")
    user_turn = next(c for c in emulator.connections if c.user_turns).user_turns[0]
    assert user_turn.audio_seconds >= SPOKEN_S - 0.3, "the held button's audio reached Gemini"


async def test_phone_touch_and_hold(emulator: Emulator, question_wav: Path) -> None:
    """On a phone-sized touch screen: everything fits the width, and touching and holding the button talks."""
    emulator.scenario = TIME_SCENARIO
    async with console_bridge(emulator) as bridge, browser_page(question_wav, phone=True) as page:
        await open_console(page, bridge)
        assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        for control in ("#talk", "#mode", "#clear", "#text"):
            box = await page.locator(control).bounding_box()
            assert box is not None
            assert box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["y"] + box["height"] <= 844, control
        talk = await page.locator("#talk").bounding_box()
        assert talk is not None and talk["height"] >= 44, "a thumb-sized talk button"
        lift = await touch_hold(page, "#talk")
        await expect(page.locator("#talk")).to_have_attribute("aria-pressed", "true")
        await spoken_long_enough(page, SPOKEN_S)
        await lift()
        await assert_reply_played(page)
        await expect(page.locator("#transcript .line.user")).to_have_text(["What time is it?"])


async def test_hold_the_space_bar(emulator: Emulator, question_wav: Path) -> None:
    """The space bar is push to talk as well."""
    emulator.scenario = TIME_SCENARIO
    async with console_bridge(emulator) as bridge, browser_page(question_wav) as page:
        await open_console(page, bridge)
        await page.keyboard.down(" ")
        await spoken_long_enough(page, SPOKEN_S)
        await page.keyboard.up(" ")
        await assert_reply_played(page)
        await expect(page.locator("#transcript .line.user")).to_have_text(["What time is it?"])


async def test_automatic_mode_ends_the_turn_on_silence(emulator: Emulator, question_wav: Path) -> None:
    """Automatic mode: one click, then Gemini's activity detection ends the turn after the question."""
    emulator.scenario = TIME_SCENARIO
    async with console_bridge(emulator) as bridge, browser_page(question_wav) as page:
        await open_console(page, bridge)
        await page.select_option("#mode", "auto")
        await page.click("#talk")
        await assert_reply_played(page)
        await expect(page.locator("#transcript .line.user").first).to_have_text("What time is it?")
        await expect(page.locator("#transcript .line.model").first).to_contain_text("It is ")
    setups = [c.setup for c in emulator.connections if c.user_turns]
    assert setups and "disabled" not in str(setups[0]), "automatic mode uses Gemini's activity detection"


async def test_clear_history_empties_the_view_and_the_session(emulator: Emulator, question_wav: Path) -> None:
    """Clear history: the transcript is emptied and the next turn is a new conversation."""
    async with console_bridge(emulator) as bridge, browser_page(question_wav) as page:
        await open_console(page, bridge)
        await page.fill("#text", "Hello there.")
        await page.click("#send")
        await wait_until(page, "window.consoleDebug.turns >= 1")
        await expect(page.locator("#transcript .line.model")).to_have_count(1)
        await page.click("#clear")
        await expect(page.locator("#transcript .line")).to_have_count(0)
        await page.fill("#text", "Hello again.")
        await page.click("#send")
        await wait_until(page, "window.consoleDebug.turns >= 2")
        await expect(page.locator("#transcript .line.user")).to_have_text(["Hello again."])
    used = [c for c in emulator.connections if c.user_turns]
    assert [len(c.user_turns) for c in used] == [1, 1], "the cleared conversation's session was not reused"


async def test_arabic_renders_right_to_left(emulator: Emulator, tmp_path: Path) -> None:
    """An Arabic browser gets a right-to-left page, Arabic labels, and right-to-left transcript lines."""
    emulator.scenario = ARABIC_SCENARIO
    wav = tmp_path / "arabic.wav"
    write_wav(wav, speech_pcm("كم الساعة الآن؟", "ar") + silence(2.0, 16000), 16000)
    async with console_bridge(emulator) as bridge, browser_page(wav, locale="ar-EG") as page:
        await open_console(page, bridge)
        assert await page.evaluate("document.documentElement.dir") == "rtl"
        assert await page.evaluate("getComputedStyle(document.body).direction") == "rtl"
        await page.keyboard.down(" ")
        await spoken_long_enough(page, SPOKEN_S)
        await page.keyboard.up(" ")
        await assert_reply_played(page)
        line = page.locator("#transcript .line.model").first
        await expect(line).to_contain_text("الساعة الآن")
        assert await line.evaluate("e => getComputedStyle(e).direction") == "rtl"
        assert await page.locator("#clear").evaluate("e => /[\\u0600-\\u06FF]/.test(e.textContent)")


async def test_wrong_password_is_refused_in_the_page(emulator: Emulator, question_wav: Path) -> None:
    """With a password set: a wrong one shows the error and no console; the right one gets in."""
    async with console_bridge(emulator, web_password="sesame") as bridge, browser_page(question_wav) as page:
        assert bridge.console is not None
        await page.goto(bridge.console.url)
        await expect(page.locator("#password-form")).to_be_visible()
        await page.fill("#password", "open up")
        await page.click("#login")
        await expect(page.locator("#error")).to_be_visible()
        assert await page.evaluate("document.body.dataset.ready") is None
        await page.fill("#password", "sesame")
        await page.click("#login")
        await page.wait_for_selector("body[data-ready='1']")
        await expect(page.locator("#password-form")).to_be_hidden()


async def test_direct_mode_talks_to_gemini_with_an_ephemeral_token(emulator: Emulator, question_wav: Path) -> None:
    """--web-direct: the page opens Live itself with the bridge's token; the tool runs in the bridge."""
    emulator.scenario = TIME_SCENARIO
    async with console_bridge(emulator, web_direct=True) as bridge, browser_page(question_wav) as page:
        await open_console(page, bridge)
        assert await debug(page, "transport") == "direct"
        await page.keyboard.down(" ")
        await spoken_long_enough(page, SPOKEN_S)
        await page.keyboard.up(" ")
        await assert_reply_played(page)
        await expect(page.locator("#transcript .line.model").first).to_contain_text("It is ")
    browser_sessions = [c for c in emulator.connections if c.user_turns]
    assert [c.auth_kind for c in browser_sessions] == ["ephemeral"]
    assert "Constrained" in browser_sessions[0].path
    assert browser_sessions[0].tool_responses, "the tool call came back through the bridge"
