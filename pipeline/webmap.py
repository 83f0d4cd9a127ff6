"""Web map: Folium (Leaflet) maps of the theatre and of what each view holds on a date.

The map is split in two so that a date change sends only what changed: a **base map**
(tiles when reachable, regions, border, settlements; built once) and a **ground layer**
(each chosen view's ground beyond the border, and where two views disagree; rebuilt per
date). Leaflet is served from the installed ``xstatic-leaflet`` package, never a CDN.
Every element comes from :mod:`pipeline._leaflet`: its output is never rendered as a
template a second time, data are embedded only as escaped JSON, and every text shown in a
tooltip or popup is set as a text node — feature properties are data, never HTML or code.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.errors
import shapely.geometry
from numpy.typing import NDArray

from pipeline import settings
from pipeline._files import atomic_write
from pipeline._leaflet import (
    STATIC_URL,
    DataLayer,
    HatchPattern,
    OfflineMap,
    Playback,
    SafeGroup,
    ShownDate,
    TheatreLayers,
    ViewInUrl,
)
from pipeline.build import Theatre

SIDE_COLOURS: dict[str, str] = {
    "UA": "#1f5fbf",
    "RU": "#c8102e",
    "contested": "#8a8a8a",
    "UA inferred": "#8fb1e3",
    "RU inferred": "#eb9aa6",
}
"""Fill colour of each status, the same everywhere in the product (inferred: lighter)."""

DISAGREEMENT_COLOUR = "#7b2cbf"
"""Outline and hatch colour of ground where two views disagree."""

SIDE_LABELS: dict[str, str] = {
    "UA": "held by Ukraine",
    "RU": "held by Russia",
    "contested": "contested",
    "UA inferred": "inferred Ukrainian (unclaimed, enclosed by Ukrainian-held settlements)",
    "RU inferred": "inferred Russian (unclaimed, enclosed by Russian-held settlements)",
}

SIMPLIFY_DEG = 0.0006
"""Drawing tolerance (about 50 m): ground is simplified before it is sent to the browser."""


def _capital(text: str) -> str:
    """The text with its first letter capitalised (``str.capitalize`` lowers the rest)."""
    return text[:1].upper() + text[1:]


def _geojson(geom: shapely.Geometry) -> dict[str, Any]:
    """GeoJSON geometry simplified for drawing, snapped to a 1e-4 degree grid.

    A simplified polygon can be invalid (a hole touching its shell); it is then repaired
    with ``make_valid`` before snapping, and if snapping still fails its coordinates are
    rounded as they are.
    """
    simple = shapely.simplify(geom, SIMPLIFY_DEG)
    try:
        small = shapely.set_precision(simple, 1e-4)
    except shapely.errors.GEOSException:
        repaired = shapely.make_valid(simple)
        try:
            small = shapely.set_precision(repaired, 1e-4)
        except shapely.errors.GEOSException:
            small = shapely.transform(repaired, lambda xy: np.round(xy, 4))
    return dict(shapely.geometry.mapping(cast("shapely.geometry.base.BaseGeometry", small)))


def _style(side: str, primary: bool) -> dict[str, Any]:
    return {
        "fillColor": SIDE_COLOURS[side],
        "color": SIDE_COLOURS[side],
        "weight": 1 if primary else 2,
        "fillOpacity": (0.3 if "inferred" in side else 0.45) if primary else 0.0,
        "dashArray": "4 4" if side == "contested" or not primary else None,
    }


def theatre_layers(theatre: Theatre) -> dict[str, dict[str, Any]]:
    """The date-independent layers as GeoJSON: regions, border, located settlements.

    Parameters
    ----------
    theatre : Theatre
        The loaded theatre.

    Returns
    -------
    dict
        ``regions``, ``border`` and ``settlements`` FeatureCollections (EPSG:4326).
        Settlements carry ``name``, ``place_id``, ``source``, ``verified``,
        ``precision_m``, ``population`` (0 when unknown) and ``claimed`` (named in the
        ledger).
    """
    claimed = set(theatre.claims["place_id"])
    located = theatre.places[theatre.places["located"]]
    evidence: dict[str, list[dict[str, Any]]] = {}
    for c in theatre.claims.to_dict("records"):
        evidence.setdefault(str(c["place_id"]), []).append(
            {
                "date": c["date"].isoformat(),
                "claimant": c["claimant"],
                "kind": c["kind"],
                "side": c["side"],
                "publisher": c["publisher"],
                "title": c["title"],
                "url": c["url"] if str(c["url"]).startswith(("https://", "http://")) else "",
                "quote": c["quote"],
                "paraphrase": c["paraphrase"],
                "confidence": c["confidence"],
            }
        )
    return {
        "regions": _collection(theatre.regions.geometry, [{} for _ in range(len(theatre.regions))]),
        "border": _collection(
            theatre.border_lines().geometry, [{} for _ in range(len(theatre.border_lines()))]
        ),
        "settlements": _collection(
            located.geometry,
            [
                {
                    "name": r.name,
                    "place_id": r.place_id,
                    "source": r.source,
                    "verified": bool(r.verified),
                    "precision_m": float(r.precision_m),
                    "population": 0 if pd.isna(r.population) else int(r.population),
                    "claimed": r.place_id in claimed,
                    "claims": evidence.get(r.place_id, []),
                }
                for r in located.itertuples(index=False)
            ],
        ),
    }


def _collection(geoms: Any, props: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": _geojson(g), "properties": p}
            for g, p in zip(geoms, props, strict=True)
        ],
    }


def publish_json(static_dir: Path, fingerprint: str, stem: str, payload: object) -> str:
    """Write JSON into the theatre's static folder once (atomically) and return its URL.

    Parameters
    ----------
    static_dir : pathlib.Path
        The app's static folder (served at :data:`STATIC_URL`).
    fingerprint : str
        The theatre's fingerprint (names the folder, so new data gets new URLs).
    stem : str
        File name without ``.json``.
    payload : object
        Anything :func:`json.dump` accepts.

    Returns
    -------
    str
        The file's URL.
    """
    folder = static_dir / f"frontline-{fingerprint}"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{stem}.json"
    if not target.exists():
        text = json.dumps(payload, separators=(",", ":"), default=str, allow_nan=False)
        atomic_write(target, lambda p: p.write_text(text, encoding="utf-8"))
    return f"{STATIC_URL}/frontline-{fingerprint}/{stem}.json"


LAYERS_FORMAT = 2
"""Version of the static layers' layout; it names their folder, so a page never reads an
older layout (2: settlements carry their population, for labels by importance)."""

PLAYBACK_FORMAT = 2
"""Version of :func:`playback_data`'s layout; it names the file, so a cached older one is
never read by a newer page (2: per-date areas)."""


def _playback_stem(view: str) -> str:
    return f"playback{PLAYBACK_FORMAT}-{view}"


def write_static_layers(
    theatre: Theatre, static_dir: Path, views: Sequence[str], within: str | None = None
) -> str:
    """Write the date-independent layers and playback data as static files, once.

    The browser fetches them once and caches them, so the map sent on every rerun
    stays a few kilobytes. Files go to a folder named by the theatre's fingerprint.

    Parameters
    ----------
    theatre : Theatre
        The loaded theatre.
    static_dir : pathlib.Path
        The app's static folder (served at :data:`STATIC_URL`).
    views : sequence of str
        Views whose playback data to write.
    within : str, optional
        Region (ISO 3166-2 id) the playback data's per-date areas are measured in.

    Returns
    -------
    str
        URL of the folder, e.g. ``/app/static/frontline-<fingerprint>``.
    """
    key = f"{theatre.fingerprint}-v{LAYERS_FORMAT}"
    if not (static_dir / f"frontline-{key}" / "settlements.json").exists():
        for stem, payload in theatre_layers(theatre).items():
            publish_json(static_dir, key, stem, payload)
    for view in views:
        publish_json(
            static_dir, key, _playback_stem(view), playback_data(theatre, view, within=within)
        )
    return f"{STATIC_URL}/frontline-{key}"


def base_map(
    theatre: Theatre,
    focus: str = "RU-KRS",
    tiles: bool = True,
    playback: str | None = None,
    static_url: str | None = None,
) -> folium.Map:
    """The parts of the map that do not change with the date.

    Parameters
    ----------
    theatre : Theatre
        The loaded theatre.
    focus : str, default "RU-KRS"
        Region to centre the map on.
    tiles : bool, default True
        Add OpenStreetMap tiles (drawn when the network reaches them; the theatre's own
        layers keep the map legible without them).
    playback : str, optional
        A view whose whole timeline a play button animates in the browser.
    static_url : str, optional
        Where :func:`write_static_layers` put the layers; without it they are inlined.

    Returns
    -------
    folium.Map
        Regions, the border, and every located settlement with its source; unverified
        positions are drawn hollow with their precision ring.
    """
    region = theatre.regions.loc[theatre.regions["region_id"] == focus]
    minx, miny, maxx, maxy = region.total_bounds
    # Open on the ground the ledger speaks of: the located settlements it names.
    named = theatre.places[
        theatre.places["located"]
        & theatre.places["place_id"].isin(set(theatre.claims["place_id"]))
        & (theatre.places["region_id"] == focus)
    ]
    x0, y0, x1, y1 = named.total_bounds if len(named) else (minx, miny, maxx, maxy)
    fmap = OfflineMap(
        location=[(y0 + y1) / 2, (x0 + x1) / 2],
        zoom_start=10,
        tiles=None,
        control_scale=True,
    )
    if tiles:
        folium.TileLayer(
            "OpenStreetMap",
            attr="© OpenStreetMap contributors (ODbL)",
            name="OpenStreetMap tiles (online)",
        ).add_to(fmap)
    HatchPattern(DISAGREEMENT_COLOUR).add_to(fmap)
    ViewInUrl().add_to(fmap)
    TheatreLayers(static_url or theatre_layers(theatre)).add_to(fmap)
    if playback is not None:
        source: str | dict[str, Any] = (
            f"{static_url}/{_playback_stem(playback)}.json"
            if static_url
            else playback_data(theatre, playback, within=focus)
        )
        Playback(source, playback, [SIDE_COLOURS[s] for s in settings.STATUSES]).add_to(fmap)
    return fmap


def _feature(geom: shapely.Geometry, props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": _geojson(geom), "properties": props}


def _add_layer(group: folium.FeatureGroup, features: list[dict[str, Any]]) -> None:
    """Add features as one layer, styled and labelled (as plain text) by their properties."""
    if features:
        DataLayer(features).add_to(group)


def ground_layer(
    theatre: Theatre, views: Sequence[str], day: dt.date, since: dt.date | None = None
) -> folium.FeatureGroup:
    """What the chosen views hold beyond the border on a date, and where they disagree.

    The first view is filled; the others are outlined; ground where the first two views
    disagree is outlined in purple and carries both views' sides in its tooltip.

    Parameters
    ----------
    theatre : Theatre
        The loaded theatre.
    views : sequence of str
        View spellings (claimant ids, ``consolidated``), first is primary.
    day : datetime.date
        The date.
    since : datetime.date, optional
        Also draw what each side gained (thick outline) and lost (thick dashed outline)
        in the first view since this earlier date.

    Returns
    -------
    folium.FeatureGroup
        The layer (named ``ground``), to add to :func:`base_map`'s map.
    """
    group = SafeGroup("ground")
    group.add_child(ShownDate(day))
    # One layer element per layer (not per polygon): each element costs a template
    # call on every rerun. Labels are plain text: the tooltip shows them as text nodes.
    for i, view in enumerate(views):
        held = theatre.ground(view, day)
        parsed = theatre.view(view)
        features = [
            _feature(
                row.geometry,
                {
                    "style": _style(row.side, i == 0),
                    "label": (
                        f"{_capital(SIDE_LABELS[row.side])} {parsed.in_view()} on "
                        f"{day.isoformat()}, {row.area_km2:,.0f} km² ({row.area_mi2:,.0f} mi²); "
                        f"{parsed.description}"
                    ),
                },
            )
            for row in held.itertuples(index=False)
            if row.geometry is not None and not row.geometry.is_empty
        ]
        _add_layer(group, features)
    if len(views) >= 2:
        diff = theatre.disagreement(views[0], views[1], day)
        hatch = {
            "color": DISAGREEMENT_COLOUR,
            "weight": 2,
            "dashArray": "1 4",
            "fillColor": "url(#frontline-hatch)",
            "fillOpacity": 0.8,
        }
        _add_layer(
            group,
            [
                _feature(
                    row.geometry,
                    {
                        "style": hatch,
                        "label": (
                            f"disagreement on {day.isoformat()}: {views[0]} says {row.side_a}, "
                            f"{views[1]} says {row.side_b} — {row.area_km2:,.0f} km²"
                        ),
                    },
                )
                for row in diff.itertuples(index=False)
            ],
        )
    if since is not None and views:
        change = theatre.change(views[0], since, day)
        _add_layer(
            group,
            [
                _feature(
                    row.geometry,
                    {
                        "style": {
                            "color": SIDE_COLOURS[row.side],
                            "weight": 3,
                            "fill": False,
                            "dashArray": "8 5" if row.change == "lost" else None,
                        },
                        "label": (
                            f"{views[0]}: {row.side} {row.change} {row.area_km2:,.0f} km² "
                            f"({row.area_mi2:,.0f} mi²) between {since.isoformat()} and "
                            f"{day.isoformat()}: {row.moves}"
                        ),
                    },
                )
                for row in change.itertuples(index=False)
                if row.geometry is not None and not row.geometry.is_empty
            ],
        )
    return group


def map_of_view(
    theatre: Theatre, view: str | Sequence[str], day: dt.date, focus: str = "RU-KRS"
) -> folium.Map:
    """A complete map of one or several views on a date (base map plus ground layer).

    Parameters
    ----------
    theatre : Theatre
        The loaded theatre.
    view : str or sequence of str
        One view spelling, or several (first is primary).
    day : datetime.date
        The date.
    focus : str, default "RU-KRS"
        Region to centre the map on.

    Returns
    -------
    folium.Map
        The map.
    """
    views = [view] if isinstance(view, str) else list(view)
    fmap = base_map(theatre, focus)
    ground_layer(theatre, views, day).add_to(fmap)
    return fmap


def _codes(status: np.ndarray) -> str:
    """Status codes (0-9) as one character each."""
    return (status.astype(np.uint8) + ord("0")).tobytes().decode("ascii")


def playback_data(theatre: Theatre, view: str, within: str | None = None) -> dict[str, Any]:
    """Every change date of a view, compactly, for the map's timeline in the browser.

    Only the cells whose side ever differs from their country's are sent, once, as
    GeoJSON; each change date is then one character per cell (``0`` UA, ``1`` RU,
    ``2`` contested, ``3``/``4`` inferred UA/RU), so a whole timeline costs little more
    than one map. The areas the page's figures show are sent per change date too, so the
    map's timeline states them for any date without asking the server.

    Parameters
    ----------
    theatre : Theatre
        The loaded theatre.
    view : str
        View spelling.
    within : str, optional
        Region (ISO 3166-2 id) the areas are measured in, as the page's figures are
        (:func:`pipeline.timeline.side_areas`); the whole theatre when omitted.

    Returns
    -------
    dict
        ``view``, ``dates`` (ISO strings), ``base`` (baseline codes), ``frames`` (one
        code string per date), ``areas`` (per date: km² of ``UA``, ``contested`` and
        ``UA inferred``, each rounded as the page rounds them), ``within`` and ``cells``
        (a FeatureCollection, EPSG:4326, whose features carry their index ``i``).
    """
    table = theatre.table(view)
    statuses = np.array([table.cell_status(day) for day in table.dates], dtype=np.int8).reshape(
        len(table.dates), len(theatre.cells)
    )
    changing = np.flatnonzero((statuses != table.baseline).any(axis=0))
    cells = theatre.cells.iloc[changing].to_crs(settings.GEO_CRS)
    features = [
        {"type": "Feature", "geometry": _geojson(geom), "properties": {"i": k}}
        for k, geom in enumerate(cells.geometry)
    ]
    return {
        "view": view,
        "dates": [d.isoformat() for d in table.dates],
        "base": _codes(table.baseline[changing]),
        "frames": [_codes(s[changing]) for s in statuses],
        "areas": _frame_areas(theatre, statuses, within),
        "within": within,
        "cells": {"type": "FeatureCollection", "features": features},
    }


def _frame_areas(
    theatre: Theatre, statuses: NDArray[np.int8], within: str | None
) -> list[dict[str, int]]:
    """km² of each side per row of ``statuses`` (dates × cells), as :func:`side_areas` sums."""
    weights = theatre.cells["area_km2"].to_numpy(dtype=float)
    if within is not None:
        weights = np.where((theatre.cells["region_id"] == within).to_numpy(), weights, 0.0)
    n = len(settings.STATUSES)
    out = []
    for row in statuses:
        sums = np.bincount(row, weights=weights, minlength=n)
        area = dict(zip(settings.STATUSES, sums, strict=True))
        out.append({side: round(float(area[side])) for side in ("UA", "contested", "UA inferred")})
    return out


def upload_layer(polygons: gpd.GeoDataFrame, name: str = "upload") -> folium.FeatureGroup:
    """Outlines of uploaded polygons, labelled with their label and side (as plain text).

    Parameters
    ----------
    polygons : geopandas.GeoDataFrame
        Polygons with ``side`` and ``label`` columns, any CRS.
    name : str, default "upload"
        Layer name (a constant of the caller, not data).

    Returns
    -------
    folium.FeatureGroup
        One layer; property text is shown as text, never parsed as HTML or a template.
    """
    group = SafeGroup(name)
    geo = polygons.to_crs(settings.GEO_CRS)
    features = []
    for geom, side, label in zip(geo.geometry, geo["side"], geo["label"], strict=True):
        style = {**_style(str(side), False), "dashArray": "6 4", "weight": 3, "fillOpacity": 0}
        text = f"{label} ({side})" if label else str(side)
        features.append(_feature(geom, {"style": style, "label": text}))
    _add_layer(group, features)
    return group
