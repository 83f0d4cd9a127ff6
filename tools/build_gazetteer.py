r"""Rebuild the dense gazetteer extracts of ``data/geo/`` from three pinned public sources.

Sources, each read from a bare git mirror at one pinned commit (the script refuses to run
when a mirror lacks its commit):

- **Who's On First** ``whosonfirst-data/whosonfirst-data-admin-ua``: localities of Sumy,
  Chernihiv and Kharkiv oblasts (``places_wof_ua.csv``) and the oblasts' county (raion)
  polygons (into ``raions.geojson``). CC0, with parts derived from GeoNames and
  Quattroshapes under CC BY; every row names which.
- **GeoNames postal codes** ``RU.zip`` as copied into
  ``Yoshuwa/Geo-Cities-Databases-By-Geonames``: post-office places of Kursk, Belgorod and
  Bryansk oblasts (``places_postal_ru.csv``), kept only where the point lies inside the
  raion the row names. CC BY 3.0.
- **OpenStreetMap** municipal units (admin_level 6) as exported by
  ``timurkanaz/Russia_geojson_OSM``: the raions and okrugs of the three Russian oblasts
  (into ``raions.geojson``). ODbL 1.0.

``GAZETTEER_SOURCES.json`` records for each source the repository, commit, every path read
with its SHA-256, licence, attribution and the counts kept and dropped with reasons.
Output is deterministic: rows sorted by id, coordinates with 5 decimals, no timestamps.

Run, with a bare clone (``git clone --mirror``) of each repository::

    .venv/bin/python tools/build_gazetteer.py \\
        --wof whosonfirst-data-admin-ua.git \\
        --postal Geo-Cities-Databases-By-Geonames.git \\
        --raions Russia_geojson_OSM.git
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import math
import re
import subprocess
import sys
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import iuliia
import numpy as np
import numpy.typing as npt
import pyproj
import shapely
import translitua

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "data" / "geo"
WOF_CSV = "places_wof_ua.csv"
POSTAL_CSV = "places_postal_ru.csv"
RAIONS_GEOJSON = "raions.geojson"
MANIFEST = "GAZETTEER_SOURCES.json"

WOF_REPO = "whosonfirst-data/whosonfirst-data-admin-ua"
WOF_COMMIT = "18b5ee31d6cd4915e627fbf7f3def46e66e440d5"
POSTAL_REPO = "Yoshuwa/Geo-Cities-Databases-By-Geonames"
POSTAL_COMMIT = "4001a37d541b9d4e17ea7cad3e017acb5727991b"
POSTAL_PATH = "RU.zip"
OSM_REPO = "timurkanaz/Russia_geojson_OSM"
OSM_COMMIT = "5af46d6dab9a502713611846892e4185f157dab7"
OSM_DIR = "GeoJson's/Regions/CFO/"

# WOF region (oblast) records of the theatre -> ISO 3166-2 code used across data/geo.
WOF_REGIONS: dict[int, str] = {85688787: "UA-59", 85688825: "UA-74", 85688873: "UA-63"}
# OSM export file suffix -> (region id, postal admin name1).
OSM_REGIONS: dict[str, tuple[str, str]] = {
    "_Kursk region.geojson": ("RU-KRS", "Курская Область"),
    "_Belgorod region.geojson": ("RU-BEL", "Белгородская Область"),
    "_Bryansk region.geojson": ("RU-BRY", "Брянская Область"),
}
# Postal admin2 names whose OSM unit is named differently (raions turned into okrugs named
# after their town). Every other admin2 must equal an OSM unit name, case aside, with or
# without the word "район".
POSTAL_RAION_ALIASES: dict[str, str] = {
    "АЛЕКСЕЕВСКИЙ РАЙОН": "Алексеевка",
    "ШЕБЕКИНСКИЙ РАЙОН": "Шебекино",
    "СТАРОДУБСКИЙ РАЙОН": "Стародуб",
}
# Metric CRS for simplification and distances: Lambert azimuthal equal-area centred on the
# theatre (scale error below 0.3 % within 400 km of the centre).
LOCAL_CRS = "+proj=laea +lat_0=51 +lon_0=35 +datum=WGS84 +units=m +no_defs"
DEFAULT_TOLERANCE_M = 60.0
DECIMALS = 5

# Precision of a WOF locality point by the source of its geometry (``src:geom``).
WOF_POINT_PRECISION_M: dict[str, int] = {
    # the GeoNames representative point, as in places_geonames.csv
    "geonames": 1000,
    # Quattroshapes Point Gazetteer: GeoNames points (``qs_pg:gn_id``)
    "qs_pg": 1000,
    # WOF label point of a Quattroshapes "buffered point" (src:geom_via quattroshapes):
    # measured against GeoNames for 207 places, median 0.9 km, 90th percentile 2.2 km
    "whosonfirst": 2500,
    # Natural Earth populated place: a small-scale point
    "naturalearth": 5000,
}
WOF_POLYGON_MIN_PRECISION_M = 1000
WOF_SOURCE_RANK = {"geonames": 0, "qs_pg": 1, "quattroshapes": 2, "whosonfirst": 3}
SAME_PLACE_KM = 5.0
NEAR_NAMESAKE_KM = 4.0
# GeoNames postal accuracy 4 (matched to a GeoNames place): checked against Wikipedia for 8
# Kursk places, median 0.7 km, two near 1.45 km and one at 3.9 km (the post office's place
# is not always the village's centre), so 2 km rather than the 1 km of a GeoNames point.
POSTAL_ACCURATE_PRECISION_M = 2000
POSTAL_ACCURATE = "4"

LICENCE_WOF = "CC0 1.0 (Who's On First)"
LICENCE_WOF_GEONAMES = "CC BY 4.0 (GeoNames, via Who's On First)"
LICENCE_WOF_QS = "CC BY (Quattroshapes, via Who's On First)"
LICENCE_WOF_NE = "Public domain (Natural Earth, via Who's On First)"
LICENCE_POSTAL = "CC BY 3.0 (GeoNames postal codes)"
LICENCE_OSM = "ODbL 1.0 (© OpenStreetMap contributors)"
ATTRIBUTION_WOF = (
    "Data from Who's On First (https://whosonfirst.org/docs/licenses/); contains data from "
    "GeoNames (https://www.geonames.org/) and Quattroshapes "
    "(https://github.com/foursquare/quattroshapes/), including EuroGlobalMap: Ukraine "
    "© Research Institute of Geodesy and Cartography"
)
ATTRIBUTION_POSTAL = "Contains data from GeoNames (https://www.geonames.org/)"
ATTRIBUTION_OSM = "© OpenStreetMap contributors (https://www.openstreetmap.org/copyright)"

PLACE_COLUMNS = (
    "place_id",
    "name",
    "name_ru",
    "name_uk",
    "alt_names",
    "kind",
    "country",
    "region_id",
    "district",
    "district_id",
    "lat",
    "lon",
    "precision_m",
    "verified",
    "located",
    "population",
    "geonameid",
    "source_record",
    "geom_source",
    "source",
    "source_url",
    "licence",
    "note",
)

_LATIN_NAME = re.compile(r"^[A-Z\u00C0-\u00DE\u0100-\u017F][A-Za-z\u00C0-\u024F'’ .\-]+$")
_CYRILLIC_NAME = re.compile(r"^[А-ЯЁЄІЇҐ][А-Яа-яЁёЄєІіЇїҐґ'’ .\-]+$")
_HAS_CYRILLIC = re.compile(r"[\u0400-\u04FF]")
_WOF_RECORD = re.compile(r"^data/[0-9/]+/([0-9]+)\.geojson$")
_NUMBERED_OFFICE = re.compile(r"^(.*\S) \d+$")
# Latin letters that look like Cyrillic ones, found inside Cyrillic names (e.g. "Домашoво").
_HOMOGLYPHS = str.maketrans("aceopxyACEHKMOPTXB", "асеорхуАСЕНКМОРТХВ")


class GazetteerBuildError(Exception):
    """A source cannot be read as pinned, or its content breaks an assumption."""


# --------------------------------------------------------------------------- git mirrors


@dataclass
class GitMirror:
    """A bare git mirror read at one pinned commit, logging every file it reads.

    Parameters
    ----------
    git_dir : Path
        The bare repository (a ``git clone --mirror`` of it).
    repo : str
        ``owner/name`` on GitHub, for the manifest.
    commit : str
        The pinned commit, 40 hex digits.
    """

    git_dir: Path
    repo: str
    commit: str
    read_log: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.git_dir.is_dir():
            msg = f"{self.git_dir}: not a directory (expected the bare git mirror of {self.repo})"
            raise GazetteerBuildError(msg)
        probe = subprocess.run(
            ["git", "--git-dir", str(self.git_dir), "cat-file", "-t", self.commit],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode != 0 or probe.stdout.strip() != "commit":
            msg = f"{self.git_dir}: mirror of {self.repo} lacks pinned commit {self.commit}"
            raise GazetteerBuildError(msg)

    def _git(self, *args: str, stdin: bytes | None = None) -> bytes:
        done = subprocess.run(
            ["git", "--git-dir", str(self.git_dir), *args],
            input=stdin,
            capture_output=True,
            check=False,
        )
        if done.returncode != 0:
            msg = f"{self.git_dir}: git {args[0]} failed: {done.stderr.decode().strip()}"
            raise GazetteerBuildError(msg)
        return done.stdout

    def tree_id(self, path: str) -> str:
        """The git tree id of a folder at the pinned commit."""
        return self._git("rev-parse", f"{self.commit}:{path}").decode().strip()

    def list_files(self) -> dict[str, str]:
        """Map every file path at the pinned commit to its blob id."""
        files: dict[str, str] = {}
        for entry in self._git("ls-tree", "-r", "-z", self.commit).split(b"\0"):
            if not entry:
                continue
            meta, path = entry.decode().split("\t", 1)
            _mode, kind, blob = meta.split()
            if kind == "blob":
                files[path] = blob
        return files

    def read(self, paths: Iterable[str], *, log: bool = True) -> dict[str, bytes]:
        """Read files at the pinned commit in one batch.

        Parameters
        ----------
        paths : iterable of str
            Paths inside the repository.
        log : bool, default True
            Record each file's SHA-256 in :attr:`read_log`.

        Returns
        -------
        dict
            Path to content.
        """
        wanted = list(paths)
        if not wanted:
            return {}
        query = "".join(f"{self.commit}:{p}\n" for p in wanted).encode()
        out = self._git("cat-file", "--batch", stdin=query)
        contents: dict[str, bytes] = {}
        pos = 0
        for path in wanted:
            end = out.index(b"\n", pos)
            header = out[pos:end].split()
            if len(header) != 3 or header[1] != b"blob":
                msg = f"{self.repo}@{self.commit}: cannot read {path!r}"
                raise GazetteerBuildError(msg)
            size = int(header[2])
            contents[path] = out[end + 1 : end + 1 + size]
            pos = end + 1 + size + 1
            if log:
                self.read_log[path] = hashlib.sha256(contents[path]).hexdigest()
        return contents


# ------------------------------------------------------------------------------ helpers


def _fmt(value: float) -> str:
    return f"{value:.{DECIMALS}f}"


def _first(values: object) -> str:
    if isinstance(values, list) and values and isinstance(values[0], str):
        return values[0].strip()
    return ""


def _strings(values: object) -> list[str]:
    if isinstance(values, list):
        return [v.strip() for v in values if isinstance(v, str) and v.strip()]
    return []


def _clean_names(names: Iterable[str], exclude: Iterable[str]) -> str:
    skip = {n for n in exclude if n}
    keep = {
        n
        for n in names
        if n and n not in skip and (_LATIN_NAME.match(n) or _CYRILLIC_NAME.match(n))
    }
    return "|".join(sorted(keep))


def _haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def _projector(inverse: bool = False) -> Callable[[npt.NDArray[np.float64]], Any]:
    src, dst = ("EPSG:4326", LOCAL_CRS) if not inverse else (LOCAL_CRS, "EPSG:4326")
    transformer = pyproj.Transformer.from_crs(src, dst, always_xy=True)

    def project(xy: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        x, y = transformer.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return project


def _to_local(geom: shapely.Geometry) -> shapely.Geometry:
    return shapely.transform(geom, _projector())


def _to_lonlat(geom: shapely.Geometry) -> shapely.Geometry:
    return shapely.transform(geom, _projector(inverse=True))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _ru_latin(name: str) -> str:
    return str(iuliia.WIKIPEDIA.translate(name))


def _uk_latin(name: str) -> str:
    return str(translitua.translit(name, translitua.UkrainianKMU))


# ------------------------------------------------------------------------------ raions


@dataclass
class Raion:
    """One district polygon with its names and provenance, before simplification."""

    raion_id: str
    name: str
    name_ru: str
    name_uk: str
    alt_names: str
    kind: str
    country: str
    region_id: str
    geometry: shapely.Geometry
    source: str
    source_url: str
    licence: str
    note: str


def osm_raions(mirror: GitMirror) -> tuple[list[Raion], dict[str, Any]]:
    """Read the Russian oblasts' municipal units from the OSM export.

    Parameters
    ----------
    mirror : GitMirror
        The ``Russia_geojson_OSM`` mirror.

    Returns
    -------
    list of Raion
        One per municipal raion or okrug, ids like ``ru-krs-sudzhansky-district``.
    dict
        Counts for the manifest.
    """
    files = mirror.list_files()
    chosen: dict[str, tuple[str, str]] = {}
    for suffix, region in OSM_REGIONS.items():
        hits = [p for p in files if p.startswith(OSM_DIR) and p.endswith(suffix)]
        if len(hits) != 1:
            msg = f"{mirror.repo}@{mirror.commit}: expected one file *{suffix}, found {hits!r}"
            raise GazetteerBuildError(msg)
        chosen[hits[0]] = region
    mirror.read(["Readme.md"])
    raions: list[Raion] = []
    for path, content in mirror.read(sorted(chosen)).items():
        region_id, _ = chosen[path]
        for feature in json.loads(content)["features"]:
            name_ru = str(feature["properties"]["district"]).strip()
            geometry = shapely.geometry.shape(feature["geometry"])
            if not geometry.is_valid:
                msg = f"{path}: {name_ru!r} is invalid: {shapely.is_valid_reason(geometry)}"
                raise GazetteerBuildError(msg)
            is_raion = name_ru.endswith(" район")
            base = name_ru.removesuffix(" район")
            name = _ru_latin(base) + (" District" if is_raion else "")
            raions.append(
                Raion(
                    raion_id=f"{region_id.lower()}-{_slug(name)}",
                    name=name,
                    name_ru=name_ru,
                    name_uk="",
                    alt_names="",
                    kind="raion" if is_raion else "okrug",
                    country="RU",
                    region_id=region_id,
                    geometry=geometry,
                    source=f"OpenStreetMap admin_level 6 via {mirror.repo} ({Path(path).name})",
                    source_url=f"https://github.com/{mirror.repo}/blob/{mirror.commit}/{path}",
                    licence=LICENCE_OSM,
                    note=""
                    if is_raion
                    else "OSM admin_level 6 unit that is not a raion (urban or municipal okrug)",
                )
            )
    ids = Counter(r.raion_id for r in raions)
    if any(n > 1 for n in ids.values()):
        msg = f"duplicate OSM raion ids: {sorted(k for k, n in ids.items() if n > 1)!r}"
        raise GazetteerBuildError(msg)
    stats = {
        "kept": len(raions),
        "dropped": 0,
        "by_region": dict(sorted(Counter(r.region_id for r in raions).items())),
        "by_kind": dict(sorted(Counter(r.kind for r in raions).items())),
    }
    return raions, stats


def _wof_raion_licence(props: Mapping[str, Any]) -> tuple[str, str]:
    if props.get("src:geom") == "meso":
        extra = ""
        if props.get("meso:source"):
            extra = f"; WOF names the boundary source meso:source={props['meso:source']}"
        return "CC0 1.0 (Who's On First / Mesoshapes)", f"geometry: Mesoshapes{extra}"
    return LICENCE_WOF_QS, f"geometry: Quattroshapes from {props.get('qs:source', 'unknown')}"


def wof_raions(counties: Mapping[int, Mapping[str, Any]]) -> tuple[list[Raion], dict[str, Any]]:
    """Shape the current WOF county records of the three oblasts as raions.

    Parameters
    ----------
    counties : mapping
        WOF id to the record's GeoJSON feature, for every county in the three oblasts.

    Returns
    -------
    list of Raion
        Current counties (pre-2020 raions and city councils), ids ``wof-<id>``.
    dict
        Counts for the manifest.
    """
    raions: list[Raion] = []
    dropped: Counter[str] = Counter()
    for wof_id, feature in sorted(counties.items()):
        props = feature["properties"]
        if not _wof_current(props):
            dropped["not current in WOF (ceased, deprecated or superseded)"] += 1
            continue
        name_uk = _first(props.get("name:ukr_x_preferred")) or str(props.get("meso:name_local", ""))
        name_ru = _first(props.get("name:rus_x_preferred")) or str(props.get("meso:name_alt", ""))
        name = str(props["wof:name"])
        kind = "city council" if name_uk.endswith("а") else "raion"
        licence, geom_note = _wof_raion_licence(props)
        alt = [
            *_strings(props.get("name:eng_x_preferred")),
            *_strings(props.get("name:eng_x_variant")),
            *_strings(props.get("name:ukr_x_variant")),
            *_strings(props.get("name:rus_x_variant")),
        ]
        raions.append(
            Raion(
                raion_id=f"wof-{wof_id}",
                name=name,
                name_ru=name_ru,
                name_uk=name_uk,
                alt_names=_clean_names(alt, [name, name_ru, name_uk]),
                kind=kind,
                country="UA",
                region_id=WOF_REGIONS[_wof_region(props)],
                geometry=shapely.geometry.shape(feature["geometry"]),
                source=f"Who's On First {wof_id}",
                source_url=f"https://spelunker.whosonfirst.org/id/{wof_id}/",
                licence=licence,
                note=f"{kind} as before Ukraine's raion reform of 17 July 2020; {geom_note}",
            )
        )
    stats = {
        "kept": len(raions),
        "dropped": sum(dropped.values()),
        "dropped_why": dict(dropped),
        "by_region": dict(sorted(Counter(r.region_id for r in raions).items())),
        "by_kind": dict(sorted(Counter(r.kind for r in raions).items())),
    }
    return raions, stats


def simplify_raions(
    raions: list[Raion], tolerance_m: float
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Simplify each country's raions as a coverage and measure the error in metres.

    Parameters
    ----------
    raions : list of Raion
        Raions of both countries.
    tolerance_m : float
        Tolerance of :func:`shapely.coverage_simplify`, in metres of the local CRS.

    Returns
    -------
    list of dict
        GeoJSON features sorted by ``raion_id``, with ``simplify_error_m`` (the Hausdorff
        distance between the original and the committed outline, rounding included).
    dict
        Error statistics for the manifest.
    """
    features: list[dict[str, Any]] = []
    stats: dict[str, Any] = {"tolerance_m": tolerance_m, "crs_for_metres": LOCAL_CRS}
    for country in ("RU", "UA"):
        group = [r for r in raions if r.country == country]
        local = np.array([_to_local(r.geometry) for r in group])
        simple = shapely.coverage_simplify(local, tolerance_m)
        errors: list[float] = []
        vertices_before = int(shapely.get_num_coordinates(local).sum())
        vertices_after = 0
        for raion, original, simplified in zip(group, local, simple, strict=True):
            lonlat = shapely.set_precision(_to_lonlat(simplified), 10**-DECIMALS)
            lonlat = shapely.orient_polygons(lonlat, exterior_cw=False)
            if not shapely.is_valid(lonlat) or shapely.is_empty(lonlat):
                msg = f"{raion.raion_id}: simplified outline is invalid or empty"
                raise GazetteerBuildError(msg)
            error = shapely.hausdorff_distance(
                shapely.boundary(original), shapely.boundary(_to_local(lonlat))
            )
            errors.append(float(error))
            vertices_after += int(shapely.get_num_coordinates(lonlat))
            features.append(_raion_feature(raion, lonlat, float(error)))
        stats[country] = {
            "features": len(group),
            "vertices_before": vertices_before,
            "vertices_after": vertices_after,
            "error_m_max": round(max(errors), 1),
            "error_m_mean": round(sum(errors) / len(errors), 1),
        }
    features.sort(key=lambda f: str(f["properties"]["raion_id"]))
    return features, stats


