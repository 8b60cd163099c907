"""Safe YAML loading with line numbers, and pydantic validation that points at them.

Setlists and presets are untrusted input. We parse with ruamel.yaml's
round-trip loader (it keeps each key's line and column), refuse aliases and
deep nesting before composing (so an alias bomb can't expand), refuse
duplicate keys, and turn every pydantic error into one line
``FILE:LINE:COL: what is wrong (what is allowed)``.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent, MappingStartEvent, SequenceStartEvent, MappingEndEvent, SequenceEndEvent

from .errors import ConfigError, Where, read_text_file

M = TypeVar("M", bound=BaseModel)
MAX_DEPTH = 32


def _mark_where(path: str, mark: Any) -> Where:
    if mark is None:
        return Where(path)
    return Where(path, mark.line + 1, mark.column + 1)


def load_yaml(path: str | Path, max_bytes: int = 1_000_000) -> Any:
    """Load a YAML file (round-trip objects that remember positions), or raise ConfigError."""
    name = str(path)
    text = read_text_file(path, max_bytes=max_bytes)
    return loads_yaml(text, name)


def loads_yaml(text: str, name: str) -> Any:
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        depth = 0
        for ev in yaml.parse(text):
            if isinstance(ev, AliasEvent):
                raise ConfigError("YAML aliases (*name) are not allowed here; write the value out",
                                  _mark_where(name, ev.start_mark))
            if isinstance(ev, (MappingStartEvent, SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    raise ConfigError(f"nested too deeply (at most {MAX_DEPTH} levels)",
                                      _mark_where(name, ev.start_mark))
            elif isinstance(ev, (MappingEndEvent, SequenceEndEvent)):
                depth -= 1
        data = yaml.load(text)
    except ConfigError:
        raise
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        problem = e.problem or e.context or "invalid YAML"
        if "found character '\\t'" in problem or "\t" in problem:
            problem = "tab character; indent YAML with spaces"
        elif "duplicate key" in problem:
            problem = problem.replace("found ", "")
        return_where = _mark_where(name, mark)
        raise ConfigError(f"YAML syntax error: {problem}", return_where) from None
    except (YAMLError, RecursionError, ValueError) as e:
        raise ConfigError(f"YAML error: {str(e).splitlines()[0] if str(e) else type(e).__name__}",
                          Where(name)) from None
    if data is None:
        raise ConfigError("file is empty", Where(name))
    return data


def locate(root: Any, loc: tuple[Any, ...], name: str) -> Where:
    """Line/col of the deepest node of ``loc`` (a pydantic error location) in a ruamel tree."""
    node = root
    where = Where(name, 1, 1)
    for key in loc:
        lc = getattr(node, "lc", None)
        try:
            if isinstance(key, int) and isinstance(node, list):
                if lc is not None and key < len(node):
                    line, col = lc.item(key)
                    where = Where(name, line + 1, col + 1)
                node = node[key]
            elif isinstance(node, dict) and key in node:
                if lc is not None:
                    line, col = lc.key(key)
                    where = Where(name, line + 1, col + 1)
                node = node[key]
            else:
                break
        except (KeyError, IndexError, TypeError, AttributeError):
            break
    return where


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names of the sub-model that owns the last element of ``loc``."""
    cur: Any = model
    for key in loc[:-1]:
        if isinstance(key, int) or not (isinstance(cur, type) and issubclass(cur, BaseModel)):
            continue
        f = cur.model_fields.get(key)
        if f is None:
            return []
        ann = f.annotation
        # unwrap list[X] / X | None
        for _ in range(3):
            args = getattr(ann, "__args__", None)
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                break
            if not args:
                break
            ann = next((a for a in args if isinstance(a, type) and issubclass(a, BaseModel)), args[0])
        cur = ann
    if isinstance(cur, type) and issubclass(cur, BaseModel):
        return [f.alias or k for k, f in cur.model_fields.items()]
    return []


# pydantic names the member of a union it tried in the error location ("int", "str", ...)
_UNION_TAGS = {"int", "float", "str", "bool", "list", "dict", "none"}


def _is_key(k: Any) -> bool:
    return isinstance(k, str) and k not in _UNION_TAGS and "[" not in k


def _describe(err: dict, model: type[BaseModel]) -> str:
    loc = tuple(err.get("loc", ()))
    field = next((str(k) for k in reversed(loc) if _is_key(k)), "value")
    t = err.get("type", "")
    ctx = err.get("ctx") or {}
    got = err.get("input")
    if t == "extra_forbidden":
        allowed = _allowed_keys(model, loc)
        near = difflib.get_close_matches(field, allowed, n=1, cutoff=0.6)
        hint = f"; did you mean '{near[0]}'?" if near else ""
        return f"unknown key '{field}'{hint} (allowed: {', '.join(allowed)})"
    if t == "missing":
        return f"'{field}' is required"
    if t in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        op = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}[t]
        bound = next(iter(ctx.values()), "?")
        return f"{field} must be {op} {bound}, got {got!r}"
    if t.endswith("_type") or t.endswith("_parsing"):
        want = t.split("_")[0]
        kind = {"int": "a whole number", "float": "a number", "string": "text", "list": "a list",
                "dict": "a mapping", "model": "a mapping", "bool": "true or false"}.get(want, want)
        return f"{field} must be {kind}, got {type(got).__name__} {got!r}"
    msg = str(err.get("msg", "invalid value"))
    msg = msg.removeprefix("Value error, ")
    return f"{field}: {msg}"


def validate(model: type[M], data: Any, root: Any, name: str) -> M:
    """Validate plain data against a pydantic model; raise the first error as ConfigError."""
    if not isinstance(data, dict):
        raise ConfigError(f"the top level must be a mapping of keys, got {type(data).__name__}",
                          Where(name, 1, 1))
    try:
        return model.model_validate(data)
    except ValidationError as e:
        errors = e.errors(include_url=False)
        # A misspelt key also makes the real one "missing": name the misspelling, it is the cause.
        err = next((x for x in errors if x.get("type") == "extra_forbidden"), errors[0])
        loc = tuple(err.get("loc", ()))
        raise ConfigError(_describe(err, model), locate(root, loc, name)) from None


def to_plain(node: Any) -> Any:
    """ruamel round-trip objects -> plain dicts/lists/scalars (for pydantic)."""
    if isinstance(node, dict):
        return {str(k) if not isinstance(k, (int, float, bool)) else k: to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node
