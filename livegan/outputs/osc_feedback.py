"""OSC out (``--osc-send HOST:PORT``): the show's song, section, lyrics, beat and tempo, on change.

A lighting desk or a lyrics display follows the show. :meth:`OscFeedback.tick`
runs once per frame in the show loop; it compares the show's info with what
it sent last and sends only what changed. The socket is non-blocking UDP and
the address is resolved once at open, so a slow or absent receiver can never
stall the loop: a send that would block is dropped and counted. The
addresses are ``OSC_OUT`` in :mod:`livegan.triggers.osc_addresses`.
"""

from __future__ import annotations

import logging
import math
import socket
from typing import Any, Callable

from ..errors import ConfigError
from ..triggers.osc_addresses import PREFIX

log = logging.getLogger(__name__)


def parse_target(text: str) -> tuple[str, int]:
    """``HOST:PORT`` -> (host, port); ConfigError says what is allowed."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ConfigError(f"--osc-send must be HOST:PORT with a port 1..65535, got '{text}'")
    return host.strip("[]"), int(port)


def build(address: str, *args: Any) -> bytes:
    from pythonosc.osc_message_builder import OscMessageBuilder

    b = OscMessageBuilder(address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


class OscFeedback:
    """Sends the /livegan/ feedback messages when the show's info changes."""

    def __init__(self, target: str, info: Callable[[float], dict], lyrics: list[list[str]]) -> None:
        self.host, self.port = parse_target(target)
        self.info, self.lyrics = info, lyrics
        self.sent = 0
        self.dropped = 0
        self._sock: socket.socket | None = None
        self._addr: Any = None
        self._last: dict[str, Any] = {}
        self._warned = False

    def open(self) -> None:
        """Resolve the host once and make the non-blocking socket; a failure is one warning."""
        try:
            fam, _, _, _, addr = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_DGRAM)[0]
            self._sock = socket.socket(fam, socket.SOCK_DGRAM)
            self._sock.setblocking(False)
            self._addr = addr
        except OSError as e:
            log.warning("OSC out: can't send to %s:%d (%s); running without OSC feedback", self.host, self.port, e)
            self._sock = None

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def messages(self, t: float) -> list[bytes]:
        """The datagrams due at t (what changed since the last call). Pure apart from remembering."""
        info = self.info(t)
        song, sec = info["song_index"], info["section"]
        lines = self.lyrics[song] if song < len(self.lyrics) else []
        nxt, nsong = info.get("next_section"), info.get("next_song")
        if nxt is None:
            next_line = ""
        else:
            ns = song + (1 if nsong != info["song"] else 0)
            nl = self.lyrics[ns] if ns < len(self.lyrics) else []
            next_line = nl[nxt] if nxt < len(nl) else ""
        tempo = info.get("tempo")
        beat = info.get("beat")
        bpb = int(info.get("beats_per_bar") or 4)
        now = {
            "song": (song + 1, str(info["song"])),
            "section": (sec + 1, int(info["sections"])),
            "lyric": (lines[sec] if sec < len(lines) else "",),
            "next-lyric": (next_line,),
            "tempo": None if tempo is None else (round(float(tempo), 1), str(info.get("tempo_source") or "song")),
            "beat": None if beat is None or not math.isfinite(beat) else (int(math.floor(beat + 1e-6)),),
        }
        out: list[bytes] = []
        for key, val in now.items():
            if val is None or self._last.get(key) == val:
                continue
            self._last[key] = val
            if key == "beat":
                out.append(build(f"{PREFIX}/beat", val[0], val[0] % bpb + 1))
            else:
                out.append(build(f"{PREFIX}/{key}", *val))
        return out

    def tick(self, t: float) -> None:
        """Once per frame: send what changed. Never blocks, never raises."""
        if self._sock is None:
            return
        try:
            msgs = self.messages(t)
        except Exception as e:  # noqa: BLE001 - feedback must never stop the show
            log.debug("OSC out: %s", e)
            return
        for m in msgs:
            try:
                self._sock.sendto(m, self._addr)
                self.sent += 1
            except OSError as e:  # BlockingIOError, ECONNREFUSED from an earlier send, ...
                self.dropped += 1
                if not self._warned:
                    self._warned = True
                    log.warning("OSC out: sending to %s:%d failed (%s); counting further drops",
                                self.host, self.port, e)
