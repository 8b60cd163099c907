"""``python -m livegan.cli``: the same entry point as the installed ``livegan`` command."""

from . import main

if __name__ == "__main__":  # importing this module (e.g. walking the package) runs nothing
    main()
