"""Front-end assets from installed packages: Leaflet, served locally, never from a CDN.

Folium points every map at public CDNs; with no internet (CI, an air-gapped analyst)
nothing draws. Frontline takes Leaflet from the PyPI package ``xstatic-leaflet`` and
serves it from the app's own static folder (Streamlit's static file serving). No
third-party code is committed to this repository.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import xstatic.pkg.leaflet as xleaflet

LEAFLET_VERSION: str = str(xleaflet.VERSION)
"""Version of the installed Leaflet."""

LEAFLET_DIR: Path = Path(xleaflet.BASE_DIR)
"""Folder of the installed Leaflet distribution (leaflet.js, leaflet.css, images/)."""

STATIC_SUBDIR: str = f"vendor/leaflet-{LEAFLET_VERSION}"
"""Where Leaflet goes under a static folder, versioned so browsers never mix releases."""


def install_static(static_dir: Path) -> Path:
    """Copy Leaflet into a static folder once (atomically), and return its folder.

    Parameters
    ----------
    static_dir : pathlib.Path
        The folder a web server serves as static files (``static/`` beside ``app.py``,
        served by Streamlit at ``/app/static/``).

    Returns
    -------
    pathlib.Path
        ``static_dir / STATIC_SUBDIR``, holding ``leaflet.js``, ``leaflet.css`` and
        ``images/``.
    """
    target = static_dir / STATIC_SUBDIR
    if (target / "leaflet.js").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".leaflet-"))
    try:
        for name in ("leaflet.js", "leaflet.css"):
            shutil.copy2(LEAFLET_DIR / name, staging / name)
        shutil.copytree(LEAFLET_DIR / "images", staging / "images")
        try:
            staging.rename(target)
        except OSError:  # another process installed it first
            if not (target / "leaflet.js").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
