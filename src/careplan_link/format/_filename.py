"""File names of the standard: parse, format and mint them.

v4.1:  PREFIX[_YYYYMM]_<sender 10>_<sender type 2>_<receiver 10>_<receiver type 2>_<serial 14>.CSV
v3.x:  PREFIX[_YYYYMM]_<sender 10>_<receiver 10>_<serial 14>.CSV
image: UPKIHON_IMAGE_<sender 10>_<type 2>_<receiver 10>_<type 2>_<serial 14>_<branch 4>.jpg

The 14-digit ファイル連番 (a creation time, YYYYMMDDHHMMSS in Japan time) ties the files of one
transmission unit together and orders the units; it is kept exactly as given.
"""

from __future__ import annotations

import datetime
import itertools
import re
import threading
import unicodedata
from typing import Literal

import attrs

from .._issue import Issue
from ..errors import FormatError
from ..identifiers import office_number, service_type
from ._layouts import IMAGE_LAYOUT_ID, LAYOUTS, PREFIXES
from ._values import YearMonth, ZeroMonth

__all__ = ["JST", "FileName", "NameDiagnosis", "Office", "SerialClock", "diagnose", "new_serial"]

JST = datetime.timezone(datetime.timedelta(hours=9), "JST")
"""Japan Standard Time (no daylight saving, so a fixed offset; needs no tz database)."""

NamingRule = Literal["v4", "v3"]

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
        diagnosis = diagnose(name)
        if diagnosis.issues or diagnosis.guess is None:
            raise FormatError(diagnosis.issues)
        return diagnosis.guess

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


# -- diagnosing names that are not quite standard --------------------------------------------


@attrs.frozen
class NameDiagnosis:
    """What is wrong with a file name, and what it was meant to be.

    `guess` is the name read as far as it can be read: the interface its prefix names (or the
    standard prefix it is one slip away from) and its fields as given, empty where missing. It
    is None when the name is not meant as a standard name at all (`readme.txt`). Validation
    checks a misnamed file's content against `guess.layout_id`, so one run shows everything.
    """

    issues: tuple[Issue, ...]
    guess: FileName | None


# The fields of a name, by role; each role's value as the standard writes it (strict) and as
# a slip may have left it (loose, used to tell a wrong value from a missing field).
_ROLE_KIND = {
    "month": "month",
    "sender": "office",
    "sender_type": "type",
    "receiver": "office",
    "receiver_type": "type",
    "serial": "serial",
    "branch": "branch",
}
_STRICT = {
    "month": re.compile(r"[0-9]{6}"),
    "office": re.compile(r"[0-9]{9,10}"),
    "type": service_type.SHAPE,
    "serial": re.compile(r"[0-9]{14}"),
    "branch": re.compile(r"[0-9]{4}"),
}
_LOOSE = {
    "month": re.compile(r"[0-9]{0,8}"),
    "office": re.compile(r"[0-9]{6,12}|"),
    "type": re.compile(r"[0-9A-Za-z]{0,3}"),
    "serial": re.compile(r"[0-9]{0,16}"),
    "branch": re.compile(r"[0-9]{0,6}"),
}
_ROLE_JA = {
    "month": "対象年月",
    "sender": "送信元事業所番号",
    "sender_type": "送信元サービス種類",
    "receiver": "送信先事業所番号",
    "receiver_type": "送信先サービス種類",
    "serial": "ファイル連番",
    "branch": "枝番",
}
_ROLE_EN = {
    "month": "month (YYYYMM)",
    "sender": "sender office number",
    "sender_type": "sender service type",
    "receiver": "receiver office number",
    "receiver_type": "receiver service type",
    "serial": "ファイル連番 (YYYYMMDDHHMMSS)",
    "branch": "branch number",
}

# What browsers and file managers append to avoid a name clash: ` (1)` (Chrome, Edge,
# Firefox), ` - コピー` / ` - Copy` (Windows Explorer), ` copy`, ` 2` (macOS Finder), `-1`
# (Safari). Only after the last digit field, so no field of the name is taken for one.
_COPY_SUFFIX = re.compile(
    r"(?P<base>.*_[0-9]+)"
    r"(?P<suffix>\s*\([0-9]+\)|\s*-\s*(?:コピー|copy)(?:\s*\([0-9]+\))?|\s+copy(?:\s+[0-9]+)?"
    r"|\s+[0-9]+|-[0-9]+)"
    r"(?P<extension>\.[A-Za-z]+)?",
    re.IGNORECASE,
)


