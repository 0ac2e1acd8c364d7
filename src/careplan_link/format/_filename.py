"""File names of the standard: parse, format and mint them.

v4.1:  PREFIX[_YYYYMM]_<sender 10>_<sender type 2>_<receiver 10>_<receiver type 2>_<serial 14>.CSV
v3.x:  PREFIX[_YYYYMM]_<sender 10>_<receiver 10>_<serial 14>.CSV
image: UPKIHON_IMAGE_<sender 10>_<type 2>_<receiver 10>_<type 2>_<serial 14>_<branch 4>.jpg

The 14-digit ファイル連番 (a creation time, YYYYMMDDHHMMSS in Japan time) ties the files of one
transmission unit together and orders the units; it is kept exactly as given.
"""

from __future__ import annotations

import datetime
import re
import threading
import unicodedata
from typing import Literal

import attrs

from .._issue import Issue
from ..errors import FormatError
from ._layouts import IMAGE_LAYOUT_ID, LAYOUTS, PREFIXES
from ._values import YearMonth, ZeroMonth

__all__ = ["JST", "FileName", "Office", "SerialClock", "new_serial"]

JST = datetime.timezone(datetime.timedelta(hours=9), "JST")
"""Japan Standard Time (no daylight saving, so a fixed offset; needs no tz database)."""

NamingRule = Literal["v4", "v3"]

_OFFICE_NO = re.compile(r"\d{10}")
_SERVICE_TYPE = re.compile(r"[0-9A-Z]{2}")
_SERIAL = re.compile(r"\d{14}")
_MONTH = re.compile(r"\d{6}")
_BRANCH = re.compile(r"\d{4}")

_MONTH_PREFIXES = frozenset(layout.prefix for layout in LAYOUTS.values() if layout.has_month)


@attrs.frozen
class Office:
    """One side of a transmission: 事業所番号 and, in v4.1 names, サービス種類コード."""

    number: str
    service_type: str | None = None

    def __str__(self) -> str:
        return f"{self.number}/{self.service_type}" if self.service_type else self.number


def _name_issue(name: str, code: str, ja: str, en: str, value: str | None = None) -> Issue:
    return Issue(code, "error", ja, en, file=name, value=value)


