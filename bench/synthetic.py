"""A synthetic whole front: many settlements and a front line that moves for many days."""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

START = dt.date(2022, 1, 1)


def synthetic_regions() -> gpd.GeoDataFrame:
    """Two countries sharing the 50th parallel (a vertex every degree, a valid coverage)."""
    xs = [float(x) for x in range(30, 41)]
    border = [(x, 50.0) for x in xs]
    north = shapely.Polygon([(30.0, 53.0), *border, (40.0, 53.0)])
    south = shapely.Polygon([(30.0, 47.0), (40.0, 47.0), *reversed(border)])
    return gpd.GeoDataFrame(
        {"region_id": ["RU-N", "UA-S"], "country": ["RU", "UA"]},
        geometry=[north, south],
        crs="EPSG:4326",
    )


def synthetic_places(n: int, seed: int = 1) -> gpd.GeoDataFrame:
    """``n`` settlements spread over the theatre."""
    rng = np.random.default_rng(seed)
    lon, lat = rng.uniform(30, 40, n), rng.uniform(47, 53, n)
    return gpd.GeoDataFrame(
        {"place_id": [f"s{i}" for i in range(n)], "country": np.where(lat >= 50, "RU", "UA")},
        geometry=shapely.points(lon, lat),
        crs="EPSG:4326",
    )


def synthetic_claims(places: gpd.GeoDataFrame, days: int, seed: int = 2) -> pd.DataFrame:
    """Claims of a front that pushes south into UA, then is pushed back, over ``days`` days.

    Every day each settlement that the front crossed is claimed by the side now holding
    it (alternately by two claimants), settlements within 3 km of the front are claimed
    contested, and a few random counter-claims add noise.
    """
    rng = np.random.default_rng(seed)
    lon = shapely.get_x(places.geometry.to_numpy())
    lat = shapely.get_y(places.geometry.to_numpy())
    ids = places["place_id"].to_numpy()
    wave = 0.5 + 0.5 * np.sin(lon * 1.7)
    held_ru = lat >= 50
    rows: list[tuple[dt.date, str, str, str]] = []
    for d in range(days):
        depth = 1.6 * np.sin(np.pi * d / days)
        front = 50 - depth * wave
        now_ru = lat >= front
        day = START + dt.timedelta(days=d)
        changed = np.flatnonzero(now_ru != held_ru)
        for i in changed:
            side = "RU" if now_ru[i] else "UA"
            rows.append((day, ids[i], "ru-mod" if d % 2 else "isw", side))
        near = np.flatnonzero(np.abs(lat - front) < 0.03)
        for i in near[:20]:
            rows.append((day, ids[i], "deepstate", "contested"))
        for i in rng.choice(len(ids), 3, replace=False):
            rows.append((day, ids[i], "ua-gs", "UA" if not now_ru[i] else "RU"))
        held_ru = now_ru
    events = pd.DataFrame(rows, columns=["date", "place_id", "claimant", "side"])
    events["claim_id"] = [f"e{i}" for i in range(len(events))]
    events["denial"] = False
    return events
