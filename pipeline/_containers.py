"""Checks of uploaded containers before GDAL sees them: zip archives and KML documents.

A zip (zipped Shapefile, KMZ) is checked from its central directory before any member is
inflated (count, total size, ratio, names, links, encryption, nested archives), and what is
needed is rebuilt in memory under flat names. KML is parsed with ``defusedxml`` without
DTDs and refused when it would make a reader fetch anything.
"""

from __future__ import annotations

import io
import lzma
import re
import zipfile
import zlib
from pathlib import PurePosixPath
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET

from pipeline._upload_error import UploadError, listed

MAX_ZIP_MEMBERS = 200
"""Most members in a zip archive."""
MAX_UNZIPPED_BYTES = 256 * 1024 * 1024
"""Largest total size of a zip archive's members once inflated (256 MiB)."""
MAX_ZIP_RATIO = 100
"""Largest inflated-to-compressed size ratio of any zip member."""
MAX_XML_ELEMENTS = 2_000_000
"""Most elements in a KML document (an honest placemark has a dozen or two)."""

_SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
# What zipfile and its decompressors raise for a corrupt or unsupported archive or member.
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    OSError,
    ValueError,
    EOFError,
    NotImplementedError,
    RuntimeError,
    zlib.error,
    lzma.LZMAError,
)


def safe_members(data: bytes, file_name: str) -> dict[str, zipfile.ZipInfo]:
    """Check a zip's central directory; return its file members by lower-case flat name."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except _ZIP_ERRORS as e:
        raise UploadError(file_name, f"not a readable zip archive ({e})") from None
    infos = archive.infolist()
    if len(infos) > MAX_ZIP_MEMBERS:
        raise UploadError(file_name, f"{len(infos)} zip members (at most {MAX_ZIP_MEMBERS})")
    total = 0
    members: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        name = info.filename
        if not name:
            raise UploadError(file_name, "a zip member has an empty name")
        if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
            raise UploadError(file_name, f"zip member {name!r} has an absolute path")
        if ".." in PurePosixPath(name.replace("\\", "/")).parts:
            raise UploadError(file_name, f"zip member {name!r} climbs out of the archive ('..')")
        if (info.external_attr >> 16) & 0o170000 == 0o120000:
            raise UploadError(file_name, f"zip member {name!r} is a symbolic link")
        if info.is_dir():
            continue
        if info.flag_bits & 0x1:
            raise UploadError(file_name, f"zip member {name!r} is encrypted")
        lower = name.lower()
        if lower.endswith((".zip", ".kmz", ".gz", ".tar", ".7z", ".rar")):
            raise UploadError(file_name, f"zip member {name!r} is itself an archive (nested)")
        ratio = info.file_size / max(info.compress_size, 1)
        if ratio > MAX_ZIP_RATIO:
            raise UploadError(
                file_name,
                f"zip member {name!r} inflates {ratio:,.0f}-fold (at most {MAX_ZIP_RATIO}): "
                "a zip bomb?",
            )
        total += info.file_size
        if total > MAX_UNZIPPED_BYTES:
            raise UploadError(
                file_name,
                f"zip members inflate to more than {MAX_UNZIPPED_BYTES // 2**20} MiB",
            )
        flat = PurePosixPath(name.replace("\\", "/")).name.lower()
        if flat in members:
            raise UploadError(file_name, f"zip holds two members named {flat!r}")
        members[flat] = info
    return members


def _read_member(data: bytes, info: zipfile.ZipInfo, file_name: str) -> bytes:
    """Inflate one member, never past its declared size (a lying header is caught)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive, archive.open(info) as fh:
            out = fh.read(info.file_size + 1)
    except _ZIP_ERRORS as e:
        msg = f"zip member {info.filename!r} cannot be read ({e})"
        raise UploadError(file_name, msg) from None
    if len(out) > info.file_size:
        raise UploadError(file_name, f"zip member {info.filename!r} is larger than declared")
    return out


