"""`careplan-link seal` and `careplan-link open`: the envelope commands of the CLI.

Passwords of PKCS#12 files come from an environment variable (CAREPLAN_LINK_PASSWORD unless
--password-env names another) or, interactively, from a prompt; never from the command line,
where other users of the machine could read them.
"""

from __future__ import annotations

import argparse
import datetime
import getpass
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from cryptography import x509

from .envelope import (
    OfficeIdentity,
    TrustSettings,
    TrustStore,
    open_envelope,
    seal,
    verify_recipient,
)
from .errors import EnvelopeError, FormatError
from .format import Bundle

__all__ = ["add_envelope_commands"]

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2
DEFAULT_PASSWORD_VARIABLE = "CAREPLAN_LINK_PASSWORD"


class _UsageError(Exception):
    pass


def add_envelope_commands(commands: Any) -> None:
    sealing = commands.add_parser(
        "seal", help="sign and encrypt the files of one transmission unit (CMS, DER)"
    )
    sealing.add_argument("--identity", type=Path, required=True, metavar="FILE.p12")
    sealing.add_argument(
        "--to", type=Path, required=True, action="append", metavar="CERT.pem",
        help="the receiving office's certificate(s); repeat for several",
    )  # fmt: skip
    sealing.add_argument(
        "--trust", type=Path, metavar="CA.pem",
        help="CA certificates that must certify every --to certificate (required, unless "
        "--no-verify-recipient)",
    )  # fmt: skip
    sealing.add_argument(
        "--no-verify-recipient", action="store_true",
        help="encrypt to the --to certificates without checking them against --trust "
        "(only when you verified them yourself)",
    )  # fmt: skip
    sealing.add_argument("--crl", type=Path, action="append", default=[], metavar="CRL")
    sealing.add_argument("files", nargs="+", type=Path, metavar="FILE")
    sealing.add_argument("-o", "--output", type=Path, required=True, metavar="OUT.p7m")
    sealing.add_argument(
        "--cbc", action="store_true",
        help="EnvelopedData with AES-256-CBC and RSA PKCS#1 v1.5, for older receivers",
    )  # fmt: skip
    _password_option(sealing)
    sealing.set_defaults(run=_run(_seal))

    opening = commands.add_parser(
        "open", help="decrypt and verify an envelope, then write its files to a folder"
    )
    opening.add_argument("--identity", type=Path, required=True, metavar="FILE.p12")
    opening.add_argument("--trust", type=Path, required=True, metavar="CA.pem")
    opening.add_argument("envelope", type=Path, metavar="IN.p7m")
    opening.add_argument("-d", "--directory", type=Path, required=True, metavar="DIR")
    opening.add_argument("--crl", type=Path, action="append", default=[], metavar="CRL")
    opening.add_argument(
        "--at", type=_date_time, metavar="DATE-TIME",
        help="reference time (ISO 8601, e.g. the hub's accepted_at): the signing time must lie "
        "within 7 days before to 5 minutes after it, and the signer's certificate is judged "
        "at the signing time; without --at the certificate must be valid now",
    )  # fmt: skip
    opening.add_argument(
        "--check-validity-now", action="store_true",
        help="with --at, also require the signer's certificate to be valid now",
    )  # fmt: skip
    opening.add_argument(
        "--allow-legacy-cbc", action="store_true",
        help="also read legacy envelopes (EnvelopedData with AES-CBC, RSA PKCS#1 v1.5 key "
        "transport), whose decryption errors can be an oracle",
    )  # fmt: skip
    _password_option(opening)
    opening.set_defaults(run=_run(_open))


def _date_time(text: str) -> datetime.datetime:
    """An ISO 8601 date-time; without a UTC offset it is taken as Japan time (JST)."""
    try:
        value = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 date-time (e.g. 2025-04-01T09:30:00+09:00)"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone(datetime.timedelta(hours=9)))
    return value


def _password_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-env", default=DEFAULT_PASSWORD_VARIABLE, metavar="NAME",
        help=f"environment variable holding the PKCS#12 password ({DEFAULT_PASSWORD_VARIABLE})",
    )  # fmt: skip


