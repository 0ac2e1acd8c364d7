"""Collecting both sides of a month: which 予定 and which 実績 records count.

A care-manager office sends the schedule of a user (第6表 + 第7表 + 補足) to every provider of the
user, and each copy lists every provider's services. So each provider's part of a user's plan is
taken by 第6表 No.20 サービス事業者コード, from one copy only (copies are de-duplicated):

* the copy addressed to that provider, the one with the latest ファイル連番 (a later unit
  supersedes an earlier one); if the latest event addressed to it is a 第6表予定_削除 (DLTPLAN)
  naming the user and month, the provider's part is withdrawn;
* for a provider that was sent no copy, the latest copy that was not withdrawn.

The 第7表 and 補足 of a user come from the latest copy not withdrawn. 実績 (UPJSK) are taken
per user, provider and sending service type from the unit with the latest ファイル連番; a later
実績_削除 (DLTJSK) removes that provider's records of the service type it names.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from itertools import groupby, repeat
from operator import attrgetter
from pathlib import Path
from typing import Any, Union

import attrs

from ..errors import FormatError
from ..format import CSV_VERSION_CURRENT, Bundle, CareplanFile, FileName, Office, parse_plan
from ..format._record import Record
from ._model import Location, UserKey, month_text
from ._units import GRAND_TOTAL_SERVICE_CODE

__all__ = ["Collected", "ReconcileSource", "Row", "collect"]

ReconcileSource = Union[
    str,
    "os.PathLike[str]",
    Bundle,
    CareplanFile,
    Mapping[str, bytes],
    Iterable[Union[str, "os.PathLike[str]", Bundle, CareplanFile]],
]
"""A file or folder path, a `Bundle`, a parsed `CareplanFile`, a mapping of file name → bytes,
or several of these."""

Row = tuple[Any, Location]
"""A record and where it is."""

_PLAN_LAYOUTS = frozenset({"table6_plan", "table7", "supplement", "table6_plan_delete"})
_RESULT_LAYOUTS = frozenset({"table6_actual", "table6_actual_delete"})


@attrs.frozen
class _Copy:
    """One schedule unit's content for one user."""

    serial: str
    sender: Office
    receiver: Office
    parts: dict[str, list[Row]]  # provider No.20 → rows
    table7: list[Row]
    supplement: Any | None


@attrs.define
class Collected:
    """The records that count, both sides, keyed by user and month."""

    care_office_no: str | None = None
    care_office: Office | None = None
    """The sending office of the schedules (with its service type in v4.1 names)."""
    plan_csv_version: str = CSV_VERSION_CURRENT
    plan: dict[UserKey, dict[str, list[Row]]] = attrs.Factory(dict)
    """User → provider → planned 第6表 rows (empty part: not in the plan)."""
    table7: dict[UserKey, list[Row]] = attrs.Factory(dict)
    supplements: dict[UserKey, Any] = attrs.Factory(dict)
    receivers: dict[UserKey, list[Office]] = attrs.Factory(dict)
    """User → the offices its schedule was sent to (latest copy each)."""
    provider_offices: dict[str, Office] = attrs.Factory(dict)
    """Provider number → the Office (with service type) schedules were addressed to."""
    latest_serial: dict[tuple[str, str], str] = attrs.Factory(dict)
    """(sender, receiver) → the latest ファイル連番 of the plan side."""
    results: dict[UserKey, dict[str, list[Row]]] = attrs.Factory(dict)
    """User → provider → 実績 rows that count."""
    result_receivers: dict[UserKey, dict[str, set[str]]] = attrs.Factory(dict)
    """User → provider → care offices its 実績 were addressed to."""
    reported: set[tuple[str, str]] = attrs.Factory(set)
    """(provider, month YYYYMM) of every provider that sent 実績 for the month: a planned user
    it sent nothing for was not served (its visits are cancelled, not awaited)."""


