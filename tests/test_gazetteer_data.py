"""Data tests of the dense gazetteer extracts built by ``tools/build_gazetteer.py``.

They read only the committed files in ``data/geo`` (no network, no mirror) and take a
few seconds.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import shapely

GEO = Path(__file__).resolve().parent.parent / "data" / "geo"
WOF_CSV = GEO / "places_wof_ua.csv"
POSTAL_CSV = GEO / "places_postal_ru.csv"
RAIONS = GEO / "raions.geojson"
MANIFEST = GEO / "GAZETTEER_SOURCES.json"
REGIONS = GEO / "regions.geojson"

COLUMNS = [
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
]
FIVE_DECIMALS = re.compile(r"^-?\d{1,3}\.\d{5}$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
COMMIT = re.compile(r"^[0-9a-f]{40}$")
# Degrees of latitude -> metres; an upper bound for distances measured in degrees here.
M_PER_DEGREE = 111_320.0


@cache
def _rows(path: Path) -> tuple[dict[str, str], ...]:
    with path.open(encoding="utf-8", newline="") as f:
        return tuple(csv.DictReader(f))


@cache
def _raions() -> dict[str, tuple[dict[str, Any], shapely.Geometry]]:
    doc = json.loads(RAIONS.read_text(encoding="utf-8"))
    return {
        f["properties"]["raion_id"]: (f["properties"], shapely.geometry.shape(f["geometry"]))
        for f in doc["features"]
    }


@cache
def _manifest() -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads(MANIFEST.read_text(encoding="utf-8"))
    return manifest


def _theatre_bbox() -> tuple[float, float, float, float]:
    doc = json.loads(REGIONS.read_text(encoding="utf-8"))
    shapes = [shapely.geometry.shape(f["geometry"]) for f in doc["features"]]
    minx, miny, maxx, maxy = shapely.total_bounds(shapes)
    pad = 0.1  # about 7-11 km: WOF oblast points may lie a little past Natural Earth edges
    return minx - pad, miny - pad, maxx + pad, maxy + pad


ALL_PLACES = pytest.mark.parametrize("path", [WOF_CSV, POSTAL_CSV], ids=["wof", "postal"])


@ALL_PLACES
def test_columns_and_row_count(path: Path) -> None:
    with path.open(encoding="utf-8", newline="") as f:
        header = next(csv.reader(f))
    assert header == COLUMNS
    assert len(_rows(path)) > 1000


@ALL_PLACES
def test_every_row_has_source_licence_and_precision(path: Path) -> None:
    bad = []
    for row in _rows(path):
        precision = row["precision_m"]
        if not (row["source"] and row["source_url"] and row["licence"]):
            bad.append(f"{row['place_id']}: source, source_url or licence missing")
        if not precision.isdigit() or int(precision) < 500:
            bad.append(f"{row['place_id']}: precision_m {precision!r}")
        if row["verified"] not in {"true", "false"} or row["located"] != "true":
            bad.append(
                f"{row['place_id']}: verified/located {row['verified']!r}/{row['located']!r}"
            )
        if not row["name"]:
            bad.append(f"{row['place_id']}: no name")
    assert not bad, bad[:20]


@ALL_PLACES
def test_coordinates_have_five_decimals_and_lie_in_the_theatre(path: Path) -> None:
    minx, miny, maxx, maxy = _theatre_bbox()
    bad = [
        r["place_id"]
        for r in _rows(path)
        if not (FIVE_DECIMALS.match(r["lat"]) and FIVE_DECIMALS.match(r["lon"]))
        or not (minx <= float(r["lon"]) <= maxx and miny <= float(r["lat"]) <= maxy)
    ]
    assert not bad, bad[:20]


@ALL_PLACES
def test_rows_are_sorted_by_id(path: Path) -> None:
    ids = [r["place_id"] for r in _rows(path)]
    assert ids == sorted(ids)


def test_ids_are_unique_across_extracts() -> None:
    ids = [r["place_id"] for path in (WOF_CSV, POSTAL_CSV) for r in _rows(path)]
    assert len(ids) == len(set(ids))
    raion_doc = json.loads(RAIONS.read_text(encoding="utf-8"))
    raion_ids = [f["properties"]["raion_id"] for f in raion_doc["features"]]
    assert len(raion_ids) == len(set(raion_ids))
    assert not set(raion_ids) & set(ids)


def test_wof_rows_name_their_record_and_licence() -> None:
    licences = {
        "geonames": "CC BY 4.0 (GeoNames",
        "qs_pg": "CC BY 4.0 (GeoNames",
        "quattroshapes": "CC BY (Quattroshapes",
        "naturalearth": "Public domain (Natural Earth",
    }
    bad = []
    for row in _rows(WOF_CSV):
        wof_id = row["source_record"]
        if row["place_id"] != f"wof-{wof_id}" or row["source"] != f"Who's On First {wof_id}":
            bad.append(f"{row['place_id']}: id/source mismatch")
        prefix = licences.get(row["geom_source"])
        if prefix and not row["licence"].startswith(prefix):
            bad.append(f"{row['place_id']}: {row['geom_source']} but {row['licence']!r}")
        if row["country"] != "UA" or row["region_id"] not in {"UA-59", "UA-63", "UA-74"}:
            bad.append(f"{row['place_id']}: {row['country']}/{row['region_id']}")
        if row["district_id"] and row["district_id"] not in _raions():
            bad.append(f"{row['place_id']}: unknown district_id {row['district_id']!r}")
    assert not bad, bad[:20]


def test_postal_rows_follow_the_precision_rules() -> None:
    bad = []
    for row in _rows(POSTAL_CSV):
        code = row["source_record"]
        if row["place_id"] != f"gnp-ru-{code}" or row["source"] != f"GeoNames postal RU {code}":
            bad.append(f"{row['place_id']}: id/source mismatch")
        accurate = row["geom_source"] == "geonames-postal-accuracy-4"
        if accurate and (row["precision_m"] != "2000" or row["verified"] != "true"):
            bad.append(f"{row['place_id']}: accuracy 4 row with {row['precision_m']}")
        if not accurate and (row["verified"] != "false" or int(row["precision_m"]) < 2000):
            bad.append(f"{row['place_id']}: estimated row with {row['precision_m']}")
        if row["country"] != "RU" or row["region_id"] not in {"RU-KRS", "RU-BEL", "RU-BRY"}:
            bad.append(f"{row['place_id']}: {row['country']}/{row['region_id']}")
    assert not bad, bad[:20]


def test_raion_polygons_are_valid_and_sourced() -> None:
    raions = _raions()
    assert len(raions) > 150
    bad = []
    for raion_id, (props, geom) in raions.items():
        kind, valid = shapely.get_type_id(geom), bool(shapely.is_valid(geom))
        if kind not in {3, 6} or not valid:  # Polygon, MultiPolygon
            bad.append(f"{raion_id}: geometry type {kind} valid={valid}")
        for key in ("name", "country", "region_id", "source", "source_url", "licence", "kind"):
            if not props.get(key):
                bad.append(f"{raion_id}: no {key}")
        if not 0 <= props["simplify_error_m"] <= 500:
            bad.append(f"{raion_id}: simplify_error_m {props['simplify_error_m']}")
    assert not bad, bad[:20]
    ru = [p for p, _ in raions.values() if p["country"] == "RU"]
    assert all(p["licence"].startswith("ODbL") for p in ru)


def test_postal_points_lie_inside_their_raion() -> None:
    """Each kept postal point is inside its raion (an enclosed town okrug counts as inside).

    The committed outlines are simplified; a point may stray outside by at most the
    simplification error recorded for that raion.
    """
    raions = _raions()
    bad = []
    for row in _rows(POSTAL_CSV):
        props, geom = raions[row["district_id"]]
        filled = shapely.union_all(
            [shapely.Polygon(shapely.get_exterior_ring(p)) for p in shapely.get_parts(geom)]
        )
        point = shapely.Point(float(row["lon"]), float(row["lat"]))
        gap_m = shapely.distance(filled, point) * M_PER_DEGREE
        if gap_m > props["simplify_error_m"] + 1.0:
            bad.append(f"{row['place_id']} {gap_m:.0f} m outside {row['district_id']}")
    assert not bad, bad[:20]


def test_manifest_records_commit_and_sha256_of_every_file_read() -> None:
    sources = _manifest()["sources"]
    assert set(sources) == {"whosonfirst", "geonames_postal", "openstreetmap_raions"}
    for name, entry in sources.items():
        assert entry["repository"].startswith("https://github.com/"), name
        assert COMMIT.match(entry["commit"]), name
        assert entry["licence"], name
        assert entry["attribution"], name
        files = entry["files_read_sha256"]
        assert files, name
        assert all(SHA256.match(sha) for sha in files.values()), name
    assert "RU.zip" in sources["geonames_postal"]["files_read_sha256"]
    assert "RU.zip!RU.txt" in sources["geonames_postal"]["files_read_sha256"]
    assert len(sources["openstreetmap_raions"]["files_read_sha256"]) == 4


def test_manifest_lists_the_record_of_every_wof_row_and_raion() -> None:
    files = _manifest()["sources"]["whosonfirst"]["files_read_sha256"]
    read_ids = {Path(p).stem for p in files}
    missing = [r["place_id"] for r in _rows(WOF_CSV) if r["source_record"] not in read_ids]
    missing += [
        rid
        for rid in _raions()
        if rid.startswith("wof-") and rid.removeprefix("wof-") not in read_ids
    ]
    assert not missing, missing[:20]


def test_manifest_matches_the_committed_files() -> None:
    outputs = _manifest()["outputs"]
    assert set(outputs) == {WOF_CSV.name, POSTAL_CSV.name, RAIONS.name}
    for name, info in outputs.items():
        data = (GEO / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == info["sha256"], name
        assert len(data) == info["bytes"], name


def test_manifest_counts_add_up() -> None:
    sources = _manifest()["sources"]
    localities = sources["whosonfirst"]["counts"]["localities"]
    assert localities["kept"] == len(_rows(WOF_CSV))
    assert localities["dropped"] == sum(localities["dropped_why"].values())
    postal = sources["geonames_postal"]["counts"]
    assert postal["kept"] == len(_rows(POSTAL_CSV))
    assert postal["kept"] + postal["dropped"] == postal["rows_in_three_oblasts"]
    assert postal["dropped"] == sum(postal["dropped_why"].values())


def test_raions_file_stays_small() -> None:
    assert RAIONS.stat().st_size <= 2_000_000
