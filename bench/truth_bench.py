"""Truth benchmark: the mapped salient beside every published area figure in the ledger.

For each area claim about Kursk region (a claimant said "we control N km²" or a tracker
was reported at N km²), the figure's claimant's views are measured on that date: the
ground they give to Ukraine (UA), UA plus contested, and UA plus contested plus inferred,
each with its ratio to the published figure, and the number of separate polygons the
salient is drawn as. Analysts read these ratios before they trust a map.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import shapely

from pipeline.build import Theatre
from pipeline.timeline import STATUS_CODES

REGION = "RU-KRS"
"""The region the published figures are about."""


@dataclass(frozen=True)
class TruthRow:
    """One published figure and one view's map on its date.

    Attributes
    ----------
    date : datetime.date
        The date the figure applies to.
    claimant : str
        Who published (or was reported at) the figure.
    figure_km2 : float
        The published figure.
    view : str
        The view measured (the claimant's filled or own-word view).
    ua_km2, contested_km2, inferred_km2 : float
        Mapped areas in the region, by status.
    parts : int
        Separate polygons of UA + contested + inferred ground in the region.
    outline_parts : int
        Separate polygons of UA + UA inferred ground (the ``salient-outline`` feature of
        ``geocode``).
    """

    date: dt.date
    claimant: str
    figure_km2: float
    view: str
    ua_km2: float
    contested_km2: float
    inferred_km2: float
    parts: int
    outline_parts: int

    def ratio(self, km2: float) -> float:
        """A mapped area as a fraction of the published figure."""
        return km2 / self.figure_km2


def _measure(theatre: Theatre, view: str, day: dt.date) -> tuple[dict[str, float], int, int]:
    """Areas of each status in the region; parts of UA+contested+inferred and UA+inferred."""
    status = theatre.table(view).cell_status(day)
    region = (theatre.cells["region_id"] == REGION).to_numpy()
    area = theatre.cells["area_km2"].to_numpy()
    areas = {s: float(area[region & (status == c)].sum()) for s, c in STATUS_CODES.items()}

    def parts(*statuses: str) -> int:
        sel = region & np.isin(status, [STATUS_CODES[s] for s in statuses])
        if not sel.any():
            return 0
        geom = shapely.coverage_union_all(theatre.cells.geometry.to_numpy()[sel])
        return int(shapely.get_num_geometries(geom))

    return areas, parts("UA", "contested", "UA inferred"), parts("UA", "UA inferred")


def truth_rows(theatre: Theatre) -> list[TruthRow]:
    """Measure the figure's claimant's views at every published Kursk area figure.

    Parameters
    ----------
    theatre : Theatre
        The loaded theatre.

    Returns
    -------
    list of TruthRow
        Two rows per figure (the filled and the own-word view of its claimant), by date.
    """
    ledger = theatre.claims
    figures = ledger[
        (ledger["kind"] == "area")
        & (ledger["place_id"] == REGION)
        & (ledger["side"] == "UA")
        & ledger["area_km2"].notna()
    ]
    rows: list[TruthRow] = []
    for fig in figures.to_dict("records"):
        claimant = str(fig["claimant"])
        for view in (claimant, f"own:{claimant}"):
            areas, parts, outline_parts = _measure(theatre, view, fig["date"])
            rows.append(
                TruthRow(
                    date=fig["date"],
                    claimant=claimant,
                    figure_km2=float(fig["area_km2"]),
                    view=view,
                    ua_km2=areas["UA"],
                    contested_km2=areas["contested"],
                    inferred_km2=areas["UA inferred"],
                    parts=parts,
                    outline_parts=outline_parts,
                )
            )
    return rows


def truth_table(rows: list[TruthRow]) -> str:
    """The rows as a Markdown table (the README shows it).

    Parameters
    ----------
    rows : list of TruthRow
        From :func:`truth_rows`.

    Returns
    -------
    str
        A Markdown table, one line per row.
    """
    head = (
        "| date | figure (claimant) | view | UA km² | UA+contested km² | "
        "+inferred km² | ratio UA | ratio all | parts | held+inferred parts |\n"
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"
    )
    lines = [head]
    for r in rows:
        held = r.ua_km2 + r.contested_km2
        total = held + r.inferred_km2
        lines.append(
            f"| {r.date.isoformat()} | {r.figure_km2:,.0f} ({r.claimant}) | {r.view} | "
            f"{r.ua_km2:,.0f} | {held:,.0f} | {total:,.0f} | {r.ratio(r.ua_km2):.2f} | "
            f"{r.ratio(total):.2f} | {r.parts} | {r.outline_parts} |"
        )
    return "\n".join(lines)


def bench_truth(theatre: Theatre) -> list[TruthRow]:
    """Print the truth table of the embedded theatre and a one-line summary.

    Parameters
    ----------
    theatre : Theatre
        The loaded theatre.

    Returns
    -------
    list of TruthRow
        The rows printed.
    """
    print("== truth: mapped salient vs published area figures (Kursk region) ==")
    rows = truth_rows(theatre)
    print(truth_table(rows))
    filled = [r for r in rows if not r.view.startswith("own:")]
    if filled:
        ratios = sorted(r.ratio(r.ua_km2 + r.contested_km2 + r.inferred_km2) for r in filled)
        print(
            f"filled views, (UA + contested + inferred) / published: median "
            f"{ratios[len(ratios) // 2]:.2f}, range {ratios[0]:.2f}-{ratios[-1]:.2f} "
            f"over {len(filled)} figures"
        )
    return rows
