"""Shared fixtures: a tiny hand-built theatre with explicit CRS, and the embedded one."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest
import shapely
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from pipeline import settings
from pipeline.build import Theatre, load_theatre
from pipeline.claims import CLAIM_COLUMNS, CLAIMANT_COLUMNS
from pipeline.places import CURATED_COLUMNS, GEONAMES_COLUMNS

# Two regions sharing the 51.0 N parallel as border: "RU-KRS" north, "UA-59" south.
TINY_REGIONS = [
    (
        "RU-KRS",
        "Kursk Oblast",
        "Курская область",
        "Курська область",
        "RU",
        "41",
        shapely.box(35.0, 51.0, 35.6, 51.4),
    ),
    (
        "UA-59",
        "Sumy Oblast",
        "Сумская область",
        "Сумська область",
        "UA",
        "21",
        shapely.box(35.0, 50.6, 35.6, 51.0),
    ),
]
TINY_GEONAMES = [
    # place_id, name, alt names, country, region, lat, lon
    ("gn-1", "Sudzha", "Sudscha|Суджа", "RU", "RU-KRS", 51.19, 35.27),
    ("gn-2", "Korenevo", "Кореневo|Кореневе", "RU", "RU-KRS", 51.35, 35.10),
    ("gn-3", "Yunakivka", "Юнаківка", "UA", "UA-59", 50.95, 35.30),
    ("gn-4", "Popovka", "Поповка", "RU", "RU-KRS", 51.30, 35.50),
    ("gn-5", "Popovka", "Поповка|Popivka", "UA", "UA-59", 50.80, 35.50),
]
TINY_CURATED = [
    # place_id, name, name_ru, name_uk, alt, country, region, lat, lon, precision, verified
    (
        "cur-gornal",
        "Gornal",
        "Горналь",
        "Горналь",
        "Hornal",
        "RU",
        "Kursk",
        51.066,
        35.232,
        "1000",
        "true",
    ),
    ("cur-lost", "Lostovka", "Лостовка", "", "", "RU", "Kursk", "", "", "", "false"),
]


def write_csv(path: Path, columns: list[str] | tuple[str, ...], rows: list[dict[str, str]]) -> None:
    """Write rows as CSV with the given header."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)


def claim_row(**values: str) -> dict[str, str]:
    """A valid claim row; keyword arguments override fields."""
    row = dict.fromkeys(CLAIM_COLUMNS, "")
    row.update(
        {
            "claim_id": "c1",
            "date": "2024-08-15",
            "date_certain": "true",
            "claimant": "ua-gs",
            "kind": "control",
            "side": "UA",
            "place": "Sudzha",
            "region": "Kursk",
            "publisher": "Test Wire",
            "source_date": "2024-08-15",
            "title": "Test headline",
            "paraphrase": "A test claim.",
            "confidence": "high",
        }
    )
    row.update(values)
    return row


def make_theatre_dir(root: Path, claims: list[dict[str, str]]) -> Path:
    """Write a tiny theatre (regions, border, places, claimants, claims) under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    features = [
        {
            "type": "Feature",
            "geometry": mapping(geom),
            "properties": {
                "region_id": rid,
                "name_en": en,
                "name_ru": ru,
                "name_uk": uk,
                "country": c,
                "geonames_admin1": a1,
                "official_area_km2": 0,
                "source": "test fixture",
                "licence": "CC0",
            },
        }
        for rid, en, ru, uk, c, a1, geom in TINY_REGIONS
    ]
    (root / "regions.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8"
    )
    (root / "border.geojson").write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "geometry": mapping(shapely.LineString([(35.0, 51.0), (35.6, 51.0)])),
                        "properties": {"source": "test fixture", "licence": "CC0"},
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    write_csv(
        root / "places_geonames.csv",
        GEONAMES_COLUMNS,
        [
            {
                "place_id": pid,
                "geonameid": pid[3:],
                "name": name,
                "alt_names": alt,
                "country": c,
                "region_id": r,
                "admin1": "",
                "lat": str(lat),
                "lon": str(lon),
                "population": "1000",
                "precision_m": "1000",
                "verified": "true",
                "source": "test",
                "source_url": "",
                "licence": "CC0",
            }
            for pid, name, alt, c, r, lat, lon in TINY_GEONAMES
        ],
    )
    write_csv(
        root / "places_curated.csv",
        CURATED_COLUMNS,
        [
            {
                "place_id": pid,
                "name": n,
                "name_ru": ru,
                "name_uk": uk,
                "alt_names": alt,
                "country": c,
                "region": r,
                "district": "",
                "lat": str(lat),
                "lon": str(lon),
                "precision_m": p,
                "verified": v,
                "source": "test",
                "source_url": "",
                "licence": "CC0",
                "note": "",
            }
            for pid, n, ru, uk, alt, c, r, lat, lon, p, v in TINY_CURATED
        ],
    )
    write_csv(
        root / "claimants.csv",
        CLAIMANT_COLUMNS,
        [
            {
                "claimant_id": cid,
                "name": cid,
                "description": "test",
                "affiliation": aff,
                "licence": "test",
            }
            for cid, aff in (
                ("ru-mod", "RU"),
                ("ua-gs", "UA"),
                ("deepstate", "independent"),
                ("isw", "independent"),
            )
        ],
    )
    write_csv(root / "claims.csv", CLAIM_COLUMNS, claims)
    return root


@pytest.fixture
def tiny_theatre(tmp_path: Path) -> Theatre:
    """A tiny theatre whose ledger holds the stale-claim case of Sudzha and a denial."""
    claims = [
        claim_row(claim_id="ua-sudzha", date="2024-08-15", claimant="ua-gs", place="Sudzha"),
        claim_row(claim_id="ua-gornal", date="2024-08-20", claimant="ua-gs", place="Gornal"),
        claim_row(
            claim_id="ru-korenevo",
            date="2024-08-20",
            claimant="ru-mod",
            place="Korenevo",
            side="RU",
        ),
        claim_row(
            claim_id="isw-korenevo",
            date="2024-08-20",
            claimant="isw",
            place="Korenevo",
            side="contested",
        ),
        claim_row(
            claim_id="ru-sudzha", date="2025-03-13", claimant="ru-mod", place="Sudzha", side="RU"
        ),
        claim_row(
            claim_id="ru-gornal", date="2025-04-26", claimant="ru-mod", place="Gornal", side="RU"
        ),
        claim_row(
            claim_id="ua-deny",
            date="2025-04-26",
            claimant="ua-gs",
            kind="denial",
            side="contested",
            place="Kursk region",
            disputes="ru-gornal",
        ),
        claim_row(
            claim_id="ua-area",
            date="2024-08-20",
            claimant="ua-gs",
            kind="area",
            place="Kursk region",
            area_km2="1263",
            settlements="93",
        ),
    ]
    root = make_theatre_dir(tmp_path / "geo", claims)
    return load_theatre(root, cache_dir=tmp_path / "cache", max_radius_m=8_000)


@pytest.fixture(scope="session")
def kursk() -> Theatre:
    """The embedded Kursk theatre from data/geo/."""
    return load_theatre(settings.DATA_DIR)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the test item, so fixtures can see a failure."""
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep


