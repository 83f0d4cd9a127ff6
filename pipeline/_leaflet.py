"""Leaflet elements whose output is never rendered twice, so data can never become code.

**The hole this closes.** A folium element renders its Jinja macros (``header``, ``html``,
``script``) once, and branca's ``MacroElement.render`` wraps each result in
``branca.element.Element(text)``, whose constructor compiles ``text`` as a *new Jinja
template*; rendering the figure (``Figure.render``, or ``header.render()`` and
``html.render()`` as streamlit-folium calls them) then evaluates it. Any ``{{ ... }}`` or
``{% ... %}`` that data put into the first pass's output is therefore compiled and run on
the server (``{{ cycler.__init__.__globals__.os.popen(...) }}``), and a stray ``{{at:25.03}}``
raises ``TemplateSyntaxError``.

**The rule here.** Every element of the app's maps derives from :class:`SafeElement` (or
:class:`SafeGroup`), whose ``render`` hands its macros' output to the figure as a
:class:`Literal` — text that is emitted as it is and never compiled — so there is no second
pass for any data, whatever the text. Data enter a template only through the ``js`` filter
(:func:`pipeline.safetext.js_json`), which also escapes the braces, so the output is inert
even where someone else renders it again. Tooltips and popups are built in the browser
from text nodes (``textContent``): text is never parsed as HTML. The map's root
(:class:`OfflineMap`) and every :class:`SafeGroup` check their element tree before they
render and refuse any element outside :data:`ALLOWED` — folium's own ``GeoJson``,
``Tooltip``, ``Popup`` or ``Marker`` (which do render data twice) cannot be added by later
code without a test failing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import branca.element
import folium
import folium.elements
import folium.map
import jinja2

from pipeline.assets import STATIC_SUBDIR
from pipeline.safetext import js_json

STATIC_URL = "/app/static"
"""Where Streamlit serves the app's ``static/`` folder."""

_ENV = jinja2.Environment(autoescape=False, undefined=jinja2.StrictUndefined)  # noqa: S701
_ENV.filters["js"] = js_json  # the one way data enter a template: see pipeline.safetext


def template(source: str) -> jinja2.Template:
    """Compile one of this module's own (constant) element templates.

    Parameters
    ----------
    source : str
        Jinja source written in this code, never built from data; data are passed as
        attributes of ``this`` and written with the ``js`` filter.

    Returns
    -------
    jinja2.Template
        The template (strict about undefined names).
    """
    return _ENV.from_string(source)


class UnsafeElementError(TypeError):
    """An element that would render data through a template twice was put on a map."""


class Literal(branca.element.Element):
    """Text already rendered, emitted as it is: never compiled as a template.

    Parameters
    ----------
    text : str
        HTML or JavaScript to emit.
    """

    def __init__(self, text: str) -> None:
        super().__init__()
        self._name = "Literal"
        self.text = text

    def render(self, **kwargs: Any) -> str:
        """The text, unchanged.

        Parameters
        ----------
        **kwargs : Any
            Ignored (branca passes its render options).

        Returns
        -------
        str
            The text.
        """
        return self.text


def _render_literally(element: folium.MacroElement, kwargs: dict[str, Any]) -> None:
    """What ``MacroElement.render`` does, with the macros' output kept literal."""
    figure = element.get_root()
    if not isinstance(figure, branca.element.Figure):
        msg = f"{type(element).__name__} can only be rendered inside a Figure"
        raise TypeError(msg)
    module = element._template.module
    for part in ("header", "html", "script"):
        macro = getattr(module, part, None)
        if macro is not None:
            getattr(figure, part).add_child(
                Literal(str(macro(element, kwargs))), name=element.get_name()
            )
    for child in element._children.values():
        child.render(**kwargs)


