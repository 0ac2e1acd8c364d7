"""Interop with the `openssl cms` command, both ways (.ci/run installs openssl when missing)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import recording
from unitfiles import schedule_unit

from careplan_link.envelope import (
    LegacyEncryptionRefused,
    MalformedEnvelope,
    _cms,
    open_envelope,
    seal,
)
from careplan_link.envelope._identity import OfficeIdentity
from conftest import Offices

OPENSSL = shutil.which("openssl")


def openssl(*arguments: str | Path) -> None:
    assert OPENSSL, "the openssl command is needed by these tests (.ci/run installs it)"
    result = subprocess.run([OPENSSL, *map(str, arguments)], capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr.decode(errors="replace")


def write_identity(folder: Path, name: str, identity: OfficeIdentity) -> tuple[Path, Path]:
    certificate, key = folder / f"{name}.pem", folder / f"{name}.key"
    certificate.write_bytes(identity.certificate_pem())
    key.write_bytes(identity.private_key_pem())
    return certificate, key


@pytest.fixture
def files(tmp_path: Path, offices: Offices) -> dict[str, Path]:
    paths = {"ca": tmp_path / "ca.pem"}
    paths["ca"].write_bytes(offices.pki.trust_store.certificates[0].public_bytes(_pem()))
    paths["care"], paths["care_key"] = write_identity(tmp_path, "care", offices.care)
    paths["provider"], paths["provider_key"] = write_identity(
        tmp_path, "provider", offices.provider
    )
    return paths


def _pem():  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.PEM


@pytest.mark.parametrize("cbc", [False, True])
def test_openssl_decrypts_and_verifies_what_seal_makes(
    tmp_path: Path, offices: Offices, files: dict[str, Path], cbc: bool
) -> None:
    envelope = seal(
        schedule_unit(),
        sender=offices.care,
        recipients=[offices.provider.certificate],
        trust=offices.pki.trust_store,
        cbc=cbc,
    )
    sealed, inner, payload = tmp_path / "in.p7m", tmp_path / "inner.der", tmp_path / "out.zip"
    sealed.write_bytes(envelope)
    provider, provider_key = files["provider"], files["provider_key"]
    openssl("cms", "-decrypt", "-binary", "-inform", "DER", "-in", sealed,
            "-inkey", provider_key, "-recip", provider, "-out", inner)  # fmt: skip
    openssl("cms", "-verify", "-binary", "-inform", "DER", "-in", inner,
            "-CAfile", files["ca"], "-out", payload)  # fmt: skip
    opened = open_envelope(
        envelope, identity=offices.provider, trust=offices.pki.trust_store, allow_legacy_cbc=cbc
    )
    assert payload.read_bytes() == opened.payload


@pytest.mark.parametrize(
    ("cipher", "key_options"),
    [
        ("-aes-256-gcm", ["-keyopt", "rsa_padding_mode:oaep", "-keyopt", "rsa_oaep_md:sha256"]),
        ("-aes-256-cbc", []),  # PKCS#1 v1.5 key transport
    ],
)
def test_the_plain_openssl_pipeline_opens(
    tmp_path: Path,
    offices: Offices,
    files: dict[str, Path],
    cipher: str,
    key_options: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The exact ZIP seal made, signed and encrypted by openssl: the inner type is id-data.
    original = open_envelope(
        seal(
            schedule_unit(),
            sender=offices.care,
            recipients=[offices.provider.certificate],
            trust=offices.pki.trust_store,
        ),
        identity=offices.provider,
        trust=offices.pki.trust_store,
    )
    payload, signed, sealed = tmp_path / "payload.zip", tmp_path / "s.der", tmp_path / "e.der"
    payload.write_bytes(original.payload)
    openssl("cms", "-sign", "-binary", "-nodetach", "-outform", "DER", "-signer", files["care"],
            "-inkey", files["care_key"], "-in", payload, "-out", signed)  # fmt: skip
    openssl("cms", "-encrypt", "-binary", "-outform", "DER", cipher,
            "-recip", files["provider"], *key_options, "-in", signed, "-out", sealed)  # fmt: skip
    general_path = []
    monkeypatch.setattr(_cms, "decrypt", recording(_cms.decrypt, general_path))
    legacy = cipher == "-aes-256-cbc"
    if legacy:  # CBC and PKCS#1 v1.5 key transport: only when the opener allows them
        with pytest.raises(LegacyEncryptionRefused):
            open_envelope(
                sealed.read_bytes(), identity=offices.provider, trust=offices.pki.trust_store
            )
    opened = open_envelope(
        sealed.read_bytes(),
        identity=offices.provider,
        trust=offices.pki.trust_store,
        allow_legacy_cbc=legacy,
    )
    assert opened.payload == original.payload
    assert opened.files == original.files and opened.sender_office_no == "1370100016"
    # OpenSSL's GCM form is read in place like seal's; its CBC form by the general path.
    assert bool(general_path) == (cipher == "-aes-256-cbc")


def test_streamed_ber_from_openssl_is_refused_and_its_der_conversion_opens(
    tmp_path: Path, offices: Offices, files: dict[str, Path]
) -> None:
    original = open_envelope(
        seal(
            schedule_unit(),
            sender=offices.care,
            recipients=[offices.provider.certificate],
            trust=offices.pki.trust_store,
        ),
        identity=offices.provider,
        trust=offices.pki.trust_store,
    )
    payload, signed = tmp_path / "payload.zip", tmp_path / "s.der"
    streamed, converted = tmp_path / "ber.p7m", tmp_path / "der.p7m"
    payload.write_bytes(original.payload)
    openssl("cms", "-sign", "-binary", "-nodetach", "-outform", "DER", "-signer", files["care"],
            "-inkey", files["care_key"], "-in", payload, "-out", signed)  # fmt: skip
    openssl("cms", "-encrypt", "-binary", "-stream", "-outform", "DER", "-aes-256-cbc",
            "-recip", files["provider"], "-in", signed, "-out", streamed)  # fmt: skip
    with pytest.raises(MalformedEnvelope, match="indefinite-length BER"):
        open_envelope(
            streamed.read_bytes(), identity=offices.provider, trust=offices.pki.trust_store
        )
    # The conversion the error message gives.
    openssl(
        "cms", "-cmsout", "-inform", "DER", "-outform", "DER", "-in", streamed, "-out", converted
    )
    opened = open_envelope(
        converted.read_bytes(),
        identity=offices.provider,
        trust=offices.pki.trust_store,
        allow_legacy_cbc=True,
    )
    assert opened.files == original.files
