"""Settings: every tunable value of the pipeline, typed and documented in one place.

Values are read once at import; tests and callers pass explicit arguments instead of
mutating these module attributes.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Literal

from pipeline.errors import SettingsError


def _positive_env(name: str, default: float, *, whole: bool) -> float:
    """A positive number from environment variable ``name``, or ``default`` when unset.

    Parameters
    ----------
    name : str
        The variable, e.g. ``FRONTLINE_READ_CPU_S``.
    default : float
        Value when the variable is unset or empty.
    whole : bool
        Whether the value must be a whole number.

    Returns
    -------
    float
        The value (integral when ``whole``).

    Raises
    ------
    SettingsError
        When the value is not a (whole) number greater than zero; the message names the
        variable and its value.
    """
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    kind = "a whole number" if whole else "a number"
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        raise SettingsError(f"environment variable {name}={raw!r} is not {kind}") from None
    if not 0 < value < float("inf"):
        raise SettingsError(f"environment variable {name}={raw!r} is not {kind} above 0")
    return value


ROOT: Path = Path(__file__).resolve().parent.parent
"""Project root (the folder holding ``data/`` and ``pipeline/``)."""

DATA_DIR: Path = Path(os.environ.get("FRONTLINE_DATA", ROOT / "data" / "geo"))
"""Embedded theatre: places, boundaries, claims and their sources."""

CACHE_DIR: Path = Path(os.environ.get("FRONTLINE_CACHE", ROOT / "build" / "derived"))
"""Where derived data (cells, resolved claims) is cached; rebuilt when inputs change."""

STORE: str = os.environ.get("FRONTLINE_STORE", str(ROOT / "data" / "store" / "frontline.gpkg"))
"""Store of uploads and edits: a file path (GeoPackage) or a ``postgresql://`` URL."""


def store_location() -> str:
    """Where the store is, read from ``FRONTLINE_STORE`` at each call (default :data:`STORE`).

    Returns
    -------
    str
        A file path or a ``postgresql://`` URL.
    """
    return os.environ.get("FRONTLINE_STORE", STORE)


GEO_CRS: str = "EPSG:4326"
"""CRS of every file in ``data/geo/`` and of every output (RFC 7946 GeoJSON)."""

EQUAL_AREA_CRS: str = "+proj=laea +lat_0=51 +lon_0=35 +x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs"
"""Lambert azimuthal equal-area centred on the theatre: areas and distances in metres."""

CELL_MAX_RADIUS_M: float = 5_000.0
"""A settlement's cell extends at most this far from its point; the rest is open ground."""

FRONT_ZONE_M: float = 8_000.0
"""Within this distance of a settlement named in a claim, cells are not capped: the ground
between settlements is split between them (the front zone)."""

ZONE_GRID_M: float = 2_000.0
"""Side of the grid squares that cut cells inside the front zone (the unit of inferred
ground), in metres."""

MAP_PRECISION_M: float = 5_000.0
"""Extract settlements known less precisely than this (estimated post-office points) are
found by name but get no territory cell: a point 30 km off would move the wrong ground.
Curated points keep their cell whatever their stated precision (each was placed by hand)."""

SQ_MILES_PER_KM2: float = 1.0 / 2.589988110336
"""Square miles in a square kilometre (1 mi = 1.609344 km exactly)."""

THEATRE_START: dt.date = dt.date(2024, 8, 6)
"""First day of the Kursk incursion; earlier dates show the pre-war border."""

SIDES: tuple[str, ...] = ("UA", "RU", "contested")
"""Sides a claim can give a place to."""

STATUSES: tuple[str, ...] = (*SIDES, "UA inferred", "RU inferred")
"""What a map can say of a piece of ground: a claimed side, or a side inferred from the
claims around it (see :mod:`pipeline.inference`). Codes in status arrays follow this order."""

CONTESTED_LAPSE_DAYS: int = 30
"""A report of fighting at a settlement that no newer claim follows lapses after this many
days (the settlement returns to its status before the report)."""

INFER_MAX_EDGE_M: float = 12_000.0
"""Longest edge of a triangle of one side's held settlements that encloses inferred ground."""

FUZZY_CUTOFF: float = 85.0
"""Lowest rapidfuzz score (0-100) at which a name is offered as a candidate."""

AMBIGUITY_MARGIN: float = 3.0
"""Candidates scoring within this many points of the best are ties, reported as ambiguous."""

READ_MEMORY_MB: int = int(_positive_env("FRONTLINE_READ_MEMORY_MB", 2048, whole=True))
"""Address space, in MB, of the worker process that reads one upload (``RLIMIT_AS``).

A worker starts at about 470 MB of address space (geopandas, GDAL, PROJ mapped); a GeoJSON
at the reader's caps (47 MiB, 40,000 features, 1.96 million vertices) reads within 1,024 MB.
"""

READ_CPU_S: int = int(_positive_env("FRONTLINE_READ_CPU_S", 30, whole=True))
"""CPU seconds the worker that reads one upload may use (``RLIMIT_CPU``).

The GeoJSON at the reader's caps takes about 7 s of CPU.
"""

READ_WALL_S: float = _positive_env("FRONTLINE_READ_WALL_S", 60.0, whole=False)
"""Seconds of wall-clock time before the worker reading one upload is killed.

Twice :data:`READ_CPU_S`: a read that waits (never on the network: that is off) or shares
a busy machine still ends.
"""

READ_OUTPUT_MB: int = int(_positive_env("FRONTLINE_READ_OUTPUT_MB", 128, whole=True))
"""Largest answer, in MB, accepted from the worker that reads one upload.

Twice the largest upload (64 MiB); the vertex cap's geometries take about 31 MB of WKB.
"""

# Names the CLI's parser offers: kept here, light, so `--help` imports no heavy module.

UPLOAD_MODES: tuple[str, ...] = ("snapshot", "patch")
"""How an upload applies: the claimant's whole map on its date, or a patch over it."""

FigureFormat = Literal["png", "svg", "pdf"]
FIGURE_FORMATS: tuple[FigureFormat, ...] = ("png", "svg", "pdf")
"""Formats of a static figure."""

SIZE_PRESETS: dict[str, tuple[int, int, float]] = {
    "a4": (3508, 2480, 300.0),
    "slide": (1920, 1080, 150.0),
    "square": (1080, 1080, 150.0),
}
"""Figure sizes: width and height in pixels, and dots per inch (A4 landscape at 300 dpi)."""

DEFAULT_EXTENT = "Kursk salient"
"""The extent a snapshot frames when none is given."""