class SafeElement(folium.MacroElement):
    """Base of the map's elements: macros rendered once, output emitted literally."""

    def render(self, **kwargs: Any) -> str:
        """Add this element's header, HTML and script to its figure, literally.

        Parameters
        ----------
        **kwargs : Any
            Passed to the children's render.

        Returns
        -------
        str
            Empty: the output goes to the figure.
        """
        _render_literally(self, kwargs)
        return ""


class SafeGroup(folium.FeatureGroup, SafeElement):
    """A feature group of safe elements, checked and rendered literally.

    ``SafeElement`` stands between folium's ``Layer`` and ``MacroElement`` in this
    class's method order, so folium's own ``Layer.render`` (which adds the group to its
    parent) ends in the literal render. Streamlit-folium renders a group it adds to the
    map on its own, so the group checks its tree itself rather than relying on the map's.

    Parameters
    ----------
    name : str
        The layer's name (a constant of the code, not data).
    """

    def __init__(self, name: str) -> None:
        super().__init__(name=name)

    def render(self, **kwargs: Any) -> str:
        """Check the group's tree, then render it as folium does, literally.

        Parameters
        ----------
        **kwargs : Any
            Passed to the children's render.

        Returns
        -------
        str
            Empty: the output goes to the figure.

        Raises
        ------
        UnsafeElementError
            When an element outside :data:`ALLOWED` is in the group.
        """
        check_tree(self)
        super().render(**kwargs)  # type: ignore[no-untyped-call]
        return ""


ALLOWED: tuple[type[branca.element.Element], ...] = (
    SafeElement,  # SafeGroup included
    folium.TileLayer,  # its URL and attribution are constants of the code
    folium.FeatureGroup,  # renders only its id and options; its children are checked
    folium.map.FitBounds,  # numbers
    folium.elements.ElementAddToElement,  # "a.addTo(b)" of two generated variable names
)
"""Element types a map may hold: ours, and folium's that carry no data text."""


def check_tree(root: branca.element.Element) -> None:
    """Refuse any element under ``root`` that is not of an :data:`ALLOWED` type.

    Parameters
    ----------
    root : branca.element.Element
        A map or group.

    Raises
    ------
    UnsafeElementError
        Naming the first element type that could render data twice.
    """
    stack = list(root._children.values())
    while stack:
        element = stack.pop()
        if not isinstance(element, ALLOWED):
            msg = (
                f"{type(element).__module__}.{type(element).__name__} is not allowed on a "
                "Frontline map: folium renders its output as a template a second time, so "
                "text in it could run on the server; use pipeline._leaflet elements"
            )
            raise UnsafeElementError(msg)
        stack.extend(element._children.values())


