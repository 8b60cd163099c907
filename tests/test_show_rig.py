"""End to end: OSC over loopback UDP into the real headless show loop; tempo and pending cues on the overlay."""

from __future__ import annotations

import socket
import textwrap
from pathlib import Path

import pytest
from pythonosc.osc_message_builder import OscMessageBuilder

from banktools import SETLIST, write_banks

from livegan.clock import ManualClock, MonotonicClock
from livegan.engine.state import Position
from livegan.outputs.null import NullOutput
from livegan.show.session import ShowConfig, build_show, run_show
from livegan.triggers.events import Cue, Tempo
from livegan.triggers.osc import OscInput

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("rig")
    sl = d / "sl.yaml"
    sl.write_text(textwrap.dedent(SETLIST).lstrip())
    write_banks(sl, d / "banks")
    return sl, d / "banks"


def msg(address: str, *args) -> bytes:
    b = OscMessageBuilder(address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


class Sender(NullOutput):
    """A null output that, once the loop runs, sends scripted OSC datagrams to the show's port."""

    def __init__(self, show_port, script: list[tuple[int, bytes]]) -> None:
        super().__init__()
        self.port, self.script, self.n = show_port, script, 0
        self.tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def _present(self, frame, overlay) -> None:
        super()._present(frame, overlay)
        self.n += 1
        for at, d in self.script:
            if at == self.n:
                self.tx.sendto(d, ("127.0.0.1", self.port()))


def test_osc_over_udp_drives_a_headless_show(files):
    sl, banks = files
    cfg = ShowConfig(setlist=sl, banks=banks, headless=True, drift=0.0, dtype="float32", device="cpu", osc=0)
    holder: dict = {}
    out = Sender(lambda: holder["osc"].port, [
        (3, msg("/livegan/cue/next")),
        (3, b"not osc at all"),
        (4, msg("/livegan/param/truncation", 7.5)),          # out of range: counted
        (4, msg("/livegan/param/truncation", 0.0)),          # -> 0.05
        (5, msg("/livegan/tempo", 124.0)),
        (5, msg("/livegan/cue/goto", 3)),
        (6, msg("/livegan/nothing-here", 1)),
        (6, msg("/livegan/cue/prev")),
    ])
    show = build_show(cfg, clock=MonotonicClock(), output=out)
    osc = next(s for s in show.sources if isinstance(s, OscInput))
    holder["osc"] = osc
    assert osc.host == "127.0.0.1", "OSC listens on this machine only unless told otherwise"
    # Run until the last datagram has been handled (bounded by the show's own length).
    summary = run_show(show, 3.0)
    assert summary.cues == 3, "next, goto 3, prev: in order"
    assert show.director.position == Position(0, 1, 0), "next -> 2, goto 3 -> 3, prev -> 2"
    assert show.director.info(10.0)["truncation"] == pytest.approx(0.05)
    assert show.director.state.tempo == 124.0 and show.director.state.tempo_source == "osc"
    assert osc.router.bad == {"<packet>": 1, "/livegan/param/truncation": 1, "/livegan/nothing-here": 1}
    assert summary.faults["source_failures"] == 0 and not osc.is_open, "closed at the end"


def test_overlay_shows_tempo_source_and_a_pending_cue_countdown(files):
    sl, banks = files
    clock = ManualClock(0.0)
    show = build_show(ShowConfig(setlist=sl, banks=banks, headless=True, overlay=True, device="cpu"),
                      clock=clock, output=NullOutput())
    show.dispatch(Tempo(124.0, "link", 0.0, beat=0.0), 0.0)
    show.dispatch(Cue("next", source="osc", quantise="bar"), 0.5)
    status = show.overlay(0.6)["status"]
    assert "124 bpm · link" in status
    bar = 4 * 60 / 124
    assert f"PENDING next in {bar - 0.6:.1f} s" in status
    show.dispatch(Tempo(None, "link", 0.7), 0.7)
    assert any("link lost" in w for w in show.warnings)
    show.poll(bar + 0.001)
    assert show.director.position.section == 1 and show.director.state.segment.start == pytest.approx(bar)
    assert not any(s.startswith("PENDING") for s in show.overlay(bar + 0.01)["status"])
