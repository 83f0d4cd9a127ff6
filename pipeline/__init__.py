"""Frontline: dated, attributed claims of territorial control turned into maps.

The package is a plain library with a command-line interface (``python -m pipeline``).
It never imports the user interface; ``app.py`` and ``pages/`` do.
"""

__version__ = "0.1.0"
