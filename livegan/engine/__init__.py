"""The live engine: latent path maths, the show state machine, the director, cue and state files.

Pure and numpy-only (DESIGN.md rule 1): nothing here imports torch, CLIP or
an optimiser, and nothing reads the wall clock -- times are passed in.
Importing this package has no side effects.
"""

from .cuefile import ScriptedCueSource, parse_cue_file, parse_cues
from .director import Director, FrameSpec
from .path import Drift, Keyframe, blend, ease, lerp, slerp
from .state import Position, Segment, ShowState, SongPlan, plans_from_setlist
from .statefile import StateSaver, load_state, resume_state, saved_position

__all__ = [
    "Director", "Drift", "FrameSpec", "Keyframe", "Position", "ScriptedCueSource", "Segment",
    "ShowState", "SongPlan", "StateSaver", "blend", "ease", "lerp", "load_state", "parse_cue_file",
    "parse_cues", "plans_from_setlist", "resume_state", "saved_position", "slerp",
]
