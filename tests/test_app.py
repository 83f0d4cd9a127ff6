"""The map page under streamlit.testing: no exception, the figures follow the widgets."""

from __future__ import annotations

import datetime as dt

import pytest
from streamlit.testing.v1 import AppTest

from pipeline import settings

APP = str(settings.ROOT / "app.py")


@pytest.fixture
def app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception
    return at


def _ua_metric(at: AppTest) -> str:
    return next(m.value for m in at.metric if "held by Ukraine" in m.label)


def test_map_page_renders_figures(app: AppTest) -> None:
    assert app.title[0].value.startswith("Frontline")
    assert len(app.metric) == 3
    assert _ua_metric(app) != "0 km²"


def test_moving_the_date_changes_the_figures(app: AppTest) -> None:
    before = _ua_metric(app)
    app.slider(key="date").set_value(dt.date(2024, 8, 6)).run()
    assert not app.exception
    assert _ua_metric(app) == "0 km²"
    assert before != "0 km²"


def test_switching_claimant_changes_the_figures(app: AppTest) -> None:
    app.slider(key="date").set_value(dt.date(2025, 4, 27)).run()
    ua_gs = [m.value for m in app.metric]
    app.selectbox(key="view").set_value("ru-mod").run()
    assert not app.exception
    ru_mod = [m.value for m in app.metric]
    assert ua_gs != ru_mod
    assert _ua_metric(app) == "0 km²"