def diagnose(name: str) -> NameDiagnosis:
    """Read a file name as far as it goes and say exactly what is wrong with it.

    Beyond the per-field checks of `FileName.parse` it recognises the slips seen in real
    outboxes: a browser's ` (1)`, a prefix in lower case or one edit away from a standard one
    (`UPKHON` for `UPKIHON`), a v4.1 name without the receiver's office and type, an empty
    field (`__`).
    """
    issues: list[Issue] = []
    base = name
    copy = _COPY_SUFFIX.fullmatch(name)
    if copy is not None:
        base = copy.group("base") + (copy.group("extension") or "")
        issues.append(
            _name_issue(
                name,
                "name.copy_suffix",
                f"ファイル名の末尾の「{copy.group('suffix')}」は、ブラウザやエクスプローラーが"
                f"同じ名前を避けるために付けたものです。{base} に戻してください",
                f"the name ends in {copy.group('suffix')!r}, which a browser or file manager "
                f"adds to avoid a name clash: rename the file to {base}",
                copy.group("suffix"),
            )
        )
    character_issues = _check_characters(name, base)
    # Full-width digits and U+0332 (a combining low line that looks like `_`) are reported
    # above; reading past them still finds the interface the name means.
    readable = unicodedata.normalize("NFKC", base).replace("\u0332", "_")
    stem, dot, extension = readable.rpartition(".")
    if not dot:
        stem, extension = extension, ""
    chosen = _choose_prefix(name, stem, extension)
    if chosen is None:
        if not issues and not character_issues:
            issues.append(
                _name_issue(
                    name,
                    "name.unknown_prefix",
                    "ファイル名の接頭辞が標準仕様のどのファイルにも該当しません",
                    "the file name does not start with a prefix of the standard "
                    f"({', '.join(sorted(PREFIXES))})",
                    name,
                )
            )
        return NameDiagnosis(tuple(issues + character_issues), None)
    prefix, prefix_issue, reading, meant = chosen
    if prefix_issue is not None:
        issues.append(prefix_issue)
    guess, field_issues = reading.result(name, prefix, extension)
    # The characters explain the rest; per-field messages about them would only confuse.
    issues += character_issues or field_issues
    return NameDiagnosis(tuple(issues), guess if meant else None)


@attrs.frozen
class _Reading:
    """The fields after the prefix, matched to their roles (a role missing maps to None)."""

    roles: dict[str, str | None] | None
    """Role → field; None when the fields fit no form of the name."""
    fits: bool
    """True when the fields have the standard's shape (perhaps with wrong or missing values)."""
    layout_id: str
    has_month: bool
    is_image: bool

    def result(self, name: str, prefix: str, extension: str) -> tuple[FileName, list[Issue]]:
        issues: list[Issue] = []
        roles = self.roles
        if roles is None:
            issues.append(_field_count_issue(name, prefix, self.has_month, self.is_image))
            roles = {}
        else:
            missing = [role for role, value in roles.items() if value is None]
            if missing:
                issues.append(_missing_issue(name, prefix, missing, self.has_month, self.is_image))
            issues += _role_issues(name, roles)
        issues += _extension_issues(name, extension, self.is_image)
        # Fields of no known shape: read with the current (v4.1) rule.
        v4 = "sender_type" in roles or not roles

        def office(role: str) -> Office:
            type_ = (roles.get(f"{role}_type") or "") if v4 else None
            return Office(roles.get(role) or "", type_)

        guess = FileName(
            prefix=prefix,
            layout_id=self.layout_id,
            sender=office("sender"),
            receiver=office("receiver"),
            serial=roles.get("serial") or "",
            month=(roles.get("month") or "") if self.has_month else None,
            branch=(roles.get("branch") or "") if self.is_image else None,
            extension="." + extension if extension else "",
        )
        return guess, issues


