"""``python -m livegan.cli``: the same entry point as the installed ``livegan`` command."""

from . import main

main()
