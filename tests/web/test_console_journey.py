"""The Arabic spoken-name journey in a real headless Chromium whose microphone is espeak-ng Arabic speech.

"روبوت ما هي بايثون": the named question is shown and heard; the same question without the name is shown,
not answered, and runs no tool; in push to talk (button, space bar, touch on a phone) and in automatic
mode, over Live and over the cascaded fallback. Also: right-to-left notices and errors, the state that
follows what is heard, ?lang=, and the phone layout. The emulator cannot recognise speech: its scenario
says what each spoken turn said (nameless, then named); the browser's microphone plays the question.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from gemini_live_emulator import Emulator, Scenario
from playwright.async_api import Page, expect

from tests.audio import silence, speech_pcm, write_wav
from tests.engine.live_helpers import ScriptedTools
from wyoming_bridge.app import Bridge

from .browser_helpers import browser_page, debug, touch_hold, wait_until
from .console_helpers import console_bridge
from .test_console_wake_phrase import ANSWER, JOURNEY, NAME, NAMED, NAMELESS, recording_tools

PATHS = ["live", "fallback"]
SPEECH_S = len(speech_pcm(NAMED, "ar-EG")) / 32000
PTT_GAP_S = 0.8  # silence after the question in the push-to-talk microphone (it loops)
AUTO_GAP_S = 5.0  # automatic mode: room for the answer before the question comes round again


def microphone(tmp_path: Path, gap_s: float) -> Path:
    """A WAV of the spoken question, then ``gap_s`` of silence (Chromium loops it)."""
    path = tmp_path / f"question-{gap_s}.wav"
    write_wav(path, speech_pcm(NAMED, "ar-EG") + silence(gap_s, 16000), 16000)
    return path


async def open_console(page: Page, bridge: Bridge, query: str = "") -> None:
    """Load the console and wait until the bridge said ready."""
    assert bridge.console is not None
    await page.goto(bridge.console.url + query)
    await page.wait_for_selector("body[data-ready='1']")


async def sent_at_least(page: Page, seconds: float) -> None:
    """Until the page has sent ``seconds`` more microphone audio than it had."""
    sent = int(await debug(page, "samplesSent"))
    await wait_until(page, f"window.consoleDebug.samplesSent >= {sent} + {seconds} * window.consoleDebug.captureRate")


HOLD_S = SPEECH_S + PTT_GAP_S + SPEECH_S  # a held button always takes in the whole question once


async def nameless_then_named(
    page: Page, emulator: Emulator, tools: ScriptedTools, say: Callable[[], Awaitable[None]]
) -> None:
    """Ask twice: the first turn (scripted nameless) gets no answer, the second (named) does."""
    await say()
    await expect(page.locator("#transcript .line.note")).to_have_count(1)
    await expect(page.locator("#transcript .line.user.ignored")).to_have_text([NAMELESS])
    await expect(page.locator("#transcript .line.model")).to_have_count(0)
    assert int(await debug(page, "samplesReceived")) == 0, "nothing of the nameless turn was played"
    assert tools.calls == []
    await say()
    await wait_until(page, "window.consoleDebug.turns >= 1")
    await wait_until(page, "window.consoleDebug.samplesPlayed >= 24000")
    assert int(await debug(page, "peakPlayed")) > 1000, "the answer was heard"
    await expect(page.locator("#transcript .line.user")).to_have_text([NAMELESS, NAMED])
    await expect(page.locator("#transcript .line.model")).to_have_text([ANSWER])
    assert tools.calls == []


async def assert_right_to_left_notice(page: Page, path: str) -> None:
    """Through the fallback the Arabic "Live is down" notice is shown, right to left, in banner and transcript."""
    if path != "fallback":
        await expect(page.locator("#notice")).to_be_hidden()
        return
    await expect(page.locator("#notice")).to_be_visible()
    for selector in ("#notice-text", "#transcript .line.notice"):
        element = page.locator(selector)
        await expect(element).to_contain_text("غير متاح الآن")
        assert await element.evaluate("e => getComputedStyle(e).direction") == "rtl", selector


def journey_emulator(emulator: Emulator, path: str) -> None:
    emulator.scenario = JOURNEY
    if path == "fallback":
        emulator.config.live_models = ()


@pytest.mark.parametrize("path", PATHS)
async def test_button(emulator: Emulator, tmp_path: Path, path: str) -> None:
    """Push to talk with the mouse, on an Arabic desktop browser."""
    journey_emulator(emulator, path)
    tools = recording_tools()
    async with (
        console_bridge(emulator, wake_phrase=NAME, tools=tools) as bridge,
        browser_page(microphone(tmp_path, PTT_GAP_S), locale="ar-EG") as page,
    ):
        await open_console(page, bridge)
        await expect(page.locator("#talk-hint")).to_contain_text(NAME)

        async def say() -> None:
            await page.locator("#talk").hover()
            await page.mouse.down()
            await sent_at_least(page, HOLD_S)
            await page.mouse.up()

        await nameless_then_named(page, emulator, tools, say)
        await assert_right_to_left_notice(page, path)


@pytest.mark.parametrize("path", PATHS)
async def test_space_bar(emulator: Emulator, tmp_path: Path, path: str) -> None:
    """Push to talk with the space bar."""
    journey_emulator(emulator, path)
    tools = recording_tools()
    async with (
        console_bridge(emulator, wake_phrase=NAME, tools=tools) as bridge,
        browser_page(microphone(tmp_path, PTT_GAP_S), locale="ar-EG") as page,
    ):
        await open_console(page, bridge)

        async def say() -> None:
            await page.keyboard.down(" ")
            await sent_at_least(page, HOLD_S)
            await page.keyboard.up(" ")

        await nameless_then_named(page, emulator, tools, say)
        await assert_right_to_left_notice(page, path)


@pytest.mark.parametrize("path", PATHS)
async def test_touch_on_a_phone(emulator: Emulator, tmp_path: Path, path: str) -> None:
    """Push to talk with a finger, on a phone-sized touch screen."""
    journey_emulator(emulator, path)
    tools = recording_tools()
    async with (
        console_bridge(emulator, wake_phrase=NAME, tools=tools) as bridge,
        browser_page(microphone(tmp_path, PTT_GAP_S), locale="ar-EG", phone=True) as page,
    ):
        await open_console(page, bridge)

        async def say() -> None:
            lift = await touch_hold(page, "#talk")
            await sent_at_least(page, HOLD_S)
            await lift()

        await nameless_then_named(page, emulator, tools, say)
        await assert_right_to_left_notice(page, path)


@pytest.mark.parametrize("path", PATHS)
async def test_automatic_mode(emulator: Emulator, tmp_path: Path, path: str) -> None:
    """Automatic mode: one press, then each pause ends a turn (Gemini's detection, or the bridge's on the
    fallback); the nameless turn is dropped and listening goes on to the named one."""
    journey_emulator(emulator, path)
    tools = recording_tools()
    async with (
        console_bridge(emulator, wake_phrase=NAME, tools=tools) as bridge,
        browser_page(microphone(tmp_path, AUTO_GAP_S), locale="ar-EG") as page,
    ):
        await open_console(page, bridge, "?mode=auto")
        await page.click("#talk")
        await expect(page.locator("#transcript .line.note")).to_have_count(1)
        await expect(page.locator("#transcript .line.user.ignored")).to_have_text([NAMELESS])
        assert int(await debug(page, "samplesReceived")) == 0
        await wait_until(page, "window.consoleDebug.turns >= 1")
        await wait_until(page, "window.consoleDebug.samplesPlayed >= 24000")
        await expect(page.locator("#transcript .line.model")).to_have_text([ANSWER])
        await assert_right_to_left_notice(page, path)
    assert tools.calls == []
    if path == "live":
        # The microphone loops on, so more (unscripted, nameless) turns may follow before the page closes.
        setups = [c.setup for c in emulator.connections]
        assert len(setups) >= 2 and all("disabled" not in str(s) for s in setups), "automatic sessions only"
        assert emulator.connections[0].closed, "the nameless turn's session was discarded"


# ------------------------------------------------------------------------------------- the page itself


async def test_state_follows_what_is_heard(emulator: Emulator, tmp_path: Path) -> None:
    """Through the fallback the whole answer arrives at once, long before it has played: the page says
    "speaking" until it has, and "idle" only then."""
    long_answer = "بايثون لغة برمجة عامة الأغراض، سهلة القراءة، تستعمل في الويب والعلوم وتعلم الآلة وأشياء كثيرة أخرى."
    emulator.scenario = Scenario.from_data(
        {"turns": [{"user": NAMED, "language": "ar-EG", "model": [{"say": long_answer}]}]}
    )
    emulator.config.live_models = ()
    async with (
        console_bridge(emulator) as bridge,
        browser_page(microphone(tmp_path, PTT_GAP_S), locale="ar-EG") as page,
    ):
        await page.add_init_script(STATE_WATCH)
        await open_console(page, bridge)
        await page.keyboard.down(" ")
        await sent_at_least(page, HOLD_S)
        await page.keyboard.up(" ")
        await wait_until(page, "window.consoleDebug.turns >= 1")
        await wait_until(page, "document.getElementById('state').dataset.state === 'idle'")
        states = await page.evaluate("window.shownStates")
        received = int(await debug(page, "samplesReceived"))
    assert isinstance(states, list)
    assert received > 5 * 24000, "seconds of answer"
    spoken = [s for s in states if s["state"] == "speaking"]
    assert spoken, states
    after = states[states.index(spoken[0]) :]
    idle = [s for s in after if s["state"] == "idle"]
    assert idle and all(s["received"] - s["played"] < 2400 for s in idle), f"idle while audio still played: {after}"


STATE_WATCH = """
window.shownStates = [];
document.addEventListener("DOMContentLoaded", () => {
  const pill = document.getElementById("state");
  new MutationObserver(() => {
    const d = window.consoleDebug;
    window.shownStates.push({ state: pill.dataset.state, received: d.samplesReceived, played: d.samplesPlayed });
  }).observe(pill, { attributes: true, attributeFilter: ["data-state"] });
});
"""
"""Records every state the page shows, with how much reply audio it had received and played by then."""


async def test_refused_credentials_in_the_pages_language(emulator: Emulator, tmp_path: Path) -> None:
    """A key Gemini refuses: an Arabic page says so in Arabic, right to left, as soon as it connects."""
    async with (
        console_bridge(emulator, api_key="AIzaSyNotAKeyTheEmulatorKnows0000000") as bridge,
        browser_page(microphone(tmp_path, PTT_GAP_S), locale="ar-EG") as page,
    ):
        await open_console(page, bridge)
        error = page.locator("#error-text")
        await expect(error).to_contain_text("رفض")
        text = await error.text_content()
        assert text is not None and "refused" not in text and "API key not valid" not in text
        assert await error.evaluate("e => getComputedStyle(e).direction") == "rtl"
    assert emulator.connections == [] and list(emulator.rest_requests) == []


async def test_lang_query_sets_the_page_and_the_session(emulator: Emulator, tmp_path: Path) -> None:
    """?lang=ar in an English browser: an Arabic, right-to-left page, and the session is set up in Arabic, so
    an unscripted question is answered in Arabic."""
    async with console_bridge(emulator) as bridge, browser_page(microphone(tmp_path, PTT_GAP_S)) as page:
        await open_console(page, bridge, "?lang=ar")
        assert await page.evaluate("document.documentElement.dir") == "rtl"
        await page.keyboard.down(" ")
        await sent_at_least(page, HOLD_S)
        await page.keyboard.up(" ")
        await wait_until(page, "window.consoleDebug.turns >= 1")
        await expect(page.locator("#transcript .line.model")).to_have_text(["سمعتك. هذا محاكي جيميني لايف."])
    setup = emulator.connections[0].setup
    assert setup is not None and "'languageCode': 'ar'" in str(setup)


async def test_phone_layout(emulator: Emulator, tmp_path: Path) -> None:
    """On a phone: the hint does not mention a space bar, and the microphone ring, at its widest, stays off
    the hint and the row above."""
    for locale, space in (("en-US", "space"), ("ar-EG", "المسافة")):
        async with (
            console_bridge(emulator) as bridge,
            browser_page(microphone(tmp_path, PTT_GAP_S), locale=locale, phone=True) as page,
        ):
            await open_console(page, bridge)
            hint = page.locator("#talk-hint")
            lift = await touch_hold(page, "#talk")
            await expect(page.locator("#talk")).to_have_attribute("aria-pressed", "true")
            talk = await page.locator("#talk").evaluate(RING_EXTENT)
            hint_box = await hint.bounding_box()
            options = await page.locator(".row.options").bounding_box()
            await lift()
            assert hint_box is not None and options is not None
            assert talk["bottom"] <= hint_box["y"], (locale, talk, hint_box)
            assert talk["top"] >= options["y"] + options["height"], (locale, talk, options)
            await expect(hint).not_to_contain_text(space)


RING_EXTENT = """e => {
  e.style.transition = "none";
  e.style.setProperty("--level", "1");
  const box = e.getBoundingClientRect();
  const spreads = [...getComputedStyle(e).boxShadow.matchAll(/(-?[\\d.]+)px/g)].map(m => parseFloat(m[1]));
  const ring = spreads[spreads.length - 1];
  return { top: box.top - ring, bottom: box.bottom + ring };
}"""
"""Where the pressed talk button's level ring (its last box-shadow) reaches at full level, above and below."""