@attrs.frozen
class FileName:
    """A parsed standard file name. `str(name)` gives the name back exactly."""

    prefix: str
    layout_id: str
    """Interface id (`table6_plan`, …; `yobo_basic_image` for family-structure images)."""
    sender: Office
    receiver: Office
    serial: str
    """The ファイル連番: 14 digits, as given."""
    month: str | None = None
    """The month field (YYYYMM, or 000000 for a plan's 利用者補足情報), as given; None if absent."""
    branch: str | None = None
    """The 4-digit branch number of an image name."""
    extension: str = ".CSV"

    @property
    def naming(self) -> NamingRule:
        """`v4` when the name carries service types (v4.1 rule), `v3` otherwise."""
        return "v4" if self.sender.service_type is not None else "v3"

    @property
    def is_image(self) -> bool:
        return self.layout_id == IMAGE_LAYOUT_ID

    @property
    def service_month(self) -> YearMonth | ZeroMonth | None:
        """The month field as a value; None when absent or not a valid month."""
        if self.month is None:
            return None
        if self.month == "000000":
            return ZeroMonth.ZERO_MONTH
        try:
            return YearMonth.parse(self.month)
        except ValueError:
            return None

    @property
    def unit_key(self) -> tuple[str, str | None, str, str | None, str]:
        """What the files of one transmission unit share: both offices and the serial."""
        return (
            self.sender.number,
            self.sender.service_type,
            self.receiver.number,
            self.receiver.service_type,
            self.serial,
        )

    def __str__(self) -> str:
        parts = [self.prefix]
        if self.month is not None:
            parts.append(self.month)
        for office in (self.sender, self.receiver):
            parts.append(office.number)
            if office.service_type is not None:
                parts.append(office.service_type)
        parts.append(self.serial)
        if self.branch is not None:
            parts.append(self.branch)
        return "_".join(parts) + self.extension

    # -- parsing -----------------------------------------------------------------------------

    @classmethod
    def parse(cls, name: str) -> FileName:
        """Parse a file name (not a path); raises `FormatError` naming what is wrong."""
        issues = _check_characters(name)
        if issues:
            raise FormatError(issues)
        prefix = next((p for p in PREFIXES if name.startswith(p + "_")), None)
        if prefix is None:
            raise FormatError(
                [
                    _name_issue(
                        name,
                        "name.unknown_prefix",
                        "ファイル名の接頭辞が標準仕様のどのファイルにも該当しません",
                        "the file name does not start with a prefix of the standard "
                        f"({', '.join(sorted(PREFIXES))})",
                        name,
                    )
                ]
            )
        layout_id = PREFIXES[prefix]
        stem, dot, extension = name[len(prefix) + 1 :].rpartition(".")
        if not dot:
            stem, extension = extension, ""
        fields = stem.split("_")
        is_image = layout_id == IMAGE_LAYOUT_ID
        has_month = prefix in _MONTH_PREFIXES
        lead = 1 if has_month else 0
        tail = 1 if is_image else 0
        office_fields = len(fields) - lead - tail - 1
        if office_fields not in (2, 4) or (is_image and office_fields != 4):
            raise FormatError([_field_count_issue(name, prefix, has_month, is_image)])
        issues = []
        month = fields[0] if has_month else None
        if month is not None and not _MONTH.fullmatch(month):
            issues.append(
                _name_issue(
                    name,
                    "name.month",
                    "ファイル名の対象年月は6桁の数字（YYYYMM、計画の利用者補足情報は000000）です",
                    "the month field must be 6 digits (YYYYMM, or 000000 for a plan's 補足)",
                    month,
                )
            )
        offices = fields[lead : lead + office_fields]
        if office_fields == 4:
            sender = Office(offices[0], offices[1])
            receiver = Office(offices[2], offices[3])
        else:
            sender, receiver = Office(offices[0]), Office(offices[1])
        for role_ja, role_en, office in (
            ("送信元", "sender", sender),
            ("送信先", "receiver", receiver),
        ):
            issues += _office_issues(name, role_ja, role_en, office)
        serial = fields[lead + office_fields]
        issues += _serial_issues(name, serial)
        branch = fields[-1] if is_image else None
        if branch is not None and not _BRANCH.fullmatch(branch):
            issues.append(
                _name_issue(
                    name,
                    "name.branch",
                    "画像ファイル名の枝番は4桁の数字です",
                    "the image branch number must be 4 digits",
                    branch,
                )
            )
        issues += _extension_issues(name, extension, is_image)
        if issues:
            raise FormatError(issues)
        return cls(
            prefix=prefix,
            layout_id=layout_id,
            sender=sender,
            receiver=receiver,
            serial=serial,
            month=month,
            branch=branch,
            extension="." + extension,
        )

    # -- minting -----------------------------------------------------------------------------

    @classmethod
    def new(
        cls,
        prefix: str,
        *,
        sender: Office,
        receiver: Office,
        month: YearMonth | ZeroMonth | str | None = None,
        serial: str | None = None,
        at: datetime.datetime | None = None,
        branch: str | int | None = None,
        clock: SerialClock | None = None,
    ) -> FileName:
        """Mint a name for a new file.

        Without `serial`, a new ファイル連番 is taken from `clock` (the process-wide one by
        default) at `at` (now by default): Japan time, and never one this office used before in
        this process, even for two units made in the same second. Pass `serial` (or use
        `sibling`) to name the other files of the same unit.
        """
        if prefix not in PREFIXES:
            raise ValueError(f"unknown prefix {prefix!r}")
        layout_id = PREFIXES[prefix]
        has_month = prefix in _MONTH_PREFIXES
        if has_month and month is None:
            raise ValueError(f"{prefix} file names need a month (YYYYMM, or ZERO_MONTH)")
        if not has_month and month is not None:
            raise ValueError(f"{prefix} file names have no month field")
        if (sender.service_type is None) != (receiver.service_type is None):
            raise ValueError("give service types for both offices (v4.1 names) or neither (v3)")
        is_image = layout_id == IMAGE_LAYOUT_ID
        if is_image and branch is None:
            raise ValueError("image names need a branch number")
        if serial is None:
            serial = (clock or _DEFAULT_CLOCK).next(sender.number, at)
        name = cls(
            prefix=prefix,
            layout_id=layout_id,
            sender=sender,
            receiver=receiver,
            serial=serial,
            month=str(month) if month is not None else None,
            branch=f"{int(branch):04d}" if branch is not None else None,
            extension=".jpg" if is_image else ".CSV",
        )
        # A minted name must parse back to itself: this checks every field's format.
        if FileName.parse(str(name)) != name:
            raise ValueError(f"cannot form a valid name from these fields: {name}")
        return name

    def sibling(
        self,
        prefix: str,
        *,
        month: YearMonth | ZeroMonth | str | None = None,
        branch: str | int | None = None,
    ) -> FileName:
        """The name of another file of the same unit (same offices and ファイル連番).

        The month is kept when both prefixes have one; give `month` when only the new one does
        (a plan's UPHOSOKU takes `ZERO_MONTH`).
        """
        if month is None and prefix in _MONTH_PREFIXES:
            month = self.month
        if prefix not in _MONTH_PREFIXES:
            month = None
        return FileName.new(
            prefix,
            sender=self.sender,
            receiver=self.receiver,
            month=month,
            serial=self.serial,
            branch=branch,
        )


