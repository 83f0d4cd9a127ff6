"""Build: derive everything from ``data/geo/`` once, cache it, and hand it out as a Theatre.

Derived data (settlement cells, the validated and resolved ledger) is cached under
:data:`pipeline.settings.CACHE_DIR` in a folder named by a fingerprint of every input
file, the cell settings and the package version; a change to any of them builds anew on
first use. Cache files are written to a temporary name and renamed into place, so two
processes building at once never see half a file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import cast

import geopandas as gpd
import pandas as pd
import shapely

import pipeline
from pipeline import boundaries, claims, places, settings, territory, timeline
from pipeline._files import atomic_write
from pipeline.claims import Claimant
from pipeline.errors import InputError
from pipeline.inference import Inference
from pipeline.places import Gazetteer
from pipeline.timeline import StatusTable, View

Progress = Callable[[str], None]

LOAD_STEPS = 6
"""How many times :func:`load_theatre` reports progress (for progress bars)."""


def _quiet(_: str) -> None:
    return None


def inputs_fingerprint(data_dir: Path, max_radius_m: float) -> str:
    """Hash of every input that derived data depends on.

    Parameters
    ----------
    data_dir : pathlib.Path
        The theatre's data folder (every file in it counts, by name and content).
    max_radius_m : float
        Cell radius setting.

    Returns
    -------
    str
        16 hex digits.
    """
    digest = hashlib.sha256()
    digest.update(
        f"frontline {pipeline.__version__} radius {max_radius_m} zone {settings.FRONT_ZONE_M}"
        f" precision {settings.MAP_PRECISION_M} grid {settings.ZONE_GRID_M} cells v4".encode()
    )
    for path in sorted(p for p in data_dir.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(data_dir)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def check_day(day: dt.date, what: str = "date") -> dt.date:
    """The one rule for a date asked about: from the day before the theatre's start to today.

    A date past the last claim is allowed (its answers say so, see
    :meth:`Theatre.after_last`); a future one, or one before the war, is not.

    Parameters
    ----------
    day : datetime.date
        The date.
    what : str
        What it is, for the message (``"date"``, ``"since date"``).

    Returns
    -------
    datetime.date
        ``day``.

    Raises
    ------
    pipeline.errors.InputError
        Naming the date and the range.
    """
    start, today = settings.THEATRE_START - dt.timedelta(days=1), dt.date.today()
    if not start <= day <= today:
        why = "is in the future" if day > today else "is before the theatre's start"
        msg = (
            f"bad {what} {day.isoformat()!r}: {day.isoformat()!r} {why} (the timeline runs "
            f"from {start.isoformat()} to today, {today.isoformat()})"
        )
        raise InputError(msg)
    return day


def _code_version() -> str:
    """Hash of the pipeline's own source: a cached Python object is read only by its code."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def loaded_cache_path(folder: Path) -> Path:
    """Where this code version caches a theatre's validated load.

    Parameters
    ----------
    folder : pathlib.Path
        The theatre's cache folder (``cache_dir / inputs_fingerprint(...)``).

    Returns
    -------
    pathlib.Path
        ``loaded-<code hash>.pickle`` in ``folder``: another version of the pipeline's
        source never reads it.
    """
    return folder / f"loaded-{_code_version()}.pickle"


def _read_loaded(
    path: Path,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, pd.DataFrame, Gazetteer] | None:
    """The cached load (written by this tool into its own cache folder), or None."""
    if not path.exists():
        return None
    try:
        with path.open("rb") as f:
            loaded = pickle.load(f)  # noqa: S301 - the tool's own cache, keyed by its code
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        return None  # unreadable or from another code version: derive again
    if not (isinstance(loaded, tuple) and len(loaded) == 4):
        return None
    return cast(tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, pd.DataFrame, Gazetteer], loaded)


