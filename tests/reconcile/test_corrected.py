"""The corrected plan: validates clean, reconciles against the 実績 with no difference, and
never replaces the original files."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from careplan_link import (
    FileName,
    FormatError,
    corrected_plan,
    reconcile,
    validate,
    write_bundle,
)
from tests.reconcile.helpers import INSURER, V, month

P1, P2 = "2710000001", "2710000002"
U1, U2 = "0000000001", "0000000002"

PLANNED = [
    V(U1, P1, 2),
    V(U1, P1, 9),
    V(U1, P2, 3, "151111", units=600),
    V(U2, P1, 4),
    V(U2, P2, 1, "171111", hour=None, units=1000),
]
DELIVERED = [
    V(U1, P1, 2, hour=14),
    V(U1, P1, 11),
    V(U1, P2, 3, "151111", units=600, count=2),
    V(U2, P1, 4, "112211"),
    V(U2, P1, 20),
    V(U2, P2, 16, "171111", hour=None, units=1000),
]


def test_corrected_plan_validates_and_matches_the_results() -> None:
    plan, results = month(PLANNED, DELIVERED)
    first = reconcile(plan, results)
    assert not first.ok
    corrected = corrected_plan(first, created=datetime.date(2025, 7, 1))
    bundles = corrected.bundles()
    assert sorted(b.receiver.number for b in bundles) == [P1, P2]  # one unit per provider
    for bundle in bundles:
        report = validate(bundle)
        assert report.ok, [i.message("en") for i in report.errors]
        original = next(b for b in plan if b.receiver == bundle.receiver)
        assert bundle.serial > original.serial  # a new ファイル連番
    again = reconcile(bundles, results)
    assert again.ok, [d.message_en for d in again.differences]
    assert corrected.flags == ()


def test_providers_without_results_keep_their_planned_part() -> None:
    plan, results = month(PLANNED, [v for v in DELIVERED if v.provider == P1])
    corrected = corrected_plan(reconcile(plan, results[:1]))
    again = reconcile(corrected.bundles(), results[:1])
    kinds = {d.kind.value for d in again.differences}
    assert kinds == {"results_missing"}  # P2's part is as planned, still awaited


def test_write_never_replaces_a_file(tmp_path: Path) -> None:
    plan, results = month(PLANNED, DELIVERED)
    for bundle in plan:
        write_bundle(bundle, to=tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    corrected = corrected_plan(reconcile(tmp_path, results))
    written = corrected.write(tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name in before} == before
    assert len(written) == 2
    with pytest.raises(FormatError):
        corrected.write(tmp_path)  # the same names again: refused, not replaced


def test_over_limit_keeps_the_original_allocation_and_flags() -> None:
    planned = [V(U1, P1, d, units=1000) for d in (2, 3)] + [V(U1, P2, 4, "151111", units=1000)]
    more = [*planned, V(U1, P1, 5, units=1000)]
    plan, _ = month(planned, [], limits={U1: 2500})
    results = month(more, more, limits={U1: 2500})[1]
    reconciliation = reconcile(plan, results)
    corrected = corrected_plan(reconciliation)
    assert [f.user.insured_no for f in corrected.flags] == [U1]
    original_over = {
        b.provider_office_no: b.over_limit_units
        for b in reconcile(plan, month(planned, planned, limits={U1: 2500})[1])
        .user(INSURER, U1)
        .benefit.lines
    }
    kept = {
        b.provider_office_no: b.over_limit_units
        for b in reconciliation.user(INSURER, U1).benefit.lines
    }
    assert kept == original_over and sum(kept.values()) == 500
    for bundle in corrected.bundles():
        assert validate(bundle).ok
        name = next(FileName.parse(n) for n in bundle.files if n.startswith("UPSIKYU"))
        assert name.serial == bundle.serial