def _flat_zip(parts: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as out:
        for name, blob in parts.items():
            out.writestr(name, blob)
    return buf.getvalue()


def shapefile(data: bytes, file_name: str, layer: str | None) -> tuple[bytes, str, list[str]]:
    members = safe_members(data, file_name)
    stems = sorted(PurePosixPath(n).stem for n in members if n.endswith(".shp"))
    if not stems:
        raise UploadError(file_name, "the zip holds no .shp file")
    if layer is None and len(stems) > 1:
        raise UploadError(file_name, f"several layers ({listed(stems)}): choose one")
    stem = (layer or stems[0]).lower()
    if stem not in stems:
        raise UploadError(file_name, f"no layer {layer!r}; layers: {listed(stems)}")
    for needed, why in ((".shx", "its index"), (".dbf", "its attributes"), (".prj", "its CRS")):
        if stem + needed not in members:
            raise UploadError(file_name, f"shapefile {stem!r} lacks {stem}{needed} ({why})")
    parts = {
        f"layer{ext}": _read_member(data, members[stem + ext], file_name)
        for ext in _SHAPEFILE_PARTS
        if stem + ext in members
    }
    ignored = [n for n in members if PurePosixPath(n).stem != stem]
    notes = [f"ignored zip members: {listed(sorted(ignored))}"] if ignored else []
    return _flat_zip(parts), stem, notes


# ---------------------------------------------------------------------------------------
# KML: parsed without DTDs, refused when it would fetch anything.

_KML_FETCHES = ("NetworkLink", "Link", "Url")
_KML_GEOMETRIES = frozenset(
    {"Point", "LineString", "LinearRing", "Polygon", "MultiGeometry", "Track", "MultiTrack"}
)


def _tag(el: Any) -> str:
    return str(el.tag).rsplit("}", 1)[-1]


def _check_start(el: Any, file_name: str) -> None:
    """Refuse an element that fetches, or links outside the file, as soon as it opens."""
    tag = _tag(el)
    if tag in _KML_FETCHES:
        raise UploadError(file_name, f"KML <{tag}> would fetch remote data: refused")
    for attr, value in el.attrib.items():
        if attr.rsplit("}", 1)[-1] == "href" and not value.startswith("#"):
            raise UploadError(file_name, f"KML element <{tag}> links to {value[:80]!r}")


def _check_end(el: Any, file_name: str) -> str:
    """Refuse an element whose text points outside the file, once it is read; its tag."""
    tag = _tag(el)
    if tag in ("styleUrl", "href") and el.text and not el.text.strip().startswith("#"):
        target = el.text.strip()[:80]
        raise UploadError(file_name, f"KML <{tag}> points outside the file ({target!r})")
    return tag


def check_kml(data: bytes, file_name: str, *, max_geometries: int) -> None:
    """Refuse a KML document that is not plain, self-contained XML of a bounded size.

    The document is parsed as a stream (each element dropped once checked, so memory
    stays flat) with DTDs and entities forbidden; elements are counted, and geometry
    elements (points, lines, rings, polygons, multi-geometries) too, so that a document
    of millions of empty polygons is refused before GDAL builds it.

    Parameters
    ----------
    data : bytes
        The KML document.
    file_name : str
        The upload's name, for messages.
    max_geometries : int
        Most geometry elements.

    Raises
    ------
    UploadError
        When it declares a DTD or entities, is not well-formed, would fetch anything,
        or holds more than :data:`MAX_XML_ELEMENTS` elements or ``max_geometries``
        geometry elements.
    """
    elements = geometries = 0
    open_elements: list[Any] = []
    try:
        events = SafeET.iterparse(
            io.BytesIO(data), events=("start", "end"), forbid_dtd=True, forbid_entities=True
        )
        for event, el in events:
            if event == "start":
                _check_start(el, file_name)
                open_elements.append(el)
                continue
            open_elements.pop()
            elements += 1
            if elements > MAX_XML_ELEMENTS:
                reason = f"more than {MAX_XML_ELEMENTS:,} XML elements"
                raise UploadError(file_name, reason)
            if _check_end(el, file_name) in _KML_GEOMETRIES:
                geometries += 1
                if geometries > max_geometries:
                    reason = f"more than {max_geometries:,} KML geometry elements"
                    raise UploadError(file_name, reason)
            if open_elements:  # checked: drop it, so memory does not grow with the file
                del open_elements[-1][-1]
    except UploadError:
        raise
    except DefusedXmlException as e:
        reason = f"KML with a document type declaration or entities is refused ({type(e).__name__})"
        raise UploadError(file_name, reason) from None
    except SafeET.ParseError as e:
        raise UploadError(file_name, f"not well-formed XML ({e})") from None
    except (LookupError, ValueError) as e:  # an unknown or lying encoding declaration
        raise UploadError(file_name, f"not readable XML ({e})") from None


def kmz(data: bytes, file_name: str) -> tuple[bytes, list[str]]:
    members = safe_members(data, file_name)
    docs = sorted(n for n in members if n.endswith(".kml"))
    if not docs:
        raise UploadError(file_name, "the KMZ holds no .kml document")
    doc = "doc.kml" if "doc.kml" in docs else docs[0]
    if len(docs) > 1 and doc != "doc.kml":
        raise UploadError(file_name, f"several KML documents ({listed(docs)}), none doc.kml")
    kml = _read_member(data, members[doc], file_name)
    ignored = sorted(n for n in members if n != doc)
    return kml, [f"ignored KMZ members: {listed(ignored)}"] if ignored else []