def add_place(root: Path, place_id: str, name: str, source: str = "test") -> None:
    """Append a located, verified curated place (in Kursk region) to a theatre folder."""
    with (root / "places_curated.csv").open("a", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerow(
            [
                place_id,
                name,
                "",
                "",
                "",
                "RU",
                "Kursk",
                "",
                "51.25",
                "35.40",
                "1000",
                "true",
                source,
                "",
                "CC0",
                "",
            ]
        )


def feature(geom: BaseGeometry, **props: object) -> dict[str, Any]:
    """A GeoJSON Feature of a shapely geometry and properties."""
    return {"type": "Feature", "properties": props, "geometry": mapping(geom)}


def feature_collection(*features: dict[str, Any]) -> bytes:
    """A GeoJSON FeatureCollection as UTF-8 bytes."""
    doc = {"type": "FeatureCollection", "features": list(features)}
    return json.dumps(doc, ensure_ascii=False).encode()


def _square(lon: float, lat: float, half: float) -> BaseGeometry:
    return shapely.box(lon - half, lat - half, lon + half, lat + half)


def deepstate_style_geojson() -> bytes:
    """A small GeoJSON in the shape of DeepState's export (made up here, not their data).

    The labels have the export's shape: bilingual ``name`` values joined by ``///``, a
    no-break space, and a ``{{at:25.03}}`` date tag (which a template engine would try to
    evaluate); fill colours, and points mixed with polygons: a "Liberated" square around
    Sudzha, an "Occupied" square in Kharkiv oblast, an unmatched polygon, two points, and
    an HTML payload in a description.
    """
    polygons = [
        (DEEPSTATE_LABEL, "#1f5fbf", _square(35.27, 51.19, 0.06), PAYLOAD_TEXT),
        ("Окуповано\xa0/// Occupied {{at:25.03}}", "#a52714", _square(35.9, 50.2, 0.05), ""),
        ("Невідомо /// Unknown", "#777777", _square(35.5, 51.3, 0.02), ""),
    ]
    points = [
        feature(
            shapely.Point(35.3 + k / 10, 51.2), name="Бої /// Fighting", **{"marker-color": "#f00"}
        )
        for k in range(2)
    ]
    return feature_collection(
        *(
            feature(
                geom, name=name, fill=fill, stroke=fill, description=text, **{"fill-opacity": 0.3}
            )
            for name, fill, geom, text in polygons
        ),
        *points,
    )


PAYLOAD_TEXT = "<img src=x onerror=alert(1)><script>alert(2)</script>"
DEEPSTATE_LABEL = "Звільнено\xa0/// Liberated {{at:25.03}}"
"""The Liberated square's label, as DeepState's export writes such labels."""


@pytest.fixture(autouse=True, scope="session")
def _no_shared_store(tmp_path_factory: pytest.TempPathFactory) -> Generator[None, None, None]:
    """Tests never read or write the repository's own store (``data/store/``)."""
    import os

    before = os.environ.get("FRONTLINE_STORE")
    os.environ["FRONTLINE_STORE"] = str(tmp_path_factory.mktemp("store") / "none.gpkg")
    yield
    if before is None:
        del os.environ["FRONTLINE_STORE"]
    else:
        os.environ["FRONTLINE_STORE"] = before


def svg_texts(svg: bytes) -> list[str]:
    """The text of every ``<text>`` element of an SVG (parsing it also proves it valid XML)."""
    from defusedxml.ElementTree import fromstring

    return ["".join(e.itertext()) for e in fromstring(svg).iter("{http://www.w3.org/2000/svg}text")]


def shown(markdown: str) -> str:
    """The text a Streamlit message shows: its Markdown source without escapes or joiners."""
    markdown = markdown.replace("\u2060", "")
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown)
