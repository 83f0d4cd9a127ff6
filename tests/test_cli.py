"""The command-line contract, run as users run it: ``python -m pipeline ...``."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import shapely
import shapely.geometry
from PIL import Image

from pipeline import settings
from pipeline.build import Theatre
from pipeline.timeline import side_areas
from tests.conftest import claim_row, deepstate_style_geojson, make_theatre_dir


def run(
    *args: str, cache: Path, data: Path | None = None, store: Path | None = None
) -> subprocess.CompletedProcess[str]:
    # Never the repository's own store: a missing file in the cache folder by default.
    env = {
        **os.environ,
        "FRONTLINE_CACHE": str(cache),
        "FRONTLINE_STORE": str(store or cache / "no-store.gpkg"),
    }
    cmd = [sys.executable, "-m", "pipeline"]
    if data is not None:
        cmd += ["--data", str(data)]
    return subprocess.run(
        [*cmd, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=settings.ROOT,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    claims = [
        claim_row(claim_id="ua-sudzha", date="2024-08-15", claimant="ua-gs", place="Sudzha"),
        claim_row(
            claim_id="ru-sudzha", date="2025-03-13", claimant="ru-mod", place="Sudzha", side="RU"
        ),
    ]
    return make_theatre_dir(tmp_path_factory.mktemp("tiny") / "geo", claims)


# --- the embedded Kursk theatre: the issue's "done when" ------------------------------


@pytest.mark.parametrize(
    "name", ["Gornal", "Горналь", "Hornal", "the village of Gornal", "Gornal'"]
)
def test_geocode_gornal_any_spelling(name: str, cache: Path) -> None:
    res = run("geocode", name, cache=cache)
    assert res.returncode == 0, res.stderr
    feature = json.loads(res.stdout)["features"][0]
    lon, lat = feature["geometry"]["coordinates"]
    # The village lies around the Belogorsky monastery, 51.0661 N 35.2325 E.
    assert abs(lat - 51.0661) < 0.03
    assert abs(lon - 35.2325) < 0.04
    assert feature["properties"]["place_id"] == "cur-gornal"
    assert feature["properties"]["source"]


def test_geocode_sudzha_is_geonames_486816(cache: Path) -> None:
    res = run("geocode", "Sudzha", cache=cache)
    props = json.loads(res.stdout)["features"][0]["properties"]
    assert props["geonameid"] == 486816
    assert "GeoNames" in props["source"]


@pytest.mark.parametrize("name", ["Kursk region", "Kursk Oblast", "Курская область"])
def test_geocode_region_is_a_polygon_near_30000_km2(name: str, cache: Path) -> None:
    res = run("geocode", name, cache=cache)
    assert res.returncode == 0, res.stderr
    feature = json.loads(res.stdout)["features"][0]
    assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert abs(feature["properties"]["area_km2"] - 29_997) / 29_997 < 0.03


def test_area_on_27_april_2025_shows_the_disagreement(cache: Path, kursk: Theatre) -> None:
    ru = run(
        "area",
        "--on",
        "2025-04-27",
        "--claimant",
        "ru-mod",
        "--side",
        "UA",
        "--within",
        "Kursk region",
        cache=cache,
    )
    assert ru.returncode == 0, ru.stderr
    assert float(ru.stdout.strip().splitlines()[-1]) == 0
    held = 0.0
    for side in ("UA", "contested"):
        ua = run(
            "area",
            "--on",
            "2025-04-27",
            "--claimant",
            "ua-gs",
            "--side",
            side,
            "--within",
            "Kursk region",
            cache=cache,
        )
        held += float(ua.stdout.strip().splitlines()[-1])
    # ua-gs still holds or contests ground on that date: what the library computes.
    areas = side_areas(kursk.table("ua-gs"), kursk.cells, dt.date(2025, 4, 27), within="RU-KRS")
    assert areas["UA"] + areas["contested"] > 100
    assert held == pytest.approx(areas["UA"] + areas["contested"], abs=0.5)


def test_salient_on_25_august_2024(cache: Path) -> None:
    res = run("geocode", "Kursk salient", "--on", "2024-08-25", "--claimant", "ua-gs", cache=cache)
    assert res.returncode == 0, res.stderr
    features = {f["properties"]["kind"]: f for f in json.loads(res.stdout)["features"]}
    assert list(features) == ["salient", "salient-contested", "salient-inferred", "salient-outline"]
    salient, outline = features["salient"], features["salient-outline"]
    assert salient["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert salient["properties"]["area_km2"] > 100
    # Held and inferred ground together are one body: the outline is a single polygon, its
    # area the sum of the two, each stated apart.
    props = outline["properties"]
    assert outline["geometry"]["type"] == "Polygon"
    assert props["parts"] == 1
    assert props["held_km2"] == salient["properties"]["area_km2"]
    assert props["inferred_km2"] == features["salient-inferred"]["properties"]["area_km2"]
    assert props["area_km2"] == pytest.approx(props["held_km2"] + props["inferred_km2"], abs=0.1)
    area = shapely.area(shapely.geometry.shape(outline["geometry"]))
    parts = shapely.area(shapely.geometry.shape(salient["geometry"])) + shapely.area(
        shapely.geometry.shape(features["salient-inferred"]["geometry"])
    )
    assert area == pytest.approx(parts, rel=1e-6)  # no overlap, no gap: the same cells
    assert props["view_description"] == "ua-gs, filled from deepstate, isw (opposed: ru-mod)"


def test_timeline_rises_then_falls(cache: Path) -> None:
    res = run(
        "timeline",
        "--claimant",
        "ua-gs",
        "--side",
        "UA",
        "--within",
        "Kursk region",
        "--format",
        "json",
        cache=cache,
    )
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    assert rows[0]["area_km2"] == 0
    assert rows[0]["date"] <= "2024-08-06"
    peak = max(rows, key=lambda r: r["area_km2"])
    assert "2024-08-06" <= peak["date"] <= "2024-09-30"
    march = [r["area_km2"] for r in rows if "2025-03-01" <= r["date"] <= "2025-03-31"]
    assert march
    assert march[-1] < peak["area_km2"]


# --- the contract on a tiny theatre ---------------------------------------------------


def test_help_imports_no_heavy_module() -> None:
    code = (
        "import sys\n"
        "from pipeline.cli import main\n"
        "try:\n    main(['snapshot', '--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('pandas', 'geopandas', 'matplotlib', 'folium', 'shapely')"
        " if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        cwd=settings.ROOT,
    )  # fmt: skip
    assert "--batch-format" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_a_date_past_the_last_claim_is_answered_with_a_note(cache: Path, kursk: Theatre) -> None:
    last = kursk.date_range()[1]
    res = run("geocode", "Gornal", "--on", "2026-01-01", cache=cache)
    assert res.returncode == 0
    assert json.loads(res.stdout)["note"] == f"no claims after {last}"
    assert f"frontline: note: no claims after {last}" in res.stderr
    on_last = json.loads(run("geocode", "Gornal", "--on", str(last), cache=cache).stdout)
    assert "note" not in on_last


def test_build_prints_a_summary(tiny: Path, cache: Path) -> None:
    res = run("build", data=tiny, cache=cache)
    assert res.returncode == 0, res.stderr
    assert "claims: 2" in res.stdout
    assert "unlocated 1" in res.stdout


def test_unknown_place_exits_2_with_candidates(tiny: Path, cache: Path) -> None:
    res = run("geocode", "Gornalovka", data=tiny, cache=cache)
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0
    assert "unknown place 'Gornalovka'" in res.stderr
    assert "Gornal [cur-gornal]" in res.stderr


def test_ambiguous_place_exits_3_with_ranked_candidates(tiny: Path, cache: Path) -> None:
    res = run("geocode", "Popovka", data=tiny, cache=cache)
    assert res.returncode == 3
    assert "ambiguous place 'Popovka'" in res.stderr
    collection = json.loads(res.stdout)
    assert collection["ambiguous"] is True
    assert [f["properties"]["rank"] for f in collection["features"]] == [1, 2]
    ok = run("geocode", "Popovka, Sumy region", data=tiny, cache=cache)
    assert json.loads(ok.stdout)["features"][0]["properties"]["place_id"] == "gn-5"


def test_unlocated_place_has_null_geometry(tiny: Path, cache: Path) -> None:
    res = run("geocode", "Lostovka", data=tiny, cache=cache)
    feature = json.loads(res.stdout)["features"][0]
    assert feature["geometry"] is None
    assert feature["properties"]["located"] is False


def test_geocode_with_date_gives_status_and_claims(tiny: Path, cache: Path) -> None:
    res = run(
        "geocode", "Sudzha", "--on", "2024-09-01", "--claimant", "ua-gs", data=tiny, cache=cache
    )
    props = json.loads(res.stdout)["features"][0]["properties"]
    assert props["side"] == "UA"
    assert [c["claim_id"] for c in props["claims"]] == ["ua-sudzha"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["area", "--on", "not-a-date", "--claimant", "ua-gs", "--side", "UA"],
            "bad date 'not-a-date'",
        ),
        (
            ["area", "--on", "2099-01-01", "--claimant", "ua-gs", "--side", "UA"],
            "'2099-01-01' is in the future",
        ),
        (
            ["area", "--on", "2024-08-25", "--claimant", "kremlin", "--side", "UA"],
            "unknown claimant 'kremlin'",
        ),
        (
            ["area", "--on", "2024-08-25", "--claimant", "ua-gs", "--side", "blue"],
            "unknown side 'blue'",
        ),
        (
            [
                "area",
                "--on",
                "2024-08-25",
                "--claimant",
                "ua-gs",
                "--side",
                "UA",
                "--within",
                "Narnia",
            ],
            "unknown region 'Narnia'",
        ),
        (
            ["timeline", "--claimant", "ua-gs", "--side", "UA", "--format", "xml"],
            "invalid choice: 'xml'",
        ),
    ],
)
def test_bad_input_gets_one_line_naming_it(
    tiny: Path, cache: Path, args: list[str], message: str
) -> None:
    res = run(*args, data=tiny, cache=cache)
    assert res.returncode == 2
    assert message in res.stderr
    assert "Traceback" not in res.stderr


def test_timeline_csv(tiny: Path, cache: Path) -> None:
    res = run("timeline", "--claimant", "ua-gs", "--side", "UA", data=tiny, cache=cache)
    lines = res.stdout.strip().splitlines()
    assert lines[0] == "view,side,date,area_km2,area_mi2,change_km2"
    assert [line.split(",")[2] for line in lines[1:]] == ["2024-08-14", "2024-08-15", "2025-03-13"]


def test_broken_claims_file_lists_every_problem(tmp_path: Path, cache: Path) -> None:
    data = make_theatre_dir(
        tmp_path / "geo",
        [
            claim_row(claim_id="a", claimant="nobody"),
            claim_row(claim_id="b", place="Atlantis"),
        ],
    )
    res = run("build", data=data, cache=cache)
    assert res.returncode == 2
    assert "2 problem(s)" in res.stderr
    assert "unknown claimant 'nobody'" in res.stderr
    assert "unknown place 'Atlantis'" in res.stderr


def test_area_lists_the_claimed_figures_beside_the_mapped_one(cache: Path) -> None:
    res = run(
        "area",
        "--on",
        "2024-08-25",
        "--claimant",
        "ua-gs",
        "--side",
        "UA",
        "--within",
        "Kursk region",
        cache=cache,
    )
    assert res.returncode == 0, res.stderr
    assert "claimed figure: ua-gs 2024-08-20 UA 1,263 km², 93 settlements" in res.stdout
    assert "are about unlocated villages" in res.stdout


INGEST = ["--side-from", "name", "--map", "Liberated=UA", "--map", "Occupied=RU"]
NEW_CLAIMANT = ["--name", "My team", "--affiliation", "independent", "--licence", "CC0-1.0"]


def test_ingest_revisions_and_revert(cache: Path, tmp_path: Path) -> None:
    upload = tmp_path / "ds.geojson"
    upload.write_bytes(deepstate_style_geojson())
    store = tmp_path / "s.gpkg"
    args = ["ingest", str(upload), "--claimant", "my-team", "--date", "2024-08-20", *INGEST]
    dry = run(*args, *NEW_CLAIMANT, "--source", "fixture", "--dry-run", cache=cache, store=store)
    assert dry.returncode == 0, dry.stderr
    assert "dry run: nothing stored" in dry.stdout
    assert "skipped 2: not a polygon (Point)" in dry.stdout
    listed = run("revisions", "--format", "json", cache=cache, store=store)
    assert json.loads(listed.stdout) == []
    assert list(tmp_path.iterdir()) == [upload]  # neither created a store
    done = run(
        *args, *NEW_CLAIMANT, "--source", "fixture", "--who", "analyst", cache=cache, store=store
    )
    assert done.returncode == 0, done.stderr
    assert "committed as revision(s) [1]" in done.stdout
    again = run(*args, "--source", "fixture", "--licence", "CC0-1.0", cache=cache, store=store)
    assert "already stored as revision(s) [1]" in again.stdout
    rows = json.loads(run("revisions", "--format", "json", cache=cache, store=store).stdout)
    assert [(r["revision_id"], r["claimant"], r["mode"]) for r in rows] == [
        (1, "my-team", "snapshot")
    ]
    assert rows[0]["file_name"] == "ds.geojson"
    assert len(rows[0]["file_sha256"]) == 64
    kursk_ua = [
        "area", "--on", "2024-08-21", "--claimant", "my-team", "--side", "UA",
        "--within", "Kursk region",
    ]  # fmt: skip
    area = run(*kursk_ua, cache=cache, store=store)
    assert area.returncode == 0, area.stderr
    # The Liberated square around Sudzha: 0.12° × 0.12° at 51.19° N, about 112 km².
    assert float(area.stdout.strip().splitlines()[-1]) == pytest.approx(112.0, abs=1.0)
    undo = run("revert", "1", "--who", "tester", cache=cache, store=store)
    assert "revision 2 reverts revision 1" in undo.stdout
    rows = json.loads(run("revisions", "--format", "json", cache=cache, store=store).stdout)
    assert [(r["revision_id"], r["mode"], r["reverts"], r["who"]) for r in rows] == [
        (1, "snapshot", None, "analyst"),
        (2, "revert", 1, "tester"),
    ]
    table = run("revisions", "--claimant", "my-team", cache=cache, store=store).stdout
    lines = table.strip().splitlines()
    assert len(lines) == 3  # header and both revisions
    assert lines[2].split()[0] == "2"
    assert " revert " in lines[2]
    area = run(*kursk_ua, cache=cache, store=store)
    assert float(area.stdout.strip().splitlines()[-1]) == 0  # the map is reverted


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--date", "2099-01-01", "--side", "UA"], "in the future"),
        (["--date", "2024-08-20", "--side", "UA", "--map", "x=UA"], "--map needs --side-from"),
        (["--date", "2024-08-20", "--side-from", "name", "--map", "x=XX"], "side 'XX'"),
        (["--date", "2024-08-20", "--side-from", "nom", "--map", "x=UA"], "no attribute 'nom'"),
    ],
)
def test_bad_ingest_arguments_store_nothing(
    extra: list[str], message: str, cache: Path, tmp_path: Path
) -> None:
    upload = tmp_path / "ds.geojson"
    upload.write_bytes(deepstate_style_geojson())
    store = tmp_path / "s.gpkg"
    res = run(
        "ingest", str(upload), "--claimant", "deepstate", "--source", "s", "--licence", "l",
        *extra, cache=cache, store=store,
    )  # fmt: skip
    assert res.returncode == 2
    assert message in res.stderr.strip().splitlines()[-1]  # argparse adds usage above
    listed = run("revisions", "--format", "json", cache=cache, store=store)
    assert json.loads(listed.stdout) == []
    assert not store.exists()


@pytest.mark.parametrize("value", ["99999999999999999999", "0", "-3", "x"])
def test_revert_of_a_bad_revision_id_is_one_line(value: str, cache: Path, tmp_path: Path) -> None:
    store = tmp_path / "s.gpkg"
    res = run("revert", value, cache=cache, store=store)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert f"bad revision id {value!r}: expected a whole number from 1 to" in res.stderr
    assert not store.exists()


# --- snapshot ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "check"),
    [
        ("kursk.png", lambda b: b.startswith(b"\x89PNG")),
        ("kursk.svg", lambda b: b"Claimed control on 25 August 2024" in b),
        ("kursk.pdf", lambda b: b.startswith(b"%PDF")),
    ],
)
def test_snapshot_writes_the_issue_figure(
    name: str, check: Callable[[bytes], bool], cache: Path, tmp_path: Path
) -> None:
    out = tmp_path / name
    res = run(
        "snapshot",
        "--on",
        "2024-08-25",
        "--claimant",
        "ua-gs",
        "--claimant",
        "ru-mod",
        "--out",
        str(out),
        cache=cache,
    )
    assert res.returncode == 0, res.stderr
    data = out.read_bytes()
    assert check(data)
    assert f"wrote {out}" in res.stdout
    assert "cite: Frontline" in res.stdout
    # Offline here and in CI: the figure says so instead of failing.
    assert "basemap: offline style" in res.stdout or "basemap: (C) OpenStreetMap" in res.stdout
    if name.endswith(".png"):
        assert Image.open(io.BytesIO(data)).size == (1920, 1080)


def test_snapshot_gif_over_a_range(cache: Path, tmp_path: Path) -> None:
    out = tmp_path / "a.gif"
    res = run(
        "snapshot",
        "--on",
        "2024-08-06",
        "--to",
        "2024-09-03",
        "--step",
        "1w",
        "--claimant",
        "ua-gs",
        "--basemap",
        "none",
        "--size",
        "400x320",
        "--out",
        str(out),
        cache=cache,
    )
    assert res.returncode == 0, res.stderr
    with Image.open(out) as gif:
        assert (gif.size, getattr(gif, "n_frames", 1)) == ((400, 320), 5)
    assert "5 dates" in res.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--out", "{tmp}/a.txt"], "bad output"),
        (["--out", "{tmp}/missing/a.png"], "does not exist"),
        (["--out", "{tmp}/a.png", "--to", "2024-09-01"], "--to makes a series"),
        (["--out", "{tmp}/a.gif", "--side-by-side"], "--side-by-side makes a figure"),
        (["--out", "{tmp}/a.png", "--claimant", "nobody"], "bad claimant 'nobody'"),
        (["--out", "{tmp}/a.png", "--extent", "Atlantis"], "Atlantis"),
        (["--out", "{tmp}/a.png", "--size", "10x10"], "bad size '10x10'"),
        (["--out", "{tmp}/a.png", "--basemap", "ftp://x"], "bad basemap"),
        (["--out", "{tmp}/a.png", "--since", "2024-09-01"], "after the date"),
    ],
)
def test_bad_snapshot_arguments_write_nothing(
    args: list[str], message: str, cache: Path, tmp_path: Path
) -> None:
    filled = [a.format(tmp=tmp_path) for a in args]
    res = run("snapshot", "--on", "2024-08-25", "--claimant", "ua-gs", *filled, cache=cache)
    assert res.returncode == 2
    assert message in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert list(tmp_path.rglob("*")) == []


def test_a_bad_limit_variable_is_one_line_before_any_command(tmp_path: Path) -> None:
    env = {**os.environ, "FRONTLINE_READ_CPU_S": "thirty", "FRONTLINE_CACHE": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "geocode", "Sudzha"],
        capture_output=True,
        text=True,
        env=env,
        cwd=settings.ROOT,
        timeout=300,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        "frontline: error: environment variable FRONTLINE_READ_CPU_S='thirty' is not a whole"
        " number\n"
    )
