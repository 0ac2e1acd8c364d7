"""Trust settings in one object, and the check of a recipient certificate before sealing.

`TrustSettings` is what a receiver configures once (trust anchors, CRLs, limits, whether legacy
CBC envelopes are read, the signing-time window) and what `Client` / `receive` take as one value;
`open_envelope` and `seal` accept it wherever they accept a bare `TrustStore`.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence

import attrs
from cryptography import x509

from ..errors import UntrustedRecipient, UntrustedSigner
from ._identity import OfficeNumberRule, TrustStore, office_number_of
from ._payload import Limits
from ._profile import check_crls_current, verify_signer

__all__ = ["TrustSettings", "settings_of", "verify_recipient"]


def _crl_tuple(
    crls: Iterable[x509.CertificateRevocationList],
) -> tuple[x509.CertificateRevocationList, ...]:
    return tuple(crls)


@attrs.frozen
class TrustSettings:
    """Everything an opener (and a sealer checking its recipients) trusts and tolerates.

    * `anchors`: the CA certificates that certify offices;
    * `crls`: revocation lists of those CAs; one past its nextUpdate is refused
      (`StaleRevocationList`) rather than used as current;
    * `limits`: bounds on the payload (`Limits`);
    * `allow_legacy_cbc`: read EnvelopedData (AES-CBC) and RSA PKCS#1 v1.5 key transport, whose
      decryption errors can be an oracle; off unless a partner still needs it;
    * `signing_time_before` / `signing_time_after`: with a reference time `at` (the hub's
      acceptance time), a signingTime is accepted only within
      `[at - signing_time_before, at + signing_time_after]`.
    """

    anchors: TrustStore
    crls: Sequence[x509.CertificateRevocationList] = attrs.field(default=(), converter=_crl_tuple)
    limits: Limits = Limits()  # noqa: RUF009  (frozen value)
    allow_legacy_cbc: bool = False
    signing_time_before: datetime.timedelta = datetime.timedelta(days=7)
    signing_time_after: datetime.timedelta = datetime.timedelta(minutes=5)

    def __attrs_post_init__(self) -> None:
        if self.signing_time_before < datetime.timedelta(0) or self.signing_time_after < (
            datetime.timedelta(0)
        ):
            raise ValueError("the signing-time window cannot be negative")


def settings_of(trust: TrustStore | TrustSettings) -> TrustSettings:
    """`trust` as TrustSettings (a bare TrustStore with every default)."""
    return trust if isinstance(trust, TrustSettings) else TrustSettings(anchors=trust)


def verify_recipient(
    certificate: x509.Certificate,
    *,
    trust: TrustStore | TrustSettings,
    receiver_office: str,
    at: datetime.datetime | None = None,
    intermediates: Sequence[x509.Certificate] = (),
    rule: OfficeNumberRule = office_number_of,
) -> None:
    """Check a certificate before encrypting to it; raise `UntrustedRecipient` if it fails.

    It must follow the office certificate profile (RSA key, keyUsage with keyEncipherment for
    key transport and digitalSignature), be valid at `at` (default now), chain to `trust`'s
    anchors, not be revoked in its CRLs (`StaleRevocationList` for a CRL past its nextUpdate),
    and carry the office number `receiver_office`. `intermediates` are CA certificates that
    may complete the chain. This is what stops a hostile or compromised
    hub from handing out a key of its own in the office directory.
    """
    settings = settings_of(trust)
    when = at or datetime.datetime.now(datetime.UTC)
    who = certificate.subject.rfc4514_string()
    office_no = rule(certificate)
    if office_no != receiver_office:
        raise UntrustedRecipient(
            f"受信者の証明書 {who} は事業所 {office_no} のもので、宛先 {receiver_office} "
            f"ではありません / the recipient certificate {who} belongs to office "
            f"{office_no}, not to the receiver {receiver_office}"
        )
    check_crls_current(settings.crls, when)
    try:
        verify_signer(certificate, intermediates, settings.anchors, at=when, crls=settings.crls)
    except UntrustedSigner as error:
        raise UntrustedRecipient(
            f"受信者の証明書を信頼できません / the recipient certificate is not trusted: {error}"
        ) from None
