"""Checks of uploaded containers before GDAL sees them: zip archives and KML documents.

A zip (zipped Shapefile, KMZ) is checked from its central directory before any member is
inflated (count, total size, ratio, names, links, encryption, nested archives), and what is
needed is rebuilt in memory under flat names. KML is parsed with ``defusedxml`` without
DTDs and refused when it would make a reader fetch anything.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import PurePosixPath

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET

from pipeline._upload_error import UploadError

MAX_ZIP_MEMBERS = 200
"""Most members in a zip archive."""
MAX_UNZIPPED_BYTES = 256 * 1024 * 1024
"""Largest total size of a zip archive's members once inflated (256 MiB)."""
MAX_ZIP_RATIO = 100
"""Largest inflated-to-compressed size ratio of any zip member."""

_SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")


def safe_members(data: bytes, file_name: str) -> dict[str, zipfile.ZipInfo]:
    """Check a zip's central directory; return its file members by lower-case flat name."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise UploadError(file_name, f"not a readable zip archive ({e})") from None
    infos = archive.infolist()
    if len(infos) > MAX_ZIP_MEMBERS:
        raise UploadError(file_name, f"{len(infos)} zip members (at most {MAX_ZIP_MEMBERS})")
    total = 0
    members: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        name = info.filename
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
    with zipfile.ZipFile(io.BytesIO(data)) as archive, archive.open(info) as fh:
        try:
            out = fh.read(info.file_size + 1)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
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
        raise UploadError(file_name, f"several layers ({', '.join(stems)}): choose one")
    stem = (layer or stems[0]).lower()
    if stem not in stems:
        raise UploadError(file_name, f"no layer {layer!r}; layers: {', '.join(stems)}")
    for needed, why in ((".shx", "its index"), (".dbf", "its attributes"), (".prj", "its CRS")):
        if stem + needed not in members:
            raise UploadError(file_name, f"shapefile {stem!r} lacks {stem}{needed} ({why})")
    parts = {
        f"layer{ext}": _read_member(data, members[stem + ext], file_name)
        for ext in _SHAPEFILE_PARTS
        if stem + ext in members
    }
    ignored = [n for n in members if PurePosixPath(n).stem != stem]
    notes = [f"ignored zip members: {', '.join(sorted(ignored))}"] if ignored else []
    return _flat_zip(parts), stem, notes


# ---------------------------------------------------------------------------------------
# KML: parsed without DTDs, refused when it would fetch anything.

_KML_FETCHES = ("NetworkLink", "Link", "Url")


def check_kml(data: bytes, file_name: str) -> None:
    try:
        root = SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True)
    except DefusedXmlException as e:
        reason = f"KML with a document type declaration or entities is refused ({type(e).__name__})"
        raise UploadError(file_name, reason) from None
    except SafeET.ParseError as e:
        raise UploadError(file_name, f"not well-formed XML ({e})") from None
    for el in root.iter():
        tag = el.tag.rsplit("}", 1)[-1]
        if tag in _KML_FETCHES:
            raise UploadError(file_name, f"KML <{tag}> would fetch remote data: refused")
        if tag in ("styleUrl", "href") and el.text and not el.text.strip().startswith("#"):
            target = el.text.strip()[:80]
            raise UploadError(file_name, f"KML <{tag}> points outside the file ({target!r})")
        for attr, value in el.attrib.items():
            if attr.rsplit("}", 1)[-1] == "href" and not value.startswith("#"):
                raise UploadError(file_name, f"KML element <{tag}> links to {value[:80]!r}")


def kmz(data: bytes, file_name: str) -> tuple[bytes, list[str]]:
    members = safe_members(data, file_name)
    docs = sorted(n for n in members if n.endswith(".kml"))
    if not docs:
        raise UploadError(file_name, "the KMZ holds no .kml document")
    doc = "doc.kml" if "doc.kml" in docs else docs[0]
    if len(docs) > 1 and doc != "doc.kml":
        raise UploadError(file_name, f"several KML documents ({', '.join(docs)}), none doc.kml")
    kml = _read_member(data, members[doc], file_name)
    ignored = sorted(n for n in members if n != doc)
    return kml, [f"ignored KMZ members: {', '.join(ignored)}"] if ignored else []
