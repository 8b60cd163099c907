"""Headless outputs for ``livegan render``: an mp4 file or a folder of PNGs.

Both write somewhere temporary next to the target and rename it into place
only on :meth:`close`, so a crash, Ctrl+C or an exception inside ``with``
never leaves a half-written video that looks finished. Video goes through
the ffmpeg binary bundled with imageio-ffmpeg (H.264, yuv420p, even sizes so
every player accepts it), with optional audio muxed in as AAC.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from ..errors import ConfigError, LiveganError, Where
from ..fsio import remove_stale, temp_prefix, user_mode
from .base import Output, Size, fit_rect

log = logging.getLogger(__name__)
MARK = "made by livegan render"  # in the mp4's comment tag: `render -o` may replace such a file without --force


def _letterbox(frame: np.ndarray, size: Size) -> np.ndarray:
    """Fit ``frame`` into a black ``size`` canvas with its aspect kept (PIL Lanczos)."""
    from PIL import Image

    W, H = size
    h, w = frame.shape[:2]
    x, y, pw, ph = fit_rect((w, h), (W, H))
    canvas = np.zeros((H, W, 3), np.uint8)  # (H, W, 3)
    pic = np.asarray(Image.fromarray(frame).resize((pw, ph), Image.LANCZOS))
    canvas[y:y + ph, x:x + pw] = pic
    return canvas


class VideoRecorder(Output):
    """Writes frames to an mp4 at ``fps``.

    ``size`` (width, height) is rounded down to even numbers (yuv420p needs
    them); None takes it from the first frame. Frames of another size are
    letterboxed into it. ``audio`` is a sound file muxed as AAC; the video's
    frames decide the length (audio is cut or padded with silence).
    ``crf`` is x264's quality, 0 (lossless) .. 51 (worst), 18 looks clean.
    """

    name = "video"

    def __init__(
        self,
        path: str | Path,
        fps: float,
        size: Size | None = None,
        audio: str | Path | None = None,
        crf: int = 18,
        preset: str = "medium",
    ) -> None:
        super().__init__()
        if not fps > 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        if not 0 <= crf <= 51:
            raise ValueError(f"crf must be in range 0..51, got {crf}")
        if size is not None and (size[0] < 2 or size[1] < 2):
            raise ValueError(f"video size must be at least 2x2, got {size}")
        self.path = Path(path)
        self.fps = float(fps)
        self._size = self._even(size) if size else None
        self.audio = Path(audio) if audio else None
        self.crf = crf
        self.preset = preset
        self._tmp: Path | None = None
        self._proc: subprocess.Popen | None = None
        self._log = None  # ffmpeg's stderr goes to a temp file: a pipe nobody reads can deadlock

    @staticmethod
    def _even(size: Size) -> Size:
        return (int(size[0]) // 2 * 2, int(size[1]) // 2 * 2)

    def _open(self) -> None:
        if self.audio is not None and not self.audio.is_file():
            raise ConfigError("audio file not found", Where(str(self.audio)))
        folder = self.path.parent if str(self.path.parent) else Path(".")
        if not folder.is_dir():
            raise ConfigError("output folder does not exist", Where(str(folder)))
        remove_stale(folder)  # what a killed render left behind
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=temp_prefix(self.path.stem), suffix=".partial.mp4")
        user_mode(fd)  # the video is the user's file: their umask, not mkstemp's 0600
        os.close(fd)
        self._tmp = Path(tmp)
        # ffmpeg starts at the first frame, when the size is known.

    def _start(self, size: Size) -> None:
        import imageio_ffmpeg

        w, h = size
        cmd = [
            imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-hide_banner", "-nostats", "-loglevel", "error",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", f"{self.fps:g}", "-i", "-",
        ]
        cmd += ["-c:v", "libx264", "-preset", self.preset, "-crf", str(self.crf),
                "-pix_fmt", "yuv420p", "-metadata", f"comment={MARK}", "-movflags", "+faststart", "-f", "mp4",
                str(self._tmp)]
        log.debug("ffmpeg: %s", " ".join(cmd))
        self._log = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._log)

    def _ffmpeg_error(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        lines = self._log.read().decode("utf-8", "replace").strip().splitlines()
        return lines[-1] if lines else ""

    def _present(self, frame: np.ndarray, overlay: dict | None) -> None:
        if self._size is None:
            self._size = self._even((frame.shape[1], frame.shape[0]))
            if self._size[0] < 2 or self._size[1] < 2:
                raise ValueError(f"frames must be at least 2x2 for video, got {frame.shape}")
        if self._proc is None:
            self._start(self._size)
        w, h = self._size
        fh, fw = frame.shape[:2]
        if (fw, fh) in ((w, h), (w + 1, h), (w, h + 1), (w + 1, h + 1)):
            frame = frame[:h, :w]  # drop an odd last row/column: invisible, and no rescale
        else:
            frame = _letterbox(frame, (w, h))
        try:
            self._proc.stdin.write(np.ascontiguousarray(frame).tobytes())  # type: ignore[union-attr]
        except (BrokenPipeError, OSError):
            self._proc.wait()  # type: ignore[union-attr]
            msg = self._ffmpeg_error() or f"ffmpeg exited with code {self._proc.returncode}"  # type: ignore[union-attr]
            self.abort()
            raise LiveganError(f"video encoding failed: {msg}", Where(str(self.path))) from None

    def _close(self) -> None:
        try:
            if self._proc is None:
                raise LiveganError("no frames were recorded; nothing written", Where(str(self.path)))
            self._proc.stdin.close()  # type: ignore[union-attr]
            code = self._proc.wait()
            if code != 0:
                msg = self._ffmpeg_error() or f"ffmpeg exited with code {code}"
                raise LiveganError(f"video encoding failed: {msg}", Where(str(self.path)))
            if self.audio is not None:
                self._mux_audio()
            os.replace(self._tmp, self.path)  # type: ignore[arg-type]
            self._tmp = None
            log.info("wrote %s (%d frames, %dx%d, %g fps%s)", self.path, self.frames, *self._size,  # type: ignore[misc]
                     self.fps, ", with audio" if self.audio else "")
        finally:
            self._cleanup()

    def _mux_audio(self) -> None:
        """Add the audio in a second, copying pass, cut/padded to the video's exact length.

        A single pass with -shortest overshoots by up to a second of audio over
        a frozen last frame (ffmpeg's interleaving buffer); knowing the frame
        count at the end lets -t be exact. The video stream is copied, not re-encoded.
        """
        import imageio_ffmpeg

        if self._tmp is None:
            return
        muxed = self._tmp.with_name(self._tmp.name.replace(".partial.mp4", ".audio.partial.mp4"))
        cmd = [
            imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-hide_banner", "-nostats", "-loglevel", "error",
            "-i", str(self._tmp), "-i", str(self.audio), "-map", "0:v:0", "-map", "1:a:0",
            "-c:v", "copy", "-c:a", "aac", "-b:a", "192k", "-af", "apad",
            "-t", f"{self.frames / self.fps:.6f}", "-metadata", f"comment={MARK}", "-movflags", "+faststart",
            "-f", "mp4", str(muxed),
        ]
        try:
            res = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
            if res.returncode != 0:
                lines = res.stderr.strip().splitlines()
                msg = lines[-1] if lines else f"ffmpeg exited with code {res.returncode}"
                raise LiveganError(f"adding audio failed: {msg}", Where(str(self.audio)))
            os.replace(muxed, self._tmp)
        finally:
            muxed.unlink(missing_ok=True)

    def abort(self) -> None:
        """Stop ffmpeg and delete the unfinished file; the target path is left untouched."""
        self.is_open = False
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._cleanup()

    def _cleanup(self) -> None:
        if self._proc is not None and self._proc.stdin and not self._proc.stdin.closed:
            try:
                self._proc.stdin.close()
            except OSError:
                pass
        self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)
            self._tmp = None

    @property
    def size(self) -> Size | None:
        return self._size


class FramesRecorder(Output):
    """Writes frame_000000.png, frame_000001.png, ... into the folder ``path``.

    The PNGs go into a hidden temp folder beside it, renamed at close. An
    existing folder is replaced only if it is empty or holds nothing but
    frame_*.png files (an earlier render); anything else is refused, so a
    mistyped path never deletes someone's pictures.
    """

    name = "frames"

    def __init__(self, path: str | Path, compress_level: int = 1) -> None:
        super().__init__()
        self.path = Path(path)
        self.compress_level = compress_level  # PNG zlib level: 1 is fast, files a bit larger
        self._tmp: Path | None = None
        self._size: Size | None = None

    def check_target(self) -> None:
        """Refuse a target that is a file or a folder with anything but frame PNGs (call before rendering)."""
        self._check_target()

    def _check_target(self) -> None:
        p = self.path
        if p.exists() and not p.is_dir():
            raise ConfigError("exists and is not a folder", Where(str(p)))
        if p.is_dir():
            others = [c.name for c in p.iterdir() if not (c.name.startswith("frame_") and c.suffix == ".png")]
            if others:
                raise ConfigError(f"folder is not empty (has {others[0]!r}); choose a new folder", Where(str(p)))

    def _open(self) -> None:
        self._check_target()
        parent = self.path.parent
        if not parent.is_dir():
            raise ConfigError("output folder does not exist", Where(str(parent)))
        remove_stale(parent)
        self._tmp = Path(tempfile.mkdtemp(dir=parent, prefix=temp_prefix(self.path.name), suffix=".partial"))
        user_mode(self._tmp, directory=True)

    def _present(self, frame: np.ndarray, overlay: dict | None) -> None:
        from PIL import Image

        if self._size is None:
            self._size = (frame.shape[1], frame.shape[0])
        out = self._tmp / f"frame_{self.frames:06d}.png"  # type: ignore[operator]
        Image.fromarray(frame).save(out, compress_level=self.compress_level)

    def _close(self) -> None:
        try:
            self._check_target()  # it may have changed while we rendered
            old = None
            if self.path.is_dir():
                old = self.path.with_name(f".{self.path.name}.old")
                shutil.rmtree(old, ignore_errors=True)
                os.replace(self.path, old)
            os.replace(self._tmp, self.path)  # type: ignore[arg-type]
            self._tmp = None
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
            log.info("wrote %d frames to %s", self.frames, self.path)
        finally:
            self._cleanup()

    def abort(self) -> None:
        self.is_open = False
        self._cleanup()

    def _cleanup(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    @property
    def size(self) -> Size | None:
        return self._size


def made_by_livegan(path: str | Path) -> bool:
    """True when ``path`` is an mp4 a livegan render wrote (its comment tag, in the moov atom at the front)."""
    try:
        with open(path, "rb") as f:
            head = f.read(1 << 20)
    except OSError:
        return False
    return head[4:8] == b"ftyp" and MARK.encode() in head


def read_video_frames(path: str | Path) -> tuple[int, float, bool]:
    """(number of frames, fps, has an audio stream) of a video file; for tests and checks."""
    import imageio_ffmpeg

    gen = imageio_ffmpeg.read_frames(str(path))
    try:
        meta = next(gen)
    finally:
        gen.close()
    n, _ = imageio_ffmpeg.count_frames_and_secs(str(path))
    return int(n), float(meta["fps"]), bool(meta.get("audio_codec"))
