"""File names: both naming rules, every prefix, precise errors, minting serials."""

from __future__ import annotations

import datetime
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from careplan_link import (
    JST,
    PREFIXES,
    ZERO_MONTH,
    FileName,
    FormatError,
    Office,
    SerialClock,
    YearMonth,
)
from careplan_link.format._filename import diagnose

EXAMPLES = {
    "UPHOSOKU_000000_0300000100_43_0300000005_11_20191025200201.CSV": "supplement",
    "UP1KYO_0300000100_43_0300000005_11_20191025200201.CSV": "table1",
    "DLT1KYO_0300000100_43_0300000005_11_20191025200201.CSV": "table1_delete",
    "UP2KYO_0300000100_43_0300000005_11_20191025200201.CSV": "table2",
    "UP3KYO_0300000100_43_0300000005_11_20191025200201.CSV": "table3",
    "UPPLAN_201912_0300000100_43_0300000005_11_20191025200201.CSV": "table6_plan",
    "UPJSK_201912_0300000005_11_0300000100_43_20191025200201.CSV": "table6_actual",
    "DLTPLAN_201912_0300000100_43_0300000005_11_20191025200201.CSV": "table6_plan_delete",
    "DLTJSK_201912_0300000005_11_0300000100_43_20191025200201.CSV": "table6_actual_delete",
    "UPSIKYU_201912_0300000100_43_0300000005_11_20191025200201.CSV": "table7",
    "UPKIHON_0300000100_46_0300000005_A1_20191025200201.CSV": "yobo_basic",
    "DLTKIHON_0300000100_46_0300000005_A1_20191025200201.CSV": "yobo_basic_delete",
    "UPKIHON_SUB1_0300000100_46_0300000005_A1_20191025200201.CSV": "yobo_basic_sub1",
    "UPKIHON_SUB2_0300000100_46_0300000005_A1_20191025200201.CSV": "yobo_basic_sub2",
    "UPKIHON_IMAGE_0300000100_46_0300000005_2A_20191025200201_0001.JPG": "yobo_basic_image",
    "UPYOBO_0300000100_46_0300000005_A1_20191025200201.CSV": "yobo_plan",
    "DLTYOBO_0300000100_46_0300000005_A1_20191025200201.CSV": "yobo_plan_delete",
    "UPYOBO_SUB_0300000100_46_0300000005_A1_20191025200201.CSV": "yobo_plan_sub",
    # v3.x names (no service types)
    "UPPLAN_201912_0300000100_0300000005_20191025200201.CSV": "table6_plan",
    "UP1KYO_0300000100_0300000005_20191025200201.CSV": "table1",
    "UPHOSOKU_201909_0300000100_0300000005_20191025200201.CSV": "supplement",
}


@pytest.mark.parametrize(("text", "layout_id"), EXAMPLES.items())
def test_parse_and_format_every_prefix(text: str, layout_id: str) -> None:
    name = FileName.parse(text)
    assert name.layout_id == layout_id
    assert str(name) == text
    assert name.serial == "20191025200201"


def test_fields() -> None:
    name = FileName.parse("UPPLAN_201912_0300000100_43_0300000005_2A_20191025200201.CSV")
    assert name.month == "201912" and name.service_month == YearMonth(2019, 12)
    assert name.sender == Office("0300000100", "43")
    assert name.receiver == Office("0300000005", "2A")
    assert name.naming == "v4"
    v3 = FileName.parse("UPPLAN_201912_0300000100_0300000005_20191025200201.CSV")
    assert v3.naming == "v3" and v3.sender == Office("0300000100")
    supplement = FileName.parse("UPHOSOKU_000000_0300000100_43_0300000005_11_20191025200201.CSV")
    assert supplement.service_month is ZERO_MONTH
    image = FileName.parse("UPKIHON_IMAGE_0300000100_46_0300000005_2A_20191025200201_0001.JPG")
    assert image.branch == "0001" and image.is_image


def test_longest_prefix_wins() -> None:
    assert "UPKIHON_SUB1" in PREFIXES
    name = FileName.parse("UPKIHON_SUB1_0300000100_46_0300000005_A1_20191025200201.CSV")
    assert name.prefix == "UPKIHON_SUB1"


