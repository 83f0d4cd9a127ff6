"""Every export of a snapshot: figures, offline HTML, data files, animations and batches.

:func:`export_snapshot` turns a :class:`~pipeline.snapshot.Snapshot` into the bytes of one
format, chosen by :func:`format_of` from a file name. Figures come from
:mod:`pipeline.render`; the HTML map is the app's own Leaflet map with Leaflet inlined from
the installed ``xstatic-leaflet`` package, so the file opens with no network; GeoJSON and
GeoPackage hold exactly the geometries a figure draws (:func:`pipeline.snapshot.drawn_layers`)
with their sources; GIF, MP4 and zip batches of a date range come from :mod:`pipeline.animate`.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd
import pyogrio

from pipeline import assets, settings
from pipeline._leaflet import TextBox
from pipeline.animate import gif_bytes, mp4_bytes, zip_bytes
from pipeline.basemap import Basemap, drew_tiles, parse_basemap
from pipeline.build import Theatre
from pipeline.errors import InputError
from pipeline.render import FORMATS as FIGURE_FORMATS
from pipeline.render import Canvas, compare_figure
from pipeline.safetext import html_text
from pipeline.snapshot import (
    Snapshot,
    citation,
    data_version,
    drawn_layers,
    figure_id,
    label_candidates,
    source_line,
    stamp_line,
    title_of,
)
from pipeline.webmap import base_map, ground_layer

EXPORTS: tuple[str, ...] = (*FIGURE_FORMATS, "html", "geojson", "gpkg", "gif", "mp4", "zip")
"""Every export format, named by its file extension."""

SERIES_FORMATS: tuple[str, ...] = ("gif", "mp4", "zip")
"""Formats that show a date range (``--to`` and ``--step``)."""

STATIC_FORMATS: tuple[str, ...] = (*FIGURE_FORMATS, *SERIES_FORMATS)
"""Formats drawn as static figures, over a basemap when one is asked for and reachable."""

MIME: dict[str, str] = {
    "png": "image/png",
    "svg": "image/svg+xml",
    "pdf": "application/pdf",
    "html": "text/html",
    "geojson": "application/geo+json",
    "gpkg": "application/geopackage+sqlite3",
    "gif": "image/gif",
    "mp4": "video/mp4",
    "zip": "application/zip",
}


def format_of(name: str) -> str:
    """The export format a file name asks for, from its extension.

    Parameters
    ----------
    name : str
        A file name or path.

    Returns
    -------
    str
        One of :data:`EXPORTS`.

    Raises
    ------
    InputError
        When the extension is missing or not an export format.

    Examples
    --------
    >>> format_of("kursk.PNG")
    'png'
    """
    ext = Path(name).suffix.lower().lstrip(".")
    if ext not in EXPORTS:
        msg = f"bad output {name!r}: the extension must be one of {', '.join(EXPORTS)}"
        raise InputError(msg)
    return ext


MAX_STEM_CHARS = 120
"""A download's name before its extension is at most this long."""


def file_name(snap: Snapshot, fmt: str, days: Sequence[dt.date] | None = None) -> str:
    """A file name that says what the export shows.

    Parameters
    ----------
    snap : Snapshot
        The request.
    fmt : str
        The export format (its extension).
    days : sequence of datetime.date, optional
        A series' dates: the name gives the first and last.

    Returns
    -------
    str
        Letters, digits, ``.``, ``_`` and ``-`` only: the dates, the views, the change
        date and the extent, so two exports of different ground never share a name.

    Examples
    --------
    >>> from pipeline.snapshot import Snapshot
    >>> file_name(Snapshot(dt.date(2024, 8, 25), ("ua-gs", "ru-mod")), "png")
    'frontline-2024-08-25-ua-gs-ru-mod-theatre.png'
    """
    dates = [days[0].isoformat(), "to", days[-1].isoformat()] if days else [snap.day.isoformat()]
    since = ["since", snap.since.isoformat()] if snap.since else []
    stem = "-".join(["frontline", *dates, *snap.views, *since, snap.extent.label])
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-.")[:MAX_STEM_CHARS]
    return stem + "." + fmt


