"""`careplan-link seal` and `careplan-link open`."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from unitfiles import schedule_unit

from careplan_link.cli import main
from careplan_link.envelope import open_envelope
from conftest import PROVIDER, Offices


@pytest.fixture
def setup(tmp_path: Path, offices: Offices, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    monkeypatch.setenv("CAREPLAN_LINK_PASSWORD", "s3cret")
    paths = {
        "care.p12": tmp_path / "care.p12",
        "provider.p12": tmp_path / "provider.p12",
        "provider.pem": tmp_path / "provider.pem",
        "ca.pem": tmp_path / "ca.pem",
    }
    paths["care.p12"].write_bytes(offices.care.to_pkcs12("s3cret"))
    paths["provider.p12"].write_bytes(offices.provider.to_pkcs12("s3cret"))
    paths["provider.pem"].write_bytes(offices.provider.certificate_pem())
    from cryptography.hazmat.primitives.serialization import Encoding

    paths["ca.pem"].write_bytes(offices.pki.ca_certificate.public_bytes(Encoding.PEM))
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    for name, data in schedule_unit().items():
        (outbox / name).write_bytes(data)
    paths["outbox"] = outbox
    return paths


def test_seal_then_open_writes_the_files(
    tmp_path: Path, setup: dict[str, Path], offices: Offices, capsys: pytest.CaptureFixture[str]
) -> None:
    envelope = tmp_path / "unit.p7m"
    files = sorted(setup["outbox"].iterdir())
    status = main(["seal", "--identity", str(setup["care.p12"]), "--to", str(setup["provider.pem"]),
                   "--trust", str(setup["ca.pem"]), *map(str, files),
                   "-o", str(envelope)])  # fmt: skip
    assert status == 0
    opened = open_envelope(
        envelope.read_bytes(), identity=offices.provider, trust=offices.pki.trust_store
    )
    assert dict(opened.files) == schedule_unit()
    inbox = tmp_path / "inbox"
    status = main(["open", "--identity", str(setup["provider.p12"]), "--trust",
                   str(setup["ca.pem"]), str(envelope), "-d", str(inbox)])  # fmt: skip
    assert status == 0
    assert {p.name: p.read_bytes() for p in inbox.iterdir()} == schedule_unit()
    out = capsys.readouterr().out
    assert "from office 1370100016" in out and "3 files in import order" in out


def test_a_refused_envelope_exits_1_and_writes_nothing(
    tmp_path: Path, setup: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    envelope = tmp_path / "unit.p7m"
    files = sorted(setup["outbox"].iterdir())
    main(["seal", "--identity", str(setup["care.p12"]), "--to", str(setup["provider.pem"]),
          "--trust", str(setup["ca.pem"]), *map(str, files), "-o", str(envelope)])  # fmt: skip
    data = bytearray(envelope.read_bytes())
    data[-40] ^= 0x01  # inside the ciphertext
    envelope.write_bytes(bytes(data))
    inbox = tmp_path / "inbox"
    status = main(["open", "--identity", str(setup["provider.p12"]), "--trust",
                   str(setup["ca.pem"]), str(envelope), "-d", str(inbox)])  # fmt: skip
    assert status == 1
    assert "refused (DecryptionError, ENVELOPE_UNREADABLE)" in capsys.readouterr().err
    assert not inbox.exists() or not any(inbox.iterdir())


def test_a_wrong_password_or_missing_file_is_a_usage_error(
    tmp_path: Path, setup: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    files = sorted(setup["outbox"].iterdir())
    monkeypatch.setenv("CAREPLAN_LINK_PASSWORD", "wrong")
    status = main(["seal", "--identity", str(setup["care.p12"]), "--to", str(setup["provider.pem"]),
                   "--trust", str(setup["ca.pem"]), *map(str, files),
                   "-o", str(tmp_path / "x.p7m")])  # fmt: skip
    assert status == 2 and "PKCS#12" in capsys.readouterr().err
    monkeypatch.delenv("CAREPLAN_LINK_PASSWORD")
    status = main(["seal", "--identity", str(setup["care.p12"]), "--to", str(setup["provider.pem"]),
                   "--trust", str(setup["ca.pem"]), *map(str, files),
                   "-o", str(tmp_path / "x.p7m")])  # fmt: skip
    assert status == 2 and "CAREPLAN_LINK_PASSWORD" in capsys.readouterr().err
    monkeypatch.setenv("CAREPLAN_LINK_PASSWORD", "s3cret")
    output = str(tmp_path / "x.p7m")
    status = main(["seal", "--identity", str(tmp_path / "none.p12"), "--to",
                   str(setup["provider.pem"]), "--trust", str(setup["ca.pem"]),
                   *map(str, files), "-o", output])  # fmt: skip
    assert status == 2 and "cannot read" in capsys.readouterr().err
    assert not (tmp_path / "x.p7m").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".x.p7m")]


def _seal_args(setup: dict[str, Path], output: Path, *extra: str) -> list[str]:
    files = sorted(setup["outbox"].iterdir())
    return ["seal", "--identity", str(setup["care.p12"]), *extra, *map(str, files),
            "-o", str(output)]  # fmt: skip


def test_seal_verifies_the_recipient_certificate_against_trust(
    tmp_path: Path, setup: dict[str, Path], offices: Offices, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "unit.p7m"
    provider = ["--to", str(setup["provider.pem"])]
    # Without --trust there is nothing to verify against: refused unless explicitly waived.
    assert main(_seal_args(setup, output, *provider)) == 2
    assert "--trust" in capsys.readouterr().err and not output.exists()
    # A certificate from a foreign CA carrying the provider's office number.
    foreign = tmp_path / "foreign.pem"
    foreign.write_bytes(offices.pki.foreign(PROVIDER).certificate_pem())
    status = main(_seal_args(setup, output, "--to", str(foreign), "--trust", str(setup["ca.pem"])))
    assert status == 1 and "UntrustedRecipient" in capsys.readouterr().err
    assert not output.exists()
    # Waived explicitly: sealed without the chain check.
    status = main(_seal_args(setup, output, *provider, "--no-verify-recipient"))
    assert status == 0 and output.exists()


def test_open_at_a_reference_time_and_legacy_cbc_only_when_allowed(
    tmp_path: Path, setup: dict[str, Path], offices: Offices, capsys: pytest.CaptureFixture[str]
) -> None:
    envelope = tmp_path / "unit.p7m"
    trust = ["--trust", str(setup["ca.pem"])]
    status = main(_seal_args(setup, envelope, "--to", str(setup["provider.pem"]), *trust, "--cbc"))
    assert status == 0
    opening = ["open", "--identity", str(setup["provider.p12"]), *trust, str(envelope)]
    assert main([*opening, "-d", str(tmp_path / "a")]) == 1
    assert "LegacyEncryptionRefused" in capsys.readouterr().err
    assert main([*opening, "-d", str(tmp_path / "b"), "--allow-legacy-cbc"]) == 0
    capsys.readouterr()
    # Accepted by the hub ten days after it was signed: outside the window.
    late = (offices.now + datetime.timedelta(days=10)).isoformat()
    status = main([*opening, "-d", str(tmp_path / "c"), "--allow-legacy-cbc", "--at", late])
    assert status == 1 and "SigningTimeRefused" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:  # argparse's usage error
        main([*opening, "-d", str(tmp_path / "d"), "--allow-legacy-cbc", "--at", "tomorrow"])
    assert usage.value.code == 2 and "ISO 8601" in capsys.readouterr().err


# -- issue 16: seal takes a folder and validates; no traceback, bilingual messages ------------


def _no_traceback(capsys: pytest.CaptureFixture[str]) -> str:
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return err


def _sealing(setup: dict[str, Path], output: Path, *sources: Path) -> list[str]:
    return ["seal", "--identity", str(setup["care.p12"]), "--to", str(setup["provider.pem"]),
            "--trust", str(setup["ca.pem"]), *map(str, sources or (setup["outbox"],)),
            "-o", str(output), "--lang", "en"]  # fmt: skip


def test_seal_takes_a_folder_and_refuses_a_unit_with_validation_errors(
    tmp_path: Path, setup: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from unitfiles import edit

    assert main(_sealing(setup, tmp_path / "good.p7m")) == 0
    assert "sealed 3 files" in capsys.readouterr().out
    broken = tmp_path / "broken"
    broken.mkdir()
    for name, data in edit(schedule_unit(), "UPPLAN", 2, 15, "171111").items():
        (broken / name).write_bytes(data)
    output = tmp_path / "broken.p7m"
    assert main(_sealing(setup, output, broken)) == 1
    err = _no_traceback(capsys)
    assert "not sealed" in err and "error" in err and not output.exists()
    assert main([*_sealing(setup, output, broken), "--no-validate"]) == 0  # explicitly waived
    assert output.exists()


@pytest.mark.parametrize(
    ("case", "says"),
    [
        ("missing input", "no such file or folder"),
        ("output folder missing", "does not exist"),
        ("output is a folder", "is a folder"),
        ("output exists", "--overwrite"),
        ("two units", "exactly one transmission unit"),
        ("wrong password", "care.p12"),
    ],
)
def test_every_seal_usage_error_is_a_message_and_exit_2(
    tmp_path: Path,
    setup: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    says: str,
) -> None:
    output = tmp_path / "unit.p7m"
    sources: tuple[Path, ...] = ()
    if case == "missing input":
        sources = (tmp_path / "no-such-folder",)
    elif case == "output folder missing":
        output = tmp_path / "missing" / "unit.p7m"
    elif case == "output is a folder":
        output = setup["outbox"]
    elif case == "output exists":
        output.write_bytes(b"earlier")
    elif case == "two units":
        other = {
            n.replace("20250325093000", "20250325093001"): d for n, d in schedule_unit().items()
        }
        for name, data in other.items():
            (setup["outbox"] / name).write_bytes(data)
    elif case == "wrong password":
        monkeypatch.setenv("CAREPLAN_LINK_PASSWORD", "wrong")
    assert main(_sealing(setup, output, *sources)) == 2
    err = _no_traceback(capsys)
    assert says in err and err.startswith("careplan-link seal: ")
    if case == "output exists":
        assert output.read_bytes() == b"earlier"


@pytest.mark.parametrize(
    ("failure", "says"),
    [
        (OSError(28, "No space left on device", "unit.p7m"), "disk is full"),
        (PermissionError(13, "Permission denied", "unit.p7m"), "another program"),
    ],
)
def test_a_full_disk_or_a_locked_file_is_a_message_and_exit_1(
    tmp_path: Path,
    setup: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    failure: OSError,
    says: str,
) -> None:
    from careplan_link import _cli_envelope

    def fail(*arguments: object, **keywords: object) -> None:
        raise failure

    monkeypatch.setattr(_cli_envelope, "write_atomically", fail)
    assert main(_sealing(setup, tmp_path / "unit.p7m")) == 1
    err = _no_traceback(capsys)
    assert says in err and "unit.p7m" in err


def test_a_foreign_recipient_leaks_no_library_internals(
    tmp_path: Path, setup: dict[str, Path], offices: Offices, capsys: pytest.CaptureFixture[str]
) -> None:
    foreign = tmp_path / "foreign.pem"
    foreign.write_bytes(offices.pki.foreign(PROVIDER).certificate_pem())
    argv = _sealing(setup, tmp_path / "unit.p7m")
    argv[argv.index("--to") + 1] = str(foreign)
    assert main(argv) == 1
    err = _no_traceback(capsys)
    assert "UntrustedRecipient" in err and "candidates" not in err and "exhausted" not in err


def test_open_never_replaces_a_file_and_never_writes_onto_a_file(
    tmp_path: Path, setup: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    envelope = tmp_path / "unit.p7m"
    assert main(_sealing(setup, envelope)) == 0
    opening = ["open", "--identity", str(setup["provider.p12"]), "--trust", str(setup["ca.pem"]),
               str(envelope), "--lang", "en"]  # fmt: skip
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    assert main([*opening, "-d", str(a_file)]) == 2
    assert "not a folder" in _no_traceback(capsys) and a_file.read_text() == "x"

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    first = next(iter(schedule_unit()))
    (inbox / first).write_bytes(b"the office's own file")
    assert main([*opening, "-d", str(inbox)]) == 2
    assert "nothing was replaced" in _no_traceback(capsys)
    assert [p.name for p in inbox.iterdir()] == [first]  # no partial unit either
    assert (inbox / first).read_bytes() == b"the office's own file"

    nested = tmp_path / "new" / "inbox"
    assert main([*opening, "-d", str(nested)]) == 0
    assert {p.name: p.read_bytes() for p in nested.iterdir()} == schedule_unit()


def test_seal_and_open_speak_japanese(
    tmp_path: Path, setup: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = _sealing(setup, tmp_path / "missing" / "unit.p7m")
    argv[argv.index("--lang") + 1] = "ja"
    assert main(argv) == 2
    assert "フォルダ" in _no_traceback(capsys)
    argv = _sealing(setup, tmp_path / "unit.p7m")
    argv[argv.index("--lang") + 1] = "ja"
    assert main(argv) == 0
    assert "封緘しました" in capsys.readouterr().out