def collect(plan: ReconcileSource, results: ReconcileSource) -> Collected:
    """Read both sides and select what counts. Raises `FormatError` for unreadable files."""
    files: dict[str, CareplanFile] = {}
    for source in (plan, results):
        for file in _files(source):
            files.setdefault(str(file.name), file)
    collected = Collected()
    # One UserKey per user and month for both sides: the dictionaries keyed by users then find
    # them by identity (UserKey's __eq__ is a Python call).
    keys: dict[tuple[Any, ...], UserKey] = {}
    plan_files = [f for f in files.values() if f.name.layout_id in _PLAN_LAYOUTS]
    _collect_plan(plan_files, collected, keys)
    result_files = [f for f in files.values() if f.name.layout_id in _RESULT_LAYOUTS]
    _collect_results(result_files, collected, keys)
    return collected


# -- reading ------------------------------------------------------------------------------------


def _files(source: Any) -> Iterable[CareplanFile]:
    if isinstance(source, CareplanFile):
        yield source
    elif isinstance(source, Bundle):
        for name, data in source.files.items():
            yield from _parsed(name, data)
    elif isinstance(source, Mapping):
        for name, data in source.items():
            yield from _parsed(Path(name).name, bytes(data))
    elif isinstance(source, Record):
        # A record is a tuple (of its values): iterated as a source, its values would be
        # taken for paths.
        raise TypeError(f"not a reconcile source: {type(source).__name__} (give its file)")
    elif isinstance(source, str | os.PathLike):
        path = Path(source)
        if path.is_dir():
            for child in sorted(path.iterdir()):
                if child.is_file() and _is_standard(child.name):
                    yield from _parsed(child.name, child)
        else:
            yield from _parsed(path.name, path)
    elif isinstance(source, Iterable):
        for item in source:
            yield from _files(item)
    else:
        raise TypeError(f"not a reconcile source: {type(source).__name__}")


def _is_standard(name: str) -> bool:
    try:
        file_name = FileName.parse(name)
    except FormatError:
        return False
    return file_name.layout_id in _PLAN_LAYOUTS | _RESULT_LAYOUTS


def _parsed(name: str, data: bytes | Path) -> Iterable[CareplanFile]:
    file_name = FileName.parse(name)
    if file_name.layout_id not in _PLAN_LAYOUTS | _RESULT_LAYOUTS:
        return
    if file_name.layout_id == "supplement" and file_name.month == "000000":
        return  # a plan's 補足 (居宅サービス計画), not a schedule's
    yield parse_plan(data, name=file_name)


def _user(record: Any, month_attribute: str = "target_month") -> UserKey:
    return UserKey(
        record.insurer_no or "",
        record.insured_no or "",
        month_text(getattr(record, month_attribute)),
    )


_PERSON = attrgetter("insurer_no", "insured_no", "target_month")
_PROVIDER = attrgetter("provider_office_no")
_PLAN_OFFICE = attrgetter("plan_office_no")
_new_tuple: Callable[..., Any] = tuple.__new__


def _rows(
    file: CareplanFile, keys: dict[tuple[Any, ...], UserKey]
) -> tuple[list[UserKey], list[Row]]:
    """The user of each record, and each record with its location (in file order). `keys`
    holds the UserKey of each (insurer, insured, month) seen so far, and gets the new ones."""
    records = file.records
    name = str(file.name)
    # A Location is a typed tuple: made in C, without a Python call per record.
    locations = map(_new_tuple, repeat(Location), zip(repeat(name), range(1, len(records) + 1)))
    rows: list[Row] = list(zip(records, locations, strict=True))
    # One UserKey per user and month, shared by its records: a month has thousands of records
    # and a few hundred users. A user's records are consecutive: one look-up per run (`groupby`
    # compares in C, and the reader shares a file's month values: an identity check).
    users: list[UserKey] = []
    for person, run in groupby(map(_PERSON, records)):
        user = keys.get(person)
        if user is None:
            user = keys[person] = UserKey(person[0] or "", person[1] or "", month_text(person[2]))
        users += repeat(user, len(list(run)))
    return users, rows


