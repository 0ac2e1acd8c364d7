"""The identifiers where the library uses them: item rules (with the check-digit warnings, on
by default), file names, and the office number read from a certificate."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import attrs
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import careplan_link as cl
from careplan_link.format._columns import Columns
from careplan_link.format._file import CareplanFile
from careplan_link.format._findings import Findings
from careplan_link.format._item_rules import check_items

EXAMPLES = Path(__file__).parents[2] / "examples"
PLAN = EXAMPLES / "UPPLAN_202504_1370100016_43_1370200022_11_20250325093000.CSV"
TABLE7 = EXAMPLES / "UPSIKYU_202504_1370100016_43_1370200022_11_20250325093000.CSV"

# The examples' numbers, whose published check digits match.
GOOD_INSURER = "131011"
GOOD_CARE_OFFICE = "1370100016"
GOOD_PROVIDER = "1370200022"
# The same numbers with the last digit wrong (the examples' numbers until the warnings were on).
BAD_INSURER = "131001"
BAD_CARE_OFFICE = "1370100012"
BAD_PROVIDER = "1370200028"


def _issues(file: CareplanFile, **identifier_checks: bool) -> list[cl.Issue]:
    """The item issues of `file`; `identifier_checks=False` passed on, else the default."""
    findings = Findings(file, file.name.prefix)
    check_items(file, findings, Columns(file), **identifier_checks)
    return findings.finish()


def _with(file: CareplanFile, **changes: str) -> CareplanFile:
    records = tuple(attrs.evolve(_any(record), **changes) for record in file.records)
    return attrs.evolve(file, records=records)


def _any(record: object) -> Any:
    """A record as its concrete class (the layouts' classes are generated)."""
    return record


def _identifier_issues(issues: list[cl.Issue]) -> set[tuple[str, str | None, str | None]]:
    return {(i.code, i.item, i.value) for i in issues if i.code.startswith("identifier.")}


def _with_bad_numbers() -> CareplanFile:
    return _with(
        cl.parse_plan(PLAN),
        insurer_no=BAD_INSURER,
        plan_office_no=BAD_CARE_OFFICE,
        updater_office_no=BAD_CARE_OFFICE,
        provider_office_no=BAD_PROVIDER,
    )


def test_the_examples_numbers_pass_the_checks_that_are_on_by_default() -> None:
    assert _identifier_issues(_issues(cl.parse_plan(PLAN))) == set()


def test_a_wrong_check_digit_is_a_warning_naming_the_item() -> None:
    issues = _issues(_with_bad_numbers())  # the default: checks on
    found = _identifier_issues(issues)
    assert found == {
        ("identifier.check_digit", "保険者番号", BAD_INSURER),
        ("identifier.check_digit", "プラン担当業者コード", BAD_CARE_OFFICE),
        ("identifier.check_digit", "更新業者コード", BAD_CARE_OFFICE),
        ("identifier.check_digit", "サービス事業者コード", BAD_PROVIDER),
    }
    flagged = [i for i in issues if i.code.startswith("identifier.")]
    assert all(i.severity == "warning" for i in flagged)
    assert all(i.record is not None and i.column is not None for i in flagged)
    insurer = next(i for i in flagged if i.item == "保険者番号")
    assert "検証番号" in insurer.message_ja and "check digit" in insurer.message_en


def test_the_opt_out_leaves_out_both_identifier_warnings() -> None:
    file = _with(_with_bad_numbers(), provider_office_no="4870200022")
    assert _identifier_issues(_issues(file)) != set()  # the planted faults are seen when on
    assert _identifier_issues(_issues(file, identifier_checks=False)) == set()


def test_numbers_with_matching_check_digits_give_no_warning() -> None:
    file = _with(
        cl.parse_plan(PLAN),
        insurer_no=GOOD_INSURER,
        plan_office_no=GOOD_CARE_OFFICE,
        updater_office_no=GOOD_CARE_OFFICE,
        provider_office_no=GOOD_PROVIDER,
    )
    assert _identifier_issues(_issues(file)) == set()


def test_a_prefecture_outside_01_to_47_is_its_own_warning() -> None:
    file = _with(cl.parse_plan(PLAN), provider_office_no="4870200022", insurer_no=GOOD_INSURER)
    found = _identifier_issues(_issues(file))
    assert ("identifier.prefecture", "サービス事業者コード", "4870200022") in found
    assert not any(code == "identifier.check_digit" and value == "4870200022"
                   for code, _, value in found)  # fmt: skip


def test_a_malformed_number_keeps_its_error_and_gets_no_identifier_warning() -> None:
    file = _with(cl.parse_plan(PLAN), insurer_no="13101", provider_office_no=GOOD_PROVIDER)
    issues = _issues(file)
    assert {(i.code, i.severity) for i in issues if i.value == "13101"} == {
        ("format.digits", "error")
    }


def test_the_table7_grand_total_office_is_no_office_number() -> None:
    file = _with(cl.parse_plan(TABLE7), insurer_no=GOOD_INSURER, updater_office_no=GOOD_CARE_OFFICE)
    file = attrs.evolve(
        file,
        records=tuple(
            record
            if _any(record).provider_office_no == "9999999999"
            else attrs.evolve(_any(record), provider_office_no=GOOD_PROVIDER)
            for record in file.records
        ),
    )
    assert "9999999999" in {_any(record).provider_office_no for record in file.records}
    assert _identifier_issues(_issues(file)) == set()


def test_validation_accepts_h_numbers_and_keeps_its_insured_no_error() -> None:
    plan = cl.parse_plan(PLAN)
    for insured, expected in (("H123456789", set()), ("h123456789", {"format.insured_no"})):
        file = _with(plan, insured_no=insured)
        data = file.to_bytes()
        report = cl.validate({PLAN.name: data})
        assert {i.code for i in report.issues if i.item == "被保険者番号"} == expected


def test_file_names_take_the_service_type_from_the_identifier() -> None:
    name = "UPPLAN_202504_1370100016_43_1370200022_2a_20250325093000.CSV"
    with pytest.raises(cl.FormatError) as raised:
        cl.FileName.parse(name)
    assert [i.code for i in raised.value.issues] == ["name.service_type"]
    parsed = cl.FileName.parse(name.replace("_2a_", "_2A_"))
    assert parsed.receiver.service_type == "2A"


def _certificate(subject: list[x509.NameAttribute[Any]]) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(subject)
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )


@pytest.mark.parametrize(
    ("subject", "number"),
    [
        ([x509.NameAttribute(NameOID.SERIAL_NUMBER, "1370100016")], "1370100016"),
        ([x509.NameAttribute(NameOID.COMMON_NAME, "居宅 すみれ 1370100016")], "1370100016"),
        ([x509.NameAttribute(NameOID.COMMON_NAME, "すみれ １３７０１０００１６")], None),
        ([x509.NameAttribute(NameOID.COMMON_NAME, "office 13701000160")], None),  # 11 digits
        ([x509.NameAttribute(NameOID.COMMON_NAME, "1370100016 / 1370200022")], None),  # two
    ],
)
def test_the_certificate_rule_reads_office_numbers_of_the_shared_shape(
    subject: list[x509.NameAttribute[Any]], number: str | None
) -> None:
    assert cl.office_number_of(_certificate(subject)) == number
