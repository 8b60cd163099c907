"""What every ``livegan`` command shares: the typer app, options defined once (one default each,
DESIGN.md rule 2), logging, and the one-line notice/echo helpers.

Importing it is cheap: no torch, CLIP or pygame (``--help`` stays fast).
"""

from __future__ import annotations

import logging

import typer


app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="Real-time BigGAN visuals for live music. `livegan demo` runs the whole pipeline offline.")
log = logging.getLogger("livegan")

SETLIST = typer.Argument(..., help="setlist YAML file (see setlists/demo.yaml)", show_default=False,
                         metavar="SETLIST")
MODEL_HELP = "generator: biggan-deep-128/256/512 or tiny (default: the setlist's)"
# Options that several commands share: one definition, one default (DESIGN.md rule 2).
OPT_BANKS = typer.Option(None, "--banks", help="bank folder [default: SETLIST's folder/<name>-banks]")
OPT_MODEL_OVERRIDE = typer.Option(None, "--model", help="override the generator the banks name")
OPT_WEIGHTS_DIR = typer.Option(None, "--weights", help="local BigGAN folder (config.json + pytorch_model.bin)")
OPT_RANDOM_OVERRIDE = typer.Option(False, "--random-weights", help="with --model: random weights (smoke runs)")
OPT_DEVICE = typer.Option("auto", "--device", help="auto (CUDA, then Apple MPS, then CPU), cpu, cuda or mps")
OPT_DTYPE = typer.Option("auto", "--dtype", help="auto, float32, bfloat16 or float16")
OPT_DRIFT = typer.Option(0.15, "--drift", min=0, max=1, help="drift amount around each keyframe")
OPT_THREADS = typer.Option(None, "--threads", min=1, help="torch threads [default: the cores left after the "
                           "display and the machine's other load]")
OPT_COMPILE = typer.Option("auto", "--compile", help="torch.compile the generator: auto (where `livegan bench` "
                           "measured a gain here), on, off")


def check_choice(option: str, value: str, allowed: tuple[str, ...]) -> str:
    """One-line error (exit 2) for a value outside ``allowed``."""
    if value not in allowed:
        from ..errors import ConfigError
        raise ConfigError(f"{option} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _setup_logging(verbose: bool) -> None:
    from rich.logging import RichHandler
    from rich.console import Console

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(message)s",
                        handlers=[RichHandler(console=Console(stderr=True), show_time=False, show_path=False)])
    logging.getLogger("livegan").setLevel(logging.INFO if verbose else logging.WARNING)


@app.callback()
def _root(verbose: bool = typer.Option(False, "--verbose", "-v", help="log more detail")) -> None:
    _setup_logging(verbose)


def echo(msg: str = "", err: bool = False) -> None:
    typer.echo(msg, err=err)


def notice(msg: str) -> None:
    """A visible notice on stderr (e.g. offline stand-in models)."""
    typer.secho(f"NOTICE: {msg}", fg=typer.colors.YELLOW, bold=True, err=True)