# -- the plan side ------------------------------------------------------------------------------


def _collect_plan(
    files: list[CareplanFile], out: Collected, keys: dict[tuple[Any, ...], UserKey]
) -> None:
    units: dict[tuple[Any, ...], list[CareplanFile]] = {}
    for file in files:
        units.setdefault(file.name.unit_key, []).append(file)
    copies: dict[UserKey, list[_Copy]] = {}
    deletions: dict[tuple[UserKey, str], list[str]] = {}  # (user, receiver) → serials
    senders: dict[str, int] = {}
    sender_offices: dict[str, Office] = {}
    for unit_files in units.values():
        first = unit_files[0].name
        pair = (first.sender.number, first.receiver.number)
        if first.serial > out.latest_serial.get(pair, ""):
            out.latest_serial[pair] = first.serial
        by_user: dict[UserKey, _Copy] = {}

        for file in unit_files:
            layout_id = file.name.layout_id
            if layout_id == "table6_plan_delete":
                for record in file.records:
                    user = _user(record, "deletion_month")
                    deletions.setdefault((user, first.receiver.number), []).append(first.serial)
                continue
            senders[first.sender.number] = senders.get(first.sender.number, 0) + 1
            sender_offices[first.sender.number] = first.sender
            users, rows = _rows(file, keys)
            if layout_id == "table6_plan" and rows:
                out.plan_csv_version = rows[-1][0].csv_version
            # The records of a user (and provider) are consecutive: a run is looked up once and
            # its rows are taken as a slice (`groupby` compares in C; a user's records share one
            # UserKey, so comparing them is an identity check).
            if layout_id == "table6_plan":
                runs = zip(users, [p or "" for p in map(_PROVIDER, file.records)], strict=True)
            else:
                runs = zip(users, repeat(""))
            start = 0
            for (user, provider), run in groupby(runs):
                end = start + len(list(run))
                copy = by_user.get(user)
                if copy is None:
                    copy = by_user[user] = _Copy(
                        first.serial, first.sender, first.receiver, {}, [], None
                    )
                if layout_id == "table6_plan":
                    copy.parts.setdefault(provider, []).extend(rows[start:end])
                elif layout_id == "table7":
                    copy.table7.extend(rows[start:end])
                else:  # the 補足: the user's last record counts
                    by_user[user] = attrs.evolve(copy, supplement=rows[end - 1][0])
                start = end
        for user, copy in by_user.items():
            copies.setdefault(user, []).append(copy)
    if senders:
        out.care_office_no = max(senders, key=lambda number: senders[number])
        out.care_office = sender_offices[out.care_office_no]
    for user, user_copies in copies.items():
        _select_plan(user, user_copies, deletions, out)


def _withdrawn(user: UserKey, copy: _Copy, deletions: dict[tuple[UserKey, str], list[str]]) -> bool:
    return any(s > copy.serial for s in deletions.get((user, copy.receiver.number), ()))


def _select_plan(
    user: UserKey,
    copies: list[_Copy],
    deletions: dict[tuple[UserKey, str], list[str]],
    out: Collected,
) -> None:
    copies.sort(key=lambda c: c.serial)
    standing = [c for c in copies if not _withdrawn(user, c, deletions)]
    providers: list[str] = []
    for copy in copies:
        for provider in copy.parts:
            if provider not in providers:
                providers.append(provider)
    parts: dict[str, list[Row]] = {}
    table7: list[Row] = []
    for provider in providers:
        own = [c for c in copies if c.receiver.number == provider]
        if own:
            source = own[-1]
            if _withdrawn(user, source, deletions):
                continue
        elif standing:
            source = standing[-1]
        else:
            continue
        rows = source.parts.get(provider, [])
        if rows:
            parts[provider] = rows
            # The provider's 第7表 lines from the same copy as its 第6表 part: a copy may list
            # only the receiving provider's services.
            table7 += [row for row in source.table7 if row[0].provider_office_no == provider]
    if not parts:
        return
    out.plan[user] = parts
    if standing:
        latest = standing[-1]
        table7 += [row for row in latest.table7 if row[0].service_code == GRAND_TOTAL_SERVICE_CODE]
        if latest.supplement is not None:
            out.supplements[user] = latest.supplement
    out.table7[user] = table7
    latest_per_receiver: dict[str, Office] = {}
    for copy in standing:
        latest_per_receiver[copy.receiver.number] = copy.receiver
        out.provider_offices.setdefault(copy.receiver.number, copy.receiver)
    out.receivers[user] = list(latest_per_receiver.values())