def _raion_feature(raion: Raion, geometry: shapely.Geometry, error: float) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {
            "raion_id": raion.raion_id,
            "name": raion.name,
            "name_ru": raion.name_ru,
            "name_uk": raion.name_uk,
            "alt_names": raion.alt_names,
            "kind": raion.kind,
            "country": raion.country,
            "region_id": raion.region_id,
            "simplify_error_m": round(error, 1),
            "source": raion.source,
            "source_url": raion.source_url,
            "licence": raion.licence,
            "note": raion.note,
        },
        "geometry": _round_geojson(json.loads(shapely.to_geojson(geometry))),
    }


def _round_geojson(obj: Any) -> Any:
    if isinstance(obj, float):
        return round(obj, DECIMALS)
    if isinstance(obj, list | tuple):
        return [_round_geojson(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _round_geojson(v) for k, v in obj.items()}
    return obj


# ------------------------------------------------------------------------ Who's On First


def _wof_region(props: Mapping[str, Any]) -> int:
    hierarchy = props.get("wof:hierarchy") or [{}]
    return int(hierarchy[0].get("region_id") or 0)


def _wof_current(props: Mapping[str, Any]) -> bool:
    return not (
        props.get("wof:superseded_by")
        or props.get("edtf:deprecated")
        or props.get("mz:is_current") == 0
    )


def read_wof(
    mirror: GitMirror,
) -> tuple[dict[int, dict[str, Any]], dict[int, dict[str, Any]], dict[str, Any]]:
    """Scan every WOF record and keep those of the three oblasts.

    Parameters
    ----------
    mirror : GitMirror
        The ``whosonfirst-data-admin-ua`` mirror.

    Returns
    -------
    localities : dict
        WOF id to feature, for locality and neighbourhood records in the oblasts.
    counties : dict
        WOF id to feature, for county records in the oblasts.
    scan : dict
        What was scanned, for the manifest.
    """
    files = mirror.list_files()
    records = sorted(p for p in files if _WOF_RECORD.match(p))
    contents = mirror.read(records, log=False)
    digest = hashlib.sha256()
    localities: dict[int, dict[str, Any]] = {}
    counties: dict[int, dict[str, Any]] = {}
    regions_seen: set[int] = set()
    for path in records:
        content = contents[path]
        sha = hashlib.sha256(content).hexdigest()
        digest.update(f"{sha}  {path}\n".encode())
        feature = json.loads(content)
        props = feature["properties"]
        placetype = props.get("wof:placetype")
        wof_id = int(props["wof:id"])
        if placetype == "region" and wof_id in WOF_REGIONS:
            regions_seen.add(wof_id)
            mirror.read_log[path] = sha
        if _wof_region(props) not in WOF_REGIONS:
            continue
        if placetype in {"locality", "neighbourhood", "localadmin"}:
            localities[wof_id] = feature
            mirror.read_log[path] = sha
        elif placetype == "county":
            counties[wof_id] = feature
            mirror.read_log[path] = sha
    missing = set(WOF_REGIONS) - regions_seen
    if missing:
        msg = f"{mirror.repo}@{mirror.commit}: no region record for {sorted(missing)!r}"
        raise GazetteerBuildError(msg)
    scan = {
        "records_scanned": len(records),
        "scan_rule": "every data/**/<id>.geojson (alternate geometries *-alt-*.geojson skipped)",
        "data_tree": mirror.tree_id("data"),
        "sha256_of_scan_listing": digest.hexdigest(),
        "scan_listing_format": "sha256 of the lines '<sha256>  <path>\\n' of every scanned "
        "file, sorted by path; files_read lists only the records of the three oblasts",
    }
    return localities, counties, scan


@dataclass
class _Locality:
    wof_id: int
    props: dict[str, Any]
    lat: float
    lon: float
    geom_source: str
    precision_m: int
    gn_id: int | None
    extra_names: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    merged: list[int] = field(default_factory=list)


def _locality_names(props: Mapping[str, Any]) -> list[str]:
    names = [str(props.get("wof:name", ""))]
    for lang in ("ukr", "rus", "eng", "und"):
        for kind in ("preferred", "variant"):
            names += _strings(props.get(f"name:{lang}_x_{kind}"))
    return names


def _wof_point(feature: Mapping[str, Any]) -> tuple[float, float, str, int]:
    props = feature["properties"]
    source = str(props.get("src:geom") or "unknown")
    lat = float(props.get("lbl:latitude", props["geom:latitude"]))
    lon = float(props.get("lbl:longitude", props["geom:longitude"]))
    if feature["geometry"]["type"] in {"Polygon", "MultiPolygon"}:
        area = float(props.get("geom:area_square_m") or 0.0)
        radius = math.sqrt(area / math.pi)
        precision = max(WOF_POLYGON_MIN_PRECISION_M, math.ceil(radius / 100.0) * 100)
        return lat, lon, source, precision
    if source not in WOF_POINT_PRECISION_M:
        msg = f"WOF {props['wof:id']}: no precision rule for point source {source!r}"
        raise GazetteerBuildError(msg)
    return lat, lon, source, WOF_POINT_PRECISION_M[source]


def _wof_licence(geom_source: str, props: Mapping[str, Any]) -> str:
    if geom_source in {"geonames", "qs_pg"}:
        return LICENCE_WOF_GEONAMES
    if geom_source == "quattroshapes" or props.get("src:geom_via") == "quattroshapes":
        return LICENCE_WOF_QS
    if geom_source == "naturalearth":
        return LICENCE_WOF_NE
    return LICENCE_WOF


def wof_places(
    localities: Mapping[int, Mapping[str, Any]], counties: Mapping[int, Mapping[str, Any]]
) -> tuple[list[dict[str, str]], dict[str, Any]]:
    """Turn WOF locality records into gazetteer rows, merging duplicate records.

    Parameters
    ----------
    localities : mapping
        WOF id to feature (localities and neighbourhoods of the three oblasts).
    counties : mapping
        WOF id to county feature, to name each locality's raion.

    Returns
    -------
    list of dict
        CSV rows sorted by WOF id.
    dict
        Kept and dropped counts with reasons, for the manifest.
    """
    dropped: Counter[str] = Counter()
    kept: dict[int, _Locality] = {}
    superseded_names: dict[int, list[str]] = defaultdict(list)
    for wof_id, feature in sorted(localities.items()):
        props = dict(feature["properties"])
        if props.get("wof:placetype") != "locality":
            dropped[
                f"placetype {props.get('wof:placetype')} (part of a city, not a settlement)"
            ] += 1
            continue
        if not _wof_current(props):
            for successor in props.get("wof:superseded_by") or []:
                superseded_names[int(successor)] += _locality_names(props)
            dropped["not current in WOF (ceased, deprecated or superseded)"] += 1
            continue
        lat, lon, source, precision = _wof_point(feature)
        gn = (props.get("wof:concordances") or {}).get("gn:id")
        kept[wof_id] = _Locality(
            wof_id, props, lat, lon, source, precision, int(gn) if gn else None
        )
    for successor, names in superseded_names.items():
        if successor in kept:
            kept[successor].extra_names += names
    _merge_same_geonames(kept, dropped)
    _flag_near_namesakes(kept)
    rows = [_wof_row(loc, counties) for loc in sorted(kept.values(), key=lambda x: x.wof_id)]
    stats = {
        "kept": len(rows),
        "dropped": sum(dropped.values()),
        "dropped_why": dict(sorted(dropped.items())),
        "by_region": dict(sorted(Counter(r["region_id"] for r in rows).items())),
        "by_geom_source": dict(sorted(Counter(r["geom_source"] for r in rows).items())),
        "by_licence": dict(sorted(Counter(r["licence"] for r in rows).items())),
        "verified_false": sum(r["verified"] == "false" for r in rows),
    }
    return rows, stats


def _merge_same_geonames(kept: dict[int, _Locality], dropped: Counter[str]) -> None:
    groups: dict[int, list[_Locality]] = defaultdict(list)
    for loc in kept.values():
        if loc.gn_id is not None:
            groups[loc.gn_id].append(loc)
    for gn_id, group in sorted(groups.items()):
        if len(group) < 2:
            continue
        spread = max(
            _haversine_km(a.lat, a.lon, b.lat, b.lon) for a in group for b in group if a is not b
        )
        if spread > SAME_PLACE_KM:
            for loc in group:
                others = ", ".join(f"wof-{o.wof_id}" for o in group if o is not loc)
                loc.notes.append(
                    f"GeoNames {gn_id} is claimed by {others} too, {spread:.0f} km away: "
                    "the concordance is wrong for at least one, so geonameid is left empty"
                )
                loc.gn_id = None
            continue
        group.sort(key=lambda x: (WOF_SOURCE_RANK.get(x.geom_source, 9), x.precision_m, x.wof_id))
        best = group[0]
        for other in group[1:]:
            best.extra_names += _locality_names(other.props)
            best.merged.append(other.wof_id)
            del kept[other.wof_id]
            dropped[
                "duplicate WOF record of the same GeoNames place within "
                f"{SAME_PLACE_KM:.0f} km (merged into the GeoNames-derived record)"
            ] += 1
        best.notes.append(
            "merged duplicate WOF record(s) "
            + ", ".join(f"wof-{m}" for m in sorted(best.merged))
            + f" (same GeoNames id, up to {spread:.1f} km apart)"
        )


def _flag_near_namesakes(kept: Mapping[int, _Locality]) -> None:
    by_name: dict[str, list[_Locality]] = defaultdict(list)
    for loc in kept.values():
        for name in {n.casefold() for n in _locality_names(loc.props) if n}:
            by_name[name].append(loc)
    pairs: set[tuple[int, int]] = set()
    for group in by_name.values():
        for a in group:
            for b in group:
                if a.wof_id < b.wof_id and (a.wof_id, b.wof_id) not in pairs:
                    km = _haversine_km(a.lat, a.lon, b.lat, b.lon)
                    if km <= NEAR_NAMESAKE_KM:
                        pairs.add((a.wof_id, b.wof_id))
                        a.notes.append(f"possibly the same place as wof-{b.wof_id} ({km:.1f} km)")
                        b.notes.append(f"possibly the same place as wof-{a.wof_id} ({km:.1f} km)")


def _wof_row(loc: _Locality, counties: Mapping[int, Mapping[str, Any]]) -> dict[str, str]:
    props = loc.props
    name_uk = _first(props.get("name:ukr_x_preferred"))
    name_ru = _first(props.get("name:rus_x_preferred"))
    wof_name = str(props.get("wof:name", "")).strip()
    notes = list(loc.notes)
    # GeoNames-derived records often carry a Latin romanisation as the "Ukrainian" or
    # "Russian" name: such values stay in alt_names only.
    name_uk = name_uk if _HAS_CYRILLIC.search(name_uk) else ""
    name_ru = name_ru if _HAS_CYRILLIC.search(name_ru) else ""
    name = _first(props.get("name:eng_x_preferred"))
    if not name and wof_name and not _HAS_CYRILLIC.search(wof_name):
        name = wof_name
    if not name:
        name = _uk_latin(name_uk or wof_name)
        notes.append("name: KMU 2010 transliteration of the Ukrainian name")
    county_id = int((props.get("wof:hierarchy") or [{}])[0].get("county_id") or 0)
    county = counties.get(county_id)
    district = district_id = ""
    if county is not None:
        cprops = county["properties"]
        if not _wof_current(cprops):
            successors = cprops.get("wof:superseded_by") or []
            if successors and int(successors[0]) in counties:
                county_id = int(successors[0])
                cprops = counties[county_id]["properties"]
        if _wof_current(cprops):
            district, district_id = str(cprops["wof:name"]), f"wof-{county_id}"
    if not district:
        notes.append(f"WOF county {county_id} is missing or not current: raion left empty")
    population = props.get("wof:population") or props.get("gn:population")
    return {
        "place_id": f"wof-{loc.wof_id}",
        "name": name,
        "name_ru": name_ru,
        "name_uk": name_uk,
        "alt_names": _clean_names(
            [*_locality_names(props), *loc.extra_names], [name, name_ru, name_uk]
        ),
        "kind": "settlement",
        "country": "UA",
        "region_id": WOF_REGIONS[_wof_region(props)],
        "district": district,
        "district_id": district_id,
        "lat": _fmt(loc.lat),
        "lon": _fmt(loc.lon),
        "precision_m": str(loc.precision_m),
        "verified": "false" if loc.geom_source == "naturalearth" else "true",
        "located": "true",
        "population": str(int(population)) if population else "",
        "geonameid": str(loc.gn_id) if loc.gn_id else "",
        "source_record": str(loc.wof_id),
        "geom_source": loc.geom_source,
        "source": f"Who's On First {loc.wof_id}",
        "source_url": f"https://spelunker.whosonfirst.org/id/{loc.wof_id}/",
        "licence": _wof_licence(loc.geom_source, props),
        "note": "; ".join(dict.fromkeys(notes)),
    }


# --------------------------------------------------------------------- GeoNames postal


@dataclass
class _Unit:
    raion_id: str
    name_ru: str
    region_id: str
    geometry: shapely.Geometry
    local: shapely.Geometry


def _postal_units(raions: list[Raion]) -> dict[str, list[_Unit]]:
    """Map each Russian OSM unit name to the units a postal row naming it may fall in.

    A raion stands for itself plus any okrug wholly enclosed by it (a town that is the
    raion's centre but a separate unit in OSM, e.g. Lgov inside Lgovsky District).
    """
    units = {
        r.name_ru.casefold(): _Unit(
            r.raion_id, r.name_ru, r.region_id, r.geometry, _to_local(r.geometry)
        )
        for r in raions
        if r.country == "RU"
    }
    accepted: dict[str, list[_Unit]] = {key: [unit] for key, unit in units.items()}
    for key, unit in units.items():
        if not unit.name_ru.endswith(" район"):
            continue
        parts = shapely.get_parts(unit.geometry)
        filled = shapely.union_all([shapely.Polygon(shapely.get_exterior_ring(p)) for p in parts])
        for other in units.values():
            if other is not unit and not other.name_ru.endswith(" район"):
                inner = shapely.buffer(other.geometry, -0.001)
                if not inner.is_empty and shapely.covers(filled, inner):
                    accepted[key].append(other)
    return accepted


def _postal_unit_key(admin2: str, accepted: Mapping[str, list[_Unit]]) -> str | None:
    alias = POSTAL_RAION_ALIASES.get(admin2)
    candidates = [alias or admin2, admin2.removesuffix(" РАЙОН")]
    for name in candidates:
        if name.casefold() in accepted:
            return name.casefold()
    return None


def postal_places(
    mirror: GitMirror, raions: list[Raion]
) -> tuple[list[dict[str, str]], dict[str, Any]]:
    """Keep the GeoNames postal places of the three Russian oblasts that lie in their raion.

    Parameters
    ----------
    mirror : GitMirror
        The mirror holding GeoNames ``RU.zip``.
    raions : list of Raion
        The OSM raions (unsimplified), to test each point against.

    Returns
    -------
    list of dict
        CSV rows sorted by postal code.
    dict
        Kept and dropped counts with reasons, for the manifest.
    """
    blob = mirror.read([POSTAL_PATH])[POSTAL_PATH]
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        members = {name: archive.read(name) for name in sorted(archive.namelist())}
    if "RU.txt" not in members:
        msg = f"{mirror.repo}@{mirror.commit}:{POSTAL_PATH} has no RU.txt"
        raise GazetteerBuildError(msg)
    for name, data in members.items():
        mirror.read_log[f"{POSTAL_PATH}!{name}"] = hashlib.sha256(data).hexdigest()
    oblasts = {admin1: region for region, admin1 in OSM_REGIONS.values()}
    accepted = _postal_units(raions)
    project = _projector()
    rows: list[dict[str, str]] = []
    dropped: Counter[str] = Counter()
    outside_km: list[float] = []
    kept_by_accuracy: Counter[str] = Counter()
    seen = 0
    reader = csv.reader(io.StringIO(members["RU.txt"].decode("utf-8")), delimiter="\t")
    for fields in reader:
        if len(fields) != 12 or fields[3] not in oblasts:
            continue
        seen += 1
        _cc, code, place, admin1, _c1, admin2, _c2, _n3, _c3, lat_s, lon_s, accuracy = fields
        if not admin2:
            dropped["no raion stated (city post offices and postal services)"] += 1
            continue
        numbered = _NUMBERED_OFFICE.match(place)
        if numbered:
            dropped["numbered post office of a town (the town's own row is kept)"] += 1
            continue
        key = _postal_unit_key(admin2, accepted)
        if key is None:
            msg = f"{POSTAL_PATH} {code}: raion {admin2!r} matches no OSM unit"
            raise GazetteerBuildError(msg)
        point = shapely.Point(float(lon_s), float(lat_s))
        units = accepted[key]
        inside = next((u for u in units if shapely.covers(u.geometry, point)), None)
        if inside is None:
            dropped[f"point outside its stated raion (accuracy {accuracy or 'blank'})"] += 1
            outside_km.append(
                min(shapely.distance(u.local, _to_local(point)) for u in units) / 1000.0
            )
            continue
        kept_by_accuracy[accuracy or "blank"] += 1
        rows.append(
            _postal_row(
                code, place, admin2, oblasts[admin1], units[0], inside, point, accuracy, project
            )
        )
    rows.sort(key=lambda r: r["place_id"])
    outside_km.sort()
    stats = {
        "rows_in_three_oblasts": seen,
        "kept": len(rows),
        "dropped": sum(dropped.values()),
        "dropped_why": dict(sorted(dropped.items())),
        "kept_by_accuracy": dict(sorted(kept_by_accuracy.items())),
        "outside_raion_distance_km": {
            "median": round(outside_km[len(outside_km) // 2], 1) if outside_km else 0.0,
            "max": round(outside_km[-1], 1) if outside_km else 0.0,
        },
        "by_region": dict(sorted(Counter(r["region_id"] for r in rows).items())),
        "verified_false": sum(r["verified"] == "false" for r in rows),
    }
    return rows, stats


def _postal_row(
    code: str,
    place: str,
    admin2: str,
    region_id: str,
    raion: _Unit,
    inside: _Unit,
    point: shapely.Point,
    accuracy: str,
    project: Callable[[npt.NDArray[np.float64]], Any],
) -> dict[str, str]:
    notes: list[str] = []
    name_ru = place
    if _HAS_CYRILLIC.search(place) and re.search(r"[A-Za-z]", place):
        name_ru = place.translate(_HOMOGLYPHS)
        notes.append(f"source spells the name {place!r} with Latin look-alike letters")
    if accuracy == POSTAL_ACCURATE:
        precision, verified = POSTAL_ACCURATE_PRECISION_M, "true"
    else:
        ring = shapely.get_coordinates(shapely.boundary(raion.local))
        here = project(np.array([[point.x, point.y]]))[0]
        far = float(np.max(np.hypot(ring[:, 0] - here[0], ring[:, 1] - here[1])))
        precision, verified = math.ceil(far / 1000.0) * 1000, "false"
        notes.append("position estimated by GeoNames; known only to lie in its raion")
    if inside is not raion:
        notes.append(f"point lies in {inside.name_ru}, an okrug enclosed by the raion")
    return {
        "place_id": f"gnp-ru-{code}",
        "name": _ru_latin(name_ru),
        "name_ru": name_ru,
        "name_uk": "",
        "alt_names": "",
        "kind": "postal place",
        "country": "RU",
        "region_id": region_id,
        "district": raion.name_ru,
        "district_id": raion.raion_id,
        "lat": _fmt(point.y),
        "lon": _fmt(point.x),
        "precision_m": str(precision),
        "verified": verified,
        "located": "true",
        "population": "",
        "geonameid": "",
        "source_record": code,
        "geom_source": f"geonames-postal-accuracy-{accuracy or 'blank'}",
        "source": f"GeoNames postal RU {code}",
        "source_url": f"https://github.com/{POSTAL_REPO}/blob/{POSTAL_COMMIT}/{POSTAL_PATH}",
        "licence": LICENCE_POSTAL,
        "note": "; ".join(notes),
    }


# ------------------------------------------------------------------------------ output


def render_csv(rows: list[dict[str, str]]) -> str:
    """Write rows as CSV text with the gazetteer's fixed columns and Unix line ends.

    Parameters
    ----------
    rows : list of dict
        Rows keyed by :data:`PLACE_COLUMNS`.

    Returns
    -------
    str
        The CSV document.
    """
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=PLACE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def render_geojson(features: list[dict[str, Any]]) -> str:
    """Write features as a compact RFC 7946 FeatureCollection, one feature per line.

    Parameters
    ----------
    features : list of dict
        GeoJSON features.

    Returns
    -------
    str
        The GeoJSON document.
    """
    lines = [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in features]
    return '{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n"


def _source_entry(
    mirror: GitMirror, licence: str, attribution: str, outputs: list[str], stats: dict[str, Any]
) -> dict[str, Any]:
    return {
        "repository": f"https://github.com/{mirror.repo}",
        "commit": mirror.commit,
        "licence": licence,
        "attribution": attribution,
        "outputs": outputs,
        "counts": stats,
        "files_read_sha256": dict(sorted(mirror.read_log.items())),
    }


def build(
    wof_dir: Path, postal_dir: Path, osm_dir: Path, out_dir: Path, tolerance_m: float
) -> dict[str, Any]:
    """Read the three mirrors, write the extracts and the manifest into ``out_dir``.

    Parameters
    ----------
    wof_dir, postal_dir, osm_dir : Path
        Bare git mirrors of the WOF, postal and OSM repositories.
    out_dir : Path
        Where the files go (``data/geo``).
    tolerance_m : float
        Raion simplification tolerance in metres.

    Returns
    -------
    dict
        The manifest that was written.
    """
    wof = GitMirror(wof_dir, WOF_REPO, WOF_COMMIT)
    postal = GitMirror(postal_dir, POSTAL_REPO, POSTAL_COMMIT)
    osm = GitMirror(osm_dir, OSM_REPO, OSM_COMMIT)

    ru_raions, osm_stats = osm_raions(osm)
    localities, counties, scan = read_wof(wof)
    ua_raions, ua_raion_stats = wof_raions(counties)
    wof_rows, wof_stats = wof_places(localities, counties)
    postal_rows, postal_stats = postal_places(postal, ru_raions)
    features, simplify_stats = simplify_raions([*ru_raions, *ua_raions], tolerance_m)

    out_dir.mkdir(parents=True, exist_ok=True)
    written = {
        WOF_CSV: render_csv(wof_rows),
        POSTAL_CSV: render_csv(postal_rows),
        RAIONS_GEOJSON: render_geojson(features),
    }
    for name, text in written.items():
        (out_dir / name).write_text(text, encoding="utf-8")
    manifest = {
        "about": "Provenance of the gazetteer extracts; rebuilt by tools/build_gazetteer.py",
        "outputs": {
            name: {
                "sha256": hashlib.sha256(text.encode()).hexdigest(),
                "bytes": len(text.encode()),
            }
            for name, text in written.items()
        },
        "software": {
            "shapely": shapely.__version__,
            "geos": shapely.geos_version_string,
            "pyproj": pyproj.__version__,
            "iuliia": "WIKIPEDIA scheme",
            "translitua": "UkrainianKMU scheme",
        },
        "raion_simplification": simplify_stats,
        "sources": {
            "whosonfirst": {
                **_source_entry(
                    wof,
                    "CC0 1.0; GeoNames-derived points CC BY 4.0, Quattroshapes-derived "
                    "geometry CC BY (each row's licence column says which)",
                    ATTRIBUTION_WOF,
                    [WOF_CSV, RAIONS_GEOJSON],
                    {"localities": wof_stats, "raions": ua_raion_stats},
                ),
                "scan": scan,
            },
            "geonames_postal": _source_entry(
                postal, LICENCE_POSTAL, ATTRIBUTION_POSTAL, [POSTAL_CSV], postal_stats
            ),
            "openstreetmap_raions": _source_entry(
                osm, LICENCE_OSM, ATTRIBUTION_OSM, [RAIONS_GEOJSON], osm_stats
            ),
        },
    }
    text = json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=False) + "\n"
    (out_dir / MANIFEST).write_text(text, encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, rebuild the extracts and print a summary on stderr.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status: 0 on success, 2 when a source cannot be used.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wof", type=Path, required=True, help=f"bare git mirror of {WOF_REPO}")
    parser.add_argument(
        "--postal", type=Path, required=True, help=f"bare git mirror of {POSTAL_REPO}"
    )
    parser.add_argument("--raions", type=Path, required=True, help=f"bare git mirror of {OSM_REPO}")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output folder (data/geo)")
    parser.add_argument(
        "--tolerance-m",
        type=float,
        default=DEFAULT_TOLERANCE_M,
        help="raion simplification tolerance in metres",
    )
    args = parser.parse_args(argv)
    try:
        manifest = build(args.wof, args.postal, args.raions, args.out, args.tolerance_m)
    except GazetteerBuildError as e:
        print(f"build_gazetteer: {e}", file=sys.stderr)
        return 2
    for name, info in manifest["outputs"].items():
        print(f"wrote {name}: {info['bytes']:,} bytes", file=sys.stderr)
    sources = manifest["sources"]
    print(
        "places_wof_ua: kept {kept}, dropped {dropped}".format(
            **sources["whosonfirst"]["counts"]["localities"]
        ),
        file=sys.stderr,
    )
    print(
        "places_postal_ru: kept {kept}, dropped {dropped}".format(
            **sources["geonames_postal"]["counts"]
        ),
        file=sys.stderr,
    )
    print(f"raions: {json.dumps(manifest['raion_simplification'])}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
