"""Office identities (certificate + private key) and the trust store of CA certificates.

Offices hold their certificates as PKCS#12 files; the office number (事業所番号) inside a
certificate is read by one rule, `office_number_of`, which callers can replace (`OfficeNumberRule`)
when their certification authority writes it elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from ..identifiers import office_number

__all__ = ["OfficeIdentity", "OfficeNumberRule", "TrustStore", "office_number_of"]

OfficeNumberRule = Callable[[x509.Certificate], "str | None"]
"""Reads the 10-digit office number from a certificate, or None when it carries none."""

# An office number inside a longer text (a CN): not part of a longer run of digits.
_OFFICE_NO_IN_TEXT = re.compile(rf"(?<![0-9]){office_number.SHAPE.pattern}(?![0-9])")


def office_number_of(certificate: x509.Certificate) -> str | None:
    """The default rule: the subject's serialNumber attribute when it is 10 digits, else the
    one 10-digit number in the subject's CN (None when there is none, or several)."""
    subject = certificate.subject
    for attribute in subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER):
        value = str(attribute.value)
        if office_number.has_shape(value):
            return value
    for attribute in subject.get_attributes_for_oid(NameOID.COMMON_NAME):
        found = _OFFICE_NO_IN_TEXT.findall(str(attribute.value))
        if len(found) == 1:
            return str(found[0])
    return None


def _require_office_no(certificate: x509.Certificate, rule: OfficeNumberRule) -> str:
    office_no = rule(certificate)
    if office_no is None or not office_number.has_shape(office_no):
        raise ValueError(
            f"the certificate {certificate.subject.rfc4514_string()} carries no office number "
            "(事業所番号): expected a 10-digit serialNumber attribute or a 10-digit number in "
            "the CN"
        )
    return office_no


@attrs.frozen
class OfficeIdentity:
    """An office's certificate and private key: what it signs and decrypts with.

    `chain` holds intermediate CA certificates that came with it (sent along in signatures).
    The private key never appears in `repr`.
    """

    certificate: x509.Certificate
    private_key: rsa.RSAPrivateKey = attrs.field(repr=False)
    office_no: str
    chain: tuple[x509.Certificate, ...] = ()

    @classmethod
    def from_pkcs12(
        cls, data: bytes, password: bytes | str | None, *, rule: OfficeNumberRule = office_number_of
    ) -> OfficeIdentity:
        """Load a PKCS#12 (.p12 / .pfx) file as offices receive them from their CA."""
        secret = password.encode() if isinstance(password, str) else password
        try:
            key, certificate, extra = pkcs12.load_key_and_certificates(data, secret)
        except ValueError as error:
            raise ValueError(f"cannot read the PKCS#12 data: {error}") from error
        if certificate is None or key is None:
            raise ValueError("the PKCS#12 data holds no certificate with its private key")
        return cls._make(certificate, key, tuple(extra), rule)

    @classmethod
    def from_pem(
        cls,
        certificate: bytes,
        private_key: bytes,
        *,
        password: bytes | str | None = None,
        rule: OfficeNumberRule = office_number_of,
    ) -> OfficeIdentity:
        """Load PEM data: the office certificate (then any intermediates) and its key."""
        certificates = x509.load_pem_x509_certificates(certificate)
        secret = password.encode() if isinstance(password, str) else password
        key = serialization.load_pem_private_key(private_key, secret)
        return cls._make(certificates[0], key, tuple(certificates[1:]), rule)

    @classmethod
    def _make(
        cls,
        certificate: x509.Certificate,
        key: object,
        chain: tuple[x509.Certificate, ...],
        rule: OfficeNumberRule,
    ) -> OfficeIdentity:
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("office keys are RSA keys (the envelope transports keys with RSA)")
        if key.public_key().public_numbers() != certificate.public_key().public_numbers():  # type: ignore[union-attr]
            raise ValueError("the private key does not belong to the certificate")
        return cls(certificate, key, _require_office_no(certificate, rule), chain)

    def to_pkcs12(self, password: bytes | str, *, name: str | None = None) -> bytes:
        """The identity as a password-protected PKCS#12 file (AES-256, PBKDF2)."""
        secret = password.encode() if isinstance(password, str) else password
        return pkcs12.serialize_key_and_certificates(
            (name or self.office_no).encode(),
            self.private_key,
            self.certificate,
            list(self.chain) or None,
            serialization.BestAvailableEncryption(secret),
        )

    def certificate_pem(self) -> bytes:
        """The certificate (then any intermediates) in PEM."""
        return b"".join(
            c.public_bytes(serialization.Encoding.PEM) for c in (self.certificate, *self.chain)
        )

    def private_key_pem(self, password: bytes | str | None = None) -> bytes:
        """The private key in PKCS#8 PEM, encrypted when a password is given."""
        secret = password.encode() if isinstance(password, str) else password
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(secret)
            if secret
            else serialization.NoEncryption()
        )
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )


def _certificates(certificates: Iterable[x509.Certificate]) -> tuple[x509.Certificate, ...]:
    return tuple(certificates)


@attrs.frozen
class TrustStore:
    """The CA certificates an opener trusts to certify offices."""

    certificates: tuple[x509.Certificate, ...] = attrs.field(converter=_certificates)

    def __attrs_post_init__(self) -> None:
        if not self.certificates:
            raise ValueError("a trust store needs at least one CA certificate")

    @classmethod
    def from_pem(cls, data: bytes) -> TrustStore:
        """CA certificates from PEM data (one or several concatenated)."""
        return cls(x509.load_pem_x509_certificates(data))

    @classmethod
    def of(cls, certificates: Iterable[x509.Certificate]) -> TrustStore:
        return cls(tuple(certificates))
