"""The payload inside the signature: a ZIP of the bundle's files and a manifest.json."""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import zipfile
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs

from ..errors import ManifestError, PayloadError
from ..format import Bundle, FileName, Office

__all__ = ["MANIFEST_NAME", "Limits", "Manifest", "ManifestFile", "build_payload", "read_payload"]

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1
_COMPRESSION_LEVEL = 6  # zlib's default: the benchmark's floor uses the same
_READ_CHUNK = 1 << 20
_JST = datetime.timezone(datetime.timedelta(hours=9))


@attrs.frozen
class Limits:
    """Bounds applied while opening, against zip bombs and resource exhaustion."""

    max_files: int = 1000
    max_file_size: int = 512 * 1024 * 1024
    max_total_size: int = 1024 * 1024 * 1024


@attrs.frozen
class ManifestFile:
    """One file of the payload as the manifest lists it: standard name, size, SHA-256 (hex)."""

    name: str
    size: int
    sha256: str


@attrs.frozen
class Manifest:
    """What the sender declares about the payload; signed with it."""

    sender: Office
    receiver: Office
    serial: str
    unit_kind: str
    files: tuple[ManifestFile, ...]
    created_at: datetime.datetime
    format: int = MANIFEST_FORMAT

    @classmethod
    def for_bundle(cls, bundle: Bundle, created_at: datetime.datetime) -> Manifest:
        return cls(
            sender=bundle.sender,
            receiver=bundle.receiver,
            serial=bundle.serial,
            unit_kind=bundle.kind.value,
            files=tuple(
                ManifestFile(name, len(data), hashlib.sha256(data).hexdigest())
                for name, data in bundle.files.items()
            ),
            created_at=created_at,
        )

    def to_json(self) -> bytes:
        document = {
            "format": self.format,
            "sender": _office_json(self.sender),
            "receiver": _office_json(self.receiver),
            "serial": self.serial,
            "unit_kind": self.unit_kind,
            "created_at": self.created_at.isoformat(),
            "files": [{"name": f.name, "size": f.size, "sha256": f.sha256} for f in self.files],
        }
        return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        try:
            document = json.loads(data.decode("utf-8"))
            if document["format"] != MANIFEST_FORMAT:
                raise ManifestError(f"manifest format {document['format']!r} is not supported")
            files = tuple(
                ManifestFile(_text(f["name"]), _count(f["size"]), _digest(f["sha256"]))
                for f in document["files"]
            )
            created_at = datetime.datetime.fromisoformat(_text(document["created_at"]))
            return cls(
                sender=_office(document["sender"]),
                receiver=_office(document["receiver"]),
                serial=_text(document["serial"]),
                unit_kind=_text(document["unit_kind"]),
                files=files,
                created_at=created_at,
            )
        except ManifestError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise ManifestError(f"the manifest cannot be read: {error!r}") from None


def _office_json(office: Office) -> dict[str, str | None]:
    return {"office_no": office.number, "service_type": office.service_type}


def _office(value: Any) -> Office:
    service_type = value["service_type"]
    return Office(_text(value["office_no"]), None if service_type is None else _text(service_type))


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}")
    return value


def _count(value: Any) -> int:
    if type(value) is not int or value < 0:
        raise TypeError(f"expected a size, got {value!r}")
    return value


def _digest(value: Any) -> str:
    text = _text(value)
    if len(text) != 64 or text.strip("0123456789abcdef"):
        raise TypeError(f"expected a SHA-256 in hex, got {value!r}")
    return text


def build_payload(bundle: Bundle, manifest: Manifest) -> bytes:
    """The ZIP: manifest.json first, then the files in import order (deflate)."""
    stamp = manifest.created_at.astimezone(_JST).timetuple()[:6]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=_COMPRESSION_LEVEL) as zf:
        for name, data in ((MANIFEST_NAME, manifest.to_json()), *bundle.files.items()):
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data, compresslevel=_COMPRESSION_LEVEL)
    return buffer.getvalue()


def read_payload(data: bytes, limits: Limits) -> tuple[Manifest, Mapping[str, bytes]]:
    """The manifest and the files (in the manifest's order), each checked against it."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, EOFError) as error:
        raise PayloadError(f"the payload is not a readable ZIP: {error}") from None
    with archive:
        infos = archive.infolist()
        _check_entries(infos, limits)
        by_name = {info.filename: info for info in infos}
        if MANIFEST_NAME not in by_name:
            raise ManifestError("the payload has no manifest.json")
        manifest = Manifest.from_json(_read(archive, by_name[MANIFEST_NAME], limits))
        listed = [f.name for f in manifest.files]
        if len(set(listed)) != len(listed):
            raise ManifestError("the manifest lists a file twice")
        present = set(by_name) - {MANIFEST_NAME}
        if present != set(listed):
            extra = sorted(present - set(listed))
            absent = sorted(set(listed) - present)
            raise PayloadError(
                f"the ZIP and the manifest disagree: not listed {extra}, missing {absent}"
            )
        files: dict[str, bytes] = {}
        for entry in manifest.files:
            content = _read(archive, by_name[entry.name], limits)
            if len(content) != entry.size or hashlib.sha256(content).hexdigest() != entry.sha256:
                raise PayloadError(f"{entry.name}: size or SHA-256 differs from the manifest")
            files[entry.name] = content
    return manifest, MappingProxyType(files)


def _check_entries(infos: list[zipfile.ZipInfo], limits: Limits) -> None:
    if len(infos) > limits.max_files + 1:
        raise PayloadError(f"the payload holds {len(infos)} files (limit {limits.max_files})")
    seen: set[str] = set()
    total = 0
    for info in infos:
        name = info.filename
        if name in seen:
            raise PayloadError(f"the payload holds two entries named {name!r}")
        seen.add(name)
        if name != MANIFEST_NAME:
            _check_name(name)
        if info.file_size > limits.max_file_size:
            raise PayloadError(
                f"{name}: {info.file_size} bytes uncompressed (limit {limits.max_file_size})"
            )
        total += info.file_size
    if total > limits.max_total_size:
        raise PayloadError(f"the payload expands to {total} bytes (limit {limits.max_total_size})")


def _check_name(name: str) -> None:
    """Only bare standard file names: nothing that could name a path when extracted."""
    if "/" in name or "\\" in name or name.startswith(".") or ":" in name or "\0" in name:
        raise PayloadError(f"{name!r} is not a plain file name (path traversal refused)")
    try:
        FileName.parse(name)
    except ValueError:
        raise PayloadError(f"{name!r} is not a standard file name") from None


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits) -> bytes:
    """Decompress one entry, never past its declared size (which the limits bounded)."""
    budget = min(info.file_size, limits.max_file_size)
    parts = []
    read = 0
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(min(_READ_CHUNK, budget - read + 1)):
                read += len(chunk)
                if read > budget:
                    raise PayloadError(f"{info.filename}: expands past its declared size")
                parts.append(chunk)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as error:
        raise PayloadError(f"{info.filename}: cannot be decompressed: {error}") from None
    return b"".join(parts)
