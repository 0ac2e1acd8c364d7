"""The result types of a reconciliation: visits, differences, unit figures, 給付管理票 figures.

All frozen values. Each difference is located on both sides (file name and 1-based record number)
and carries its message in Japanese and English; `Reconciliation.to_dict` is the JSON form.
"""

from __future__ import annotations

import datetime
import enum
from collections.abc import Iterator
from typing import Any, Literal

import attrs

from ..format import NOT_COMPUTABLE, NotComputable, YearMonth, ZeroMonth
from ..format._record import tuple_record

__all__ = [
    "BenefitFigures",
    "BenefitLine",
    "Difference",
    "DifferenceKind",
    "LimitCheck",
    "Location",
    "Reconciliation",
    "UnitComparison",
    "UnmatchedCause",
    "UserKey",
    "UserReconciliation",
    "Visit",
]

Figure = int | NotComputable | None
"""Units: an int, `NOT_COMPUTABLE` (第6表 No.8 empty or 0), or None (nothing stated)."""


class DifferenceKind(enum.Enum):
    """What kind of difference between 予定 and 実績 (the statuses are stated here only)."""

    CANCELLED = "cancelled"
    """Planned, not delivered (予定のみ)."""
    ADDED = "added"
    """Delivered, not planned (実績のみ)."""
    MOVED = "moved"
    """Delivered on another day than planned (one move: planned day → delivered day)."""
    TIME = "time"
    """Delivered on the planned day at another time."""
    CODE = "code"
    """Delivered on the planned day under another サービスコード."""
    COUNT = "count"
    """Delivered on the planned day with another サービス回数."""
    UNMATCHED = "unmatched"
    """A 実績 record whose office, month, user or provider matches no 予定 (see `cause`)."""
    UNITS = "units"
    """The units of a provider and service type differ between the 第7表 and the 実績."""
    RESULTS_MISSING = "results_missing"
    """A provider in the plan has sent no 実績 for the user (yet)."""
    OVER_LIMIT = "over_limit"
    """The original allocation of units over the 区分支給限度基準額 no longer fits."""


class UnmatchedCause(enum.Enum):
    """The likely cause of a 実績 record that matches no 予定."""

    OTHER_OFFICE = "other_office"
    """Addressed to (or naming in No.6) another care-manager office than the plan's."""
    OTHER_MONTH = "other_month"
    """The user is in the plan, for another month."""
    INSURED_NO_TYPO = "insured_no_typo"
    """No such user; a planned 被保険者番号 differs by one character (or two swapped)."""
    PROVIDER_NOT_IN_PLAN = "provider_not_in_plan"
    """The user and month are planned, but not with this provider."""
    UNKNOWN_USER = "unknown_user"
    """No planned user comes close."""


class _LocationMethods:
    # The methods of `Location`: `tuple_record` keeps the bases of a class, not its body.
    __slots__ = ()
    file: str
    record: int

    def __str__(self) -> str:
        return f"{self.file} #{self.record}"


# A typed tuple (`tuple_record`), as the records are: a reconciliation makes one `Location` and
# one `Visit` per record of both sides, and filling a frozen attrs object costs a Python-level
# call per field — about as much as the rest of the matching (issue 19's speed target).
@tuple_record
@attrs.frozen
class Location(_LocationMethods):
    """Where a record is: the file's name and its 1-based record number."""

    file: str
    record: int


@attrs.frozen(order=True, cache_hash=True)
class UserKey:
    """A user and month: 保険者番号, 被保険者番号, 対象年月."""

    insurer_no: str
    insured_no: str
    month: str
    """YYYYMM as written."""

    def __str__(self) -> str:
        return f"{self.insurer_no}-{self.insured_no} {self.month}"


class _VisitMethods:
    # The methods of `Visit` (a `tuple_record`, as `Location`).
    __slots__ = ()
    location: Location
    provider_office_no: str
    service_code: str
    date: datetime.date | None
    start: datetime.time | None
    end: datetime.time | None
    count: int | None
    units: int | None
    monthly: bool

    @property
    def service_type(self) -> str:
        return self.service_code[:2]

    def time_text(self) -> str:
        if self.start is None and self.end is None:
            return "時間なし"
        return f"{_hhmm(self.start)}-{_hhmm(self.end)}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.location.file,
            "record": self.location.record,
            "provider_office_no": self.provider_office_no,
            "service_code": self.service_code,
            "date": self.date.isoformat() if self.date else None,
            "start": _hhmm(self.start) if self.start else None,
            "end": _hhmm(self.end) if self.end else None,
            "count": self.count,
            "units": self.units,
            "monthly": self.monthly,
        }


