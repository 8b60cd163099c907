"""The bake index: which clip file holds which idle loop or transition, as validated JSON.

One ``index.json`` in the bake folder (``BANKS/baked/``), written atomically
after every finished clip, so a killed bake leaves an index that names only
complete clips. It is machine-written: loading validates it with pydantic
and any problem is one line naming the file and the field
(``.../index.json: songs.Alpha.clips.idle/0/0.frames: ...``), never a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import BankError, Where
from ..fsio import atomic_write_bytes
from .clips import BAKE_FORMAT

INDEX_NAME = "index.json"
BAKE_DIR = "baked"
MAX_INDEX_BYTES = 32 << 20


class ClipEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    file: str = Field(pattern=r"^[A-Za-z0-9._-]+/[A-Za-z0-9._-]+\.mp4$")  # song folder / clip file, no '..'
    key: str = Field(min_length=8, max_length=64)
    frames: int = Field(ge=1, le=1_000_000)
    seconds: float = Field(ge=0, le=3600)
    bytes: int = Field(ge=0)


class SongEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bpm: float | None = None
    clips: dict[str, ClipEntry] = Field(default_factory=dict)


class BakeIndex(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: int
    fps: float = Field(gt=0, le=240)
    size: int = Field(ge=2, le=8192)
    layers: int = Field(ge=1, le=64)
    truncation: float = Field(gt=0, le=1)
    generator: dict
    drift: dict
    loop_seconds: float = Field(gt=0, le=600)
    songs: dict[str, SongEntry] = Field(default_factory=dict)

    def total_bytes(self) -> int:
        return sum(c.bytes for s in self.songs.values() for c in s.clips.values())

    def total_seconds(self) -> float:
        return sum(c.seconds for s in self.songs.values() for c in s.clips.values())


def bake_dir(banks: str | Path) -> Path:
    return Path(banks) / BAKE_DIR


def index_path(banks: str | Path) -> Path:
    return bake_dir(banks) / INDEX_NAME


def save_index(index: BakeIndex, path: Path) -> None:
    atomic_write_bytes(path, json.dumps(index.model_dump(), indent=1, sort_keys=True).encode())


def load_index(path: str | Path) -> BakeIndex:
    """Read and validate a bake index; BankError (one line, FILE: field: problem) when it is bad."""
    path = Path(path)
    name = str(path)
    if not path.is_file():
        raise BankError("no baked clips here (run `livegan bake SETLIST` first)", Where(name))
    try:
        if path.stat().st_size > MAX_INDEX_BYTES:
            raise BankError(f"bake index is larger than {MAX_INDEX_BYTES >> 20} MiB", Where(name))
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise BankError(f"cannot read bake index ({e})", Where(name)) from None
    except json.JSONDecodeError as e:
        raise BankError(f"bake index is not valid JSON ({e.msg})", Where(name, e.lineno, e.colno)) from None
    if isinstance(data, dict) and data.get("format") != BAKE_FORMAT:
        raise BankError(f"bake format {data.get('format')!r}, this livegan reads {BAKE_FORMAT} "
                        "(run `livegan bake` again)", Where(name))
    try:
        return BakeIndex.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
        raise BankError(f"bake index: {loc}: {err['msg']}", Where(name)) from None
