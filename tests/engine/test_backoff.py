"""The one backoff helper every reconnect loop uses (``gemini_live_engine.backoff``)."""

from __future__ import annotations

import pytest

from gemini_live_engine.backoff import Backoff


def test_pauses_double_up_to_the_ceiling_and_reset() -> None:
    backoff = Backoff(0.5, 4.0, jitter=0.0)
    assert [backoff.failed() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert backoff.failures == 6
    backoff.reset()
    assert backoff.failures == 0
    assert backoff.failed() == 0.5


def test_jitter_draws_each_pause_from_the_top_fraction() -> None:
    draws = iter([0.0, 0.999999, 0.5])
    backoff = Backoff(1.0, 60.0, jitter=0.5, rng=lambda: next(draws))
    first, second, third = backoff.failed(), backoff.failed(), backoff.failed()
    assert first == 1.0  # no jitter drawn: the ceiling
    assert second == pytest.approx(1.0, abs=1e-5)  # ceiling 2, the largest jitter takes half of it
    assert third == 3.0  # ceiling 4, a quarter taken


def test_many_failures_stay_at_the_ceiling() -> None:
    backoff = Backoff(1.0, 30.0, jitter=0.0)
    for _ in range(2000):
        pause = backoff.failed()
    assert pause == 30.0


@pytest.mark.parametrize(("initial", "ceiling", "jitter"), [(-1.0, 1.0, 0.5), (2.0, 1.0, 0.5), (1.0, 2.0, 1.5)])
def test_nonsense_is_refused(initial: float, ceiling: float, jitter: float) -> None:
    with pytest.raises(ValueError, match=r"backoff|jitter"):
        Backoff(initial, ceiling, jitter=jitter)
