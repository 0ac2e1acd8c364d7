"""The editions of the standard, as data: the one module that knows CSVバージョン values.

Each `Edition` says which CSVバージョン it writes, which other values a reader meets for it (and
what each means), which layout family its files are read with (a key of
`_generated.LAYOUT_FAMILIES`), which file-name rule goes with it (`FileName.naming`) and the first
service month it applies to; it applies until the next edition's first month. `EDITIONS` is the
registry every other module asks: the reader and writer (which layouts), validation (is a value
known, superseded, right for the month and the name), convert (what an edition is, its naming
rule), the strategies (which months an edition covers).

Adding an edition is one `Edition(...)` in `_EDITIONS` below; an edition that changes layouts
also needs its family generated into `_generated.py` (see docs/format.md, "Editions").
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

import attrs

from ._values import YearMonth

if TYPE_CHECKING:
    from ._filename import FileName, NamingRule

__all__ = [
    "CURRENT",
    "EDITIONS",
    "AcceptedValue",
    "Edition",
    "Editions",
    "ValueMeaning",
]


class ValueMeaning(enum.Enum):
    """What a CSVバージョン value met on read means for the edition that accepts it."""

    WRITTEN = "written"
    """The value the edition writes."""
    SUPERSEDED = "superseded"
    """An earlier value of the same edition, replaced by the one it writes: read with the
    edition's layouts and accepted for its months, with a `version.superseded` warning."""
    EDITION_NAME = "edition_name"
    """What the standard's own text calls the edition (e.g. 201905版), never a CSVバージョン:
    read with the edition's layouts, reported `version.unknown`."""
    SLIP = "slip"
    """A value real exporters write by mistake for this edition: read with its layouts,
    reported `version.unknown` with a message saying what was meant."""


@attrs.frozen
class AcceptedValue:
    """A CSVバージョン value besides the one an edition writes, with what it means."""

    value: str
    meaning: ValueMeaning
    message_ja: str = ""
    """For `SUPERSEDED` and `SLIP`: the message the validation issue carries."""
    message_en: str = ""


@attrs.frozen
class Edition:
    """One edition of the standard, as far as files are concerned."""

    name: str
    """Short name, e.g. `v4.1` (used in messages)."""
    title_ja: str
    """The edition as the standard names it, e.g. 第4.1版（令和6年10月）."""
    csv_version: str
    """The CSVバージョン value it writes (No.1 of every record)."""
    family: str
    """The layout family its files are read and written with: a key of `LAYOUT_FAMILIES`."""
    naming: NamingRule
    """The file-name rule of its files (`FileName.naming`: `v4` with service types, `v3`
    without)."""
    first_month: YearMonth
    """The first service month it applies to (it applies until the next edition's)."""
    also_accepts: tuple[AcceptedValue, ...] = ()
    """Other values met on read for this edition, with what each means."""

    @property
    def values(self) -> tuple[str, ...]:
        """Every value read as this edition: the one it writes first."""
        return (self.csv_version, *(accepted.value for accepted in self.also_accepts))

    @property
    def supersedes(self) -> tuple[str, ...]:
        """Values this edition's value replaced (accepted with a warning)."""
        return tuple(a.value for a in self.also_accepts if a.meaning is ValueMeaning.SUPERSEDED)

    @property
    def names_carry_service_types(self) -> bool:
        """Its file names carry the offices' service types (the v4.1 rule)."""
        return self.naming == "v4"