@pytest.mark.parametrize(
    ("text", "code", "hint"),
    [
        ("UPPLAN_201912_300000100_43_0300000005_11_20191025200201.CSV", "name.office_no", "9"),
        ("UPPLAN_201912_0300000100_43_0300000005_11_201910252002011.CSV", "name.serial", "15"),
        ("UPPLAN_201912_0300000100_43_0300000005_11_20191325200201.CSV", "name.serial", ""),
        ("UPPLAN_201912_0300000100_4_0300000005_11_20191025200201.CSV", "name.service_type", ""),
        ("UPPLAN_201912_0300000100_a1_0300000005_11_20191025200201.CSV", "name.service_type", ""),
        ("UPPLAN_0300000100_43_0300000005_11_20191025200201.CSV", "name.fields", ""),
        ("UPKIHON_000000_0300000100_43_0300000005_11_20191025200201.CSV", "name.fields", "month"),
        ("UPPLAN_20191_0300000100_43_0300000005_11_20191025200201.CSV", "name.month", ""),
        ("UPPLAN_201912_0300000100_43_0300000005_11_20191025200201.TXT", "name.extension", ""),
        ("UPPLAN_201912_0300000100_43_0300000005_11_20191025200201", "name.extension", ""),
        ("UPFOO_201912_0300000100_43_0300000005_11_20191025200201.CSV", "name.unknown_prefix", ""),
        ("UPPLAN\u0332201912_0300000100_43_0300000005_11_20191025200201.CSV", "name.non_ascii",
         "U+0332"),
        ("UPPLAN_２０１９12_0300000100_43_0300000005_11_20191025200201.CSV", "name.non_ascii",
         "full-width"),
    ],
)  # fmt: skip
def test_precise_name_errors(text: str, code: str, hint: str) -> None:
    with pytest.raises(FormatError) as caught:
        FileName.parse(text)
    issue = caught.value.issues[0]
    assert issue.code == code
    assert issue.file == text
    assert hint in issue.message_en
    assert issue.message_ja


def test_lower_case_extension_is_accepted_and_kept() -> None:
    text = "UPPLAN_201912_0300000100_43_0300000005_11_20191025200201.csv"
    assert str(FileName.parse(text)) == text


def test_new_and_sibling() -> None:
    at = datetime.datetime(2025, 3, 25, 0, 30, tzinfo=datetime.UTC)
    clock = SerialClock()
    name = FileName.new(
        "UPPLAN",
        sender=Office("1370100016", "43"),
        receiver=Office("1370200022", "11"),
        month=YearMonth(2025, 4),
        at=at,
        clock=clock,
    )
    assert str(name) == "UPPLAN_202504_1370100016_43_1370200022_11_20250325093000.CSV"
    assert str(name.sibling("UPSIKYU")) == str(name).replace("UPPLAN", "UPSIKYU")
    plan_supplement = FileName.new(
        "UP1KYO", sender=name.sender, receiver=name.receiver, serial=name.serial
    ).sibling("UPHOSOKU", month=ZERO_MONTH)
    assert str(plan_supplement).startswith("UPHOSOKU_000000_1370100016_43_")
    image = name.sibling("UPKIHON_IMAGE", branch=1)
    assert str(image).endswith("_20250325093000_0001.jpg")


def test_new_rejects_bad_fields() -> None:
    with pytest.raises(ValueError, match="month"):
        FileName.new("UPPLAN", sender=Office("1370100016", "43"), receiver=Office("1", "11"))
    with pytest.raises(FormatError):
        FileName.new(
            "UP1KYO", sender=Office("137010001", "43"), receiver=Office("1370200022", "11")
        )
    with pytest.raises(ValueError, match="both"):
        FileName.new("UP1KYO", sender=Office("1370100016", "43"), receiver=Office("1370200022"))


def test_serials_never_repeat_for_one_office_even_in_one_second() -> None:
    clock = SerialClock()
    at = datetime.datetime(2025, 3, 25, 9, 30, tzinfo=JST)
    serials = [clock.next("1370100016", at) for _ in range(3)]
    assert serials == ["20250325093000", "20250325093001", "20250325093002"]
    assert clock.next("1370200022", at) == "20250325093000"  # another office
    earlier = at - datetime.timedelta(hours=1)
    assert clock.next("1370100016", earlier) == "20250325093003"  # never goes back


def test_serials_unique_across_threads() -> None:
    clock = SerialClock()
    at = datetime.datetime(2025, 3, 25, 9, 30, tzinfo=JST)
    out: list[str] = []
    lock = threading.Lock()

    def mint() -> None:
        for _ in range(50):
            serial = clock.next("1370100016", at)
            with lock:
                out.append(serial)

    threads = [threading.Thread(target=mint) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(out)) == 400


def test_serial_is_japan_time() -> None:
    clock = SerialClock()
    utc = datetime.datetime(2025, 3, 31, 15, 0, 0, tzinfo=datetime.UTC)
    assert clock.next("1370100016", utc) == "20250401000000"


# -- names that are almost standard: say exactly what is wrong, and what was meant ----------

V4 = "UPPLAN_202504_1370100016_43_1370200022_11_20250325093000.CSV"


