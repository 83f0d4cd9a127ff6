"""Places: the theatre's gazetteer and the resolution of names in any common spelling.

A place is a settlement (a point: from GeoNames *cities500*, curated with its own source,
or from the dense gazetteer extracts of Who's On First and GeoNames postal codes), a
district (a raion polygon from OpenStreetMap or Who's On First) or a first-level region
(a polygon). Where an extract repeats a settlement already known (the same GeoNames id,
or the same name within :data:`DUPLICATE_KM`), the known row stands and the extract's
spellings are added to it. Names resolve from Latin or Cyrillic spellings in many
transliteration schemes, Russian or Ukrainian forms, with or without "the village of",
"region" or "oblast", and fuzzily with a score. Names that fit several places equally
well are resolved by region context or reported as ranked candidates, never picked
silently.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from rapidfuzz import fuzz, process

from pipeline import boundaries, settings
from pipeline._names import (
    ParsedName,
    district_stem,
    loose_key,
    parse_query,
    plain_key,
    skeleton_key,
    spelling_keys,
)
from pipeline.errors import AmbiguousPlaceError, DataError, PlaceNotFoundError

PLACE_COLUMNS = (
    "place_id",
    "name",
    "names",
    "kind",
    "country",
    "region_id",
    "precision_m",
    "verified",
    "located",
    "population",
    "geonameid",
    "district_id",
    "source",
    "source_url",
    "licence",
    "note",
)
EXTRACTS = ("places_wof_ua.csv", "places_postal_ru.csv")
"""Dense gazetteer extracts of ``data/geo/`` (see ``GAZETTEER.md``), loaded after the rest."""

DUPLICATE_KM = 3.0
"""An extract's settlement this close to a known one of the same name is that place."""

GEONAMES_COLUMNS = (
    "place_id",
    "geonameid",
    "name",
    "alt_names",
    "country",
    "region_id",
    "admin1",
    "lat",
    "lon",
    "population",
    "precision_m",
    "verified",
    "source",
    "source_url",
    "licence",
)
CURATED_COLUMNS = (
    "place_id",
    "name",
    "name_ru",
    "name_uk",
    "alt_names",
    "country",
    "region",
    "district",
    "lat",
    "lon",
    "precision_m",
    "verified",
    "source",
    "source_url",
    "licence",
    "note",
)
_TRUE = {"true", "1", "yes"}


def _split_names(value: object, sep: str) -> list[str]:
    if not isinstance(value, str):
        return []
    return [n.strip() for n in value.split(sep) if n.strip()]


def _number(column: pd.Series) -> pd.Series:
    """A text column as floats, empty cells as NaN."""
    return pd.to_numeric(column.replace("", np.nan))


def _whole(column: pd.Series) -> pd.Series:
    """A text column as nullable integers, empty cells as NA."""
    return pd.to_numeric(column.replace("", None)).astype("Int64")


def _spellings(raw: pd.DataFrame, sep: str) -> list[list[str]]:
    """Each row's name, Russian and Ukrainian names (where present) and alternate names."""
    cols = [c for c in ("name", "name_ru", "name_uk") if c in raw.columns]
    return [
        list(dict.fromkeys(n for n in (r[c] for c in cols) if n))
        + _split_names(r["alt_names"], sep)
        for r in raw.to_dict("records")
    ]


def _place_frame(raw: pd.DataFrame, names: list[list[str]], **columns: Any) -> pd.DataFrame:
    """A settlement frame: the columns every source shares, read from ``raw``, then ``columns``."""
    shared = {
        "place_id": raw["place_id"],
        "name": raw["name"],
        "names": names,
        "kind": "settlement",
        "country": raw["country"],
        "lat": _number(raw["lat"]),
        "lon": _number(raw["lon"]),
        "precision_m": _number(raw["precision_m"]),
        "verified": raw["verified"].str.lower().isin(_TRUE),
        "source": raw["source"],
        "source_url": raw["source_url"],
        "licence": raw["licence"],
    }
    return pd.DataFrame({**shared, **columns})