def _run(command: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        try:
            status: int = command(args)
            return status
        except _UsageError as error:
            print(f"careplan-link: {error}", file=sys.stderr)
            return EXIT_USAGE
        except EnvelopeError as error:
            print(
                f"careplan-link: refused ({type(error).__name__}, {error.reason}): {error}",
                file=sys.stderr,
            )
            return EXIT_REFUSED

    return run


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise _UsageError(f"cannot read {path}: {error.strerror}") from None


def _identity(args: argparse.Namespace) -> OfficeIdentity:
    data = _read(args.identity)
    password = os.environ.get(args.password_env)
    if password is None:
        if not sys.stdin.isatty():
            raise _UsageError(
                f"set {args.password_env} to the password of {args.identity} "
                "(no terminal to ask on)"
            )
        password = getpass.getpass(f"password of {args.identity}: ")
    try:
        return OfficeIdentity.from_pkcs12(data, password)
    except ValueError as error:
        raise _UsageError(f"{args.identity}: {error}") from None


def _certificates(path: Path) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(_read(path))
    except ValueError:
        raise _UsageError(f"{path} holds no PEM certificate") from None


def _crls(paths: list[Path]) -> list[x509.CertificateRevocationList]:
    try:
        return [x509.load_der_x509_crl(_der_or_pem_crl(_read(path))) for path in paths]
    except ValueError as error:
        raise _UsageError(str(error)) from None


def _trust_store(path: Path) -> TrustStore:
    try:
        return TrustStore.from_pem(_read(path))
    except ValueError as error:
        raise _UsageError(f"{path}: {error}") from None


def _seal(args: argparse.Namespace) -> int:
    if args.trust is None and not args.no_verify_recipient:
        raise _UsageError(
            "seal needs --trust CA.pem to verify the recipient certificates "
            "(or --no-verify-recipient if you verified them yourself)"
        )
    files = {path.name: _read(path) for path in args.files}
    try:
        receiver = Bundle.from_files(files).receiver.number
    except (ValueError, FormatError) as error:
        raise _UsageError(str(error)) from None
    recipients = [c for path in args.to for c in _certificates(path)]
    trust = None
    if args.trust is not None and not args.no_verify_recipient:
        trust = TrustSettings(anchors=_trust_store(args.trust), crls=_crls(args.crl))
        # Strict here: every certificate the user named must be good (seal itself would
        # leave a bad one out when another is good).
        for certificate in recipients:
            verify_recipient(certificate, trust=trust, receiver_office=receiver)
    identity = _identity(args)
    envelope = seal(files, sender=identity, recipients=recipients, trust=trust, cbc=args.cbc)
    _write_atomically(args.output, envelope)
    print(f"sealed {len(files)} files to {args.output} ({len(envelope)} bytes)")
    return EXIT_OK


def _open(args: argparse.Namespace) -> int:
    identity = _identity(args)
    trust = TrustSettings(
        anchors=_trust_store(args.trust),
        crls=_crls(args.crl),
        allow_legacy_cbc=args.allow_legacy_cbc,
    )
    opened = open_envelope(
        _read(args.envelope),
        identity=identity,
        trust=trust,
        at=args.at,
        check_validity_now=args.check_validity_now,
    )
    # Only verified content reaches the disk, each file written whole or not at all.
    args.directory.mkdir(parents=True, exist_ok=True)
    for name, data in opened.files.items():
        _write_atomically(args.directory / name, data)
    print(
        f"from office {opened.sender_office_no}, signed {opened.signed_at.isoformat()}: "
        f"{len(opened.files)} files in import order"
    )
    for name in opened.files:
        print(f"  {name}")
    return EXIT_OK


def _der_or_pem_crl(data: bytes) -> bytes:
    if data.lstrip().startswith(b"-----"):
        from cryptography.hazmat.primitives.serialization import Encoding

        return x509.load_pem_x509_crl(data).public_bytes(Encoding.DER)
    return data


def _write_atomically(path: Path, data: bytes) -> None:
    """Write next to the target and rename, so a failure leaves no partial file behind."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
