"""The MIDI latency bench runs and returns sane numbers (tiny n: this is not the measurement)."""

from __future__ import annotations

from livegan.triggers.midi_latency import measure_midi_latency


def test_measure_midi_latency_small():
    r = measure_midi_latency(n=30, fps=200.0, gap_ms=1.0)
    assert r["received"] == 30 and r["dropped"] == 0
    assert 0 <= r["callback_to_queue_ms_p50"] <= r["callback_to_queue_ms_p99"]
    assert r["callback_to_queue_ms_p50"] <= r["to_drain_ms_p50"] <= r["to_drain_ms_p99"]
