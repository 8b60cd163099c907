"""--output / --output-size parsing, the kinds table, and the CLI's one-line refusals."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from livegan.errors import ConfigError
from livegan.outputs.kinds import (KINDS, OUTPUT_HELP, OutputSpec, check_installed, output_help_text, parse_output,
                                   parse_outputs, parse_size)


def test_kinds_come_from_the_table() -> None:
    assert KINDS == ("window", "ndi", "virtualcam", "syphon", "spout", "record")
    text = output_help_text()
    for syntax, what, *_ in OUTPUT_HELP:
        assert f"{syntax}: {what}" in text
    assert "pip install 'livegan[ndi]'" in text and "macOS only" in text


@pytest.mark.parametrize("text, spec", [
    ("window", OutputSpec("window", None)),
    ("ndi", OutputSpec("ndi", "livegan")),
    ("NDI:Stage Left", OutputSpec("ndi", "Stage Left")),
    ("virtualcam", OutputSpec("virtualcam", None)),
    ("record:out/show.mp4", OutputSpec("record", "out/show.mp4")),
])
def test_parse_output(text: str, spec: OutputSpec) -> None:
    assert parse_output(text, platform="linux") == spec


def test_syphon_and_spout_need_their_system() -> None:
    assert parse_output("syphon:VJ", platform="darwin") == OutputSpec("syphon", "VJ")
    assert parse_output("spout", platform="win32") == OutputSpec("spout", "livegan")
    with pytest.raises(ConfigError, match=r"--output syphon needs macOS \(this is Linux\)"):
        parse_output("syphon", platform="linux")
    with pytest.raises(ConfigError, match="needs Windows"):
        parse_output("spout:x", platform="darwin")


@pytest.mark.parametrize("text, msg", [
    ("ndl", "unknown output kind 'ndl'; choose from window, ndi"),
    ("window:2", "window takes no ':' argument"),
    ("record", "record needs a file"),
    ("record:x.avi", "must be an .mp4"),
    ("ndi:", "empty name"),
])
def test_mistakes_are_one_line(text: str, msg: str) -> None:
    with pytest.raises(ConfigError, match=msg):
        parse_output(text, platform="linux")


def test_outputs_default_to_the_window_and_refuse_duplicates() -> None:
    assert parse_outputs(None) == [OutputSpec("window", None)]
    assert [s.kind for s in parse_outputs(["window", "ndi", "ndi:B"])] == ["window", "ndi", "ndi"]
    with pytest.raises(ConfigError, match="given twice"):
        parse_outputs(["ndi", "ndi:livegan"])


def test_output_size() -> None:
    assert parse_size("1920x1080") == (1920, 1080) and parse_size(" 64 X 36 ") == (64, 36)
    for bad in ("1920", "1921x1080", "8x8", "axb"):
        with pytest.raises(ConfigError, match="--output-size"):
            parse_size(bad)


def test_a_missing_extra_names_the_pip_line() -> None:
    check_installed([OutputSpec("window", None)], find=lambda m: None)  # nothing to install
    with pytest.raises(ConfigError, match=r"--output ndi needs cyndilib: pip install 'livegan\[ndi\]'"):
        check_installed([OutputSpec("ndi", "x")], find=lambda m: None)


def test_cli_refuses_bad_outputs_before_loading_anything(tmp_path, capsys) -> None:
    from livegan.cli import main

    sl = tmp_path / "s.yaml"
    sl.write_text("songs: [{title: A, sections: [{text: a cat}]}]\n")
    for args, says in ((["--output", "syphon"], "needs macOS"), (["-o", "record:x.mp4", "--output-size", "big"], "WIDTHxHEIGHT")):  # (record: no extra to install)
        with pytest.raises(SystemExit) as e:
            main(["show", str(sl), *args])
        err = capsys.readouterr().err
        assert e.value.code == 2 and says in err and "Traceback" not in err and len(err.splitlines()) == 1
    r = CliRunner().invoke(__import__("livegan.cli").cli.app, ["show", "--help"], terminal_width=200)
    assert "record:FILE.mp4: record what goes out" in " ".join(r.output.split())


def test_readme_carries_the_outputs_table() -> None:
    from pathlib import Path

    from livegan.outputs.kinds import output_table_markdown

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert output_table_markdown() in readme  # regenerate: python -c "...kinds import output_table_markdown"
