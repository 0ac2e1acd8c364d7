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
    assert "from office 1370100012" in out and "3 files in import order" in out


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
