"""``livegan render``: exact frame counts, landing on keyframes, smooth motion, determinism, audio, failures.

Runs the command in-process (``livegan.cli.main``) with the tiny generator on
the CPU. Banks are written directly, as prep would write them. PNG frames at
the generator's own size (32) with drift 0 in float32 are compared with the
generator's render of the keyframes.
"""

from __future__ import annotations

import textwrap
import wave
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from banktools import SETLIST, TINY, write_banks

from livegan.cli import main
from livegan.outputs.recorder import FramesRecorder, VideoRecorder, read_video_frames
from livegan.render import RenderJob, plan_batches, render_frames
from livegan.setlist import load_setlist
from livegan.show.banks import ShowKeyframes

pytestmark = pytest.mark.usefixtures("one_thread")  # torch on one thread: see conftest



@pytest.fixture(scope="module")
def files(tmp_path_factory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("render")
    sl = d / "sl.yaml"
    sl.write_text(textwrap.dedent(SETLIST).lstrip())
    write_banks(sl, d / "banks")
    return sl, d / "banks"


@pytest.fixture(scope="module")
def gen():
    from livegan.models.registry import load_generator
    return load_generator("tiny", device="cpu", dtype="float32")


def cli(*args: str | Path) -> int:
    try:
        main([str(a) for a in args])
    except SystemExit as e:
        return int(e.code or 0)
    return 0


def read_pngs(folder: Path) -> list[np.ndarray]:
    return [np.asarray(Image.open(p).convert("RGB")) for p in sorted(folder.glob("frame_*.png"))]


def mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def keyframe_render(gen, sl: Path, banks: Path, song: int, section: int) -> np.ndarray:
    kf = ShowKeyframes(load_setlist(sl), banks, TINY, gen.num_latents)(song, section, 0)
    return gen.render(kf.z[None], kf.y[None], 0.7)[0]  # (32, 32, 3)


def test_mp4_has_exactly_seconds_times_fps_frames(files, tmp_path: Path):
    sl, banks = files
    cues = tmp_path / "cues.txt"
    cues.write_text("0.5 next\n1.2 next\n")
    out = tmp_path / "out.mp4"
    assert cli("render", sl, "--song", "Alpha", "--cues", cues, "--seconds", "2", "--fps", "10", "-o", out,
               "--banks", banks, "--device", "cpu", "--size", "64") == 0
    n, fps, audio = read_video_frames(out)
    assert (n, fps, audio) == (20, 10.0, False)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == [], "no temp files left"


def test_frames_land_on_keyframes_move_smoothly_and_black_out(files, tmp_path: Path, gen, capsys):
    sl, banks = files
    cues = tmp_path / "cues.txt"
    cues.write_text("0.5 next\n1.6 blackout\n")
    frames = tmp_path / "frames"
    assert cli("render", sl, "--song", "Alpha", "--cues", cues, "--seconds", "2.5", "--fps", "20",
               "--frames", frames, "--banks", banks, "--device", "cpu", "--dtype", "float32",
               "--drift", "0", "--size", "32") == 0
    assert "50 frames" in capsys.readouterr().out
    imgs = read_pngs(frames)
    assert len(imgs) == 50 and imgs[0].shape == (32, 32, 3)
    first, second = keyframe_render(gen, sl, banks, 0, 0), keyframe_render(gen, sl, banks, 0, 1)
    gap = mad(first, second)
    assert gap > 10
    assert max(mad(imgs[k], first) for k in range(0, 11)) < 1, "until the cue at 0.5 s: the first keyframe"
    for k in (30, 31, 32):  # t = 1.5 (the transition ends) .. 1.6 (blackout starts fading)
        assert mad(imgs[k], second) < 1, f"frame {k} is the target keyframe"
    steps = [mad(a, b) for a, b in zip(imgs[:32], imgs[1:33])]
    assert max(steps) < 0.3 * gap, f"a jump of {max(steps):.1f}; keyframes differ by {gap:.1f}"
    assert sum(s > 0.5 for s in steps) >= 10, "the walk takes many frames"
    means = [float(im.mean()) for im in imgs[32:]]
    assert all(b <= a + 1e-9 for a, b in zip(means, means[1:])), "blackout fades down"
    assert means[0] > 20 and means[-1] < 1 and 1 < means[len(means) // 3] < means[0]


def test_render_is_deterministic(files, tmp_path: Path):
    sl, banks = files
    cues = tmp_path / "cues.txt"
    cues.write_text("0.3 next\n0.6 goto 3\n0.9 blackout\n")
    runs = []
    for name in ("a", "b"):
        assert cli("render", sl, "--song", "Alpha", "--cues", cues, "--seconds", "1.2", "--fps", "10",
                   "--frames", tmp_path / name, "--banks", banks, "--device", "cpu", "--size", "48",
                   "--batch", "3" if name == "a" else "5") == 0  # batching must not change a pixel
        runs.append(read_pngs(tmp_path / name))
    assert len(runs[0]) == len(runs[1]) == 12
    for k, (a, b) in enumerate(zip(*runs)):
        assert mad(a, b) < 0.01, f"frame {k} differs between two renders"
    assert len({im.tobytes() for im in runs[0]}) > 6, "drift on: frames differ from each other"


def write_clicks(path: Path, seconds: float = 3.0, clicks=(0.5, 1.25, 2.0, 2.5), sr: int = 22050) -> None:
    """A WAV of short loud noise bursts on silence (stdlib wave)."""
    rng = np.random.default_rng(0)
    x = np.zeros(int(seconds * sr), np.float32)
    for c in clicks:
        i = int(c * sr)
        n = int(0.03 * sr)
        x[i:i + n] = rng.uniform(-0.9, 0.9, n) * np.exp(-np.arange(n) / (0.01 * sr))
    pcm = (x * 32767).astype("<i2").tobytes()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(pcm)


def test_audio_is_muxed_and_its_onsets_cue_the_video(files, tmp_path: Path, capsys):
    sl, banks = files
    wav = tmp_path / "clicks.wav"
    write_clicks(wav, seconds=4.0, clicks=(0.5, 1.0, 2.7, 3.5))
    assert cli("onsets", wav) == 0
    heard = [float(x) for x in capsys.readouterr().out.split()]
    assert len(heard) == 4 and all(abs(h - c) < 0.05 for h, c in zip(heard, (0.5, 1.0, 2.7, 3.5))), heard
    out = tmp_path / "music.mp4"
    assert cli("render", sl, "--song", "Alpha", "--audio", wav, "--fps", "5", "-o", out, "--banks", banks,
               "--device", "cpu", "--size", "64") == 0
    msg = capsys.readouterr().out
    n, fps, has_audio = read_video_frames(out)
    assert has_audio and n == 20, "the audio's length, at 5 fps"
    # The song's onset gate (default: at least 2 s between cues) keeps the hits at 0.5 and 2.7.
    assert ", 2 cues," in msg, msg


def test_a_bad_cue_file_is_one_line_with_file_and_line(files, tmp_path: Path, capsys):
    sl, banks = files
    cues = tmp_path / "cues.txt"
    cues.write_text("0.5 next\n1.0 jump\n")
    out = tmp_path / "out.mp4"
    assert cli("render", sl, "--song", "Alpha", "--cues", cues, "--seconds", "2", "-o", out, "--banks", banks) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{cues}:2:" in err[0] and "jump" in err[0]
    assert not out.exists()


@pytest.mark.parametrize("sink, error", [("video", KeyboardInterrupt), ("frames", KeyboardInterrupt),
                                         ("video", RuntimeError), ("frames", RuntimeError)])
def test_a_render_failing_midway_leaves_nothing_behind(files, tmp_path: Path, gen, sink, error):
    sl, banks = files

    class Failing:
        """The tiny generator, until its third batch."""
        id, num_latents, size = gen.id, gen.num_latents, gen.size
        calls = 0

        def render(self, z, y, truncation):
            Failing.calls += 1
            if Failing.calls == 3:
                raise error("stop")  # Ctrl-C, or a crash, in the middle of a render
            return gen.render(z, y, truncation)

    target = tmp_path / ("out.mp4" if sink == "video" else "frames")
    rec = VideoRecorder(target, 10) if sink == "video" else FramesRecorder(target)
    job = RenderJob(song=0, seconds=2.0, fps=10, size=32, batch=4)
    with pytest.raises(error):
        with rec:
            render_frames(load_setlist(sl), Failing(), banks, job, [], rec)
    assert Failing.calls == 3 and rec.frames == 8, "it really failed midway"
    assert list(tmp_path.iterdir()) == [], "no video, no frames, no temp files"


def test_batches_never_span_a_cue():
    assert plan_batches(10, 10.0, [0.35, 0.5], 4) == [[0, 1, 2, 3], [4], [5, 6, 7, 8], [9]]
    assert plan_batches(3, 10.0, [], 8) == [[0, 1, 2]]
    assert plan_batches(0, 10.0, [0.1], 8) == []


def test_a_truncation_glide_is_one_batch_for_a_generator_that_takes_one_per_frame(gen):
    # A glide gives every frame another truncation: a generator that takes one number per batch
    # gets a call per frame; BigGAN (per_frame_truncation) gets the batch whole, with the same frames.
    from livegan.engine.director import FrameSpec
    from livegan.render import _render

    rng = np.random.default_rng(0)
    specs = [FrameSpec(rng.standard_normal((gen.num_latents, 128)).astype(np.float32) * 0.5,
                       np.eye(1000, dtype=np.float32)[k], 0.4 + 0.1 * k, 1.0, 0, k / 10) for k in range(4)]

    class Counting:
        def __init__(self, per_frame: bool) -> None:
            self.per_frame_truncation, self.calls = per_frame, []

        def render(self, z, y, truncation):
            self.calls.append(len(z))
            return gen.render(z, y, truncation)

    whole, split = Counting(True), Counting(False)
    a, b = _render(whole, specs), _render(split, specs)
    assert whole.calls == [4] and split.calls == [1, 1, 1, 1]
    assert all(np.abs(x.astype(int) - y.astype(int)).max() <= 1 for x, y in zip(a, b))