def embed_snippet(name: str, fmt: str, title: str, cite: str) -> str:
    """An HTML snippet that shows an export with its citation; every text is escaped.

    Text is written with :func:`pipeline.safetext.html_text`, braces included, so the
    snippet stays inert when pasted into a page that a template engine renders.

    Parameters
    ----------
    name : str
        The file's name or address.
    fmt : str
        Its format: images and SVG become ``<img>``, MP4 ``<video>``, the rest a link.
    title, cite : str
        The figure's title (alt text) and citation (caption).

    Returns
    -------
    str
        A ``<figure>`` element.

    Examples
    --------
    >>> embed_snippet("a.png", "png", "<b>", "{{x}}")[25:]
    'alt="&lt;b&gt;"><figcaption>&#123;&#123;x&#125;&#125;</figcaption></figure>'
    """
    src, alt = html_text(name), html_text(title)
    body = f'<a href="{src}">{alt}</a>'
    if fmt in ("png", "svg", "gif"):
        body = f'<img src="{src}" alt="{alt}">'
    elif fmt == "mp4":
        body = f'<video src="{src}" controls title="{alt}"></video>'
    return f"<figure>{body}<figcaption>{html_text(cite)}</figcaption></figure>"


# -- data --------------------------------------------------------------------------------


def _properties(frame: pd.DataFrame) -> list[dict[str, Any]]:
    clean = frame.astype(object).where(frame.notna(), None)
    return [{str(k): v for k, v in r.items()} for r in clean.to_dict(orient="records")]


def _settlements(theatre: Theatre, snap: Snapshot) -> pd.DataFrame:
    return label_candidates(theatre, snap).drop(columns=["x", "y"])


def geojson_bytes(theatre: Theatre, snap: Snapshot) -> bytes:
    """The figure's layers as one GeoJSON FeatureCollection (EPSG:4326).

    Each feature carries its ``layer`` (``ground``, ``disagreement``, ``change`` or
    ``settlement``) and the same source properties the figure credits; the collection
    carries the title, citation and data-version stamp as foreign members.

    Parameters
    ----------
    theatre : Theatre
        The loaded theatre.
    snap : Snapshot
        The request.

    Returns
    -------
    bytes
        UTF-8 JSON.
    """
    features: list[dict[str, Any]] = []
    for name, gdf in drawn_layers(theatre, snap).items():
        props = _properties(pd.DataFrame(gdf.drop(columns="geometry")))
        for geom, p in zip(json.loads(gdf.to_json(drop_id=True))["features"], props, strict=True):
            features.append(
                {
                    "type": "Feature",
                    "geometry": geom["geometry"],
                    "properties": {"layer": name, **p},
                }
            )
    places = _settlements(theatre, snap)
    for p in _properties(places):
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [p["lon"], p["lat"]]},
                "properties": {"layer": "settlement", **p},
            }
        )
    doc = {
        "type": "FeatureCollection",
        "title": title_of(snap),
        "date": snap.day.isoformat(),
        "claimants": list(snap.views),
        "since": snap.since.isoformat() if snap.since else None,
        "extent": snap.extent.label,
        "bbox": [round(v, 5) for v in snap.extent.lonlat_bounds],
        "data_version": data_version(theatre),
        "figure_id": figure_id(theatre, snap),
        "sources": source_line(theatre, snap),
        "citation": citation(theatre, snap),
        "features": features,
    }
    return json.dumps(doc, ensure_ascii=False).encode()


