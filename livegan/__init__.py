"""livegan: real-time BigGAN visuals for live music.

Importing this package has no side effects: no device checks, downloads,
prints or signal handlers (see DESIGN.md, rule 3).
"""

__version__ = "0.1.0"