@tuple_record
@attrs.frozen
class Visit(_VisitMethods):
    """A 第6表 record (予定 or 実績) seen as a visit."""

    location: Location
    provider_office_no: str
    service_code: str
    date: datetime.date | None
    start: datetime.time | None
    end: datetime.time | None
    count: int | None
    units: int | None
    monthly: bool = False
    """A monthly or 包括 service (compared per month, not per day)."""


def _hhmm(value: datetime.time | None) -> str:
    return value.strftime("%H:%M") if value is not None else "--:--"


@attrs.frozen
class Difference:
    """One difference, located on both sides, described in Japanese and English."""

    kind: DifferenceKind
    user: UserKey
    provider_office_no: str | None
    message_ja: str
    message_en: str
    planned: Location | None = None
    delivered: Location | None = None
    service_code: str | None = None
    planned_date: datetime.date | None = None
    delivered_date: datetime.date | None = None
    cause: UnmatchedCause | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "insurer_no": self.user.insurer_no,
            "insured_no": self.user.insured_no,
            "month": self.user.month,
            "provider_office_no": self.provider_office_no,
            "service_code": self.service_code,
            "planned_file": self.planned.file if self.planned else None,
            "planned_record": self.planned.record if self.planned else None,
            "delivered_file": self.delivered.file if self.delivered else None,
            "delivered_record": self.delivered.record if self.delivered else None,
            "planned_date": self.planned_date.isoformat() if self.planned_date else None,
            "delivered_date": self.delivered_date.isoformat() if self.delivered_date else None,
            "cause": self.cause.value if self.cause else None,
            "message_ja": self.message_ja,
            "message_en": self.message_en,
        }


def figure_json(value: Figure) -> int | str | None:
    """A figure as JSON: an int, "not computable" or null."""
    return NOT_COMPUTABLE.value if value is NOT_COMPUTABLE else value


@attrs.frozen
class UnitComparison:
    """The units of one provider and service type: from the 予定's 第7表 and from the 実績.

    `planned` is the sum of サービス単位／金額 (No.17) of the 第7表's detail lines; `delivered`
    the same sum recomputed from the 実績 (第6表 No.8 × No.14, by `build_table7`), or
    `NOT_COMPUTABLE` where a 実績 line's No.8 is empty or 0. None where a side states nothing.
    """

    provider_office_no: str
    service_type: str
    planned: Figure
    delivered: Figure
    arrived: bool
    """Whether the provider's 実績 for the user arrived (else `delivered` is None)."""

    @property
    def difference(self) -> Figure:
        """delivered − planned; `NOT_COMPUTABLE` if either is; None when 実績 has not arrived."""
        if not self.arrived:
            return None
        if self.planned is NOT_COMPUTABLE or self.delivered is NOT_COMPUTABLE:
            return NOT_COMPUTABLE
        return (self.delivered or 0) - (self.planned or 0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "provider_office_no": self.provider_office_no,
            "service_type": self.service_type,
            "planned": figure_json(self.planned),
            "delivered": figure_json(self.delivered),
            "difference": figure_json(self.difference),
            "arrived": self.arrived,
        }


@attrs.frozen
class LimitCheck:
    """The user's 給付管理単位数 against the 区分支給限度基準額 of the 補足 (No.19)."""

    limit: int | None
    planned_total: Figure
    delivered_total: Figure
    """給付管理単位数 of the month as delivered (実績 where it arrived, else 予定)."""

    @property
    def within(self) -> bool | None:
        """True/False; None when the limit is unknown or the total not computable."""
        if self.limit is None or not isinstance(self.delivered_total, int):
            return None
        return self.delivered_total <= self.limit

    def to_dict(self) -> dict[str, Any]:
        return {
            "limit": self.limit,
            "planned_total": figure_json(self.planned_total),
            "delivered_total": figure_json(self.delivered_total),
            "within": self.within,
        }


@attrs.frozen
class BenefitLine:
    """One line of a 給付管理票: provider, service type, 給付計画単位数."""

    provider_office_no: str
    service_type: str
    units: Figure
    """給付計画単位数: the units within the 区分支給限度 (managed units less the units over it)."""
    over_limit_units: int = 0
    """Units over the 種類 and 区分 limits allocated to this line (kept from the original
    第7表)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "provider_office_no": self.provider_office_no,
            "service_type": self.service_type,
            "units": figure_json(self.units),
            "over_limit_units": self.over_limit_units,
        }


@attrs.frozen
class BenefitFigures:
    """What the 給付管理票 of one user needs (figures only, not the 国保連 file)."""

    lines: tuple[BenefitLine, ...]
    final: bool
    """True only when every provider's 実績 for the user has arrived."""
    allocation_fits: bool | None
    """Whether the original over-limit allocation still fits (None: limit unknown)."""

    @property
    def total(self) -> Figure:
        total = 0
        for line in self.lines:
            if line.units is NOT_COMPUTABLE:
                return NOT_COMPUTABLE
            total += line.units or 0
        return total

    def to_dict(self) -> dict[str, Any]:
        return {
            "final": self.final,
            "allocation_fits": self.allocation_fits,
            "total": figure_json(self.total),
            "lines": [line.to_dict() for line in self.lines],
        }


