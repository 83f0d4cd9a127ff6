"""Basemap tiles under a static figure: fetched when the network reaches them, never required.

Tiles come through ``contextily`` from an ``xyzservices`` provider (or a tile URL given on
the command line), warped into the figure's projection. With no network the figure is drawn
in its own offline style and says so; a missing network is never an error. Tiles are not
part of the data-version stamp (they are not Frontline's data); the figure credits them.
"""

from __future__ import annotations

import math
import socket
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import numpy as np
import xyzservices
import xyzservices.providers as xyz

from pipeline.errors import InputError

PROVIDERS: dict[str, xyzservices.TileProvider] = {
    "osm": xyz.OpenStreetMap.Mapnik,
    "esri-gray": xyz.Esri.WorldGrayCanvas,
    "opentopomap": xyz.OpenTopoMap,
}
"""Named tile providers that need no API key (CARTO's now do)."""

AUTO_PROVIDER = "osm"
"""What ``auto`` tries."""

PROBE_TIMEOUT_S = 2.0
"""How long a basemap may wait for the tile server to answer before the figure goes on
without it."""

MAX_ZOOM = 13

OFFLINE_NOTE = "offline style"
"""How every note of :func:`fetch_basemap` that drew no tiles begins."""


@dataclass(frozen=True)
class Basemap:
    """A basemap choice.

    Attributes
    ----------
    name : str
        ``none``, ``auto``, a key of :data:`PROVIDERS`, or ``url``.
    provider : xyzservices.TileProvider or None
        The tiles, or None for the offline style.
    """

    name: str
    provider: xyzservices.TileProvider | None

    def drawn(self, tiles: bool) -> str:
        """What a figure shows under its map, for its id: ``none`` or the tiles drawn.

        Parameters
        ----------
        tiles : bool
            Whether tiles were drawn (``auto`` falls back to the offline style when the
            tile server is not reachable).

        Returns
        -------
        str
            ``none`` for the offline style; else the tiles' URL template, so ``auto`` and
            ``osm`` that drew the same tiles name them alike.

        Examples
        --------
        >>> parse_basemap("auto").drawn(True) == parse_basemap("osm").drawn(True)
        True
        >>> parse_basemap("auto").drawn(False)
        'none'
        """
        if not tiles or self.provider is None:
            return "none"
        return str(self.provider["url"])


def parse_basemap(spec: str, allow_url: bool = True) -> Basemap:
    """Read a basemap choice.

    Parameters
    ----------
    spec : str
        ``none``; ``auto`` (OpenStreetMap when reachable); ``osm``, ``esri-gray``,
        ``opentopomap``; or (command line only) an ``http(s)`` tile URL with
        ``{z}``, ``{x}`` and ``{y}``.
    allow_url : bool, default True
        Accept tile URLs (the app does not: a server must not fetch what a visitor names).

    Returns
    -------
    Basemap
        The choice.

    Raises
    ------
    InputError
        When the choice is unknown or the URL malformed.

    Examples
    --------
    >>> parse_basemap("none")
    Basemap(name='none', provider=None)
    >>> parse_basemap("osm").provider.name
    'OpenStreetMap.Mapnik'
    """
    key = spec.strip()
    if key.lower() == "none":
        return Basemap("none", None)
    if key.lower() == "auto":
        return Basemap("auto", PROVIDERS[AUTO_PROVIDER])
    if key.lower() in PROVIDERS:
        return Basemap(key.lower(), PROVIDERS[key.lower()])
    if allow_url and key.lower().startswith(("http://", "https://")):
        parts = urlsplit(key)
        if not parts.hostname or not all(f"{{{c}}}" in key for c in "zxy"):
            msg = f"bad basemap {spec!r}: a tile URL needs a host and {{z}}, {{x}} and {{y}}"
            raise InputError(msg)
        provider = xyzservices.TileProvider(
            name="url", url=key, attribution=f"tiles from {parts.hostname}"
        )
        return Basemap("url", provider)
    msg = f"bad basemap {spec!r}: use none, auto or one of {', '.join(PROVIDERS)}"
    raise InputError(msg)


def _reachable(url: str, timeout: float) -> bool:
    parts = urlsplit(url.replace("{s}", "a"))
    host = parts.hostname
    if host is None:
        return False
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _zoom(lon0: float, lon1: float, width_px: int) -> int:
    """The tile zoom whose resolution matches the figure's (256 px tiles)."""
    span = max(lon1 - lon0, 1e-6)
    return int(min(MAX_ZOOM, max(3, math.ceil(math.log2(width_px * 360 / (256 * span))))))


def fetch_basemap(
    basemap: Basemap,
    lonlat_bounds: tuple[float, float, float, float],
    crs: str,
    width_px: int,
    timeout: float = PROBE_TIMEOUT_S,
) -> tuple[np.ndarray | None, tuple[float, float, float, float] | None, str]:
    """Fetch tiles for bounds and warp them into a projection, or say why not.

    Parameters
    ----------
    basemap : Basemap
        The choice (``none`` returns at once).
    lonlat_bounds : tuple of float
        ``(min_lon, min_lat, max_lon, max_lat)``.
    crs : str
        The figure's projection.
    width_px : int
        Width of the map in pixels (chooses the zoom).
    timeout : float, default :data:`PROBE_TIMEOUT_S`
        Seconds to wait for the tile server to accept a connection.

    Returns
    -------
    tuple
        ``(image, extent, note)``: an RGB(A) array and its ``(left, right, bottom, top)``
        in ``crs``, and the credit line; or ``(None, None, note)`` saying why the offline
        style was used.
    """
    provider = basemap.provider
    if provider is None:
        return None, None, ""
    url = provider.build_url(scale_factor="")
    if not _reachable(url, timeout):
        host = urlsplit(url).hostname
        return None, None, f"{OFFLINE_NOTE} (tile server {host} not reachable)"
    import contextily

    lon0, lat0, lon1, lat1 = lonlat_bounds
    try:
        with warnings.catch_warnings():
            # The tile stack's own deprecation notices are not the figure's business.
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            img, ext = contextily.bounds2img(
                lon0,
                lat0,
                lon1,
                lat1,
                zoom=_zoom(lon0, lon1, width_px),
                source=provider,
                ll=True,
                max_retries=1,
                timeout=(timeout, 10.0),
            )
            warped, warped_ext = contextily.warp_tiles(img, ext, t_crs=crs)
    except Exception as e:
        return None, None, f"{OFFLINE_NOTE} (tiles failed: {type(e).__name__}: {e})"
    left, right, bottom, top = (float(v) for v in warped_ext)
    credit = str(provider.get("attribution", provider.name))
    return np.asarray(warped), (left, right, bottom, top), credit


def drew_tiles(notes: Iterable[str]) -> bool:
    """Whether the notes :func:`fetch_basemap` returned say tiles were drawn.

    Parameters
    ----------
    notes : iterable of str
        The notes of a figure's maps (empty for ``none``).

    Returns
    -------
    bool
        True when a note is a credit line, not empty and not the offline style's reason.

    Examples
    --------
    >>> drew_tiles(["© OpenStreetMap contributors"]), drew_tiles([f"{OFFLINE_NOTE} (x)", ""])
    (True, False)
    """
    return any(n and not n.startswith(OFFLINE_NOTE) for n in notes)