# -- the results side ---------------------------------------------------------------------------


def _collect_results(
    files: list[CareplanFile], out: Collected, keys: dict[tuple[Any, ...], UserKey]
) -> None:
    # (user, provider, sending service type) → [(serial, rows)]
    parts: dict[tuple[UserKey, str, str | None], list[tuple[str, list[Row]]]] = {}
    by_unit: dict[tuple[Any, ...], dict[tuple[UserKey, str, str | None], list[Row]]] = {}
    withdrawals: dict[tuple[UserKey, str], list[tuple[str, str | None]]] = {}
    receivers: dict[tuple[UserKey, str], set[str]] = {}
    sent: dict[tuple[str, str], str] = {}
    withdrawn: dict[tuple[str, str], str] = {}
    for file in files:
        name = file.name
        if name.layout_id == "table6_actual_delete":
            for record in file.records:
                user = _user(record, "deletion_month")
                provider = getattr(record, "provider_office_no", None) or name.sender.number
                withdrawals.setdefault((user, provider), []).append(
                    (name.serial, getattr(record, "service_type", None))
                )
                key_month = (provider, user.month)
                withdrawn[key_month] = max(withdrawn.get(key_month, ""), name.serial)
            continue
        # A provider's file reports its month, even with no record for a user (or none at all).
        key_month = (name.sender.number, name.month or "")
        sent[key_month] = max(sent.get(key_month, ""), name.serial)
        unit = by_unit.setdefault((name.unit_key, name.serial), {})
        sender_no, service_type = name.sender.number, name.sender.service_type
        receiver_no = name.receiver.number
        users, rows = _rows(file, keys)
        # As on the plan side: one look-up per run of records of a user and provider.
        records = file.records
        providers = [named or sender_no for named in map(_PROVIDER, records)]
        plan_offices = list(map(_PLAN_OFFICE, records))
        start = 0
        for (user, provider), run in groupby(zip(users, providers, strict=True)):
            end = start + len(list(run))
            unit.setdefault((user, provider, service_type), []).extend(rows[start:end])
            offices = receivers.setdefault((user, provider), set())
            offices.add(receiver_no)
            offices.update(filter(None, plan_offices[start:end]))  # No.6, where stated
            start = end
    # Withdrawn 実績 are awaited again, unless a later file reports the month.
    out.reported.update(k for k, serial in sent.items() if serial > withdrawn.get(k, ""))
    for (_, serial), unit_parts in by_unit.items():
        for key, rows in unit_parts.items():
            parts.setdefault(key, []).append((serial, rows))
    for (user, provider, _), versions in parts.items():
        serial, rows = max(versions, key=lambda version: version[0])
        for withdrawal_serial, service_type in withdrawals.get((user, provider), ()):
            if withdrawal_serial > serial:
                rows = [
                    r
                    for r in rows
                    if service_type is not None and (r[0].service_code or "")[:2] != service_type
                ]
        if rows:
            out.reported.add((provider, user.month))
            out.results.setdefault(user, {}).setdefault(provider, []).extend(rows)
            out.result_receivers.setdefault(user, {})[provider] = receivers[(user, provider)]
