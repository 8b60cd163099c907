"""VideoRecorder / FramesRecorder / NullOutput: real ffmpeg, tiny frames."""

import wave

import numpy as np
import pytest

from livegan.errors import ConfigError, LiveganError
from livegan.outputs import FramesRecorder, NullOutput, VideoRecorder, read_video_frames


def frames(n, w=64, h=48):
    for i in range(n):
        f = np.zeros((h, w, 3), np.uint8)
        f[..., 0] = i * 10
        f[:, : (i % w) + 1, 1] = 255
        yield f


def make_wav(path, seconds=1.0, rate=8000):
    t = np.arange(int(seconds * rate)) / rate
    pcm = (np.sin(2 * np.pi * 440 * t) * 8000).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())


def leftovers(folder):
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


def test_video_has_exactly_n_frames(tmp_path):
    out = tmp_path / "clip.mp4"
    with VideoRecorder(out, fps=24, crf=30, preset="ultrafast") as rec:
        for f in frames(17):
            rec.present(f)
    assert rec.size == (64, 48)
    n, fps, audio = read_video_frames(out)
    assert (n, fps, audio) == (17, 24.0, False)
    assert leftovers(tmp_path) == []


def test_odd_size_is_made_even_and_other_sizes_letterboxed(tmp_path):
    out = tmp_path / "odd.mp4"
    with VideoRecorder(out, fps=10, size=(65, 49), preset="ultrafast") as rec:
        assert rec.size == (64, 48)
        rec.present(next(frames(1, 65, 49)))
        rec.present(next(frames(1, 20, 40)))  # other aspect: letterboxed in
    assert read_video_frames(out)[0] == 2


def test_audio_is_muxed_and_video_length_wins(tmp_path):
    wav = tmp_path / "song.wav"
    make_wav(wav, seconds=0.5)  # shorter than the video: padded, no frames lost
    out = tmp_path / "with_audio.mp4"
    with VideoRecorder(out, fps=20, audio=wav, preset="ultrafast") as rec:
        for f in frames(20):
            rec.present(f)
    n, fps, audio = read_video_frames(out)
    assert n == 20 and audio
    assert abs(container_seconds(out) - 1.0) < 0.06


def container_seconds(path):
    """The file's overall duration as ffmpeg reports it (audio included)."""
    import re
    import subprocess

    import imageio_ffmpeg

    err = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-i", str(path)], capture_output=True, text=True).stderr
    h, m, sec = re.search(r"Duration: (\d+):(\d+):([\d.]+)", err).groups()
    return int(h) * 3600 + int(m) * 60 + float(sec)


def test_longer_audio_is_cut_to_the_video(tmp_path):
    wav = tmp_path / "long.wav"
    make_wav(wav, seconds=3.0)
    out = tmp_path / "cut.mp4"
    with VideoRecorder(out, fps=20, audio=wav, preset="ultrafast") as rec:
        for f in frames(10):
            rec.present(f)
    assert read_video_frames(out)[::2] == (10, True)
    assert abs(container_seconds(out) - 0.5) < 0.06  # not the 3 s of audio
    assert leftovers(tmp_path) == []


def test_exception_inside_with_leaves_nothing(tmp_path):
    out = tmp_path / "broken.mp4"
    with pytest.raises(KeyError):
        with VideoRecorder(out, fps=10, preset="ultrafast") as rec:
            for f in frames(3):
                rec.present(f)
            raise KeyError("boom")
    assert list(tmp_path.iterdir()) == []


def test_abort_keeps_an_older_file_untouched(tmp_path):
    out = tmp_path / "keep.mp4"
    out.write_bytes(b"older render")
    rec = VideoRecorder(out, fps=10, preset="ultrafast").open()
    rec.present(next(frames(1)))
    rec.abort()
    assert out.read_bytes() == b"older render" and leftovers(tmp_path) == []


def test_no_frames_and_bad_arguments(tmp_path):
    rec = VideoRecorder(tmp_path / "empty.mp4", fps=10).open()
    with pytest.raises(LiveganError, match="no frames"):
        rec.close()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ConfigError, match="audio file not found"):
        VideoRecorder(tmp_path / "a.mp4", fps=10, audio=tmp_path / "nope.wav").open()
    with pytest.raises(ValueError, match="crf"):
        VideoRecorder(tmp_path / "a.mp4", fps=10, crf=99)
    with pytest.raises(ValueError, match="fps"):
        VideoRecorder(tmp_path / "a.mp4", fps=0)


def test_frames_recorder_writes_pngs_atomically(tmp_path):
    from PIL import Image

    out = tmp_path / "pngs"
    with FramesRecorder(out) as rec:
        for f in frames(3):
            rec.present(f)
        assert not out.exists()  # only renamed into place at the end
    assert sorted(p.name for p in out.iterdir()) == ["frame_000000.png", "frame_000001.png", "frame_000002.png"]
    assert np.array_equal(np.asarray(Image.open(out / "frame_000002.png")), next(iter(list(frames(3))[2:])))
    with FramesRecorder(out) as rec:  # a re-render replaces an earlier one
        rec.present(next(frames(1)))
    assert [p.name for p in out.iterdir()] == ["frame_000000.png"]
    assert leftovers(tmp_path) == []


def test_frames_recorder_refuses_foreign_folder_and_cleans_up(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "holiday.jpg").write_bytes(b"x")
    with pytest.raises(ConfigError, match="not empty"):
        FramesRecorder(tmp_path / "mine").open()
    with pytest.raises(RuntimeError):
        with FramesRecorder(tmp_path / "new") as rec:
            rec.present(next(frames(1)))
            raise RuntimeError
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]


def test_null_output_counts_and_keeps_last():
    out = NullOutput()
    assert out.size is None and out.poll_events() == []
    with out:
        out.press("space", "escape")
        for f in frames(5):
            out.present(f, {"fps": 1})
        assert out.frames == 5 and out.size == (64, 48)
        assert out.last_frame[0, 0, 0] == 40 and out.last_overlay == {"fps": 1}
        assert out.poll_events() == ["space", "escape"] and out.poll_events() == []
    assert not out.is_open


def test_ffmpeg_dying_is_one_error_and_no_file(tmp_path):
    out = tmp_path / "dies.mp4"
    rec = VideoRecorder(out, fps=10, preset="ultrafast").open()
    rec.present(next(frames(1)))
    rec._proc.kill()  # as if ffmpeg crashed or was killed by the OOM killer
    rec._proc.wait()
    with pytest.raises(LiveganError, match="video encoding failed"):
        for f in frames(500):
            rec.present(f)
    assert list(tmp_path.iterdir()) == [] and not rec.is_open