def gpkg_bytes(theatre: Theatre, snap: Snapshot) -> bytes:
    """The figure's layers as a GeoPackage, one table per layer (opens in QGIS).

    Parameters
    ----------
    theatre : Theatre
        The loaded theatre.
    snap : Snapshot
        The request.

    Returns
    -------
    bytes
        The GeoPackage file (tables ``ground``, ``disagreement``, ``change`` when drawn,
        ``settlement``, and ``snapshot`` with the title, citation and stamps).
    """
    import geopandas as gpd
    import shapely

    layers = dict(drawn_layers(theatre, snap))
    places = _settlements(theatre, snap)
    layers["settlement"] = gpd.GeoDataFrame(
        places, geometry=shapely.points(places["lon"], places["lat"]), crs=settings.GEO_CRS
    )
    meta = pd.DataFrame(
        [
            {
                "title": title_of(snap),
                "date": snap.day.isoformat(),
                "claimants": ",".join(snap.views),
                "since": snap.since.isoformat() if snap.since else None,
                "extent": snap.extent.label,
                "data_version": data_version(theatre),
                "figure_id": figure_id(theatre, snap),
                "sources": source_line(theatre, snap),
                "citation": citation(theatre, snap),
            }
        ]
    )
    with tempfile.TemporaryDirectory(prefix="frontline-gpkg-") as tmp:
        path = Path(tmp) / "snapshot.gpkg"
        for name, gdf in layers.items():
            pyogrio.write_dataframe(gdf, path, layer=name, driver="GPKG", append=path.exists())
        pyogrio.write_dataframe(meta, path, layer="snapshot", driver="GPKG", append=True)
        return path.read_bytes()


# -- offline HTML ------------------------------------------------------------------------


def _inline_css(css: str) -> str:
    """Leaflet's CSS with its images as data URIs (no file beside the page is needed)."""

    def image(m: re.Match[str]) -> str:
        path = assets.LEAFLET_DIR / m[1]
        if not path.is_file():
            return m[0]
        data = base64.b64encode(path.read_bytes()).decode()
        kind = "svg+xml" if path.suffix == ".svg" else path.suffix.lstrip(".")
        return f"url(data:image/{kind};base64,{data})"

    return re.sub(r"url\((images/[A-Za-z0-9_.\-]+)\)", image, css)


def html_bytes(theatre: Theatre, snap: Snapshot, permalink: str | None = None) -> bytes:
    """A standalone HTML map of the snapshot that opens offline.

    The page is the app's map (regions, border, settlements with their claims, each view's
    ground, the disagreement and the change since), fitted to the extent, with Leaflet's
    script, styles and images inlined and a header giving the title, sources and stamps.
    OpenStreetMap tiles draw under it when the network reaches them.

    Parameters
    ----------
    theatre : Theatre
        The loaded theatre.
    snap : Snapshot
        The request.
    permalink : str, optional
        The map page's address for this view, put in the citation.

    Returns
    -------
    bytes
        UTF-8 HTML.
    """
    fmap = base_map(theatre)
    ground_layer(theatre, list(snap.views), snap.day, since=snap.since).add_to(fmap)
    lon0, lat0, lon1, lat1 = snap.extent.lonlat_bounds
    fmap.fit_bounds([[lat0, lon0], [lat1, lon1]])
    # The header's texts (a visitor's title among them) are data: set as text nodes.
    TextBox(
        [
            ("title", title_of(snap)),
            ("plain", source_line(theatre, snap)),
            ("mono", stamp_line(theatre, snap)),
            ("italic", "Cite as: " + citation(theatre, snap, permalink)),
        ]
    ).add_to(fmap)
    page = fmap.get_root().render()
    js = (
        (assets.LEAFLET_DIR / "leaflet.js")
        .read_text(encoding="utf-8")
        .replace("</script", "<\\/script")
    )
    css = _inline_css((assets.LEAFLET_DIR / "leaflet.css").read_text(encoding="utf-8"))
    page, n_js = re.subn(
        r'<script src="[^"]*/leaflet\.js"></script>', lambda _: f"<script>{js}</script>", page
    )
    page, n_css = re.subn(
        r'<link rel="stylesheet" href="[^"]*/leaflet\.css"\s*/?>',
        lambda _: f"<style>{css}</style>",
        page,
    )
    if n_js != 1 or n_css != 1:  # folium changed how it writes its assets
        msg = f"could not inline Leaflet into the HTML export (script {n_js}, style {n_css})"
        raise RuntimeError(msg)
    return page.encode()


