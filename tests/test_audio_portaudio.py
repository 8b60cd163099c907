"""The real PortAudio input path: sounddevice reads a file through an ALSA ``file`` capture device.

The test writes its own ``.asoundrc`` into a temporary HOME and runs the
source in a subprocess, so PortAudio's one-time ALSA initialisation sees that
config and nothing leaks into other tests. The ``file`` plugin's capture side
reads raw samples from ``infile``; its ``null`` slave is not paced, so the
device delivers audio much faster than real time. Once the clicks are found
the child stops reading, so the ring overflows (counted: the overflow path
runs for real) whatever the machine's speed.

We open the file pcm directly in float32 (what the source asks PortAudio for)
rather than through a ``plug``: with the unpaced null slave, plug's
conversion through mmap dropped and repeated periods (clicks came out at
the wrong times), while the direct device is sample-exact.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

SR = 48000
CLICKS = [0.5, 1.0, 1.5, 2.0, 2.5, 3.0]

CHILD = textwrap.dedent("""
    import json, sys, time
    try:
        import sounddevice as sd
    except OSError as e:
        print(json.dumps({"skip": f"PortAudio not loadable: {e}"})); sys.exit(0)
    names = [d["name"] for d in sd.query_devices()]
    if not any("livegan_filein" in n for n in names):
        print(json.dumps({"skip": f"ALSA file pcm not enumerated by PortAudio (devices: {names})"})); sys.exit(0)
    from livegan.clock import MonotonicClock
    from livegan.triggers.audio import AudioInputSource
    from livegan.triggers.events import EventQueue
    q = EventQueue(maxsize=100000)
    src = AudioInputSource(q, MonotonicClock(), device="livegan_filein", sample_rate=48000, ring_seconds=8.0)
    src.stall_seconds = 120.0  # not under test here: a starved analysis thread on a loaded machine is not a dead device
    ok = src.open()
    t0 = time.monotonic()
    while ok and len(src.onsets) < 6 and time.monotonic() - t0 < 300:  # an event wait; the cap stops a hang
        src.poll(); time.sleep(0.01)
    src.poll()
    # Stop reading, as a stalled analysis thread would: the unpaced device must then overflow the
    # ring, so the overflow path runs for real whatever the machine's speed (with the reader running,
    # whether it fell behind the device was a race: once 0 overflows on a loaded machine).
    if ok and src._thread is not None:
        src._stop.set(); src._thread.join(5)
        t0 = time.monotonic()
        while src.overflows == 0 and time.monotonic() - t0 < 30:
            time.sleep(0.01)
    out = {"opened": ok, "error": src.last_error, "device": src.device_name,
           "onsets": [o.time for o in src.onsets], "overflows": src.overflows,
           "pulses": sum(1 for e in q.drain() if getattr(e, "name", "") == "audio_pulse")}
    src.close()
    print(json.dumps(out))
""")


def test_real_portaudio_input_through_alsa_file_device(tmp_path) -> None:
    x = (np.random.default_rng(1).standard_normal(int(3.5 * SR)) * 1e-3).astype(np.float32)
    for t in CLICKS:
        x[int(t * SR):int(t * SR) + 4] += np.array([0.8, -0.8, 0.4, -0.4], np.float32)
    raw = tmp_path / "in.f32"
    x.astype("<f4").tofile(raw)
    home = tmp_path / "home"
    home.mkdir()
    (home / ".asoundrc").write_text(textwrap.dedent(f"""
        pcm.livegan_filein {{
            type file
            slave.pcm "null"
            file "/dev/null"
            infile "{raw}"
            format "raw"
            hint {{ show on; description "livegan test: capture from a raw float32 file" }}
        }}
    """))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALSA_")}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"))
    r = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=600,
                       cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(r.stdout.strip().splitlines()[-1])
    if "skip" in res:
        pytest.skip(res["skip"])
    assert res["opened"], res["error"]
    assert res["device"].startswith("livegan_filein")
    assert [round(t, 2) for t in res["onsets"]] == CLICKS, res
    assert res["pulses"] == len(CLICKS)
    assert res["overflows"] > 0  # the unpaced device outruns the worker: counted, not fatal