def _choose_prefix(
    name: str, stem: str, extension: str
) -> tuple[str, Issue | None, _Reading, bool] | None:
    """The standard prefix the name starts with or means, an issue if it is not written
    exactly, the fields, and whether the name is meant as a standard file name at all."""
    parts = stem.split("_")
    exact: tuple[str, Issue | None, _Reading, bool] | None = None
    upper = stem.upper()
    for prefix in PREFIXES:  # longest first
        if upper.startswith(prefix + "_"):
            issue = None
            if not stem.startswith(prefix + "_"):
                given = stem[: len(prefix)]
                issue = _name_issue(
                    name,
                    "name.prefix",
                    f"ファイル名の接頭辞は大文字で書きます（{given} ではなく {prefix}）",
                    f"the prefix must be upper case: {prefix}, not {given}",
                    given,
                )
            reading = _read_fields(prefix, stem[len(prefix) + 1 :].split("_"))
            exact = (prefix, issue, reading, True)
            break
    if exact is not None and exact[2].fits:
        return exact
    for prefix in PREFIXES:
        width = prefix.count("_") + 1
        if len(parts) <= width:
            continue
        given = "_".join(parts[:width])
        if given.upper() == prefix or _edit_distance(given.upper(), prefix) != 1:
            continue
        reading = _read_fields(prefix, parts[width:])
        if reading.fits:
            issue = _name_issue(
                name,
                "name.prefix",
                f"ファイル名の接頭辞 {given} は標準仕様にありません。"
                f"{prefix} の誤りではありませんか",
                f"unknown prefix {given}: did you mean {prefix}?",
                given,
            )
            return prefix, issue, reading, True
    if exact is None:
        return None
    # A standard prefix with fields of no known shape: still meant as a standard file when it
    # has the standard's extension (so its content is checked); anything else is unrelated.
    allowed = ("jpg", "jpeg") if exact[2].is_image else ("csv",)
    return exact[0], exact[1], exact[2], extension.lower() in allowed


def _read_fields(prefix: str, fields: list[str]) -> _Reading:
    """Match the fields after a prefix to the roles of the v4.1 or v3 form."""
    layout_id = PREFIXES[prefix]
    has_month = prefix in _MONTH_PREFIXES
    is_image = layout_id == IMAGE_LAYOUT_ID
    lead = ["month"] if has_month else []
    tail = ["branch"] if is_image else []
    forms = [[*lead, "sender", "sender_type", "receiver", "receiver_type", "serial", *tail]]
    if not is_image:
        forms.append([*lead, "sender", "receiver", "serial"])

    def reading(roles: dict[str, str | None] | None, fits: bool) -> _Reading:
        return _Reading(roles, fits, layout_id, has_month, is_image)

    # Every field in its place, perhaps with a wrong value (a 9-digit office number).
    for form in forms:
        if len(form) == len(fields) and all(
            _LOOSE[_ROLE_KIND[role]].fullmatch(field)
            for role, field in zip(form, fields, strict=True)
        ):
            return reading(dict(zip(form, fields, strict=True)), True)
    # One or two fields left out, the others exactly as the standard writes them.
    for missing_count in (1, 2):
        for form in forms:
            if len(form) - len(fields) != missing_count:
                continue
            # Later fields first: a name that lost fields mostly lost the receiver's.
            combinations = itertools.combinations(range(len(form)), missing_count)
            for missing in reversed(list(combinations)):
                present = [role for i, role in enumerate(form) if i not in missing]
                if all(
                    _STRICT[_ROLE_KIND[role]].fullmatch(field)
                    for role, field in zip(present, fields, strict=True)
                ):
                    roles: dict[str, str | None] = {role: None for role in form}
                    roles.update(zip(present, fields, strict=True))
                    return reading(roles, True)
    # The right number of fields with odd values: check them one by one.
    for form in forms:
        if len(form) == len(fields):
            return reading(dict(zip(form, fields, strict=True)), False)
    return reading(None, False)


