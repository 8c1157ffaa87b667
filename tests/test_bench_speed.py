"""bench/speed.py: each ratio divides a reader's rate by the seed's over the same stretch of the run."""

import importlib.util

from tests.conftest import REPO


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_speed", REPO / "bench" / "speed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_reader_and_the_seed_are_timed_in_alternating_slices_and_their_means_compared():
    bench, order = load_bench(), []

    class Clock:  # a machine that slows down: each seed slice reads fewer plates a second
        def slice(self):
            order.append("seed")
            return 30.0 - 10 * order.count("seed")

    def reader_slice():
        order.append("reader")
        return 300.0 - 100 * order.count("reader")

    assert bench.paired(reader_slice, Clock(), rounds=2) == (150.0, 15.0)
    assert order == ["reader", "seed", "reader", "seed"]


def test_a_call_slower_than_its_slice_is_still_timed_once():
    bench, calls = load_bench(), []
    rate = bench.timed(lambda: calls.append(1), 0.0, warm_up=0.0)
    assert len(calls) == 1 and rate > 0