@pytest.mark.parametrize(
    ("text", "code", "hint", "meant"),
    [
        # a lost leading zero (receiver 0137020002 written as 137020002)
        ("UPPLAN_202504_1370100016_43_137020002_11_20250325093000.CSV", "name.office_no",
         "leading zero", "table6_plan"),
        # a v4.1 name without the receiver's office and type
        ("UP1KYO_1370100016_43_20250425173000.csv", "name.fields",
         "lacks the receiver office number and receiver service type", "table1"),
        ("UPPLAN_1370100016_43_1370200022_11_20250325093000.CSV", "name.fields",
         "lacks the month", "table6_plan"),
        ("UPKIHON_IMAGE_1370100016_46_1370200022_A2_20250325093000.jpg", "name.fields",
         "lacks the branch number", "yobo_basic_image"),
        # an empty field
        ("UPJSK_202504_1370200022_11__43_20250325093000.CSV", "name.empty_field",
         "receiver office number field of the file name is empty", "table6_actual"),
        ("UPPLAN__1370100016_43_1370200022_11_20250325093000.CSV", "name.empty_field",
         "month", "table6_plan"),
        # what browsers and file managers add to avoid a clash
        ("UPJSK_202504_1370200022_11_1370100016_43_20250325093000 (1).CSV", "name.copy_suffix",
         "rename the file to UPJSK_202504_1370200022_11_1370100016_43_20250325093000.CSV",
         "table6_actual"),
        (V4.replace(".CSV", " - コピー.CSV"), "name.copy_suffix", "' - コピー'", "table6_plan"),
        (V4.replace(".CSV", " copy 2.CSV"), "name.copy_suffix", "' copy 2'", "table6_plan"),
        (V4.replace(".CSV", "-1.CSV"), "name.copy_suffix", "'-1'", "table6_plan"),
        # a prefix one edit away from a standard one, followed by that standard's fields
        ("UPKHON_1370100016_46_1370200022_A1_20250325093000.CSV", "name.prefix",
         "did you mean UPKIHON?", "yobo_basic"),
        ("UPPLNA_202504_1370100016_43_1370200022_11_20250325093000.CSV", "name.prefix",
         "did you mean UPPLAN?", "table6_plan"),
        ("UPKIHON_SUB3_1370100016_46_1370200022_A1_20250325093000.CSV", "name.prefix",
         "did you mean UPKIHON_SUB", "yobo_basic_sub1"),
        ("upplan_202504_1370100016_43_1370200022_11_20250325093000.CSV", "name.prefix",
         "upper case", "table6_plan"),
        # a standard prefix and extension with fields of no known shape
        ("UPPLAN_notes.csv", "name.fields", "expected UPPLAN_YYYYMM_", "table6_plan"),
    ],
)  # fmt: skip
def test_near_standard_names_are_diagnosed(text: str, code: str, hint: str, meant: str) -> None:
    diagnosis = diagnose(text)
    assert diagnosis.issues[0].code == code, [str(i) for i in diagnosis.issues]
    assert hint in diagnosis.issues[0].message_en
    assert diagnosis.issues[0].message_ja and diagnosis.issues[0].file == text
    assert diagnosis.guess is not None and diagnosis.guess.layout_id == meant
    with pytest.raises(FormatError) as caught:  # parse says the same
        FileName.parse(text)
    assert caught.value.issues == diagnosis.issues


def test_a_diagnosed_name_keeps_the_fields_it_has() -> None:
    guess = diagnose("UP1KYO_1370100016_43_20250425173000.csv").guess
    assert guess is not None
    assert guess.sender == Office("1370100016", "43") and guess.naming == "v4"
    assert guess.receiver == Office("", "") and guess.serial == "20250425173000"
    copy = diagnose(V4.replace(".CSV", " (1).CSV")).guess
    assert copy == FileName.parse(V4)


@pytest.mark.parametrize(
    "text",
    [
        "readme.txt",
        "Thumbs.db",
        "UPLAN_x.CSV",  # one edit from UPPLAN, but not followed by its fields
        "UPPLAN_notes.zip",  # a standard prefix, but neither its fields nor its extension
        V4 + ".bak",
        "UPXYZW_202504_1370100016_43_1370200022_11_20250325093000.CSV",  # two edits away
    ],
)
def test_unrelated_names_are_not_meant_as_standard(text: str) -> None:
    diagnosis = diagnose(text)
    assert diagnosis.guess is None and diagnosis.issues


def test_valid_names_have_no_diagnosis() -> None:
    for text in EXAMPLES:
        diagnosis = diagnose(text)
        assert diagnosis.issues == () and diagnosis.guess == FileName.parse(text)


_NAME_ALPHABET = "_.0123456789UPLANKIHOSJYBDTcsvxCV ()-～＿０\u0332"


@settings(max_examples=50, deadline=None)
@given(
    st.sampled_from(sorted(EXAMPLES)),
    st.lists(st.tuples(st.integers(0, 80), st.sampled_from(["", *_NAME_ALPHABET])), max_size=3),
    st.text(alphabet=_NAME_ALPHABET, max_size=40),
)
def test_diagnose_never_raises_and_parse_raises_only_format_error(
    valid: str, edits: list[tuple[int, str]], noise: str
) -> None:
    names = [noise]
    mutated = valid
    for position, char in edits:  # replace, insert or delete one character
        at = position % (len(mutated) + 1)
        mutated = (
            mutated[:at] + char + mutated[at + 1 :] if char else mutated[:at] + mutated[at + 1 :]
        )
    names.append(mutated)
    for name in names:
        diagnosis = diagnose(name)
        try:
            parsed = FileName.parse(name)
        except FormatError as error:
            assert error.issues == diagnosis.issues and error.issues
            assert all(issue.file == name and issue.severity == "error" for issue in error.issues)
        else:
            assert diagnosis.issues == () and diagnosis.guess == parsed
            assert str(parsed) == name