def _geonames_frame(path: Path) -> pd.DataFrame:
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    return _place_frame(
        raw,
        _spellings(raw, "|"),
        region_id=raw["region_id"],
        population=_whole(raw["population"]),
        geonameid=_whole(raw["geonameid"]),
        district_id="",
        note="",
    )


def _extract_frame(path: Path) -> pd.DataFrame:
    """One dense gazetteer extract (``places_wof_ua.csv`` or ``places_postal_ru.csv``)."""
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    located = raw["located"].str.lower().isin(_TRUE)
    return _place_frame(
        raw,
        _spellings(raw, "|"),
        region_id=raw["region_id"],
        lat=_number(raw["lat"]).where(located),
        lon=_number(raw["lon"]).where(located),
        population=_whole(raw["population"]),
        geonameid=_whole(raw["geonameid"]),
        district_id=raw["district_id"],
        note=raw["note"],
        dense=True,
    )


def _merge_extract(known: pd.DataFrame, extract: pd.DataFrame) -> pd.DataFrame:
    """Add an extract's new settlements to ``known``; fold its duplicates into known rows.

    A row is a duplicate when it carries the GeoNames id of a known row, or when a known
    row with a common spelling lies within :data:`DUPLICATE_KM`. Its spellings (and its
    district, where the known row has none) go to the known row. An unlocated known row
    with a district takes its point from the extract's row of the same spelling when that
    row is the only one of the spelling in the district (both sources are kept), unless
    its note says it is "unlocated on purpose" (a part of a town, say).
    """
    known = known.reset_index(drop=True)
    by_geonameid = {int(g): i for i, g in enumerate(known["geonameid"]) if not pd.isna(g)}
    by_key: dict[str, list[int]] = defaultdict(list)
    for i, names in enumerate(known["names"]):
        for n in names:
            by_key[plain_key(str(n))].append(i)
    lat = known["lat"].to_numpy(dtype=float)
    lon = known["lon"].to_numpy(dtype=float)
    merged_names = [list(n) for n in known["names"]]
    districts = known["district_id"].astype(str).tolist()
    # Unlocated known rows with a district, by (district, spelling): an extract row that
    # is the only one of that spelling in that district locates them.
    unlocated: dict[tuple[str, str], list[int]] = defaultdict(list)
    on_purpose = known["note"].astype(str).str.startswith("unlocated on purpose").tolist()
    for i, names in enumerate(known["names"]):
        if np.isnan(lat[i]) and districts[i] and not on_purpose[i]:
            for n in names:
                unlocated[(districts[i], plain_key(str(n)))].append(i)
    records = cast("list[dict[str, Any]]", extract.to_dict("records"))
    in_district: dict[tuple[str, str], int] = defaultdict(int)
    for rec in records:
        for n in {plain_key(str(n)) for n in rec["names"]}:
            in_district[(str(rec["district_id"]), n)] += 1
    located_by: dict[int, dict[str, Any]] = {}
    keep: list[int] = []
    for j, row in enumerate(records):
        keys = {(str(row["district_id"]), plain_key(str(n))) for n in row["names"]}
        owners = {i for k in keys if in_district[k] == 1 for i in unlocated.get(k, ())}
        if len(owners) == 1 and not pd.isna(row["lat"]):
            i = owners.pop()
            if i not in located_by:
                located_by[i] = row
                merged_names[i] += [n for n in row["names"] if n not in merged_names[i]]
                continue
        target = None if pd.isna(row["geonameid"]) else by_geonameid.get(int(row["geonameid"]))
        if target is None and not pd.isna(row["lat"]):
            near = {i for n in row["names"] for i in by_key.get(plain_key(str(n)), ())}
            for i in sorted(near):
                if np.isnan(lat[i]):
                    continue
                km = 111.32 * math.hypot(
                    (lon[i] - row["lon"]) * math.cos(math.radians(row["lat"])), lat[i] - row["lat"]
                )
                if km <= DUPLICATE_KM:
                    target = i
                    break
        if target is None:
            keep.append(j)
            continue
        merged_names[target] += [n for n in row["names"] if n not in merged_names[target]]
        if not districts[target]:
            districts[target] = str(row["district_id"])
    cols: dict[str, list[Any]] = {
        c: known[c].tolist()
        for c in ("lat", "lon", "precision_m", "source", "licence", "geonameid")
    }
    for i, row in located_by.items():
        for c in ("lat", "lon", "precision_m"):
            cols[c][i] = row[c]
        cols["source"][i] = (
            f"{cols['source'][i]}; point: {row['source']} (the one {row['name']} of "
            "its district in that extract)"
        )
        cols["licence"][i] = f"{cols['licence'][i]}; point: {row['licence']}"
        if pd.isna(cols["geonameid"][i]):
            cols["geonameid"][i] = row["geonameid"]
    known = known.assign(
        names=pd.Series(merged_names, index=known.index),
        district_id=districts,
        **{c: pd.Series(v, index=known.index) for c, v in cols.items() if c != "geonameid"},
        geonameid=pd.array(cols["geonameid"], dtype="Int64"),
    )
    return pd.concat([known, extract.iloc[keep]], ignore_index=True)


