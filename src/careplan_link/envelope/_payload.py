"""The payload inside the signature: a ZIP of the bundle's files and a manifest.json."""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import struct
import zipfile
import zlib
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs

from ..errors import ManifestError, PayloadError
from ..format import Bundle, FileName, Office

__all__ = [
    "MANIFEST_NAME",
    "Limits",
    "Manifest",
    "ManifestFile",
    "build_payload",
    "check_sealable",
    "read_payload",
]

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1
_COMPRESSION_LEVEL = 6  # zlib's default: the benchmark's floor uses the same
_READ_CHUNK = 1 << 20
_JST = datetime.timezone(datetime.timedelta(hours=9))


_MiB = 1024 * 1024

# What a ZIP entry may use: the methods seal writes; no encryption (flag bit 0, strong
# encryption bit 6), which zipfile would refuse only while decompressing, with foreign errors.
_METHODS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})
_ENCRYPTED_FLAGS = 0x01 | 0x40
# What zipfile raises on a damaged archive besides BadZipFile (found by fuzzing): zlib.error and
# struct.error are not ValueErrors, NotImplementedError names an unknown method.
_ZIP_FAILURES = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    OSError,
    EOFError,
    ValueError,
    NotImplementedError,
    RuntimeError,
    zlib.error,
    struct.error,
    KeyError,
    IndexError,
)


@attrs.frozen
class Limits:
    """Bounds applied while opening (and sealing), against zip bombs and resource exhaustion.

    The defaults are sized for the standard's real files (docs/envelope.md): a transmission
    unit holds one file per interface, under 20; the largest file, a 第6表 of a big office with
    100,000 records, is about 19 MB. So 100 files, 64 MiB per file, 128 MiB in all, and a
    manifest of at most 1 MiB: opening then needs at most about 2x the largest file beside the
    envelope.
    """

    max_files: int = 100
    max_file_size: int = 64 * _MiB
    max_total_size: int = 128 * _MiB
    max_manifest_size: int = _MiB


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
        # RecursionError: deeply nested JSON; ValueError covers bad UTF-8 and huge integers.
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as error:
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
    except _ZIP_FAILURES as error:
        raise PayloadError(f"the payload is not a readable ZIP: {error!r}") from None
    with archive:
        infos = archive.infolist()
        _check_entries(infos, limits)
        by_name = {info.filename: info for info in infos}
        if MANIFEST_NAME not in by_name:
            raise ManifestError("the payload has no manifest.json")
        manifest_info = by_name[MANIFEST_NAME]
        if manifest_info.file_size > limits.max_manifest_size:
            raise ManifestError(
                f"the manifest has {manifest_info.file_size} bytes "
                f"(limit {limits.max_manifest_size})"
            )
        manifest = Manifest.from_json(_read(archive, manifest_info, limits.max_manifest_size))
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
            content = _read(archive, by_name[entry.name], limits.max_file_size)
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
        if info.compress_type not in _METHODS or info.flag_bits & _ENCRYPTED_FLAGS:
            raise PayloadError(
                f"{name}: compression method {info.compress_type} / flags "
                f"{info.flag_bits:#x}: only stored or deflated, unencrypted entries"
            )
        if info.file_size > limits.max_file_size:
            raise PayloadError(
                f"{name}: {info.file_size} bytes uncompressed (limit {limits.max_file_size})"
            )
        total += info.file_size
    if total > limits.max_total_size:
        raise PayloadError(f"the payload expands to {total} bytes (limit {limits.max_total_size})")


def check_sealable(bundle: Bundle, limits: Limits) -> None:
    """Refuse on sealing what opening would refuse: names that are not bare standard file names
    (a hand-built `Bundle` can hold any), files not of this unit, more or larger files than
    `limits`."""
    if not bundle.files:
        raise PayloadError("the unit holds no files")
    if len(bundle.files) > limits.max_files:
        raise PayloadError(f"the unit holds {len(bundle.files)} files (limit {limits.max_files})")
    total = 0
    for name, data in bundle.files.items():
        _check_name(name)
        file_name = FileName.parse(name)
        if (
            file_name.sender != bundle.sender
            or file_name.receiver != bundle.receiver
            or file_name.serial != bundle.serial
        ):
            raise PayloadError(f"{name} does not belong to the unit (sender, receiver, 連番)")
        if len(data) > limits.max_file_size:
            raise PayloadError(f"{name}: {len(data)} bytes (limit {limits.max_file_size})")
        total += len(data)
    if total > limits.max_total_size:
        raise PayloadError(f"the unit holds {total} bytes (limit {limits.max_total_size})")


def _check_name(name: str) -> None:
    """Only bare standard file names: nothing that could name a path when extracted."""
    if "/" in name or "\\" in name or name.startswith(".") or ":" in name or "\0" in name:
        raise PayloadError(f"{name!r} is not a plain file name (path traversal refused)")
    try:
        FileName.parse(name)
    except ValueError:
        raise PayloadError(f"{name!r} is not a standard file name") from None


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """Decompress one entry, never past its declared size (which the limits bounded).

    In chunks into one growing buffer whose bytes `getvalue()` hands over without a copy:
    reading the entry in one call (zlib joins its output blocks at the end) or joining chunks
    would hold the file twice.
    """
    budget = min(info.file_size, limit)
    content = io.BytesIO()
    read = 0
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(min(_READ_CHUNK, budget - read + 1)):
                read += len(chunk)
                if read > budget:
                    raise PayloadError(f"{info.filename}: expands past its declared size")
                content.write(chunk)
    except _ZIP_FAILURES as error:
        raise PayloadError(f"{info.filename}: cannot be decompressed: {error!r}") from None
    return content.getvalue()
