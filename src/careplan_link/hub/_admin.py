"""`Admin`: what a hub's operator does to the store directly (the `careplan-link hub` commands).

Offices are registered here, never through the protocol: number, service types, login user ID,
certificates (PEM; several while one is renewed), and a password generated once and returned
(or given). Disabling an office, or resetting its password, revokes its tokens at once. Every
change goes to the audit log as the `operator`.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from typing import Literal

import attrs
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from ..errors import HubAdminError
from ..protocol import AuditEntry
from ._audit import OPERATOR, ChainCheck, export, verify_chain
from ._passwords import DEFAULT_COST, hash_password, new_password
from ._rules import HubRules, HubSettings, PurgeReport
from ._store import AuditDraft, HubStore, OfficeRecord

__all__ = ["Admin", "CertificateLike", "OfficeInfo"]

CertificateLike = str | bytes | x509.Certificate
"""A certificate as PEM text or bytes, DER bytes, or a cryptography certificate."""


@attrs.frozen
class OfficeInfo:
    """An office as the operator sees it (never its password)."""

    office_no: str
    user_id: str
    service_types: tuple[str, ...]
    certificates: tuple[x509.Certificate, ...]
    """Newest first."""
    disabled: bool


def _pem(certificate: CertificateLike) -> str:
    try:
        if isinstance(certificate, x509.Certificate):
            loaded = certificate
        elif isinstance(certificate, str) or certificate.lstrip().startswith(b"-----BEGIN"):
            text = certificate if isinstance(certificate, str) else certificate.decode("ascii")
            loaded = x509.load_pem_x509_certificate(text.encode("ascii"))
        else:
            loaded = x509.load_der_x509_certificate(certificate)
    except (ValueError, UnicodeError) as error:
        raise HubAdminError(
            f"証明書を読めません。 / The certificate cannot be read: {error}"
        ) from None
    return loaded.public_bytes(Encoding.PEM).decode("ascii")


def _system_clock() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class Admin:
    """The operator's operations on a hub's store."""

    def __init__(
        self,
        store: HubStore,
        clock: Callable[[], datetime.datetime] | None = None,
        *,
        settings: HubSettings | None = None,
        password_cost: int | None = None,
    ) -> None:
        self.store = store
        self.clock = clock or _system_clock
        self.settings = settings or HubSettings()
        self.password_cost = password_cost or self.settings.password_cost or DEFAULT_COST

    def _audit(self, action: str, office_no: str, detail: str = "") -> AuditDraft:
        return AuditDraft(
            at=self.clock(), office_no=OPERATOR, action=action, counterpart=office_no,
            detail=detail,
        )  # fmt: skip

    def _known(self, office_no: str) -> OfficeRecord:
        office = self.store.office(office_no)
        if office is None:
            raise HubAdminError(
                f"事業所 {office_no} は登録されていません。 / Office {office_no} is not registered."
            )
        return office

    def add_office(
        self,
        office_no: str,
        service_types: Sequence[str],
        user_id: str,
        certificates: Sequence[CertificateLike],
        password: str | None = None,
    ) -> str:
        """Register an office; returns its password (the one given, or a generated one, shown
        to the operator once: the store keeps only its scrypt hash)."""
        if not office_no or not user_id:
            raise HubAdminError(
                "事業所番号と利用者IDが必要です。 / An office number and a user ID are needed."
            )
        if not certificates:
            raise HubAdminError("証明書が必要です。 / An office needs at least one certificate.")
        if password is not None and len(password) < 8:
            raise HubAdminError(
                "パスワードは8文字以上です。 / A password has 8 characters or more."
            )
        password = password or new_password()
        record = OfficeRecord(
            office_no=office_no,
            user_id=user_id,
            password_hash=hash_password(password, cost=self.password_cost),
            service_types=tuple(service_types),
            certificates=tuple(dict.fromkeys(_pem(c) for c in certificates)),
        )
        if not self.store.add_office(record, self._audit("office_added", office_no)):
            raise HubAdminError(
                f"事業所 {office_no} は登録済みです。 / Office {office_no} is already registered."
            )
        return password

    def list_offices(self) -> list[OfficeInfo]:
        """Every registered office, by number."""
        return [
            OfficeInfo(
                office.office_no,
                office.user_id,
                office.service_types,
                tuple(x509.load_pem_x509_certificate(pem.encode()) for pem in office.certificates),
                office.disabled,
            )
            for office in self.store.offices()
        ]

    def disable_office(self, office_no: str) -> int:
        """Refuse the office's logins from now on and revoke its tokens (how many)."""
        office = self._known(office_no)
        self.store.save_office(attrs.evolve(office, disabled=True),
                               self._audit("office_disabled", office_no))  # fmt: skip
        return self.store.revoke_tokens(office_no)

    def enable_office(self, office_no: str) -> None:
        """Let a disabled office log in again (its old tokens stay revoked)."""
        office = self._known(office_no)
        self.store.save_office(attrs.evolve(office, disabled=False),
                               self._audit("office_enabled", office_no))  # fmt: skip

    def reset_password(self, office_no: str, password: str | None = None) -> str:
        """Set a new password (given, or generated and returned) and revoke the office's
        tokens: whoever held the old password is logged out."""
        office = self._known(office_no)
        if password is not None and len(password) < 8:
            raise HubAdminError(
                "パスワードは8文字以上です。 / A password has 8 characters or more."
            )
        password = password or new_password()
        hashed = hash_password(password, cost=self.password_cost)
        self.store.save_office(attrs.evolve(office, password_hash=hashed),
                               self._audit("password_reset", office_no))  # fmt: skip
        self.store.revoke_tokens(office_no)
        return password

    def add_certificate(self, office_no: str, certificate: CertificateLike) -> None:
        """Add a renewed certificate (it becomes the newest; the old one stays until removed)."""
        office = self._known(office_no)
        pem = _pem(certificate)
        certificates = (pem, *(c for c in office.certificates if c != pem))
        self.store.save_office(attrs.evolve(office, certificates=certificates),
                               self._audit("certificate_added", office_no))  # fmt: skip

    def remove_certificate(self, office_no: str, certificate: CertificateLike) -> None:
        """Remove a certificate (after a renewal); an office keeps at least one."""
        office = self._known(office_no)
        pem = _pem(certificate)
        if pem not in office.certificates:
            raise HubAdminError(
                f"事業所 {office_no} にその証明書はありません。 / "
                f"Office {office_no} has no such certificate."
            )
        remaining = tuple(c for c in office.certificates if c != pem)
        if not remaining:
            raise HubAdminError(
                f"事業所 {office_no} の最後の証明書は削除できません。 / "
                f"The last certificate of office {office_no} cannot be removed."
            )
        self.store.save_office(attrs.evolve(office, certificates=remaining),
                               self._audit("certificate_removed", office_no))  # fmt: skip

    def purge(self, now: datetime.datetime | None = None) -> PurgeReport:
        """Apply retention as of `now` (default: the clock): see `Hub.purge`."""
        clock = self.clock if now is None else (lambda: now)
        report = HubRules(self.store, clock, self.settings).purge()
        self.store.append_audit(
            AuditDraft(at=clock(), office_no=OPERATOR, action="purge",
                       detail=f"expired={report.expired} dropped={report.contents_dropped}")
        )  # fmt: skip
        return report

    def audit_entries(self, office_no: str | None = None) -> list[AuditEntry]:
        """Every audit entry (or an office's), oldest first."""
        return self.store.audit_entries(office_no)

    def verify_audit(self) -> ChainCheck:
        """Recompute the whole chain against the store's head (see `verify_chain`)."""
        return verify_chain(self.store.audit_entries(), self.store.audit_head())

    def export_audit(self, format: Literal["csv", "json"] = "json") -> str:
        """Every audit entry as CSV or JSON text."""
        return export(self.store.audit_entries(), format)