@dataclass
class Theatre:
    """Everything derived from one data folder: places, cells, claims and views.

    Attributes
    ----------
    data_dir : pathlib.Path
        Where the inputs came from.
    fingerprint : str
        Hash of the inputs (see :func:`inputs_fingerprint`).
    regions : geopandas.GeoDataFrame
        First-level regions (EPSG:4326).
    places : geopandas.GeoDataFrame
        Settlements (EPSG:4326).
    cells : geopandas.GeoDataFrame
        Settlement cells and open ground (equal-area CRS).
    claims : pandas.DataFrame
        The validated ledger with resolved ``place_id``.
    events : pandas.DataFrame
        Map events derived from the claims.
    claimants : dict
        Known claimants by id.
    gazetteer : pipeline.places.Gazetteer
        The theatre's name index, the one its claims were resolved with (cached with the
        load, so a command that only reads starts without rebuilding it).
    private : frozenset of str
        Claimants whose maps stay in their own view (registered by uploads; see
        :func:`pipeline.timeline.parse_view`).
    """

    data_dir: Path
    fingerprint: str
    regions: gpd.GeoDataFrame
    places: gpd.GeoDataFrame
    cells: gpd.GeoDataFrame
    claims: pd.DataFrame
    events: pd.DataFrame
    claimants: dict[str, Claimant]
    gazetteer: Gazetteer = field(repr=False)
    private: frozenset[str] = frozenset()
    _tables: dict[View, StatusTable] = field(default_factory=dict, repr=False)
    _memo: dict[tuple[object, ...], gpd.GeoDataFrame] = field(default_factory=dict, repr=False)

    @cached_property
    def extent(self) -> shapely.Geometry:
        """The theatre's ground, the union of its regions (EPSG:4326), computed once."""
        return shapely.coverage_union_all(self.regions.geometry.to_numpy())

    @cached_property
    def inference(self) -> Inference:
        """Settlement points and border anchors for inferred ground (built once)."""
        border_path = self.data_dir / "border.geojson"
        border = (
            boundaries.border_gdf(self.data_dir)
            if border_path.exists()
            else gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=settings.GEO_CRS))
        )
        return Inference.from_frames(self.places[self.places["mapped"]], self.cells, border)

    def view(self, spec: str) -> View:
        """Parse a view spelling (claimant id, ``consolidated`` or ``consolidated:a+b``).

        Parameters
        ----------
        spec : str
            The spelling.

        Returns
        -------
        View
            The view.
        """
        affiliations = {k: c.affiliation for k, c in self.claimants.items()}
        return timeline.parse_view(spec, list(self.claimants), affiliations, self.private)

    def table(self, view: View | str) -> StatusTable:
        """Status table of a view, computed once per theatre.

        Parameters
        ----------
        view : View or str
            The view or its spelling.

        Returns
        -------
        StatusTable
            Side of every cell at every change date.
        """
        if isinstance(view, str):
            view = self.view(view)
        if view not in self._tables:
            self._tables[view] = timeline.status_table(
                self.cells, self.events, view, self.inference
            )
        return self._tables[view]

    def ground(self, view: str, day: dt.date) -> gpd.GeoDataFrame:
        """Ground a view holds beyond the border on a date (memoised per change date).

        Parameters
        ----------
        view : str
            View spelling.
        day : datetime.date
            The date.

        Returns
        -------
        geopandas.GeoDataFrame
            As :func:`pipeline.timeline.polygons_on` with ``beyond_border=True``.
        """
        table = self.table(view)
        key = ("ground", table.view, table.row_on(day))
        if key not in self._memo:
            self._memo[key] = timeline.polygons_on(table, self.cells, day, beyond_border=True)
        return self._memo[key].assign(date=day.isoformat())

    def disagreement(self, view_a: str, view_b: str, day: dt.date) -> gpd.GeoDataFrame:
        """Where two views disagree on a date (memoised per pair of change dates).

        Parameters
        ----------
        view_a, view_b : str
            View spellings.
        day : datetime.date
            The date.

        Returns
        -------
        geopandas.GeoDataFrame
            As :func:`pipeline.timeline.disagreement`.
        """
        a, b = self.table(view_a), self.table(view_b)
        key = ("disagreement", a.view, b.view, a.row_on(day), b.row_on(day))
        if key not in self._memo:
            self._memo[key] = timeline.disagreement(a, b, self.cells, day)
        return self._memo[key].assign(date=day.isoformat())

    def change(
        self, view: str, since: dt.date, day: dt.date, within: str | None = None
    ) -> gpd.GeoDataFrame:
        """Ground gained and lost between two dates (memoised per pair of change dates).

        Parameters
        ----------
        view : str
            View spelling.
        since, day : datetime.date
            Earlier and later date.
        within : str, optional
            Restrict to one region (ISO 3166-2 id).

        Returns
        -------
        geopandas.GeoDataFrame
            As :func:`pipeline.timeline.change_between`.
        """
        table = self.table(view)
        key = ("change", table.view, table.row_on(since), table.row_on(day), within)
        if key not in self._memo:
            self._memo[key] = timeline.change_between(table, self.cells, since, day, within)
        return self._memo[key].assign(since=since.isoformat(), date=day.isoformat())

    def region_id(self, name: str) -> str:
        """Resolve a region name (``"Kursk region"``, ``"Курская область"``, ``RU-KRS``).

        Parameters
        ----------
        name : str
            The region in any spelling.

        Returns
        -------
        str
            Its ISO 3166-2 code.

        Raises
        ------
        pipeline.errors.InputError
            When the name is not a region of the theatre.
        """
        rid = self.gazetteer.region_id_for(name)
        if rid is None:
            known = ", ".join(self.regions["name_en"])
            msg = f"unknown region {name!r}; the theatre's regions are: {known}"
            raise InputError(msg)
        return rid

    def border_lines(self) -> gpd.GeoDataFrame:
        """The Russia-Ukraine border inside the theatre (EPSG:4326).

        Returns
        -------
        geopandas.GeoDataFrame
            Line features with ``source`` and ``licence``.
        """
        return boundaries.border_gdf(self.data_dir)

    def after_last(self, day: dt.date) -> str | None:
        """The note every answer about a date past the last claim carries, or None.

        Parameters
        ----------
        day : datetime.date
            The date asked about.

        Returns
        -------
        str or None
            ``"no claims after 2025-05-06"`` when ``day`` is after the timeline's last
            date (the answer is the state the last claims left), else None.
        """
        last = self.date_range()[1]
        return f"no claims after {last.isoformat()}" if day > last else None

    def date_range(self) -> tuple[dt.date, dt.date]:
        """First and last date of the ledger and of uploaded revisions.

        Returns
        -------
        tuple of datetime.date
            ``(first, last)``.
        """
        days = [*self.claims["date"], *self.events["date"]]
        return min(days), max(days)


