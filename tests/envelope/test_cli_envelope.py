"""`careplan-link seal` and `careplan-link open`."""

from __future__ import annotations

from pathlib import Path

import pytest
from unitfiles import schedule_unit

from careplan_link.cli import main
from careplan_link.envelope import open_envelope
from conftest import Offices


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
                   *map(str, files), "-o", str(envelope)])  # fmt: skip
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
          *map(str, files), "-o", str(envelope)])  # fmt: skip
    data = bytearray(envelope.read_bytes())
    data[-40] ^= 0x01  # inside the ciphertext
    envelope.write_bytes(bytes(data))
    inbox = tmp_path / "inbox"
    status = main(["open", "--identity", str(setup["provider.p12"]), "--trust",
                   str(setup["ca.pem"]), str(envelope), "-d", str(inbox)])  # fmt: skip
    assert status == 1
    assert "refused (DecryptionError)" in capsys.readouterr().err
    assert not inbox.exists() or not any(inbox.iterdir())


def test_a_wrong_password_or_missing_file_is_a_usage_error(
    tmp_path: Path, setup: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    files = sorted(setup["outbox"].iterdir())
    monkeypatch.setenv("CAREPLAN_LINK_PASSWORD", "wrong")
    status = main(["seal", "--identity", str(setup["care.p12"]), "--to", str(setup["provider.pem"]),
                   *map(str, files), "-o", str(tmp_path / "x.p7m")])  # fmt: skip
    assert status == 2 and "PKCS#12" in capsys.readouterr().err
    monkeypatch.delenv("CAREPLAN_LINK_PASSWORD")
    status = main(["seal", "--identity", str(setup["care.p12"]), "--to", str(setup["provider.pem"]),
                   *map(str, files), "-o", str(tmp_path / "x.p7m")])  # fmt: skip
    assert status == 2 and "CAREPLAN_LINK_PASSWORD" in capsys.readouterr().err
    monkeypatch.setenv("CAREPLAN_LINK_PASSWORD", "s3cret")
    output = str(tmp_path / "x.p7m")
    status = main(["seal", "--identity", str(tmp_path / "none.p12"), "--to",
                   str(setup["provider.pem"]), *map(str, files), "-o", output])  # fmt: skip
    assert status == 2 and "cannot read" in capsys.readouterr().err
    assert not (tmp_path / "x.p7m").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".x.p7m")]