class SerialClock:
    """Mints ファイル連番 values: Japan time, strictly increasing per sending office.

    The standard identifies a unit by sender, receiver and serial, and receivers import units in
    ascending serial order; two units of one office with the same serial would collide. This
    clock hands out the current second, or one second after the office's last serial if that is
    not later. It is thread-safe. It remembers serials for the life of the process only: a
    product that runs several processes for one office should keep one clock in one place, or
    pass serials it allocates itself.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[str, datetime.datetime] = {}

    def next(self, office_no: str, at: datetime.datetime | None = None) -> str:
        moment = (at or datetime.datetime.now(JST)).astimezone(JST).replace(microsecond=0)
        with self._lock:
            last = self._last.get(office_no)
            if last is not None and moment <= last:
                moment = last + datetime.timedelta(seconds=1)
            self._last[office_no] = moment
        return moment.strftime("%Y%m%d%H%M%S")


_DEFAULT_CLOCK = SerialClock()


def new_serial(office_no: str, at: datetime.datetime | None = None) -> str:
    """A new ファイル連番 for `office_no` from the process-wide `SerialClock`."""
    return _DEFAULT_CLOCK.next(office_no, at)


# -- helpers for precise messages ------------------------------------------------------------


def _check_characters(name: str) -> list[Issue]:
    if name.isascii():
        return []
    odd = sorted({c for c in name if not c.isascii()})
    shown = ", ".join(f"U+{ord(c):04X} {unicodedata.name(c, '?')}" for c in odd)
    hint_ja = ""
    hint_en = ""
    if "\u0332" in odd:
        hint_ja = "（U+0332 は「_」に見える結合文字です。半角の「_」を使ってください）"
        hint_en = " (U+0332 is a combining low line that looks like '_': use an ASCII '_')"
    elif any(unicodedata.east_asian_width(c) == "F" for c in odd):
        hint_ja = "（全角文字が含まれています。半角英数字に直してください）"
        hint_en = " (full-width characters: use half-width ASCII letters and digits)"
    return [
        _name_issue(
            name,
            "name.non_ascii",
            f"ファイル名に半角英数字以外の文字があります: {shown}{hint_ja}",
            f"the file name contains non-ASCII characters: {shown}{hint_en}",
            name,
        )
    ]


def _field_count_issue(name: str, prefix: str, has_month: bool, is_image: bool) -> Issue:
    month = "_YYYYMM" if has_month else ""
    branch = "_NNNN" if is_image else ""
    extension = ".jpg" if is_image else ".CSV"
    v4 = f"{prefix}{month}_事業所番号_種類_事業所番号_種類_YYYYMMDDHHMMSS{branch}{extension}"
    v3 = f"{prefix}{month}_事業所番号_事業所番号_YYYYMMDDHHMMSS{extension}"
    v4_en = f"{prefix}{month}_office_type_office_type_YYYYMMDDHHMMSS{branch}{extension}"
    v3_en = f"{prefix}{month}_office_office_YYYYMMDDHHMMSS{extension}"
    extra_ja = extra_en = ""
    if prefix == "UPKIHON" and re.match(r"UPKIHON_\d{6}_", name):
        extra_ja = "（UPKIHON には対象年月の項目はありません）"
        extra_en = " (UPKIHON names have no month field)"
    return _name_issue(
        name,
        "name.fields",
        f"ファイル名の項目の数が違います。形式: {v4}（v3: {v3}）{extra_ja}",
        f"wrong number of fields in the file name; expected {v4_en} (v3: {v3_en}){extra_en}",
        name,
    )


def _office_issues(name: str, role_ja: str, role_en: str, office: Office) -> list[Issue]:
    issues = []
    if not _OFFICE_NO.fullmatch(office.number):
        hint_ja = hint_en = ""
        if office.number.isdigit() and len(office.number) == 9:
            hint_ja = "（9桁です。先頭の0が落ちていないか確認してください）"
            hint_en = " (it has 9 digits: a leading zero was probably lost)"
        issues.append(
            _name_issue(
                name,
                "name.office_no",
                f"ファイル名の{role_ja}事業所番号は10桁の数字です{hint_ja}",
                f"the {role_en} office number in the file name must be 10 digits{hint_en}",
                office.number,
            )
        )
    if office.service_type is not None and not _SERVICE_TYPE.fullmatch(office.service_type):
        issues.append(
            _name_issue(
                name,
                "name.service_type",
                f"ファイル名の{role_ja}サービス種類コードは2桁の半角英数字（大文字）です",
                f"the {role_en} service type in the file name must be 2 characters 0-9/A-Z",
                office.service_type,
            )
        )
    return issues


def _serial_issues(name: str, serial: str) -> list[Issue]:
    if _SERIAL.fullmatch(serial):
        try:
            datetime.datetime.strptime(serial, "%Y%m%d%H%M%S")
        except ValueError:
            pass
        else:
            return []
    hint_ja = hint_en = ""
    if serial.isdigit() and len(serial) != 14:
        hint_ja = f"（{len(serial)}桁です）"
        hint_en = f" (it has {len(serial)} digits)"
    return [
        _name_issue(
            name,
            "name.serial",
            f"ファイル連番は14桁の日時（YYYYMMDDHHMMSS）です{hint_ja}",
            f"the ファイル連番 must be a 14-digit date-time YYYYMMDDHHMMSS{hint_en}",
            serial,
        )
    ]


def _extension_issues(name: str, extension: str, is_image: bool) -> list[Issue]:
    allowed = ("jpg", "jpeg") if is_image else ("csv",)
    if extension.lower() in allowed:
        return []
    wanted = ".jpg" if is_image else ".CSV"
    return [
        _name_issue(
            name,
            "name.extension",
            f"拡張子は {wanted} です",
            f"the extension must be {wanted}",
            "." + extension if extension else "",
        )
    ]
