"""`careplan-link seal` and `careplan-link open`: the envelope commands of the CLI.

Passwords of PKCS#12 files come from an environment variable (CAREPLAN_LINK_PASSWORD unless
--password-env names another) or, interactively, from a prompt; never from the command line,
where other users of the machine could read them.
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path
from typing import Any

from cryptography import x509

from ._cli_office import (
    IDENTITY_PASSWORD_VARIABLE,
    ExitCode,
    UsageError,
    describe_failure,
    language,
    load_identity,
    print_report,
    read_file,
    say,
)
from .envelope import (
    OfficeIdentity,
    TrustSettings,
    TrustStore,
    open_envelope,
    seal,
    verify_recipient,
)
from .errors import EnvelopeError
from .format import Bundle, validate, write_bundle
from .format._atomic import write_atomically

__all__ = ["add_envelope_commands"]

DEFAULT_PASSWORD_VARIABLE = IDENTITY_PASSWORD_VARIABLE


def add_envelope_commands(commands: Any) -> None:
    sealing = commands.add_parser(
        "seal", help="validate, sign and encrypt one transmission unit (a folder or its files)"
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
    sealing.add_argument("files", nargs="+", type=Path, metavar="FOLDER|FILE")
    sealing.add_argument("-o", "--output", type=Path, required=True, metavar="OUT.p7m")
    sealing.add_argument(
        "--no-validate", action="store_true",
        help="seal without validating (a unit with validation errors is refused otherwise)",
    )  # fmt: skip
    sealing.add_argument("--overwrite", action="store_true", help="replace an existing OUT.p7m")
    sealing.add_argument(
        "--cbc", action="store_true",
        help="EnvelopedData with AES-256-CBC and RSA PKCS#1 v1.5, for older receivers",
    )  # fmt: skip
    _password_option(sealing)
    _lang_option(sealing)
    sealing.set_defaults(run=_run(_seal, "seal"))

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
    _lang_option(opening)
    opening.set_defaults(run=_run(_open, "open"))


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


def _lang_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--lang", choices=("ja", "en"), help="language of the messages (default: the locale)"
    )


def _password_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-env", default=DEFAULT_PASSWORD_VARIABLE, metavar="NAME",
        help=f"environment variable holding the PKCS#12 password ({DEFAULT_PASSWORD_VARIABLE})",
    )  # fmt: skip


def _run(command: Any, name: str) -> Any:
    """Every failure a message on stderr in the user's language and an exit code (ExitCode);
    never a traceback."""

    def run(args: argparse.Namespace) -> int:
        lang = language(args.lang)
        try:
            status: int = command(args, lang)
            return status
        except KeyboardInterrupt:
            print(say(lang, "中断しました", "interrupted"), file=sys.stderr)
            return 130
        except EnvelopeError as error:
            # The class and the code say what failed; the library's own detail after its
            # first phrase (a path builder's "candidates exhausted …") is not for the user.
            text = str(error).partition(" / ")
            plain = text[0] if lang == "ja" and text[2] else (text[2] or text[0])
            plain = plain.split(": ", 1)[0]
            head = say(lang, "受け付けません", "refused")
            print(
                f"careplan-link {name}: {head} ({type(error).__name__}, {error.reason}): {plain}",
                file=sys.stderr,
            )
            return ExitCode.REFUSED
        except Exception as error:
            code, message = describe_failure(error, lang)
            print(f"careplan-link {name}: {message}", file=sys.stderr)
            return int(code)

    return run


def _read(path: Path) -> bytes:
    return read_file(path, "ファイル", "file")


def _identity(args: argparse.Namespace, lang: str) -> OfficeIdentity:
    identity: OfficeIdentity = load_identity(args.identity, lang, variable=args.password_env)
    return identity


def _certificates(path: Path) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(read_file(path, "証明書", "certificate file"))
    except ValueError:
        raise UsageError(
            f"{path} に PEM 形式の証明書がありません", f"{path} holds no PEM certificate"
        ) from None


def _crls(paths: list[Path]) -> list[x509.CertificateRevocationList]:
    crls = []
    for path in paths:
        try:
            crls.append(x509.load_der_x509_crl(_der_or_pem_crl(_read(path))))
        except ValueError:
            raise UsageError(
                f"{path} は失効リスト (CRL) ではありません", f"{path} is not a CRL (DER or PEM)"
            ) from None
    return crls


def _trust_store(path: Path) -> TrustStore:
    try:
        return TrustStore.from_pem(read_file(path, "認証局の証明書", "CA certificate file"))
    except ValueError:
        raise UsageError(
            f"{path} に PEM 形式の証明書がありません", f"{path} holds no PEM certificate"
        ) from None


def _unit(paths: list[Path]) -> Bundle:
    from .office import units_of

    for path in paths:
        if not path.exists():
            raise UsageError(f"{path} がありません", f"no such file or folder: {path}")
    units = units_of(paths)
    if len(units) != 1:
        found = ", ".join(f"{u.serial} → {u.receiver.number}" for u in units) or "-"
        raise UsageError(
            f"1つの送信単位を指定してください（{len(units)}単位: {found}）",
            f"give the files of exactly one transmission unit (found {len(units)}: {found})",
        )
    return units[0]


def _output(path: Path, overwrite: bool) -> None:
    if path.is_dir():
        raise UsageError(
            f"出力先 {path} はフォルダです。ファイル名を指定してください",
            f"the output {path} is a folder: give a file name",
        )
    if not path.parent.is_dir():
        raise UsageError(
            f"出力先のフォルダ {path.parent} がありません",
            f"the output folder {path.parent} does not exist",
        )
    if path.exists() and not overwrite:
        raise UsageError(
            f"{path} はすでにあります。置き換えるには --overwrite を付けてください",
            f"{path} exists already: add --overwrite to replace it",
        )


def _seal(args: argparse.Namespace, lang: str) -> int:
    if args.trust is None and not args.no_verify_recipient:
        raise UsageError(
            "受信者の証明書を確かめるため --trust CA.pem を指定してください（自分で確かめた場合は "
            "--no-verify-recipient）",
            "seal needs --trust CA.pem to verify the recipient certificates "
            "(or --no-verify-recipient if you verified them yourself)",
        )
    _output(args.output, args.overwrite)
    bundle = _unit(args.files)
    if not args.no_validate:
        report = validate(bundle)
        if not report.ok:
            print(
                say(
                    lang,
                    f"検証エラーがあるため封緘しません（{len(report.errors)}件）",
                    f"not sealed: the unit has {len(report.errors)} validation errors",
                ),
                file=sys.stderr,
            )
            print_report(report, lang, sys.stderr)
            return ExitCode.REFUSED
    receiver = bundle.receiver.number
    recipients = [c for path in args.to for c in _certificates(path)]
    trust = None
    if args.trust is not None and not args.no_verify_recipient:
        trust = TrustSettings(anchors=_trust_store(args.trust), crls=_crls(args.crl))
        # Strict here: every certificate the user named must be good (seal itself would
        # leave a bad one out when another is good).
        for certificate in recipients:
            verify_recipient(certificate, trust=trust, receiver_office=receiver)
    identity = _identity(args, lang)
    envelope = seal(bundle, sender=identity, recipients=recipients, trust=trust, cbc=args.cbc)
    write_atomically(args.output.parent, {args.output.name: envelope}, overwrite=args.overwrite)
    print(
        say(
            lang,
            f"{len(bundle.files)} ファイルを {args.output} に封緘しました"
            f"（{len(envelope)} バイト）",
            f"sealed {len(bundle.files)} files to {args.output} ({len(envelope)} bytes)",
        )
    )
    return ExitCode.OK


def _open(args: argparse.Namespace, lang: str) -> int:
    directory: Path = args.directory
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{directory} はフォルダではありません", f"{directory} is not a folder")
    identity = _identity(args, lang)
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
    # Only verified content reaches the disk: the whole unit or nothing, never replacing a
    # file already there.
    clashes = sorted(name for name in opened.files if (directory / name).exists())
    if clashes:
        raise UsageError(
            f"{directory} に同じ名前のファイルがあります（置き換えません）: {', '.join(clashes)}",
            f"{directory} already holds {', '.join(clashes)}: nothing was replaced",
        )
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(
            f"フォルダ {directory} を作れません（{error.strerror}）",
            f"cannot create the folder {directory}: {error.strerror}",
        ) from None
    write_bundle(opened.unit, to=directory)
    print(
        say(
            lang,
            f"事業所 {opened.sender_office_no} から（署名 {opened.signed_at.isoformat()}）: "
            f"{len(opened.files)} ファイル（取込順）",
            f"from office {opened.sender_office_no}, signed {opened.signed_at.isoformat()}: "
            f"{len(opened.files)} files in import order",
        )
    )
    for name in opened.files:
        print(f"  {name}")
    return ExitCode.OK


def _der_or_pem_crl(data: bytes) -> bytes:
    if data.lstrip().startswith(b"-----"):
        from cryptography.hazmat.primitives.serialization import Encoding

        return x509.load_pem_x509_crl(data).public_bytes(Encoding.DER)
    return data
