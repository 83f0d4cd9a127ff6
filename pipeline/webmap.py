"""Web map: a Folium (Leaflet) map of one view on one date.

Pure construction of a :class:`folium.Map`; the app embeds it, tests render its HTML.
Every text shown in a tooltip is escaped: feature properties are data, never HTML.
"""

from __future__ import annotations

import datetime as dt
import html

import folium
import geopandas as gpd

from pipeline import settings
from pipeline.build import Theatre
from pipeline.timeline import polygons_on

SIDE_COLOURS: dict[str, str] = {"UA": "#1f5fbf", "RU": "#c8102e", "contested": "#8a8a8a"}
"""Fill colour of each side, the same everywhere in the product."""

SIDE_LABELS: dict[str, str] = {
    "UA": "held by Ukraine",
    "RU": "held by Russia",
    "contested": "contested",
}


def _style(side: str) -> dict[str, object]:
    return {
        "fillColor": SIDE_COLOURS[side],
        "color": SIDE_COLOURS[side],
        "weight": 1,
        "fillOpacity": 0.45,
        "dashArray": "4 4" if side == "contested" else None,
    }


def map_of_view(theatre: Theatre, view: str, day: dt.date, focus: str = "RU-KRS") -> folium.Map:
    """Build the map of a view on a date.

    Parameters
    ----------
    theatre : Theatre
        The loaded theatre.
    view : str
        Claimant id or ``consolidated[:a+b]``.
    day : datetime.date
        The date.
    focus : str, default "RU-KRS"
        Region to centre the map on.

    Returns
    -------
    folium.Map
        Regions, border, each side's ground, and settlements with their source.
    """
    region = theatre.regions.loc[theatre.regions["region_id"] == focus]
    minx, miny, maxx, maxy = region.total_bounds
    fmap = folium.Map(
        location=[(miny + maxy) / 2, (minx + maxx) / 2],
        zoom_start=9,
        tiles="OpenStreetMap",
        control_scale=True,
    )
    # Only ground a side holds beyond its own border (and contested ground) is drawn.
    held = polygons_on(theatre.table(view), theatre.cells, day, beyond_border=True)
    for row in held.itertuples(index=False):
        if row.geometry is None or row.geometry.is_empty:
            continue
        label = f"{SIDE_LABELS[row.side]}: {row.area_km2:,.0f} km² ({row.area_mi2:,.0f} mi²)"
        folium.GeoJson(
            gpd.GeoSeries([row.geometry], crs=settings.GEO_CRS).__geo_interface__,
            name=SIDE_LABELS[row.side],
            style_function=lambda _f, side=row.side: _style(side),
            tooltip=folium.Tooltip(html.escape(label)),
        ).add_to(fmap)
    folium.GeoJson(
        theatre.regions[["region_id", "geometry"]].__geo_interface__,
        name="regions",
        style_function=lambda _f: {"fill": False, "color": "#555555", "weight": 1},
    ).add_to(fmap)
    places = theatre.places[theatre.places["located"]]
    near = places.cx[minx - 0.5 : maxx + 0.5, miny - 0.5 : maxy + 0.5]
    claimed = set(theatre.claims["place_id"])
    for row in near.itertuples(index=False):
        if row.place_id not in claimed:
            continue
        uncertain = not row.verified
        text = f"{row.name} ({row.place_id}); source: {row.source}"
        if uncertain:
            text += f"; UNVERIFIED position, ± {row.precision_m / 1000:g} km"
        folium.CircleMarker(
            location=[row.geometry.y, row.geometry.x],
            radius=3 if not uncertain else 5,
            color="#222222",
            weight=1,
            fill=True,
            fill_opacity=0.9 if not uncertain else 0.1,
            dash_array="2 2" if uncertain else None,
            tooltip=folium.Tooltip(html.escape(text)),
        ).add_to(fmap)
    folium.LayerControl(collapsed=True).add_to(fmap)
    return fmap