def _region_id_by_name(regions: gpd.GeoDataFrame) -> dict[str, str]:
    lookup: dict[str, str] = {}
    for rid, name_en in zip(regions["region_id"], regions["name_en"], strict=True):
        base = str(name_en).replace(" Oblast", "").strip()
        lookup[plain_key(base)] = str(rid)
        lookup[plain_key(str(rid))] = str(rid)
    return lookup


def _district_ids(
    raw: pd.DataFrame, region_col: list[str], districts: gpd.GeoDataFrame
) -> list[str]:
    """The raion id of each curated row's ``district`` name in its region, or ``""``."""
    by_stem: dict[tuple[str, str], list[str]] = defaultdict(list)
    for did, rid, name in zip(
        districts["raion_id"], districts["region_id"], districts["name"], strict=True
    ):
        by_stem[(str(rid), district_stem(str(name)))].append(str(did))
    out = []
    for rid, name in zip(region_col, raw["district"], strict=True):
        hits = by_stem.get((rid, district_stem(name)), []) if name.strip() else []
        out.append(hits[0] if len(hits) == 1 else "")
    return out


def _curated_frame(
    path: Path, regions: gpd.GeoDataFrame, districts: gpd.GeoDataFrame
) -> pd.DataFrame:
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in CURATED_COLUMNS if c not in raw.columns]
    if missing:
        raise DataError(str(path), [f"missing column {c!r}" for c in missing])
    region_ids = _region_id_by_name(regions)
    problems: list[str] = []
    region_col: list[str] = []
    for i, row in raw.iterrows():
        line = int(str(i)) + 2
        rid = region_ids.get(plain_key(row["region"]))
        if rid is None:
            problems.append(f"line {line} ({row['place_id']}): unknown region {row['region']!r}")
        region_col.append(rid or "")
        if not row["source"].strip():
            problems.append(f"line {line} ({row['place_id']}): no source")
        if bool(row["lat"].strip()) != bool(row["lon"].strip()):
            problems.append(f"line {line} ({row['place_id']}): lat and lon must both be set")
        if row["lat"].strip() and not row["precision_m"].strip():
            problems.append(f"line {line} ({row['place_id']}): located but no precision_m")
    dupes = raw["place_id"][raw["place_id"].duplicated()].tolist()
    problems += [f"duplicate place_id {d!r}" for d in dupes]
    if problems:
        raise DataError(str(path), problems)
    return _place_frame(
        raw,
        _spellings(raw, ";"),
        region_id=region_col,
        population=pd.array([pd.NA] * len(raw), dtype="Int64"),
        geonameid=pd.array([pd.NA] * len(raw), dtype="Int64"),
        district_id=_district_ids(raw, region_col, districts),
        note=raw["note"],
    )


def _with_aliases(df: pd.DataFrame, path: Path) -> list[list[str]]:
    """Add the sourced extra spellings of ``places_aliases.csv`` to each place's names."""
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    known = set(df["place_id"])
    problems = [
        f"line {i + 2}: unknown place_id {pid!r}"
        for i, pid in enumerate(raw["place_id"])
        if pid not in known
    ]
    problems += [
        f"line {i + 2} ({pid}): no source"
        for i, (pid, src) in enumerate(zip(raw["place_id"], raw["source"], strict=True))
        if not src.strip()
    ]
    if problems:
        raise DataError(str(path), problems)
    extra = raw.groupby("place_id")["alias"].apply(list).to_dict()
    return [
        [*names, *extra.get(pid, [])]
        for pid, names in zip(df["place_id"], df["names"], strict=True)
    ]