@attrs.frozen
class UserReconciliation:
    """One user and month: the visits of both sides, the differences, units and 給付管理票."""

    user: UserKey
    planned: tuple[Visit, ...]
    delivered: tuple[Visit, ...]
    differences: tuple[Difference, ...]
    units: tuple[UnitComparison, ...]
    limit: LimitCheck
    benefit: BenefitFigures
    providers: tuple[str, ...]
    """The providers of the plan (No.20), in first-seen order."""
    arrived: frozenset[str]
    """Providers whose 実績 for this user arrived."""
    matched: int = 0
    """Visits delivered as planned."""

    @property
    def ok(self) -> bool:
        return not self.differences

    def to_dict(self) -> dict[str, Any]:
        return {
            "insurer_no": self.user.insurer_no,
            "insured_no": self.user.insured_no,
            "month": self.user.month,
            "providers": list(self.providers),
            "arrived": sorted(self.arrived),
            "matched": self.matched,
            "differences": [d.to_dict() for d in self.differences],
            "units": [u.to_dict() for u in self.units],
            "limit": self.limit.to_dict(),
            "benefit": self.benefit.to_dict(),
            "planned": [v.to_dict() for v in self.planned],
            "delivered": [v.to_dict() for v in self.delivered],
        }


@attrs.frozen
class Reconciliation:
    """予定 against 実績 for one care-manager office: per user, and what matches no 予定."""

    care_office_no: str | None
    months: tuple[str, ...]
    users: tuple[UserReconciliation, ...]
    unmatched: tuple[Difference, ...]
    """実績 records that match no planned user, month, office or provider (kind UNMATCHED)."""
    sources: Any = attrs.field(default=None, eq=False, repr=False)
    """The collected records both sides (for `corrected_plan`); not part of the value."""

    @property
    def differences(self) -> tuple[Difference, ...]:
        """Every difference: per user, then the unmatched 実績."""
        return (*(d for user in self.users for d in user.differences), *self.unmatched)

    @property
    def ok(self) -> bool:
        """True when everything matches (and every 実績 arrived)."""
        return not self.unmatched and all(user.ok for user in self.users)

    def __iter__(self) -> Iterator[UserReconciliation]:
        return iter(self.users)

    def user(
        self, insurer_no: str, insured_no: str, month: str | None = None
    ) -> UserReconciliation:
        """The reconciliation of one user (the only month, or `month` YYYYMM)."""
        for entry in self.users:
            key = entry.user
            same_person = key.insurer_no == insurer_no and key.insured_no == insured_no
            if same_person and (month is None or key.month == month):
                return entry
        raise KeyError(f"no planned user {insurer_no}-{insured_no} {month or ''}".rstrip())

    def summary(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for difference in self.differences:
            counts[difference.kind.value] = counts.get(difference.kind.value, 0) + 1
        return {
            "ok": self.ok,
            "users": len(self.users),
            "matched": sum(user.matched for user in self.users),
            "differences": len(self.differences),
            "kinds": dict(sorted(counts.items())),
            "final_users": sum(user.benefit.final for user in self.users),
        }

    def to_text(self, lang: Literal["ja", "en"] = "ja") -> str:
        """The readable report (the CLI's table); `lang` is the language shown first."""
        from ._report import to_text  # the renderers sit over this module

        return to_text(self, lang)

    def to_csv(self) -> bytes:
        """CSV for Excel (MS932, CRLF): the differences, then the units and 給付管理票 figures."""
        from ._report import to_csv

        return to_csv(self)

    def to_html(self) -> str:
        """One self-contained HTML page: a month calendar per user (see docs/reconcile.md on
        handling the personal data it holds)."""
        from ._html import to_html

        return to_html(self)

    def to_dict(self) -> dict[str, Any]:
        """The reconciliation as JSON-ready data (the CLI's `--json` form)."""
        return {
            "care_office_no": self.care_office_no,
            "months": list(self.months),
            "summary": self.summary(),
            "users": [user.to_dict() for user in self.users],
            "unmatched": [d.to_dict() for d in self.unmatched],
        }


def month_text(month: YearMonth | ZeroMonth | None) -> str:
    """YYYYMM of a 対象年月 value ('' when absent)."""
    return str(month) if month is not None else ""
