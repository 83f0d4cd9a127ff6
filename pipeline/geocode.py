"""Geocoding: a name (and optionally a date and a claimant) to GeoJSON features.

Settlements come back as points with their source and precision (unlocated ones with a
null geometry), districts and regions as polygons with their measured area and source,
and salients ("the Kursk salient") as the ground inside the region that the view gives
to UA on the date (held, contested, inferred, and the outline of held and inferred ground
together, each with its number of separate parts).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

import shapely
from shapely.geometry import mapping

from pipeline import settings
from pipeline.build import Theatre
from pipeline.errors import PlaceNotFoundError
from pipeline.places import Candidate, Resolution
from pipeline.timeline import STATUS_CODES, polygons_on

Feature = dict[str, Any]


def _clean(value: object) -> object:
    """JSON-safe scalar: NaN and pandas NA become None, numpy numbers become Python."""
    if value is None:
        return None
    try:
        if value != value:  # NaN
            return None
    except (TypeError, ValueError):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def _settlement_feature(
    theatre: Theatre, cand: Candidate, on: dt.date | None, claimant: str | None
) -> Feature:
    row = theatre.places.loc[theatre.places["place_id"] == cand.place_id].iloc[0]
    props: dict[str, Any] = {
        "place_id": cand.place_id,
        "name": row["name"],
        "kind": "settlement",
        "region_id": row["region_id"],
        "country": row["country"],
        "located": bool(row["located"]),
        "verified": bool(row["verified"]),
        "precision_m": _clean(row["precision_m"]),
        "population": _clean(row["population"]),
        "geonameid": _clean(row["geonameid"]),
        "names": list(row["names"]),
        "source": row["source"],
        "source_url": row["source_url"] or None,
        "licence": row["licence"],
        "note": row["note"] or None,
        "score": cand.score,
        "matched": cand.matched,
    }
    if on is not None:
        view = theatre.view(claimant or "consolidated")
        table = theatre.table(view)
        cells = theatre.cells["place_id"] == cand.place_id
        status = table.cell_status(on)[cells.to_numpy()]
        sides = {settings.STATUSES[int(s)] for s in status}
        props.update(
            {
                "view": view.label,
                "date": on.isoformat(),
                "side": sides.pop() if len(sides) == 1 else ("unmapped" if not sides else "mixed"),
            }
        )
        ledger = theatre.claims
        about = ledger[(ledger["place_id"] == cand.place_id) & (ledger["date"] <= on)]
        props["claims"] = [
            {
                "claim_id": r["claim_id"],
                "date": r["date"].isoformat(),
                "claimant": r["claimant"],
                "side": r["side"],
                "publisher": r["publisher"],
                "title": r["title"],
                "url": r["url"] or None,
                "confidence": r["confidence"],
            }
            for r in about.to_dict("records")
        ]
    geometry = mapping(row.geometry) if bool(row["located"]) else None
    return {"type": "Feature", "geometry": geometry, "properties": props}


def _region_feature(theatre: Theatre, region_id: str) -> Feature:
    row = theatre.regions.loc[theatre.regions["region_id"] == region_id].iloc[0]
    area = float(row["area_km2"])
    props = {
        "place_id": region_id,
        "region_id": region_id,
        "kind": "region",
        "name": row["name_en"],
        "name_ru": row["name_ru"],
        "name_uk": row["name_uk"],
        "country": row["country"],
        "area_km2": round(area, 1),
        "area_mi2": round(area * settings.SQ_MILES_PER_KM2, 1),
        "official_area_km2": _clean(row["official_area_km2"]),
        "source": row["source"],
        "licence": row["licence"],
    }
    return {"type": "Feature", "geometry": mapping(row.geometry), "properties": props}


_METHOD = (
    "union of the cells of settlements the view gives to {side}; cells: Voronoi cells of "
    "the dense gazetteer, uncapped within "
    f"{settings.FRONT_ZONE_M / 1000:g} km of a settlement named in a claim, else capped at "
    f"{settings.CELL_MAX_RADIUS_M / 1000:g} km; inferred: settlements no claimant of the "
    "view named, inside triangles (edges up to "
    f"{settings.INFER_MAX_EDGE_M / 1000:g} km) of a side's held settlements and the border"
)


def _district_feature(theatre: Theatre, district_id: str) -> Feature:
    districts = theatre.gazetteer.districts
    row = districts.loc[districts["raion_id"] == district_id].iloc[0]
    area = float(row["area_km2"])
    props = {
        "place_id": district_id,
        "kind": "district",
        "district_kind": row["kind"],
        "name": row["name"],
        "name_ru": row["name_ru"] or None,
        "name_uk": row["name_uk"] or None,
        "region_id": row["region_id"],
        "country": row["country"],
        "area_km2": round(area, 1),
        "area_mi2": round(area * settings.SQ_MILES_PER_KM2, 1),
        "source": row["source"],
        "source_url": row["source_url"] or None,
        "licence": row["licence"],
    }
    return {"type": "Feature", "geometry": mapping(row.geometry), "properties": props}


def _parts(geom: shapely.Geometry | None) -> int:
    """Number of separate polygons in ``geom`` (0 when empty)."""
    if geom is None or shapely.is_empty(geom):
        return 0
    return len(shapely.get_parts(geom))


def _salient_features(
    theatre: Theatre, region_id: str, on: dt.date | None, claimant: str | None
) -> list[Feature]:
    day = on or theatre.date_range()[1]
    view = theatre.view(claimant or "consolidated")
    held = polygons_on(theatre.table(view), theatre.cells, day, within=region_id)
    features = []
    kinds = {"UA": "salient", "contested": "salient-contested", "UA inferred": "salient-inferred"}

    def feature(kind: str, side: str, geom: shapely.Geometry | None, **props: Any) -> Feature:
        empty = geom is None or shapely.is_empty(geom)
        return {
            "type": "Feature",
            "geometry": None if empty else mapping(cast("shapely.Polygon", geom)),
            "properties": {
                "kind": kind,
                "region_id": region_id,
                "side": side,
                "view": view.label,
                "view_description": view.description,
                "date": day.isoformat(),
                **props,
                "parts": _parts(geom),
            },
        }

    for side, kind in kinds.items():
        row = held.iloc[STATUS_CODES[side]]
        features.append(
            feature(
                kind,
                side,
                row.geometry,
                area_km2=round(float(row["area_km2"]), 1),
                area_mi2=round(float(row["area_mi2"]), 1),
                cells=int(row["cells"]),
                method=_METHOD.format(side=side),
            )
        )
    # The outline: held and inferred ground as one body (they are unions of cells of one
    # partition, so their union has no slivers). Its area is stated as the sum of the two,
    # never as held ground.
    claimed, inferred = (held.iloc[STATUS_CODES[s]] for s in ("UA", "UA inferred"))
    pieces = [g for g in (claimed.geometry, inferred.geometry) if g is not None and not g.is_empty]
    outline = shapely.coverage_union_all(pieces) if pieces else None
    area = float(claimed["area_km2"]) + float(inferred["area_km2"])
    features.append(
        feature(
            "salient-outline",
            "UA held or inferred",
            outline,
            area_km2=round(area, 1),
            area_mi2=round(area * settings.SQ_MILES_PER_KM2, 1),
            held_km2=round(float(claimed["area_km2"]), 1),
            inferred_km2=round(float(inferred["area_km2"]), 1),
            method=(
                "union of the view's UA-held ground and its inferred UA ground (see the "
                "salient and salient-inferred features); inferred ground is no claim, and "
                "contested ground is not in the outline"
            ),
        )
    )
    return features


def _candidate_feature(theatre: Theatre, rank: int, cand: Candidate) -> Feature:
    point = theatre.gazetteer.point(cand.place_id)
    return {
        "type": "Feature",
        "geometry": None if point is None else mapping(shapely.Point(point)),
        "properties": {
            "rank": rank,
            "place_id": cand.place_id,
            "name": cand.name,
            "kind": cand.kind,
            "region_id": cand.region_id,
            "score": cand.score,
            "matched": cand.matched,
        },
    }


def geocode_to_features(
    theatre: Theatre,
    name: str,
    on: dt.date | None = None,
    claimant: str | None = None,
    region: str | None = None,
) -> dict[str, Any]:
    """Geocode a name to a GeoJSON FeatureCollection.

    Parameters
    ----------
    theatre : Theatre
        The loaded theatre.
    name : str
        A settlement, region or salient in any common spelling.
    on : datetime.date, optional
        Date for a settlement's status and for salients (default for salients: the
        ledger's last date).
    claimant : str, optional
        View for status and salients (default: consolidated over all claimants).
    region : str, optional
        Region context for ambiguous names.

    Returns
    -------
    dict
        A FeatureCollection. For an ambiguous name it holds the ranked candidates and
        ``"ambiguous": true``; callers must not take its first feature as the answer.

    Raises
    ------
    PlaceNotFoundError
        When nothing matches (with the closest names as suggestions).
    """
    gaz = theatre.gazetteer
    res: Resolution = gaz.resolve(name, region=region)
    if not res.candidates:
        raise PlaceNotFoundError(name, gaz.suggest(res.parsed.name or name))
    base: dict[str, Any] = {"type": "FeatureCollection", "query": name}
    if res.ambiguous:
        base["ambiguous"] = True
        base["features"] = [
            _candidate_feature(theatre, i + 1, c) for i, c in enumerate(res.candidates[:10])
        ]
        return base
    best = res.candidates[0]
    if res.kind == "salient":
        base["features"] = _salient_features(theatre, best.place_id, on, claimant)
    elif best.kind == "region":
        base["features"] = [_region_feature(theatre, best.place_id)]
    elif best.kind == "district":
        base["features"] = [_district_feature(theatre, best.place_id)]
    else:
        base["features"] = [_settlement_feature(theatre, best, on, claimant)]
    return base