class DataLayer(SafeElement):
    """GeoJSON features drawn with their own style and a plain-text tooltip.

    Parameters
    ----------
    features : list of dict
        GeoJSON features whose properties hold ``style`` (a Leaflet path style) and
        ``label`` (text shown as text in the tooltip, never parsed as HTML).
    """

    _template = template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var data = {{ this.data|js }};
            L.geoJSON(data, {
                style: function (f) { return f.properties.style; },
                onEachFeature: function (f, layer) {
                    if (!f.properties.label) { return; }
                    var tip = document.createElement("span");
                    tip.className = "frontline-label";
                    tip.textContent = f.properties.label;
                    layer.bindTooltip(tip, {sticky: true});
                }
            }).addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
        """
    )

    def __init__(self, features: list[dict[str, Any]]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "DataLayer"
        self.data = {"type": "FeatureCollection", "features": features}


class TextBox(SafeElement):
    """A fixed box of text lines over the map (the offline export's header).

    The lines are data: they are written into the page with ``textContent``.

    Parameters
    ----------
    lines : sequence of (str, str)
        ``(style, text)`` pairs; style is one of :data:`TEXT_STYLES`.
    """

    _template = template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var lines = {{ this.lines|js }};
            var styles = {{ this.styles|js }};
            var box = document.createElement("div");
            box.className = "frontline-header";
            box.style.cssText = "position:fixed;z-index:1000;top:8px;left:54px;right:8px;"
                + "max-width:720px;background:rgba(255,255,255,.93);padding:6px 10px;"
                + "font:13px/1.35 sans-serif;border:1px solid #999";
            lines.forEach(function (line) {
                var row = document.createElement("div");
                row.style.cssText = styles[line[0]];
                row.textContent = line[1];
                box.appendChild(row);
            });
            document.body.appendChild(box);
        })();
        {% endmacro %}
        """
    )

    def __init__(self, lines: Sequence[tuple[str, str]]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "TextBox"
        for style, _ in lines:
            if style not in TEXT_STYLES:
                msg = f"unknown text style {style!r}: use one of {', '.join(TEXT_STYLES)}"
                raise ValueError(msg)
        self.lines = [[style, text] for style, text in lines]
        self.styles = TEXT_STYLES


TEXT_STYLES: dict[str, str] = {
    "title": "font-weight:bold",
    "plain": "",
    "mono": "font-family:monospace",
    "italic": "font-style:italic",
}
"""Styles a :class:`TextBox` line may have (CSS fixed in the code)."""


class OfflineMap(folium.Map, SafeElement):
    """A folium map that loads only Leaflet, from the app's own static folder.

    Folium's default assets (Leaflet, jQuery, Bootstrap, Font Awesome, awesome-markers)
    come from public CDNs; the layers drawn here need Leaflet alone. Like every element
    on it, the map's own output is emitted literally (``SafeElement`` comes before
    ``MacroElement`` in its method order).
    """

    # folium declares these as mutable class-level lists; the override keeps its shape.
    default_js = [("leaflet", f"{STATIC_URL}/{STATIC_SUBDIR}/leaflet.js")]  # noqa: RUF012
    default_css = [("leaflet_css", f"{STATIC_URL}/{STATIC_SUBDIR}/leaflet.css")]  # noqa: RUF012

    def render(self, **kwargs: Any) -> str:
        """Check the map's element tree, then render it as folium does.

        Parameters
        ----------
        **kwargs : Any
            Passed to folium's render.

        Returns
        -------
        str
            Empty: the output goes to the figure.

        Raises
        ------
        UnsafeElementError
            When an element outside :data:`ALLOWED` is on the map.
        """
        check_tree(self)
        super().render(**kwargs)  # type: ignore[no-untyped-call]
        return ""


class TheatreLayers(SafeElement):
    """Regions, border and settlements, fetched from static files (or inlined).

    Tooltips are built from text nodes, so no property can inject HTML.

    Parameters
    ----------
    source : str or dict
        URL of the folder :func:`pipeline.webmap.write_static_layers` wrote, or the dict of
        :func:`pipeline.webmap.theatre_layers` to inline (standalone HTML, tests).
    """

    _template = template(
        r"""
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var source = {{ this.source|js }};
            function load(name) {
                if (typeof source === "string") {
                    return fetch(source + "/" + name + ".json").then(function (r) {
                        return r.json();
                    });
                }
                return Promise.resolve(source[name]);
            }
            function evidence(p) {
                // The claims behind a settlement up to the date the map shows (set by the
                // ground layer, or by playback), built from text nodes: data, never HTML.
                var shown = window.frontlineShownDate || "";
                var known = p.claims.filter(function (c) { return !shown || c.date <= shown; });
                var later = p.claims.length - known.length;
                var box = document.createElement("div");
                box.style.maxHeight = "260px";
                box.style.overflowY = "auto";
                var head = document.createElement("b");
                head.textContent = p.name + " — " + known.length + " claim(s)"
                    + (shown ? " up to " + shown : "");
                box.appendChild(head);
                if (later) {
                    var note = document.createElement("div");
                    note.className = "frontline-later-claims";
                    note.style.fontStyle = "italic";
                    note.textContent = later + " later claim(s) not shown";
                    box.appendChild(note);
                }
                known.forEach(function (c) {
                    var item = document.createElement("div");
                    item.style.marginTop = "6px";
                    item.textContent = c.date + " " + c.claimant + " (" + c.kind + "): "
                        + c.side + ". " + (c.quote ? "“" + c.quote + "” " : "")
                        + c.paraphrase + " [" + c.confidence + "] ";
                    if (/^https?:\/\//.test(c.url)) {
                        var a = document.createElement("a");
                        a.href = c.url;
                        a.target = "_blank";
                        a.rel = "noopener noreferrer";
                        a.textContent = c.publisher;
                        item.appendChild(a);
                    } else {
                        item.appendChild(document.createTextNode(c.publisher));
                    }
                    box.appendChild(item);
                });
                return box;
            }
            function tip(text) {
                var el = document.createElement("span");
                el.textContent = text;
                return el;
            }
            load("regions").then(function (d) {
                L.geoJSON(d, {interactive: false,
                    style: {fill: false, color: "#444444", weight: 1}}).addTo(map);
            });
            load("border").then(function (d) {
                L.geoJSON(d, {interactive: false,
                    style: {color: "#e08000", weight: 2.5}}).addTo(map);
            });
            load("settlements").then(function (d) {
                // Settlements above the ground layers, so a held village still answers
                // the pointer with its tooltip and claims.
                if (!map.getPane("frontline-places")) {
                    map.createPane("frontline-places").style.zIndex = 450;
                }
                var group = L.featureGroup().addTo(map);
                var labels = [];
                d.features.forEach(function (f) {
                    var p = f.properties, c = f.geometry.coordinates;
                    var text = p.name + " [" + p.place_id + "] — source: " + p.source
                        + (p.verified ? " — position ± " : " — UNVERIFIED position, ± ")
                        + (p.precision_m / 1000) + " km";
                    if (!p.verified) {
                        L.circle([c[1], c[0]], {radius: p.precision_m, color: "#555555",
                            weight: 1, dashArray: "3 5", fill: false,
                            interactive: false}).addTo(group);
                    }
                    var marker = L.circleMarker([c[1], c[0]], {radius: p.claimed ? 4 : 2,
                        color: "#222222", weight: 1, fill: true,
                        fillOpacity: p.verified ? 0.9 : 0, dashArray: p.verified ? null : "2 2",
                        className: "frontline-settlement", pane: "frontline-places"})
                        .bindTooltip(tip(text)).addTo(group);
                    if (p.claims && p.claims.length) {
                        // Clear of the zoom control and the map's top edge when it opens.
                        marker.bindPopup(function () { return evidence(p); },
                            {autoPanPaddingTopLeft: L.point(60, 90), maxWidth: 360});
                    }
                    // Labels by importance: towns first, then the places claims name.
                    var pop = p.population || 0;
                    var from = pop >= 20000 ? 7 : pop >= 5000 ? 9 : p.claimed ? 10
                        : pop >= 1000 ? 11 : 99;
                    if (from < 99) {
                        var name = document.createElement("span");
                        name.textContent = p.name;
                        name.className = "frontline-place-label";
                        name.style.cssText = "font:" + (pop >= 5000 ? "bold 12px" : "11px")
                            + " sans-serif;color:#222222;white-space:nowrap;"
                            + "text-shadow:0 0 2px #ffffff,0 0 2px #ffffff,0 0 3px #ffffff";
                        labels.push({from: from, pop: pop, ll: L.latLng(c[1], c[0]),
                            w: 7 * p.name.length + 8, marker: L.marker([c[1], c[0]], {
                                interactive: false, keyboard: false,
                                icon: L.divIcon({html: name, className: "", iconSize: null,
                                    iconAnchor: [-5, 7]})
                            })});
                    }
                });
                // Most important first; a label that would overlap one already placed waits
                // for a closer zoom.
                labels.sort(function (a, b) { return a.from - b.from || b.pop - a.pop; });
                function show() {
                    var z = map.getZoom(), placed = [], size = map.getSize();
                    labels.forEach(function (l) {
                        var on = z >= l.from;
                        if (on) {
                            var pt = map.latLngToContainerPoint(l.ll);
                            var box = [pt.x + 5, pt.y - 7, pt.x + 5 + l.w, pt.y + 7];
                            on = box[2] > 0 && box[0] < size.x && box[3] > 0 && box[1] < size.y
                                && !placed.some(function (o) {
                                    return box[0] < o[2] && o[0] < box[2]
                                        && box[1] < o[3] && o[1] < box[3];
                                });
                            if (on) { placed.push(box); }
                        }
                        if (on && !map.hasLayer(l.marker)) { l.marker.addTo(map); }
                        if (!on && map.hasLayer(l.marker)) { map.removeLayer(l.marker); }
                    });
                }
                map.on("moveend", show);
                show();
            });
        })();
        {% endmacro %}
        """
    )

    def __init__(self, source: str | dict[str, Any]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "TheatreLayers"
        self.source = source


class ShownDate(SafeElement):
    """Tells the map's scripts the date the page shows (popups list claims up to it).

    Sent with the ground layer, so it follows every date change; the map's timeline
    overrides it while its own date is shown and hands back to it (see :class:`Playback`).

    Parameters
    ----------
    day : datetime.date
        The date the page shows.
    """

    _template = template(
        """
        {% macro script(this, kwargs) %}
        window.frontlinePageDate = {{ this.day|js }};
        window.frontlineShownDate = window.frontlinePageDate;
        setTimeout(function () {  // once the layer this came with is on the map
            var hand = window.frontlineOnPageDate;
            if (hand) { hand(window.frontlinePageDate); }
        }, 0);
        {% endmacro %}
        """
    )

    def __init__(self, day: dt.date) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "ShownDate"
        self.day = day.isoformat()


class HatchPattern(SafeElement):
    """Defines the SVG hatch (``url(#frontline-hatch)``) that disagreement ground is filled with.

    Parameters
    ----------
    colour : str
        The hatch's stroke colour.
    """

    _template = template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var ns = "http://www.w3.org/2000/svg";
            function ensure() {
                map.getPane("overlayPane").querySelectorAll("svg").forEach(function (svg) {
                    if (svg.querySelector("#frontline-hatch")) { return; }
                    var defs = document.createElementNS(ns, "defs");
                    var pattern = document.createElementNS(ns, "pattern");
                    pattern.setAttribute("id", "frontline-hatch");
                    pattern.setAttribute("width", "8");
                    pattern.setAttribute("height", "8");
                    pattern.setAttribute("patternUnits", "userSpaceOnUse");
                    pattern.setAttribute("patternTransform", "rotate(45)");
                    var line = document.createElementNS(ns, "line");
                    line.setAttribute("x1", "0");
                    line.setAttribute("y1", "0");
                    line.setAttribute("x2", "0");
                    line.setAttribute("y2", "8");
                    line.setAttribute("stroke", {{ this.colour|js }});
                    line.setAttribute("stroke-width", "3");
                    pattern.appendChild(line);
                    defs.appendChild(pattern);
                    svg.insertBefore(defs, svg.firstChild);
                });
            }
            map.on("layeradd", ensure);
            ensure();
        })();
        {% endmacro %}
        """
    )

    def __init__(self, colour: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "HatchPattern"
        self.colour = colour


class ViewInUrl(SafeElement):
    """Keeps the map's centre and zoom in the page URL (``map=lat,lon,zoom``), client-side.

    Panning and zooming never rerun the app; they only rewrite the page's address, so a
    copied URL reopens the same view. A bad ``map`` value is ignored by the browser.
    """

    _template = template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            function address() {
                try { return new URL(window.parent.location.href); } catch (e) { return null; }
            }
            var start = address();
            var asked = start && start.searchParams.get("map");
            if (asked) {
                var p = asked.split(",").map(Number);
                if (p.length === 3 && p.every(isFinite) && Math.abs(p[0]) <= 85
                        && Math.abs(p[1]) <= 180 && p[2] >= 3 && p[2] <= 18) {
                    map.setView([p[0], p[1]], Math.round(p[2]));
                }
            }
            map.on("moveend", function () {
                var u = address();
                if (!u) { return; }
                var c = map.getCenter();
                u.searchParams.set("map", c.lat.toFixed(4) + "," + c.lng.toFixed(4) + ","
                    + map.getZoom());
                window.parent.history.replaceState(window.parent.history.state, "", u.toString());
            });
        })();
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "ViewInUrl"


class Playback(SafeElement):
    """The map's timeline: scrub, step and play a view's dates in the browser.

    A date control inside the map (a day-by-day slider that the arrow keys move, previous
    and next change, play/stop with a step of one week or one day) redraws the first
    view's ground, its areas, the popups' date and the page URL's ``date=`` on every
    input, from data fetched once per view, with no server trip. The server is told the
    date only once the control has been still for ``settle_ms`` (it then draws what the
    browser does not have: the other views, the disagreement hatch, the change overlay and
    the figures beside the map), through the map component's own value, never per frame.
    Playback steps by time from the view's first change date to its last and then returns
    to the page's date, so the map, its label, the popups and the slider agree.

    Parameters
    ----------
    data : str or dict
        URL of a :func:`pipeline.webmap.playback_data` JSON file (fetched once, when the
        map loads), or the dict itself.
    view : str
        The view it draws.
    colours : sequence of str
        Fill colour of each side code (``0`` UA, ``1`` RU, ``2`` contested, ...).
    frame_ms : int, default 350
        Milliseconds per playback frame.
    settle_ms : int, default 450
        Milliseconds the date control must be still before the server is told the date.
    """

    _template = template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var source = {{ this.data|js }};
            var colours = {{ this.colours|js }};
            var data = null, layer = null, cells = {}, loading = null;
            var timer = null, frame = 0, hidden = [], at = [], lo = 0, hi = 1;
            var wanted = null, settle = null, told = 0, days = [];
            function ordinal(iso) { return Date.parse(iso + "T00:00:00Z") / 86400000; }
            function isoOf(n) { return new Date(n * 86400000).toISOString().slice(0, 10); }
            function el(tag, cls, parent, css) {
                var e = L.DomUtil.create(tag, cls, parent);
                if (css) { e.style.cssText = css; }
                return e;
            }
            var box = el("div", "leaflet-bar frontline-playback", null,
                "background:white;padding:4px 8px;font:13px sans-serif;min-width:300px");
            var row = el("div", "", box, "display:flex;gap:4px;align-items:center");
            function control(text, aria) {
                var a = el("a", "", row, "width:auto;padding:0 6px;position:static");
                a.href = "#";
                a.setAttribute("role", "button");
                a.setAttribute("aria-label", aria);
                a.textContent = text;
                return a;
            }
            var previous = control("◀", "previous change on the map");
            var button = control("▶ play", "play the timeline");
            var next = control("▶", "next change on the map");
            var step = el("select", "frontline-playback-step", row);
            step.setAttribute("aria-label", "playback step");
            [["7", "1 week"], ["1", "1 day"]].forEach(function (o) {
                var opt = document.createElement("option");
                opt.value = o[0];
                opt.textContent = o[1];
                step.appendChild(opt);
            });
            var label = el("span", "frontline-playback-date", row);
            label.textContent = " " + {{ this.view|js }};
            var scrub = el("input", "frontline-timeline-scrub", box, "width:100%;margin:4px 0 0");
            scrub.type = "range";
            scrub.step = "1";
            scrub.disabled = true;
            scrub.setAttribute("aria-label", "date on the map");
            // The track: the control's span, a tick at each change date, a cursor at the day.
            var track = el("div", "frontline-playback-track", box,
                "position:relative;height:10px;background:#eeeeee");
            var cursor = el("div", "frontline-playback-cursor", track,
                "position:absolute;top:0;width:2px;height:10px;background:#000000;display:none");
            var figures = el("div", "frontline-timeline-figures", box, "margin-top:2px");
            L.DomEvent.disableClickPropagation(box);
            L.DomEvent.disableScrollPropagation(box);
            L.DomEvent.on(box, "keydown", L.DomEvent.stopPropagation);  // keys move the date
            function pct(d) { return (100 * (d - lo) / Math.max(hi - lo, 1)) + "%"; }
            function ready() {
                if (loading) { return loading; }
                var got = typeof source === "string"
                    ? fetch(source).then(function (r) { return r.json(); })
                    : Promise.resolve(source);
                loading = got.then(function (d) {
                    data = d;
                    days = data.dates.map(ordinal);  // change dates as day numbers, once
                    layer = L.geoJSON(data.cells, {
                        interactive: false,
                        style: function () { return {weight: 0, fillOpacity: 0}; },
                        onEachFeature: function (f, l) { cells[f.properties.i] = l; }
                    });
                    var page = window.frontlinePageDate ? ordinal(window.frontlinePageDate) : 0;
                    lo = days[0] - 1;
                    hi = Math.max(days[days.length - 1], page);
                    scrub.min = String(lo);
                    scrub.max = String(hi);
                    scrub.value = String(page || hi);
                    scrub.disabled = false;
                    data.dates.forEach(function (iso, j) {
                        var t = el("div", "frontline-playback-tick", track,
                            "position:absolute;top:2px;width:1px;height:6px;background:#888888;"
                            + "left:" + pct(days[j]));
                        t.title = iso;
                    });
                    track.dataset.span = isoOf(lo) + "/" + isoOf(hi);
                    if (page) { state(page); }
                });
                return loading;
            }
            function frameOf(d) {
                // Index of the last change date on or before day d (-1: before the first),
                // by bisection over the sorted day numbers.
                var a = 0, b = days.length;
                while (a < b) {
                    var m = (a + b) >> 1;
                    if (days[m] <= d) { a = m + 1; } else { b = m; }
                }
                return a - 1;
            }
            function cover() {
                // The browser's frame replaces the server's layers while the date is its own.
                (window.feature_group || []).forEach(function (g) {
                    if (map.hasLayer(g)) { map.removeLayer(g); hidden.push(g); }
                });
                if (!map.hasLayer(layer)) { layer.addTo(map); }
            }
            function km(x) { return Math.round(x).toLocaleString("en-US"); }
            function state(d) {
                // The view's areas on day d, as the page's figures give them.
                var k = frameOf(d);
                var a = k < 0 ? {"UA": 0, "contested": 0, "UA inferred": 0} : data.areas[k];
                figures.textContent = (data.within ? data.within + ": " : "")
                    + "Ukrainian-held or contested " + km(a["UA"] + a["contested"]) + " km² (UA "
                    + km(a["UA"]) + ", contested " + km(a["contested"]) + ", inferred UA "
                    + km(a["UA inferred"]) + ") on " + isoOf(d);
                figures.dataset.date = isoOf(d);
            }
            function draw(d) {
                cover();
                var k = frameOf(d);
                var codes = k < 0 ? data.base : data.frames[k];
                for (var i = 0; i < codes.length; i++) {
                    var code = codes.charCodeAt(i) - 48;
                    var held = code !== data.base.charCodeAt(i) - 48;
                    cells[i].setStyle({
                        fillColor: colours[code], fillOpacity: held ? 0.55 : 0, weight: 0
                    });
                }
                var iso = isoOf(d);
                label.textContent = " " + data.view + " " + iso;
                state(d);
                window.frontlineShownDate = iso;
                scrub.value = String(d);
                cursor.style.display = "block";
                cursor.style.left = pct(d);
            }
            function release() {
                // Back to the page's date: the server's layers, label and popups agree again.
                if (layer && map.hasLayer(layer)) { map.removeLayer(layer); }
                hidden.forEach(function (g) {
                    if ((window.feature_group || []).indexOf(g) >= 0) { map.addLayer(g); }
                });
                hidden = [];
                window.frontlineShownDate = window.frontlinePageDate;
                if (data) { label.textContent = " " + data.view; }
                if (window.frontlinePageDate && data) {
                    scrub.value = String(ordinal(window.frontlinePageDate));
                    state(ordinal(window.frontlinePageDate));
                }
                cursor.style.display = "none";
            }
            function toUrl(iso) {
                try {
                    var u = new URL(window.parent.location.href);
                    u.searchParams.set("date", iso);
                    window.parent.history.replaceState(window.parent.history.state, "",
                        u.toString());
                } catch (e) { /* a page without a reachable address keeps its own */ }
            }
            function tell(iso) {
                // Once the date is still, the server draws what the browser does not have.
                wanted = iso;
                clearTimeout(settle);
                settle = setTimeout(function () {
                    told += 1;
                    window.parent.postMessage({
                        isStreamlitMessage: true,
                        type: "streamlit:setComponentValue",
                        value: {frontline_date: iso, n: told},
                        dataType: "json"
                    }, "*");
                }, {{ this.settle_ms }});
            }
            function choose(d) {
                stop(false);
                d = Math.max(lo, Math.min(hi, d));
                draw(d);
                toUrl(isoOf(d));
                tell(isoOf(d));
            }
            window.frontlineOnPageDate = function (iso) {
                // The server has drawn a date. Unless the control has moved on since (or is
                // playing), its layers replace the browser's frame.
                if (!data) { return; }
                if (timer || (wanted !== null && wanted !== iso)) {
                    if (map.hasLayer(layer)) { cover(); }
                    return;
                }
                wanted = null;
                release();
            };
            scrub.addEventListener("input", function () { choose(parseInt(scrub.value, 10)); });
            function jump(dir) {
                ready().then(function () {
                    var d = parseInt(scrub.value, 10);
                    var change = days.filter(function (c) {
                        return dir > 0 ? c > d : c < d;
                    });
                    if (change.length) { choose(dir > 0 ? change[0] : change[change.length - 1]); }
                });
            }
            L.DomEvent.on(previous, "click", function (e) {
                L.DomEvent.preventDefault(e);
                jump(-1);
            });
            L.DomEvent.on(next, "click", function (e) {
                L.DomEvent.preventDefault(e);
                jump(1);
            });
            function frames(stride) {
                // Days from the first change date to the last, `stride` days apart (the last
                // date always included).
                var first = days[0];
                var last = days[days.length - 1];
                var out = [];
                for (var d = first; ; d = Math.min(d + stride, last)) {
                    out.push(d);
                    if (d >= last) { break; }
                }
                return out;
            }
            function stop(back) {
                if (!timer) { return; }
                clearInterval(timer);
                timer = null;
                button.textContent = "▶ play";
                if (back) { wanted = null; release(); }
            }
            L.DomEvent.on(button, "click", function (e) {
                L.DomEvent.preventDefault(e);
                if (timer) { stop(true); return; }
                ready().then(start);
            });
            function start() {
                clearTimeout(settle);
                at = frames(parseInt(step.value, 10));
                frame = 0;
                draw(at[frame]);
                button.textContent = "■ stop";
                timer = setInterval(function () {
                    frame += 1;
                    if (frame >= at.length) { stop(true); return; }
                    draw(at[frame]);
                }, {{ this.frame_ms }});
            }
            var box_control = L.control({position: "bottomleft"});
            box_control.onAdd = function () { return box; };
            box_control.addTo(map);
            ready();
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self,
        data: str | dict[str, Any],
        view: str,
        colours: Sequence[str],
        frame_ms: int = 350,
        settle_ms: int = 450,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "Playback"
        self.data = data
        self.view = view
        self.frame_ms = int(frame_ms)
        self.settle_ms = int(settle_ms)
        self.colours = list(colours)