def _role_issues(name: str, roles: dict[str, str | None]) -> list[Issue]:
    issues = []
    for role, value in roles.items():
        if value == "":
            issues.append(
                _name_issue(
                    name,
                    "name.empty_field",
                    f"ファイル名の{_ROLE_JA[role]}が空です（「_」と「_」の間に何もありません）",
                    f"the {_ROLE_EN[role]} field of the file name is empty "
                    "(nothing between two '_')",
                    "",
                )
            )
    month = roles.get("month")
    if month and not _MONTH.fullmatch(month):
        issues.append(
            _name_issue(
                name,
                "name.month",
                "ファイル名の対象年月は6桁の数字（YYYYMM、計画の利用者補足情報は000000）です",
                "the month field must be 6 digits (YYYYMM, or 000000 for a plan's 補足)",
                month,
            )
        )
    for role, role_ja, role_en in (
        ("sender", "送信元", "sender"),
        ("receiver", "送信先", "receiver"),
    ):
        number = roles.get(role)
        service_type = roles.get(f"{role}_type")
        issues += _office_issues(name, role_ja, role_en, Office(number or "", service_type or None))
    serial = roles.get("serial")
    if serial:
        issues += _serial_issues(name, serial)
    branch = roles.get("branch")
    if branch and not _BRANCH.fullmatch(branch):
        issues.append(
            _name_issue(
                name,
                "name.branch",
                "画像ファイル名の枝番は4桁の数字です",
                "the image branch number must be 4 digits",
                branch,
            )
        )
    return issues


def _missing_issue(
    name: str, prefix: str, missing: list[str], has_month: bool, is_image: bool
) -> Issue:
    forms_ja, forms_en = _forms(prefix, has_month, is_image)
    what_ja = "と".join(_ROLE_JA[role] for role in missing)
    what_en = " and ".join(_ROLE_EN[role] for role in missing)
    hint_ja = hint_en = ""
    if missing == ["receiver", "receiver_type"]:
        hint_ja = "（v4.1 の名前には送信元と送信先の両方の事業所番号とサービス種類が入ります）"
        hint_en = " (a v4.1 name carries both offices, each with its service type)"
    return _name_issue(
        name,
        "name.fields",
        f"ファイル名に{what_ja}がありません{hint_ja}。形式: {forms_ja}",
        f"the file name lacks the {what_en}{hint_en}; expected {forms_en}",
        name,
    )


def _edit_distance(a: str, b: str) -> int:
    """Edits (insert, delete, replace, swap two neighbours) that turn `a` into `b`."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, char_b in enumerate(b, start=1):
            cost = 0 if char_a == char_b else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and char_a == b[j - 2] and a[i - 2] == char_b:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[len(b)]


# -- helpers for precise messages ------------------------------------------------------------


def _check_characters(name: str, text: str) -> list[Issue]:
    """Issues about non-ASCII characters in `text` (the name without a copy suffix)."""
    if text.isascii():
        return []
    odd = sorted({c for c in text if not c.isascii()})
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


def _forms(prefix: str, has_month: bool, is_image: bool) -> tuple[str, str]:
    """The v4.1 (and v3) forms of a prefix's names, in Japanese and English."""
    month = "_YYYYMM" if has_month else ""
    branch = "_NNNN" if is_image else ""
    extension = ".jpg" if is_image else ".CSV"
    v4 = f"{prefix}{month}_事業所番号_種類_事業所番号_種類_YYYYMMDDHHMMSS{branch}{extension}"
    v3 = f"{prefix}{month}_事業所番号_事業所番号_YYYYMMDDHHMMSS{extension}"
    v4_en = f"{prefix}{month}_office_type_office_type_YYYYMMDDHHMMSS{branch}{extension}"
    v3_en = f"{prefix}{month}_office_office_YYYYMMDDHHMMSS{extension}"
    if is_image:
        return v4, v4_en
    return f"{v4}（v3: {v3}）", f"{v4_en} (v3: {v3_en})"


def _field_count_issue(name: str, prefix: str, has_month: bool, is_image: bool) -> Issue:
    forms_ja, forms_en = _forms(prefix, has_month, is_image)
    extra_ja = extra_en = ""
    if prefix == "UPKIHON" and re.match(r"UPKIHON_\d{6}_", name):
        extra_ja = "（UPKIHON には対象年月の項目はありません）"
        extra_en = " (UPKIHON names have no month field)"
    return _name_issue(
        name,
        "name.fields",
        f"ファイル名の項目の数が違います。形式: {forms_ja}{extra_ja}",
        f"wrong number of fields in the file name; expected {forms_en}{extra_en}",
        name,
    )


def _office_issues(name: str, role_ja: str, role_en: str, office: Office) -> list[Issue]:
    issues = []
    if office.number and not office_number.has_shape(office.number):
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
    if office.service_type is not None and not service_type.has_shape(office.service_type):
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