class Editions:
    """The registry of editions, oldest first, with the lookups the package needs."""

    def __init__(self, editions: tuple[Edition, ...], current: str) -> None:
        self._editions = tuple(sorted(editions, key=lambda e: e.first_month))
        by_value: dict[str, tuple[Edition, AcceptedValue]] = {}
        for edition in self._editions:
            written = AcceptedValue(edition.csv_version, ValueMeaning.WRITTEN)
            for accepted in (written, *edition.also_accepts):
                if accepted.value in by_value:
                    raise ValueError(f"CSVバージョン {accepted.value} is in two editions")
                by_value[accepted.value] = (edition, accepted)
        self._by_value = by_value
        by_name = {edition.name: edition for edition in self._editions}
        if len(by_name) != len(self._editions):
            raise ValueError("two editions share a name")
        self._by_name = by_name
        naming: dict[str, str] = {}
        for edition in self._editions:
            if naming.setdefault(edition.family, edition.naming) != edition.naming:
                raise ValueError(f"family {edition.family} has two naming rules")
        self.current: Edition = by_name[current]
        """The edition written by default; unknown values are read with its layouts."""
        #: CSVバージョン values of the standard (written or superseded) → first service month.
        self.known_values: Mapping[str, str] = MappingProxyType(
            {
                accepted.value: str(edition.first_month)
                for edition, accepted in by_value.values()
                if accepted.meaning in (ValueMeaning.WRITTEN, ValueMeaning.SUPERSEDED)
            }
        )

    def __iter__(self) -> Iterator[Edition]:
        return iter(self._editions)

    def __len__(self) -> int:
        return len(self._editions)

    def __getitem__(self, name: str) -> Edition:
        """The edition of this name (`v4.1`); KeyError if none."""
        return self._by_name[name]

    @property
    def families(self) -> tuple[str, ...]:
        """The layout families of the editions, current first, each once."""
        others = [e.family for e in reversed(self._editions) if e.family != self.current.family]
        return tuple(dict.fromkeys([self.current.family, *others]))

    def by_value(self, csv_version: str | None) -> Edition | None:
        """The edition a CSVバージョン value is read as (any meaning); None if unknown."""
        found = self._by_value.get(csv_version) if csv_version is not None else None
        return found[0] if found else None

    def accepted(self, csv_version: str) -> AcceptedValue | None:
        """What a CSVバージョン value means to the edition that accepts it; None if unknown."""
        found = self._by_value.get(csv_version)
        return found[1] if found else None

    def is_written(self, csv_version: str) -> bool:
        """The value is one that an edition writes (a valid target of `convert`)."""
        found = self._by_value.get(csv_version)
        return found is not None and found[1].meaning is ValueMeaning.WRITTEN

    def family_of(self, csv_version: str | None) -> str:
        """The layout family a CSVバージョン value is read with: its edition's, or the current
        edition's for an unknown value (validation reports it)."""
        edition = self.by_value(csv_version)
        return (edition or self.current).family

    def for_family(self, family: str) -> Edition:
        """The edition a layout family is named after (its value is the family's name), or
        else the latest edition read with that family; KeyError if none."""
        found = self._by_value.get(family)
        if found is not None and found[0].family == family:
            return found[0]
        for edition in reversed(self._editions):
            if edition.family == family:
                return edition
        raise KeyError(f"no edition has layout family {family!r}")

    def for_month(self, month: YearMonth) -> Edition:
        """The edition that applies to a service month: the latest that started by then (the
        oldest for a month before every edition)."""
        applicable = [e for e in self._editions if e.first_month <= month]
        return applicable[-1] if applicable else self._editions[0]

    def months(self, edition: Edition) -> tuple[YearMonth, YearMonth | None]:
        """The first and last service month an edition applies to (None: no end yet)."""
        later = [e.first_month for e in self._editions if e.first_month > edition.first_month]
        if not later:
            return edition.first_month, None
        first_later = min(later)
        last = (
            YearMonth(first_later.year - 1, 12)
            if first_later.month == 1
            else YearMonth(first_later.year, first_later.month - 1)
        )
        return edition.first_month, last

    def for_naming(self, naming: str) -> Edition:
        """The latest edition whose files are named by this rule (the current edition if it is
        named so); KeyError if none."""
        if self.current.naming == naming:
            return self.current
        for edition in reversed(self._editions):
            if edition.naming == naming:
                return edition
        raise KeyError(f"no edition names its files by rule {naming!r}")

    def for_name(self, name: FileName) -> Edition:
        """The edition a file of this name is presumed to be before its first record is read:
        the one of its service month if the name's rule fits it, else the latest of its rule."""
        month = name.service_month
        if isinstance(month, YearMonth):
            edition = self.for_month(month)
            if edition.naming == name.naming:
                return edition
        return self.for_naming(name.naming)


_EDITIONS = (
    Edition(
        name="v1",
        title_ja="初版",
        csv_version="201910",
        family="202208",
        naming="v3",
        first_month=YearMonth(2020, 3),
        # The standard's history calls the first edition "201905版"; its layouts write 201910.
        also_accepts=(AcceptedValue("201905", ValueMeaning.EDITION_NAME),),
    ),
    Edition(
        name="v2",
        title_ja="第2版（令和2年3月）",
        csv_version="202003",
        family="202208",
        naming="v3",
        first_month=YearMonth(2020, 10),
    ),
    Edition(
        # 3.0, 3.1 and 3.2 share one value; the layouts are 3.2's (the earlier editions differ
        # only in lengths that the 3.2 layouts accept).
        name="v3",
        title_ja="第3版–第3.2版（令和4年8月–令和5年6月）",
        csv_version="202208",
        family="202208",
        naming="v3",
        first_month=YearMonth(2023, 1),
        also_accepts=(AcceptedValue("202206", ValueMeaning.EDITION_NAME),),  # "202206版"
    ),
    Edition(
        name="v4.1",
        title_ja="第4.1版（令和6年10月）",
        csv_version="202407",
        family="202407",
        naming="v4",
        first_month=YearMonth(2025, 4),
        also_accepts=(
            AcceptedValue(
                "202504",
                ValueMeaning.SUPERSEDED,
                "202504 は v4.0 の値で、v4.1 で 202407 に改められました",
                "202504 was v4.0's value; v4.1 replaced it with 202407",
            ),
            AcceptedValue(
                "202410",
                ValueMeaning.SLIP,
                "202410 はありません。v4.1 の値は 202407 です（202410 は v4.1 の発行月）",
                "there is no CSVバージョン 202410: v4.1's value is 202407 (202410 is the month "
                "v4.1 was issued; one public implementation writes it)",
            ),
            AcceptedValue(
                "202404",
                ValueMeaning.SLIP,
                "202404 は仕様書の記載例の値で、CSVバージョンではありません。"
                "202407 を使ってください",
                "202404 appears in the specification's examples but is no CSVバージョン: "
                "use 202407",
            ),
        ),
    ),
)

EDITIONS = Editions(_EDITIONS, current="v4.1")
"""The registry of the standard's editions."""

CURRENT: Edition = EDITIONS.current
"""The current edition (v4.1, CSVバージョン 202407)."""
