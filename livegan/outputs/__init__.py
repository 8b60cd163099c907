"""Where frames go: the show window, video/PNG recorders, and a null output.

All share :class:`Output` (open / present / poll_events / close, context
manager). Importing this package does not start SDL or ffmpeg: pygame is
imported when a window opens, ffmpeg starts at the first recorded frame.
"""

from .base import KeyEvent, Output, check_frame, fit_rect
from .null import NullOutput
from .recorder import FramesRecorder, VideoRecorder, read_video_frames
from .window import WindowOutput

__all__ = [
    "FramesRecorder", "KeyEvent", "NullOutput", "Output", "VideoRecorder", "WindowOutput",
    "check_frame", "fit_rect", "read_video_frames",
]