@lru_cache(maxsize=4)
def places_gdf(data_dir: Path = settings.DATA_DIR) -> gpd.GeoDataFrame:
    """Every settlement of the theatre: GeoNames, the curated villages and the extracts.

    Parameters
    ----------
    data_dir : pathlib.Path
        Folder holding ``places_geonames.csv``, ``places_curated.csv``,
        ``places_aliases.csv`` (sourced extra spellings of GeoNames places) and the dense
        extracts of :data:`EXTRACTS` (optional; duplicates of known places are folded in).

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326 points with the columns of :data:`PLACE_COLUMNS`; unlocated places have
        an empty geometry and ``located == False``; ``dense`` marks rows that came from
        an extract (they yield to curated and GeoNames rows on a tied name); ``mapped``
        marks located rows that get a territory cell: every curated and GeoNames row,
        and an extract's row unless it is less precise than
        :data:`pipeline.settings.MAP_PRECISION_M`, shares its point with another place
        or lies outside its own country. Treat as read-only (cached).

    Raises
    ------
    DataError
        When a curated row lacks a source, names an unknown region or is half-located.
    """
    regions = boundaries.regions_gdf(data_dir)
    frames = [_geonames_frame(data_dir / "places_geonames.csv")]
    curated = data_dir / "places_curated.csv"
    if curated.exists():
        frames.append(_curated_frame(curated, regions, boundaries.districts_gdf(data_dir)))
    df = pd.concat(frames, ignore_index=True)
    aliases = data_dir / "places_aliases.csv"
    if aliases.exists():
        df["names"] = _with_aliases(df, aliases)
    for name in EXTRACTS:
        if (data_dir / name).exists():
            df = _merge_extract(df, _extract_frame(data_dir / name))
    located = df["lat"].notna() & df["lon"].notna()
    geometry = np.asarray(
        shapely.points(df["lon"].fillna(0).to_numpy(), df["lat"].fillna(0).to_numpy()),
        dtype=object,
    )
    geometry[~located.to_numpy()] = None
    gdf = gpd.GeoDataFrame(df, geometry=geometry, crs=settings.GEO_CRS)
    gdf["located"] = located
    gdf["dense"] = gdf["dense"].eq(True) if "dense" in gdf else False
    xy = pd.Series(list(zip(df["lon"].round(4), df["lat"].round(4), strict=True)))
    # An extract's point outside every region of its own country is not mapped.
    tree = shapely.STRtree(regions.geometry.to_numpy())
    pt_idx, reg_idx = tree.query(geometry[located.to_numpy()], predicate="within")
    at_home = np.zeros(len(gdf), dtype=bool)
    rows = np.flatnonzero(located.to_numpy())[pt_idx]
    at_home[rows] = regions["country"].to_numpy()[reg_idx] == gdf["country"].to_numpy()[rows]
    dense = gdf["dense"].to_numpy()
    gdf["mapped"] = located & ~(
        dense
        & (
            (gdf["precision_m"] > settings.MAP_PRECISION_M).to_numpy()
            | xy.duplicated(keep=False).to_numpy()
            | ~at_home
        )
    )
    return gdf


@dataclass(frozen=True)
class Candidate:
    """One place a name may mean.

    Attributes
    ----------
    place_id : str
        Stable id: ``gn-<geonameid>``, ``cur-<slug>`` or the region's ISO 3166-2 code.
    name : str
        The place's main name.
    kind : str
        ``"settlement"``, ``"district"`` or ``"region"``.
    region_id : str
        The region the place lies in (itself for a region).
    country : str
        ``RU`` or ``UA``.
    score : float
        Match score, 0-100: 100 exact spelling, 97 same up to transliteration scheme,
        93 same consonant skeleton (Russian vs Ukrainian vowels), below that fuzzy.
    matched : str
        The known spelling that matched.
    """

    place_id: str
    name: str
    kind: str
    region_id: str
    country: str
    score: float
    matched: str

    def describe(self) -> str:
        """Return a one-line description for messages and listings."""
        return f"{self.name} [{self.place_id}, {self.region_id}] score {self.score:.0f}"


