"""MIDI latency benchmark: see livegan.triggers.midi_latency for what is measured.

    python benchmarks/bench_midi.py --n 1000 --fps 60   (or python -m benchmarks.bench_midi)
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

if __name__ == "__main__" and not __package__:  # run as a file: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from livegan.triggers.midi_latency import measure_midi_latency  # noqa: E402

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000, help="messages to send")
    ap.add_argument("--fps", type=float, default=60.0, help="rate of the draining loop")
    ap.add_argument("--json", action="store_true", help="print the raw dict as JSON")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    r = measure_midi_latency(args.n, args.fps)
    if args.json:
        log.info(json.dumps(r, indent=2))
        return
    log.info("MIDI latency over %d messages (%d received, %d dropped), loop at %.0f fps:",
             r["n"], r["received"], r["dropped"], r["fps"])
    log.info("  callback -> queue : p50 %.3f ms   p99 %.3f ms", r["callback_to_queue_ms_p50"],
             r["callback_to_queue_ms_p99"])
    log.info("  send -> drained   : p50 %.2f ms   p99 %.2f ms   max %.2f ms (frame %.1f ms)",
             r["to_drain_ms_p50"], r["to_drain_ms_p99"], r["to_drain_ms_max"], r["frame_ms"])
    log.info("  parse + map       : %.1f us per message", r["mapper_us_per_message"])


if __name__ == "__main__":
    main()