@dataclass(frozen=True)
class Export:
    """One export's content and what the reader should know about it.

    Attributes
    ----------
    data : bytes
        The file's content.
    fmt : str
        Its format (one of :data:`EXPORTS`).
    notes : tuple of str
        The basemap's credit, or why the offline style was used.
    snap : Snapshot or None
        The request as drawn (its ``basemap`` says whether tiles came): its figure id and
        citation are the ones the figure carries.
    """

    data: bytes
    fmt: str
    notes: tuple[str, ...] = ()
    snap: Snapshot | None = None

    @property
    def mime(self) -> str:
        """The content's media type."""
        return MIME[self.fmt]


def export_snapshot(
    theatre: Theatre,
    snap: Snapshot,
    fmt: str,
    *,
    days: Sequence[dt.date] | None = None,
    basemap: Basemap | str = "none",
    side_by_side: bool = False,
    permalink: str | None = None,
    batch_format: str = "png",
) -> Export:
    """One export of a snapshot, by format.

    Parameters
    ----------
    theatre : Theatre
        The loaded theatre.
    snap : Snapshot
        The request.
    fmt : str
        One of :data:`EXPORTS`.
    days : sequence of datetime.date, optional
        The dates of a GIF, MP4 or zip (default: the snapshot's date alone).
    basemap : Basemap or str, default "none"
        Tiles under static maps.
    side_by_side : bool, default False
        For PNG/SVG/PDF: the two-date comparison figure (``since`` beside the date).
    permalink : str, optional
        The map page's address, for the HTML export's citation.
    batch_format : {"png", "svg", "pdf"}, default "png"
        Format of each figure in a zip.

    Returns
    -------
    Export
        The content, its format, notes and the request as drawn.

    Raises
    ------
    InputError
        For an unknown format, a comparison without ``since``, or dates given to a
        format that shows one date.
    """
    if fmt not in EXPORTS:
        msg = f"bad format {fmt!r}: use one of {', '.join(EXPORTS)}"
        raise InputError(msg)
    if days is not None and len(days) > 1 and fmt not in SERIES_FORMATS:
        msg = f"a date range needs a series format ({', '.join(SERIES_FORMATS)}), not {fmt!r}"
        raise InputError(msg)
    series = list(days) if days else [snap.day]
    notes: list[str] = []
    data: bytes
    if fmt in FIGURE_FORMATS:
        if side_by_side:
            data = compare_figure(theatre, snap, fmt, basemap, notes)
        else:
            canvas = Canvas(theatre, snap, basemap)
            notes.append(canvas.basemap_note)
            data = canvas.to_bytes(fmt)
    elif fmt == "html":
        data = html_bytes(theatre, snap, permalink)
    elif fmt == "geojson":
        data = geojson_bytes(theatre, snap)
    elif fmt == "gpkg":
        data = gpkg_bytes(theatre, snap)
    elif fmt == "gif":
        data = gif_bytes(theatre, snap, series, basemap, notes)
    elif fmt == "mp4":
        data = mp4_bytes(theatre, snap, series, basemap, notes)
    else:
        data = zip_bytes(theatre, snap, series, batch_format, basemap, notes)
    if fmt in STATIC_FORMATS:  # what lies under the map is part of the figure's id
        choice = parse_basemap(basemap) if isinstance(basemap, str) else basemap
        snap = replace(snap, basemap=choice.drawn(drew_tiles(notes)))
    return Export(data, fmt, tuple(dict.fromkeys(n for n in notes if n)), snap)
