"""The office certificate profile, and verification of a signer against a trust store.

Profile (docs/envelope.md): an RSA key; key usage present with digitalSignature and
keyEncipherment; extended key usage, when present, including emailProtection (what
`openssl cms -verify` requires of a signer) and clientAuth (TLS to the hub); not a CA;
subjectAltName optional (real office certificates often have none). cryptography's default
client verifier requires a SAN and refuses emailProtection-only certificates, so the verifier is
built with an extension policy of our own.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    Policy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from ..errors import CertificateExpired, StaleRevocationList, UntrustedSigner
from ._identity import TrustStore

__all__ = ["check_crls_current", "check_profile", "verify_signer"]


def check_profile(certificate: x509.Certificate) -> None:
    """Raise UntrustedSigner with a clear message if the certificate breaks the profile."""
    who = certificate.subject.rfc4514_string()
    if not isinstance(certificate.public_key(), rsa.RSAPublicKey):
        raise UntrustedSigner(f"certificate {who}: office certificates have RSA keys")
    problem = _key_usage_problem(_extension(certificate, x509.KeyUsage))
    problem = problem or _extended_key_usage_problem(_extension(certificate, x509.ExtendedKeyUsage))
    problem = problem or _basic_constraints_problem(_extension(certificate, x509.BasicConstraints))
    if problem:
        raise UntrustedSigner(f"certificate {who} breaks the office certificate profile: {problem}")


def _extension(certificate: x509.Certificate, kind: type[x509.ExtensionType]) -> object | None:
    try:
        return certificate.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _key_usage_problem(usage: object | None) -> str | None:
    if not isinstance(usage, x509.KeyUsage):
        return "no key usage extension (digitalSignature and keyEncipherment are required)"
    if not (usage.digital_signature and usage.key_encipherment):
        return "key usage lacks digitalSignature or keyEncipherment"
    return None


def _extended_key_usage_problem(usage: object | None) -> str | None:
    if usage is None:
        return None
    assert isinstance(usage, x509.ExtendedKeyUsage)
    purposes = set(usage)
    missing = [
        name
        for name, oid in (
            ("emailProtection", ExtendedKeyUsageOID.EMAIL_PROTECTION),
            ("clientAuth", ExtendedKeyUsageOID.CLIENT_AUTH),
        )
        if oid not in purposes
    ]
    if missing and ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in purposes:
        return f"extended key usage lacks {' and '.join(missing)}"
    return None


def _basic_constraints_problem(constraints: object | None) -> str | None:
    if isinstance(constraints, x509.BasicConstraints) and constraints.ca:
        return "it is a CA certificate, not an office certificate"
    return None


def _policy_check(
    problem_of: object,
) -> object:
    """An ExtensionPolicy validator raising when `problem_of(extension)` names a problem."""

    def validate(_policy: Policy, _certificate: x509.Certificate, extension: object) -> None:
        problem = problem_of(extension)  # type: ignore[operator]
        if problem:
            raise ValueError(problem)

    return validate


def _office_policy() -> ExtensionPolicy:
    return (
        ExtensionPolicy.permit_all()
        .require_present(x509.KeyUsage, Criticality.AGNOSTIC, _policy_check(_key_usage_problem))  # type: ignore[arg-type]
        .may_be_present(
            x509.ExtendedKeyUsage,
            Criticality.AGNOSTIC,
            _policy_check(_extended_key_usage_problem),  # type: ignore[arg-type]
        )
        .may_be_present(
            x509.BasicConstraints,
            Criticality.AGNOSTIC,
            _policy_check(_basic_constraints_problem),  # type: ignore[arg-type]
        )
    )


def verify_signer(
    certificate: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    trust: TrustStore,
    *,
    at: datetime.datetime,
    crls: Sequence[x509.CertificateRevocationList] = (),
) -> list[x509.Certificate]:
    """Check the signer at time `at`: profile, validity, chain to the trust store, revocation.

    Returns the verified chain (signer first). Raises CertificateExpired or UntrustedSigner.
    """
    who = certificate.subject.rfc4514_string()
    check_profile(certificate)
    if at < certificate.not_valid_before_utc:
        raise CertificateExpired(
            f"certificate {who} was not yet valid at {at.isoformat()} "
            f"(valid from {certificate.not_valid_before_utc.isoformat()})"
        )
    if at > certificate.not_valid_after_utc:
        raise CertificateExpired(
            f"certificate {who} had expired at {at.isoformat()} "
            f"(valid until {certificate.not_valid_after_utc.isoformat()})"
        )
    verifier = (
        PolicyBuilder()
        .store(Store(list(trust.certificates)))
        .time(at)
        .max_chain_depth(4)
        .extension_policies(
            ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=_office_policy()
        )
        .build_client_verifier()
    )
    try:
        verified = verifier.verify(certificate, list(intermediates))
    except VerificationError as error:
        raise UntrustedSigner(
            f"certificate {who} does not chain to a trusted CA at {at.isoformat()}: {error}"
        ) from None
    chain = list(verified.chain)
    _check_revocation(chain, crls)
    return chain


def _check_revocation(
    chain: list[x509.Certificate], crls: Sequence[x509.CertificateRevocationList]
) -> None:
    if not crls or len(chain) < 2:
        return
    certificate, issuer = chain[0], chain[1]
    public_key = issuer.public_key()
    for crl in crls:
        if crl.issuer != issuer.subject:
            continue
        if not crl.is_signature_valid(public_key):  # type: ignore[arg-type]
            raise UntrustedSigner(f"the CRL of {crl.issuer.rfc4514_string()} has a bad signature")
        revoked = crl.get_revoked_certificate_by_serial_number(certificate.serial_number)
        if revoked is not None:
            raise UntrustedSigner(
                f"certificate {certificate.subject.rfc4514_string()} was revoked on "
                f"{revoked.revocation_date_utc.isoformat()}"
            )


def check_crls_current(
    crls: Sequence[x509.CertificateRevocationList], now: datetime.datetime
) -> None:
    """Refuse a CRL past its nextUpdate: a stale list would hide every later revocation."""
    for crl in crls:
        next_update = crl.next_update_utc
        if next_update is not None and next_update < now:
            raise StaleRevocationList(
                f"CRL {crl.issuer.rfc4514_string()} の次回更新日時 {next_update.isoformat()} を"
                f"過ぎています / the CRL of {crl.issuer.rfc4514_string()} is past its "
                f"nextUpdate {next_update.isoformat()}: fetch a current one"
            )
