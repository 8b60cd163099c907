"""OSC in: the address table, the router, bad packets, presets, and real UDP on 127.0.0.1."""

from __future__ import annotations

import logging
import math
import re
import socket
import struct
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder

from livegan.clock import ManualClock, MonotonicClock
from livegan.errors import ConfigError
from livegan.triggers.events import CUE_KINDS, Cue, EventQueue, Param, Tempo
from livegan.triggers.midi_map import PARAM_RANGES
from livegan.triggers.osc import MAX_BUNDLE_DEPTH, MAX_DATAGRAM, FakeOscBackend, OscInput, decode
from livegan.triggers.osc_addresses import OSC_IN, OSC_OUT, OscRouter, help_line, markdown_table
from livegan.triggers.osc_map import load_osc_preset, shipped_osc_presets

README = Path(__file__).resolve().parents[1] / "README.md"


def msg(address: str, *args) -> bytes:
    b = OscMessageBuilder(address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


def bundle(*dgrams_or_bundles) -> bytes:
    from pythonosc.osc_bundle import OscBundle
    from pythonosc.osc_message import OscMessage
    bb = OscBundleBuilder(IMMEDIATELY)
    for d in dgrams_or_bundles:
        bb.add_content(OscBundle(d) if OscBundle.dgram_is_bundle(d) else OscMessage(d))
    return bb.build().dgram


# -- the one table ----------------------------------------------------------------------
def test_table_covers_every_cue_param_and_tempo_and_feeds_help_and_readme():
    addrs = {a.address for a in OSC_IN}
    assert {f"/livegan/cue/{k}" for k in CUE_KINDS} <= addrs
    assert {f"/livegan/param/{p}" for p in PARAM_RANGES} <= addrs
    assert "/livegan/tempo" in addrs
    assert {a.address for a in OSC_OUT} == {f"/livegan/{k}" for k in
                                            ("song", "section", "lyric", "next-lyric", "beat", "tempo")}
    assert all(a.address in help_line() for a in OSC_IN)
    assert markdown_table() in README.read_text(), "README's OSC table is generated from OSC_IN/OSC_OUT"


# -- the router ----------------------------------------------------------------------------
def test_every_address_makes_the_same_events_midi_makes():
    r = OscRouter()
    assert r.route("/livegan/cue/next", [], 1.0) == [Cue("next", source="osc", t=1.0)]
    assert r.route("/livegan/cue/goto", [3], 1.0) == [Cue("goto", 3, source="osc", t=1.0)]
    assert r.route("/livegan/cue/goto", [2.0], 1.0) == [Cue("goto", 2, source="osc", t=1.0)]
    assert r.route("/livegan/cue/blackout", [1.0], 1.0)[0].kind == "blackout"
    assert r.route("/livegan/cue/blackout", [0.0], 1.0) == [], "a button's release does nothing"
    (p,) = r.route("/livegan/param/truncation", [1.0], 2.0)
    assert p == Param("truncation", PARAM_RANGES["truncation"]["default"][1], source="osc", t=2.0)
    (p,) = r.route("/livegan/param/transition", [0.0], 2.0)
    assert p.value == PARAM_RANGES["transition"]["default"][0]
    assert r.route("/livegan/tempo", [124.0], 3.0) == [Tempo(124.0, "osc", 3.0)]
    assert r.bad == {} and r.handled == 8


@pytest.mark.parametrize("address,args", [
    ("/livegan/cue/nope", []),                 # unknown address
    ("/livegan/param/truncation", ["high"]),   # wrong type
    ("/livegan/param/truncation", [0.1, 0.2]), # wrong count
    ("/livegan/param/truncation", [1.5]),      # out of range
    ("/livegan/param/truncation", [math.nan]), # NaN
    ("/livegan/param/truncation", [math.inf]),
    ("/livegan/cue/goto", [0]),
    ("/livegan/cue/goto", [2.5]),
    ("/livegan/cue/goto", []),
    ("/livegan/cue/next", ["x"]),
    ("/livegan/tempo", [12.0]),
    ("/livegan/tempo", [math.nan]),
])
def test_bad_messages_are_counted_never_raised(address, args):
    r = OscRouter()
    assert r.route(address, args, 0.0) == []
    assert r.bad == {address: 1}


def test_bad_messages_are_logged_once_per_address(caplog):
    r = OscRouter()
    with caplog.at_level(logging.WARNING, logger="livegan.triggers.osc_addresses"):
        for _ in range(50):
            r.route("/livegan/param/truncation", [7.0], 0.0)
            r.route("/x", [], 0.0)
    assert r.bad == {"/livegan/param/truncation": 50, "/x": 50}
    assert len(caplog.records) == 2


def test_a_flood_of_distinct_bad_addresses_cannot_grow_the_table():
    r = OscRouter()
    for i in range(2000):
        r.route(f"/junk/{i}" + "x" * 500, [], 0.0)
    assert len(r.bad) <= 257 and r.bad_total == 2000
    assert all(len(k) <= 120 for k in r.bad)


# -- decoding hostile packets ------------------------------------------------------------------
def test_decode_bundles_garbage_oversize_and_deep_nesting():
    a, b = msg("/livegan/cue/next"), msg("/livegan/cue/prev")
    assert decode(bundle(a, bundle(b)))[0] == [("/livegan/cue/next", []), ("/livegan/cue/prev", [])]
    deep = a
    for _ in range(MAX_BUNDLE_DEPTH + 1):
        deep = bundle(deep)
    assert decode(deep) == ([], f"bundle nested deeper than {MAX_BUNDLE_DEPTH}")
    ok = a
    for _ in range(MAX_BUNDLE_DEPTH):
        ok = bundle(ok)
    assert decode(ok)[0] == [("/livegan/cue/next", [])]
    assert "oversized" in decode(msg("/livegan/cue/next", "x" * (MAX_DATAGRAM + 10)))[1]
    for junk in (b"", b"\x00" * 7, b"hello", b"#bundle\x00" + b"\xff" * 30, b"/a\x00\x00,s\x00\x00abc",
                 b"#bundle\x00" + b"\x00" * 8 + struct.pack(">i", 10 ** 6)):
        evs, problem = decode(junk)
        assert evs == [] and problem


def test_a_bundle_nested_400_deep_within_the_size_limit_is_refused_not_a_crash():
    d = msg("/livegan/cue/next")
    for _ in range(400):  # 20 bytes a level: still under MAX_DATAGRAM, deep enough to exhaust recursion
        d = b"#bundle\x00" + b"\x00" * 7 + b"\x01" + struct.pack(">i", len(d)) + d
    assert len(d) <= MAX_DATAGRAM
    evs, problem = decode(d)
    assert evs == [] and problem


def test_fake_backend_source_counts_bad_packets_and_keeps_going():
    q, clock, be = EventQueue(), ManualClock(5.0), FakeOscBackend()
    src = OscInput(q, clock, 0, backend=be)
    assert src.open()
    be.deliver(b"garbage")
    be.deliver(msg("/livegan/cue/next"))
    be.deliver(msg("/livegan/param/master_fade", 0.5))
    assert q.drain() == [Cue("next", source="osc", t=5.0), Param("master_fade", 0.5, source="osc", t=5.0)]
    assert src.router.bad == {"<packet>": 1} and src.datagrams == 3


# -- presets ---------------------------------------------------------------------------------------
def test_shipped_touchosc_preset_maps_its_addresses():
    assert [p.name for p in shipped_osc_presets()] == ["touchosc-simple.yaml"]
    preset = load_osc_preset("touchosc-simple")
    r = OscRouter(preset.targets(), preset.quantise)
    assert r.route("/2/push2", [1.0], 0.0) == [Cue("next", source="osc")]
    assert r.route("/2/push2", [0.0], 0.0) == []
    assert r.route("/2/push11", [1.0], 0.0) == [Cue("goto", 3, source="osc")]
    (p,) = r.route("/1/fader2", [0.0], 0.0)
    assert p.name == "transition" and p.value == pytest.approx(0.25)
    assert r.route("/livegan/cue/prev", [], 0.0)[0].kind == "prev", "built-in addresses still work"


@pytest.mark.parametrize("body,where,words", [
    ("mappings:\n  - {address: /a, cue: nxt}\n", ":2:", "did you mean 'next'"),
    ("mapings: []\n", ":1:1", "unknown key 'mapings'; did you mean 'mappings'"),
    ("mappings:\n  - address: /a\n    cue: next\n  - address: /a\n    cue: prev\n", ":4:", "mapped twice"),
    ("mappings:\n  - address: a b\n    cue: next\n", ":2:", "must start with '/'"),
    ("quantise: bars\nmappings:\n  - {address: /a, cue: next}\n", ":1:1", "did you mean 'bar'"),
    ("mappings:\n  - address: /f\n    param: truncation\n    range: [0, 5]\n", ":4:", "within 0.02..1"),
])
def test_preset_errors_point_at_file_line_col(tmp_path, body, where, words):
    p = tmp_path / "bad.yaml"
    p.write_text(body)
    with pytest.raises(ConfigError) as e:
        load_osc_preset(p)
    text = str(e.value)
    assert text.startswith(f"{p}{where}") and words in text, text


def test_preset_quantise_reaches_the_cues(tmp_path):
    p = tmp_path / "q.yaml"
    p.write_text("quantise: bar\nmappings:\n  - {address: /go, cue: next}\n")
    preset = load_osc_preset(p)
    assert OscRouter(preset.targets(), preset.quantise).route("/go", [], 0.0)[0].quantise == "bar"


# -- real UDP, loopback only ---------------------------------------------------------------------------
def _wait_for(q: EventQueue, n: int, seconds: float = 5.0) -> list:
    got: list = []
    for _ in range(int(seconds / 0.01)):  # bounded: never hangs
        got += q.drain()
        if len(got) >= n:
            break
        time.sleep(0.01)
    return got


def test_udp_on_loopback_keeps_cue_order_and_survives_bad_packets():
    q = EventQueue()
    src = OscInput(q, MonotonicClock(), 0)  # port 0: the OS picks a free one
    assert src.open(), src.last_error
    try:
        assert src.port > 0
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        kinds = ["next", "prev", "blackout", "freeze", "next", "song-next", "tap", "next"]
        for i, k in enumerate(kinds):
            tx.sendto(msg(f"/livegan/cue/{k}"), ("127.0.0.1", src.port))
            tx.sendto(b"\x00\x01 not osc", ("127.0.0.1", src.port))
            tx.sendto(b"x" * (MAX_DATAGRAM + 100), ("127.0.0.1", src.port))
        tx.sendto(msg("/livegan/param/drift_amount", 0.25), ("127.0.0.1", src.port))
        tx.close()
        got = _wait_for(q, len(kinds) + 1)
        assert [e.kind for e in got if isinstance(e, Cue)] == kinds
        assert [e for e in got if isinstance(e, Param)] == [Param("drift_amount", 0.25, "osc", got[-1].t)]
        assert all(e.source == "osc" for e in got)
        for _ in range(200):
            if src.router.bad_total >= 2 * len(kinds):
                break
            time.sleep(0.01)
        assert src.router.bad["<packet>"] == 2 * len(kinds)
    finally:
        src.close()


def test_a_port_in_use_is_one_warning_and_a_retry_not_a_crash():
    holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    holder.bind(("127.0.0.1", 0))
    port = holder.getsockname()[1]
    try:
        warnings: list[str] = []
        clock = ManualClock()
        src = OscInput(EventQueue(), clock, port)
        src.on_warning = warnings.append
        assert not src.open()
        clock.advance(10)
        src.poll()
        assert not src.is_open and len(warnings) == 1 and re.search(rf"127\.0\.0\.1:{port}", warnings[0])
    finally:
        holder.close()


# -- fuzz ---------------------------------------------------------------------------------------------
_ARG = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-2**31, 2**31 - 1), st.text(max_size=20),
                 st.booleans(), st.binary(max_size=20), st.none())


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_decode_never_raises_on_random_bytes(data):
    msgs, problem = decode(data)
    assert isinstance(msgs, list) and (problem is None or isinstance(problem, str))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([a.address for a in OSC_IN] + ["/x", "", "/livegan/cue"]), st.lists(_ARG, max_size=3))
def test_router_never_raises_and_every_message_is_handled_or_counted(address, args):
    r = OscRouter()
    evs = r.route(address, args, 0.0)
    assert len(evs) <= 1
    assert r.handled + r.bad_total == 1