def load_theatre(
    data_dir: Path = settings.DATA_DIR,
    cache_dir: Path = settings.CACHE_DIR,
    max_radius_m: float = settings.CELL_MAX_RADIUS_M,
    progress: Progress = _quiet,
) -> Theatre:
    """Load a theatre, building and caching its derived data when the inputs changed.

    Parameters
    ----------
    data_dir : pathlib.Path
        The theatre's data folder.
    cache_dir : pathlib.Path
        Where derived data is cached.
    max_radius_m : float
        Cell radius.
    progress : callable, optional
        Called with a short label before each step (the CLI drives a progress bar).

    Returns
    -------
    Theatre
        The loaded theatre.

    Raises
    ------
    pipeline.errors.DataError
        When an input file is malformed (every problem listed).
    """
    progress("fingerprint inputs")
    fingerprint = inputs_fingerprint(data_dir, max_radius_m)
    folder = cache_dir / fingerprint
    # Validated claims, places and the name index, as this code version derived them:
    # a command that only reads (geocode, area) starts without re-deriving them.
    loaded_path = loaded_cache_path(folder)
    loaded = _read_loaded(loaded_path)
    if loaded is not None:
        regions, gaz_places, ledger, index = loaded
        for label in ("load regions", "load places", "validate claims"):
            progress(label)
    else:
        progress("load regions")
        regions = boundaries.regions_gdf(data_dir)
        progress("load places")
        gaz_places = places.places_gdf(data_dir)
        progress("validate claims")
        ledger = claims.claims_df(data_dir)
        index = places.gazetteer(data_dir)
        blob = pickle.dumps((regions, gaz_places, ledger, index), protocol=pickle.HIGHEST_PROTOCOL)
        atomic_write(loaded_path, lambda p: p.write_bytes(blob))
        for stale in folder.glob("loaded-*.pickle"):  # older code's copies
            if stale != loaded_path:
                stale.unlink(missing_ok=True)
    cells_path = folder / "cells.parquet"
    if cells_path.exists():
        progress("load cached cells")
        cells = gpd.read_parquet(cells_path)
    else:
        progress("build settlement cells")
        mapped = gaz_places[gaz_places["mapped"]]
        named = mapped[mapped["place_id"].isin(set(ledger["place_id"].dropna()))]
        zone = territory.front_zone(named, regions)
        cells = territory.cells_from_points(mapped, regions, max_radius_m, zone)
        atomic_write(cells_path, lambda p: cells.to_parquet(p, index=False))
    progress("derive map events")
    events = timeline.map_events(ledger)
    return Theatre(
        data_dir=data_dir,
        fingerprint=fingerprint,
        regions=regions,
        places=gaz_places,
        cells=cells,
        claims=ledger,
        events=events,
        claimants=claims.claimants(data_dir),
        gazetteer=index,
    )
