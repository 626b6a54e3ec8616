"""Headless Chromium (Debian's package, driven by Playwright) with a WAV file as its microphone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from playwright.async_api import Page, async_playwright, expect

CHROMIUM = "/usr/bin/chromium"
BROWSER_TIMEOUT_MS = 60_000  # a safety net for a broken page, never a synchronisation
expect.set_options(timeout=BROWSER_TIMEOUT_MS)  # expect() waits as long as any other step (5 s by default)


@asynccontextmanager
async def browser_page(microphone: Path, *, locale: str = "en-US", phone: bool = False) -> AsyncIterator[Page]:
    """A page in a fresh headless Chromium whose microphone plays ``microphone`` (looped).

    ``phone``: a 390×844 touch screen, as a phone shows the page.
    """
    args = [
        "--no-sandbox",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={microphone}",
        "--autoplay-policy=no-user-gesture-required",
        "--disable-background-networking",
        "--disable-component-update",
    ]
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            # The emulator's certificate is signed by its own CA, which this browser does not know.
            device: dict[str, Any] = (
                {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True} if phone else {}
            )
            context = await browser.new_context(locale=locale, ignore_https_errors=True, **device)
            context.set_default_timeout(BROWSER_TIMEOUT_MS)
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            yield page
            assert errors == [], f"errors in the page: {errors}"
        finally:
            await browser.close()


async def wait_until(page: Page, expression: str, timeout_s: float = BROWSER_TIMEOUT_MS / 1000) -> None:
    """Wait until a JavaScript condition holds in the page.

    ``page.wait_for_function`` compiles its predicate with ``new Function``, which the console's
    Content-Security-Policy (no 'unsafe-eval') rightly forbids. ``page.evaluate`` compiles its script through
    the DevTools protocol instead, so the page keeps its real CSP under test: the script below re-checks
    the condition on every animation frame and resolves once it holds.
    """
    script = (
        "new Promise(resolve => { const check = () => (" + expression + ") ? resolve(true) "
        ": requestAnimationFrame(check); check(); })"
    )
    async with asyncio.timeout(timeout_s):
        await page.evaluate(script)


async def debug(page: Page, name: str) -> object:
    """A value of the page's ``window.consoleDebug`` test hook."""
    return await page.evaluate(f"window.consoleDebug.{name}")


async def touch_hold(page: Page, selector: str) -> Callable[[], Awaitable[None]]:
    """Put a finger on the element's centre (real touch events through the DevTools protocol); returns the lift."""
    box = await page.locator(selector).bounding_box()
    assert box is not None
    point = {"x": box["x"] + box["width"] / 2, "y": box["y"] + box["height"] / 2}
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [point]})

    async def lift() -> None:
        await cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})

    return lift