@dataclass(frozen=True)
class Resolution:
    """What a query resolved to: the ranked candidates and how to read them.

    Attributes
    ----------
    query : str
        The query as given.
    parsed : ParsedName
        The query split into name, kind and context.
    kind : str
        ``"settlement"``, ``"district"``, ``"region"`` or ``"salient"`` (ground held by
        UA in a region).
    candidates : tuple of Candidate
        Best first; empty when nothing matched.
    ambiguous : bool
        True when several candidates tie and no context separated them.
    """

    query: str
    parsed: ParsedName
    kind: str
    candidates: tuple[Candidate, ...] = field(default=())
    ambiguous: bool = False

    @property
    def best(self) -> Candidate:
        """The single resolved place.

        Returns
        -------
        Candidate
            The top candidate.

        Raises
        ------
        PlaceNotFoundError
            When nothing matched.
        AmbiguousPlaceError
            When several candidates tie.
        """
        if not self.candidates:
            raise PlaceNotFoundError(self.query)
        if self.ambiguous:
            raise AmbiguousPlaceError(
                self.query,
                [c.describe() for c in self.candidates],
                [c.region_id for c in self.candidates],
            )
        return self.candidates[0]


class Gazetteer:
    """Name index over the theatre's settlements and regions.

    Parameters
    ----------
    places : geopandas.GeoDataFrame
        Settlements as returned by :func:`places_gdf`.
    regions : geopandas.GeoDataFrame
        Regions as returned by :func:`pipeline.boundaries.regions_gdf`.
    districts : geopandas.GeoDataFrame, optional
        Districts as returned by :func:`pipeline.boundaries.districts_gdf`; they resolve
        as ``"Sudzhansky district"`` and serve as context (``"Basivka, Sumy raion"``).
    """

    def __init__(
        self,
        places: gpd.GeoDataFrame,
        regions: gpd.GeoDataFrame,
        districts: gpd.GeoDataFrame | None = None,
    ) -> None:
        self.places = places
        self.regions = regions
        self.districts = boundaries.empty_districts() if districts is None else districts
        self._info: dict[str, tuple[str, str, str, str]] = {}
        self._points: dict[str, tuple[float, float]] = {}
        self._primary: set[str] = set()
        self._settlement_keys: dict[str, set[tuple[str, str]]] = defaultdict(set)
        self._region_keys: dict[str, set[tuple[str, str]]] = defaultdict(set)
        for row in places.itertuples(index=False):
            pid = str(row.place_id)
            self._info[pid] = (str(row.name), "settlement", str(row.region_id), str(row.country))
            if row.located:
                self._points[pid] = (float(row.geometry.x), float(row.geometry.y))
            if not row.dense:
                self._primary.add(pid)
            for spelling in row.names:
                self._index(self._settlement_keys, pid, str(spelling))
        for row in regions.itertuples(index=False):
            rid = str(row.region_id)
            self._info[rid] = (str(row.name_en), "region", rid, str(row.country))
            for spelling in self._region_spellings(row):
                self._index(self._region_keys, rid, spelling)
        self._district_keys: dict[str, set[tuple[str, str]]] = defaultdict(set)
        self._district_stems: dict[str, list[tuple[str, str]]] = defaultdict(list)
        self._district_geoms: dict[str, shapely.Geometry] = {}
        self._district_kinds: dict[str, str] = {}
        for row in self.districts.itertuples(index=False):
            did = str(row.raion_id)
            self._info[did] = (str(row.name), "district", str(row.region_id), str(row.country))
            self._district_geoms[did] = row.geometry
            self._district_kinds[did] = str(row.kind)
            spellings = [str(row.name), str(row.name_ru), str(row.name_uk)]
            spellings += _split_names(row.alt_names, "|")
            for spelling in dict.fromkeys(s for s in spellings if s):
                self._index(self._district_keys, did, spelling)
                parsed = parse_query(spelling)
                if parsed.name and parsed.name != spelling:
                    self._index(self._district_keys, did, parsed.name)
                stem = district_stem(spelling)
                if len(stem) >= 3:
                    self._district_stems[stem].append((did, spelling))
        # Fuzzy matching runs over the plain keys; "~" marks loose keys, "#" skeletons.
        self._district_choices = sorted(k for k in self._district_keys if k[0] not in "~#")
        self._settlement_choices = sorted(k for k in self._settlement_keys if k[0] not in "~#")
        self._region_choices = sorted(k for k in self._region_keys if k[0] not in "~#")

    @staticmethod
    def _region_spellings(row: object) -> list[str]:
        out: list[str] = []
        for attr in ("name_en", "name_ru", "name_uk"):
            full = str(getattr(row, attr, "") or "")
            if not full:
                continue
            out.append(full)
            parsed = parse_query(full)
            if parsed.name and parsed.name != full:
                out.append(parsed.name)
        return out

    @staticmethod
    def _index(keys: dict[str, set[tuple[str, str]]], pid: str, spelling: str) -> None:
        for key in spelling_keys(spelling):
            keys[key].add((pid, spelling))
            keys["~" + loose_key(key)].add((pid, spelling))
            keys["#" + skeleton_key(key)].add((pid, spelling))

    def _score(
        self, name: str, keys: dict[str, set[tuple[str, str]]], choices: list[str]
    ) -> dict[str, tuple[float, str]]:
        best: dict[str, tuple[float, str]] = {}

        def offer(pid: str, score: float, spelling: str) -> None:
            if score > best.get(pid, (-1.0, ""))[0]:
                best[pid] = (score, spelling)

        for key in spelling_keys(name):
            for pid, spelling in keys.get(key, ()):
                offer(pid, 100.0, spelling)
            for pid, spelling in keys.get("~" + loose_key(key), ()):
                offer(pid, 97.0, spelling)
            for pid, spelling in keys.get("#" + skeleton_key(key), ()):
                offer(pid, 93.0, spelling)
            hits = process.extract(
                key, choices, scorer=fuzz.ratio, score_cutoff=settings.FUZZY_CUTOFF, limit=25
            )
            for choice, score, _ in hits:
                for pid, spelling in keys[choice]:
                    offer(pid, min(float(score), 92.0), spelling)
        return best

    def _candidates(self, scored: dict[str, tuple[float, str]]) -> list[Candidate]:
        out = []
        for pid, (score, spelling) in scored.items():
            name, kind, rid, country = self._info[pid]
            out.append(Candidate(pid, name, kind, rid, country, round(score, 1), spelling))
        out.sort(key=lambda c: (-c.score, c.kind != "settlement", c.name, c.place_id))
        return out

    def region_id_for(self, context: str) -> str | None:
        """Resolve a region given as context (``"Belgorod"``, ``"Курская"``, ``"RU-BEL"``).

        Parameters
        ----------
        context : str
            A region name in any spelling, with or without "region"/"oblast".

        Returns
        -------
        str or None
            The region's ISO 3166-2 code, or None when nothing matches well.
        """
        if context.upper() in set(self.regions["region_id"]):
            return context.upper()
        parsed = parse_query(context)
        scored = self._score(parsed.name, self._region_keys, self._region_choices)
        ranked = self._candidates(scored)
        if ranked and ranked[0].score >= 95:
            return ranked[0].place_id
        return None

    def _district_candidates(self, name: str) -> list[Candidate]:
        """Districts a name may mean: by spelling, or by the stem shared with the seat.

        "Sudzha district" finds Sudzhansky District through the stem ``sudz``; a stem
        equal to the district's scores 100, a prefix of at least four letters 95. City
        councils and okrugs score 5 below raions so "Sumy raion" means Sumskyi raion.
        """
        scored = self._score(name, self._district_keys, self._district_choices)
        stem = district_stem(name)
        if len(stem) >= 3:
            for known, hits in self._district_stems.items():
                if known == stem:
                    score = 100.0
                elif min(len(known), len(stem)) >= 4 and (
                    known.startswith(stem) or stem.startswith(known)
                ):
                    score = 95.0
                else:
                    continue
                for did, spelling in hits:
                    if score > scored.get(did, (-1.0, ""))[0]:
                        scored[did] = (score, spelling)
        for did, (score, spelling) in list(scored.items()):
            if self._district_kinds[did] != "raion":
                scored[did] = (score - 5.0, spelling)
        return [c for c in self._candidates(scored) if c.score >= 90]

    def district_id_for(self, context: str) -> str | None:
        """Resolve a district given as context (``"Sudzhansky"``, ``"Sumy raion"``).

        Parameters
        ----------
        context : str
            A district name or its seat's name, with or without "district"/"raion".

        Returns
        -------
        str or None
            The district's id, or None when no district matches well and alone.
        """
        ranked = [c for c in self._district_candidates(context) if c.score >= 95]
        if not ranked or self._tied(ranked):
            return None
        return ranked[0].place_id

    def _in_district(self, candidates: list[Candidate], district_id: str) -> list[Candidate]:
        area = shapely.buffer(self._district_geoms[district_id], 0.01)
        return [
            c
            for c in candidates
            if c.place_id in self._points and shapely.contains_xy(area, *self._points[c.place_id])
        ]

    def _near(self, candidates: list[Candidate], context: str) -> list[Candidate] | None:
        try:
            anchor = self.resolve(context).best
        except (PlaceNotFoundError, AmbiguousPlaceError):
            return None
        if anchor.place_id not in self._points:
            return None
        ax, ay = self._points[anchor.place_id]
        near = []
        for cand in candidates:
            if cand.place_id in self._points:
                x, y = self._points[cand.place_id]
                km = 111.32 * math.hypot((x - ax) * math.cos(math.radians(ay)), y - ay)
                if km <= 50:
                    near.append((km, cand))
        return [c for _, c in sorted(near, key=lambda t: t[0])]

    def resolve(self, query: str, region: str | None = None) -> Resolution:
        """Rank the places a query may mean.

        Parameters
        ----------
        query : str
            A name in any common spelling, optionally with words around it:
            ``"the village of Gornal"``, ``"Горналь"``, ``"Kursk region"``,
            ``"Popovka, Belgorod region"``, ``"the Kursk salient"``.
        region : str, optional
            Region context (name or ISO code) when the query has none.

        Returns
        -------
        Resolution
            Ranked candidates; ``ambiguous`` when several tie without context.
        """
        parsed = parse_query(query)
        context = parsed.context or region
        if not parsed.name:
            return Resolution(query, parsed, "settlement")
        if parsed.kind == "district":
            ranked = self._district_candidates(parsed.name)
            if context and (rid := self.region_id_for(context)) is not None:
                ranked = [c for c in ranked if c.region_id == rid]
            return Resolution(query, parsed, "district", tuple(ranked), self._tied(ranked))
        if parsed.kind in ("region", "salient"):
            scored = self._score(parsed.name, self._region_keys, self._region_choices)
            ranked = [c for c in self._candidates(scored) if c.score >= 90]
            kind = "salient" if parsed.kind == "salient" else "region"
            return Resolution(query, parsed, kind, tuple(ranked), self._tied(ranked))

        scored = self._score(parsed.name, self._settlement_keys, self._settlement_choices)
        ranked = self._candidates(scored)
        if not ranked or ranked[0].score < 97:
            regions = self._candidates(
                self._score(parsed.name, self._region_keys, self._region_choices)
            )
            if regions and regions[0].score >= 97:
                return Resolution(query, parsed, "region", tuple(regions[:1]))
        if context:
            did = None
            if parsed.context_kind == "district":
                did = self.district_id_for(context)
            rid = None if did else self.region_id_for(context)
            if did is None and rid is None:
                did = self.district_id_for(context)
            if did is not None:
                ranked, tied = self._settle(self._in_district(ranked, did))
                return Resolution(query, parsed, "settlement", tuple(ranked), tied)
            if rid is not None:
                ranked = [c for c in ranked if c.region_id == rid]
            else:
                near = self._near(ranked, context)
                if near is None:
                    return Resolution(query, parsed, "settlement")
                ranked = near
                return Resolution(query, parsed, "settlement", tuple(ranked), False)
        ranked, tied = self._settle(ranked)
        return Resolution(query, parsed, "settlement", tuple(ranked), tied)

    def _settle(self, ranked: list[Candidate]) -> tuple[list[Candidate], bool]:
        """Break a tie in favour of the one curated or GeoNames place among the tied.

        The curated villages are the places the ledger names, each hand-checked; a dense
        extract's namesake elsewhere (Mokhnivka, Chernihiv oblast, also spelt Makhnovka)
        ties with them on spelling alone. When exactly one tied candidate is not from an
        extract it comes first and the name is not ambiguous; otherwise it is.
        """
        if not self._tied(ranked):
            return ranked, False
        floor = ranked[0].score - settings.AMBIGUITY_MARGIN
        tied = [c for c in ranked if c.score >= floor]
        primary = [c for c in tied if c.place_id in self._primary]
        if len(primary) != 1:
            return ranked, True
        return primary + [c for c in ranked if c is not primary[0]], False

    @staticmethod
    def _tied(ranked: list[Candidate]) -> bool:
        if len(ranked) < 2:
            return False
        return ranked[1].score >= ranked[0].score - settings.AMBIGUITY_MARGIN

    def lookup(self, query: str, region: str | None = None) -> Candidate:
        """Resolve a query to exactly one place or raise.

        Parameters
        ----------
        query : str
            As for :meth:`resolve`.
        region : str, optional
            Region context.

        Returns
        -------
        Candidate
            The place.

        Raises
        ------
        PlaceNotFoundError
            When nothing matched; carries the closest names as suggestions.
        AmbiguousPlaceError
            When several places tie.
        """
        res = self.resolve(query, region)
        if not res.candidates:
            context = res.parsed.context or region
            if context:
                elsewhere = self.resolve(res.parsed.name)
                if elsewhere.candidates:
                    found = [c.describe() for c in elsewhere.candidates[:5]]
                    raise PlaceNotFoundError(res.parsed.name, found, region=context)
            raise PlaceNotFoundError(query, self.suggest(res.parsed.name or query))
        return res.best

    def suggest(self, name: str, limit: int = 5) -> list[str]:
        """Closest known names to a string that matched nothing, for error messages.

        Parameters
        ----------
        name : str
            The unmatched name.
        limit : int, default 5
            How many suggestions at most.

        Returns
        -------
        list of str
            ``"Name [place_id]"`` strings, closest first.
        """
        key = plain_key(name)
        hits = process.extract(key, self._settlement_choices, scorer=fuzz.ratio, limit=limit * 3)
        out: list[str] = []
        for choice, _, _ in hits:
            for pid, _spelling in sorted(self._settlement_keys[choice]):
                label = f"{self._info[pid][0]} [{pid}]"
                if label not in out:
                    out.append(label)
        return out[:limit]

    def __contains__(self, place_id: object) -> bool:
        return place_id in self._info

    def region_of(self, place_id: str) -> str:
        """The region a place lies in (a region's own id for a region).

        Parameters
        ----------
        place_id : str
            A settlement or region id.

        Returns
        -------
        str
            ISO 3166-2 code of the region.
        """
        return self._info[place_id][2]

    def point(self, place_id: str) -> tuple[float, float] | None:
        """Longitude and latitude of a located settlement, None otherwise.

        Parameters
        ----------
        place_id : str
            A settlement's id.

        Returns
        -------
        tuple of float or None
            ``(lon, lat)`` in EPSG:4326.
        """
        return self._points.get(place_id)


@lru_cache(maxsize=4)
def gazetteer(data_dir: Path = settings.DATA_DIR) -> Gazetteer:
    """The cached gazetteer of the theatre in ``data_dir``.

    Parameters
    ----------
    data_dir : pathlib.Path
        Folder holding the theatre's data.

    Returns
    -------
    Gazetteer
        Index over :func:`places_gdf` and the regions.
    """
    return Gazetteer(
        places_gdf(data_dir), boundaries.regions_gdf(data_dir), boundaries.districts_gdf(data_dir)
    )
