"""A test certification authority that issues office identities in one call."""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..envelope._identity import OfficeIdentity, TrustStore

__all__ = ["FakePKI"]

_DAY = datetime.timedelta(days=1)
_OFFICE_USAGE = (ExtendedKeyUsageOID.EMAIL_PROTECTION, ExtendedKeyUsageOID.CLIENT_AUTH)


def _new_key(key_size: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=key_size)


class FakePKI:
    """A CA for tests: `pki.office("1370100016")` gives an identity following the office
    certificate profile; `pki.trust_store` is what openers trust.

    Variants for negative tests: `expired`, `not_yet_valid`, `without_digital_signature`,
    `server_auth_only`, `foreign` (issued by another CA), `renewed` (a new key and certificate
    for the same office), and `revoke` + `crl()`.
    """

    def __init__(
        self,
        *,
        now: datetime.datetime | None = None,
        key_size: int = 2048,
        name: str = "careplan_link test CA",
    ) -> None:
        self.now = now or datetime.datetime.now(datetime.UTC)
        self.key_size = key_size
        self._ca_key = _new_key(key_size)
        self._revoked: dict[int, datetime.datetime] = {}
        self._serial = 1000
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "careplan_link test PKI"),
                x509.NameAttribute(NameOID.COMMON_NAME, name),
            ]
        )
        public_key = self._ca_key.public_key()
        self.ca_certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.now - 365 * _DAY)
            .not_valid_after(self.now + 20 * 365 * _DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .sign(self._ca_key, hashes.SHA256())
        )
        self.trust_store = TrustStore((self.ca_certificate,))

    def office(
        self,
        office_no: str,
        *,
        name: str | None = None,
        not_before: datetime.datetime | None = None,
        not_after: datetime.datetime | None = None,
        digital_signature: bool = True,
        key_encipherment: bool = True,
        extended_key_usage: Sequence[x509.ObjectIdentifier] | None = _OFFICE_USAGE,
        subject_alt_name: Sequence[x509.GeneralName] = (),
        key: rsa.RSAPrivateKey | None = None,
    ) -> OfficeIdentity:
        """An office identity whose certificate carries `office_no` (subject serialNumber and
        CN) and, by default, follows the profile; valid from a day ago for two years."""
        key = key or _new_key(self.key_size)
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, name or f"test office {office_no}"),
                x509.NameAttribute(NameOID.SERIAL_NUMBER, office_no),
                x509.NameAttribute(NameOID.COMMON_NAME, f"{office_no} test office"),
            ]
        )
        self._serial += 1
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.ca_certificate.subject)
            .public_key(key.public_key())
            .serial_number(self._serial)
            .not_valid_before(not_before or self.now - _DAY)
            .not_valid_after(not_after or self.now + 2 * 365 * _DAY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=digital_signature,
                    content_commitment=False,
                    key_encipherment=key_encipherment,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._ca_key.public_key()),
                critical=False,
            )
        )
        if extended_key_usage is not None:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage(list(extended_key_usage)), critical=False
            )
        if subject_alt_name:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(list(subject_alt_name)), critical=False
            )
        certificate = builder.sign(self._ca_key, hashes.SHA256())
        return OfficeIdentity(certificate, key, office_no)

    # -- variants for negative tests ---------------------------------------------------------

    def expired(self, office_no: str) -> OfficeIdentity:
        """Valid for a year, ended a day ago."""
        return self.office(office_no, not_before=self.now - 366 * _DAY, not_after=self.now - _DAY)

    def not_yet_valid(self, office_no: str) -> OfficeIdentity:
        """Valid from tomorrow."""
        return self.office(office_no, not_before=self.now + _DAY, not_after=self.now + 400 * _DAY)

    def without_digital_signature(self, office_no: str) -> OfficeIdentity:
        return self.office(office_no, digital_signature=False)

    def server_auth_only(self, office_no: str) -> OfficeIdentity:
        return self.office(office_no, extended_key_usage=(ExtendedKeyUsageOID.SERVER_AUTH,))

    def foreign(self, office_no: str) -> OfficeIdentity:
        """A well-formed identity issued by another CA, which this PKI's trust store lacks."""
        return FakePKI(now=self.now, key_size=self.key_size, name="foreign CA").office(office_no)

    def renewed(
        self, identity: OfficeIdentity, *, starting: datetime.datetime | None = None
    ) -> OfficeIdentity:
        """A new key and certificate for the same office, valid from `starting` (default now)."""
        start = starting or self.now
        return self.office(identity.office_no, not_before=start, not_after=start + 2 * 365 * _DAY)

    # -- revocation ----------------------------------------------------------------------------

    def revoke(self, identity: OfficeIdentity, *, at: datetime.datetime | None = None) -> None:
        self._revoked[identity.certificate.serial_number] = at or self.now

    def crl(
        self, *, next_update: datetime.datetime | None = None
    ) -> x509.CertificateRevocationList:
        """The CA's current CRL, listing every certificate revoked with `revoke`; issued a day
        ago, next update in a week (or at `next_update`: in the past for a stale list)."""
        next_update = next_update or self.now + 7 * _DAY
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.ca_certificate.subject)
            .last_update(min(self.now - _DAY, next_update - _DAY))
            .next_update(next_update)
        )
        for serial, when in self._revoked.items():
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build()
            )
        return builder.sign(self._ca_key, hashes.SHA256())
