"""Stage times: each stage its own time, nested ones paused out, the stages adding up to the total."""

import threading

import pytest

from zspace.core import timing


class FakeClock:
    """time.perf_counter that moves only when told to (seconds)."""

    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now

    def tick(self, seconds):
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(timing.time, "perf_counter", fake)
    return fake


def test_nested_stages_get_their_own_time_and_add_up_to_the_total(clock):
    with timing.collect() as times:
        clock.tick(1)  # outside every stage
        with timing.stage("question"):
            clock.tick(2)
            with timing.stage("encode"):
                clock.tick(5)
                with timing.stage("feature net"):
                    clock.tick(7)
            clock.tick(3)
        with timing.stage("encode"):  # a second visit adds up
            clock.tick(4)
    assert times.seconds == {"feature net": 7, "encode": 9, "question": 5}
    assert times.total == 22
    assert times.rounded() == {"feature net": 7, "encode": 9, "question": 5, "other": 1}
    assert sum(times.rounded().values()) == times.total


def test_a_stage_outside_a_collection_records_nothing_and_an_exception_still_counts(clock):
    with timing.stage("train"):
        clock.tick(1)
    with timing.collect() as times:
        with pytest.raises(ValueError):
            with timing.stage("train"):
                clock.tick(2)
                raise ValueError("boom")
    assert times.seconds == {"train": 2} and times.total == 2


def test_a_timed_function_and_an_inner_collection_count_in_the_outer_stage(clock):
    @timing.timed("decode")
    def decode(seconds):
        clock.tick(seconds)
        return seconds

    with timing.collect() as outer:
        with timing.stage("model"):
            assert decode(2) == 2
            with timing.collect() as inner:
                decode(3)
    assert inner.seconds == {"decode": 3}
    assert outer.seconds == {"decode": 2, "model": 3}  # the inner collection's time is the model stage's own


def test_a_thread_started_inside_does_not_report_into_the_collection(clock):
    def work():
        with timing.stage("elsewhere"):
            clock.tick(1)

    with timing.collect() as times:
        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
    assert "elsewhere" not in times.seconds
