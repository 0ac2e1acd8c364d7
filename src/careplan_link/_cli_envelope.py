"""`careplan-link seal` and `careplan-link open`: the envelope commands of the CLI.

Passwords of PKCS#12 files come from an environment variable (CAREPLAN_LINK_PASSWORD unless
--password-env names another) or, interactively, from a prompt; never from the command line,
where other users of the machine could read them.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from cryptography import x509

from .envelope import OfficeIdentity, TrustStore, open_envelope, seal
from .errors import EnvelopeError, FormatError

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
        "--check-validity-now", action="store_true",
        help="also require the signer's certificate to be valid now (not only when it signed)",
    )  # fmt: skip
    _password_option(opening)
    opening.set_defaults(run=_run(_open))


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
            print(f"careplan-link: refused ({type(error).__name__}): {error}", file=sys.stderr)
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


def _seal(args: argparse.Namespace) -> int:
    identity = _identity(args)
    recipients = [c for path in args.to for c in _certificates(path)]
    files = {path.name: _read(path) for path in args.files}
    try:
        envelope = seal(files, sender=identity, recipients=recipients, cbc=args.cbc)
    except (ValueError, FormatError) as error:
        raise _UsageError(str(error)) from None
    _write_atomically(args.output, envelope)
    print(f"sealed {len(files)} files to {args.output} ({len(envelope)} bytes)")
    return EXIT_OK


def _open(args: argparse.Namespace) -> int:
    identity = _identity(args)
    try:
        trust = TrustStore.from_pem(_read(args.trust))
        crls = [x509.load_der_x509_crl(_der_or_pem_crl(_read(path))) for path in args.crl]
    except ValueError as error:
        raise _UsageError(str(error)) from None
    opened = open_envelope(
        _read(args.envelope),
        identity=identity,
        trust=trust,
        crls=crls,
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
