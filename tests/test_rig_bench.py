"""The OSC latency and MIDI clock benches run and return sane numbers (tiny n: not the measurement)."""

from __future__ import annotations

from livegan.rig_bench import measure_clock_error, measure_osc_latency


def test_measure_osc_latency_small():
    r = measure_osc_latency(n=30, fps=200.0, gap_ms=1.0)
    assert r["received"] == 30 and r["bad"] == 0
    assert 0 <= r["datagram_to_queue_ms_p50"] <= r["datagram_to_queue_ms_p99"]
    assert r["datagram_to_queue_ms_p50"] <= r["datagram_to_state_ms_p50"] <= r["datagram_to_state_ms_p99"]


def test_measure_clock_error_meets_the_half_percent():
    r = measure_clock_error(jitter_ms=1.0, seeds=2)
    assert r["readings"] > 20
    assert r["steady_error_pct_max"] < 0.5 and r["error_two_beats_after_step_pct_max"] < 0.5
