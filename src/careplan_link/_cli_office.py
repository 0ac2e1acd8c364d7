"""The office commands: `send`, `receive`, `inbox`, `outbox`, `receipt`, `history`.

Thin: each parses its arguments, builds a `Client` and a `Workflow` from the office settings
(`office_settings`: the command line over a configuration mapping), calls the office layer and
prints one line per unit. Every failure the user can meet is a bilingual message and an exit
code from `ExitCode` (the one table of exit codes, docs/office.md); no traceback reaches the
user. Passwords come from environment variables or a prompt, never from the command line.
"""

from __future__ import annotations

import argparse
import datetime
import enum
import errno
import getpass
import json
import locale
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import attrs

from .errors import (
    AuthenticationError,
    CareplanLinkError,
    EnvelopeError,
    FormatError,
    HubError,
    HubServerError,
    HubTransportError,
    OutcomeUnknown,
    RequestTimeout,
    TooManyRequests,
)

__all__ = [
    "HUB_PASSWORD_VARIABLE",
    "IDENTITY_PASSWORD_VARIABLE",
    "ExitCode",
    "OfficeSettings",
    "UsageError",
    "add_office_commands",
    "add_office_options",
    "guarded",
    "language",
    "load_identity",
    "load_trust",
    "office_settings",
    "say",
]

HUB_PASSWORD_VARIABLE = "CAREPLAN_LINK_HUB_PASSWORD"
IDENTITY_PASSWORD_VARIABLE = "CAREPLAN_LINK_PASSWORD"
DEFAULT_JOURNAL = "careplan-link-journal.db"


class ExitCode(enum.IntEnum):
    """The exit status of every `careplan-link` office and envelope command."""

    OK = 0
    """Done."""
    REFUSED = 1
    """Refused or invalid: a unit with validation errors, an envelope that does not verify,
    a message rejected, a file locked by another program, a full disk."""
    USAGE = 2
    """Usage or configuration: a wrong option, a missing folder or file, a bad identity file
    or password, an unusable journal, a hub login refused."""
    UNREACHABLE = 3
    """The hub cannot be reached (no answer, timeouts, 5xx, busy): try again later."""


class UsageError(CareplanLinkError):
    """A usage or configuration problem, in Japanese and English."""

    def __init__(self, japanese: str, english: str) -> None:
        super().__init__(f"{japanese} / {english}")
        self.japanese = japanese
        self.english = english


def language(chosen: str | None) -> str:
    """`ja` or `en`: the option, else the locale (Japanese locales speak Japanese)."""
    if chosen in ("ja", "en"):
        return chosen
    for value in (os.environ.get("LC_ALL"), os.environ.get("LANG"), locale.getlocale()[0]):
        if value:
            return "ja" if value.lower().startswith("ja") else "en"
    return "en"


def say(lang: str, japanese: str, english: str) -> str:
    """The message in the user's language."""
    return japanese if lang == "ja" else english


# -- errors → messages and exit codes ------------------------------------------------------------

_UNREACHABLE = (HubTransportError, HubServerError, RequestTimeout, TooManyRequests, OutcomeUnknown)


def _bilingual(error: BaseException, lang: str) -> str:
    """A library error's text in the user's language (library messages are `ja / en`)."""
    if isinstance(error, UsageError):
        return say(lang, error.japanese, error.english)
    text = str(error).strip() or type(error).__name__
    if " / " in text:
        japanese, _, english = text.partition(" / ")
        if any(ord(c) > 0x2FFF for c in japanese):
            return japanese if lang == "ja" else english
    return text


def describe_failure(error: BaseException, lang: str) -> tuple[ExitCode, str]:
    """The exit code and the message for any failure of a command."""
    if isinstance(error, UsageError):
        return ExitCode.USAGE, _bilingual(error, lang)
    if isinstance(error, AuthenticationError):
        return ExitCode.USAGE, say(
            lang,
            "連携基盤にログインできません。事業所番号・ユーザーID・パスワード（環境変数 "
            f"{HUB_PASSWORD_VARIABLE}）を確かめてください",
            "the hub refused the login: check the office number, the user ID and the password "
            f"({HUB_PASSWORD_VARIABLE})",
        )
    if isinstance(error, _UNREACHABLE):
        return ExitCode.UNREACHABLE, say(
            lang,
            "連携基盤に接続できません。ネットワークと URL を確かめ、しばらくしてからやり直して"
            "ください",
            "the hub cannot be reached: check the network and the URL, and try again later",
        ) + f" ({_first_line(error)})"
    if isinstance(error, HubError):
        return ExitCode.REFUSED, say(lang, "連携基盤が断りました: ", "the hub refused: ") + (
            _bilingual(error, lang)
        )
    if isinstance(error, EnvelopeError):
        return ExitCode.REFUSED, say(
            lang,
            f"封筒を受け付けません（{error.reason}）: ",
            f"envelope refused ({error.reason}): ",
        ) + _bilingual(error, lang)
    if isinstance(error, FormatError):
        lines = [issue.message(_lang(lang)) for issue in error.issues[:20]]
        return ExitCode.REFUSED, "\n".join(lines) or _bilingual(error, lang)
    if isinstance(error, CareplanLinkError):
        return ExitCode.REFUSED, _bilingual(error, lang)
    if isinstance(error, OSError):
        return describe_os_error(error, lang)
    return ExitCode.REFUSED, say(
        lang,
        f"予期しないエラーです（{type(error).__name__}）",
        f"unexpected error ({type(error).__name__})",
    ) + f": {_first_line(error)}"


def describe_os_error(error: OSError, lang: str) -> tuple[ExitCode, str]:
    """A file-system failure in plain words, naming the file."""
    name = error.filename or ""
    if error.errno == errno.ENOSPC:
        return ExitCode.REFUSED, say(
            lang,
            f"ディスクがいっぱいです。{name} を書けませんでした（書きかけのファイルは"
            "残していません）",
            f"the disk is full: {name} was not written (no partial file was left)",
        )
    if isinstance(error, PermissionError) or getattr(error, "winerror", None) in (32, 33):
        return ExitCode.REFUSED, say(
            lang,
            f"{name} を使えません。ほかのプログラム（Excel など）が開いているか、権限がありません",
            f"cannot use {name}: another program (Excel?) has it open, or permission is denied",
        )
    if isinstance(error, FileExistsError):
        return ExitCode.REFUSED, say(
            lang,
            f"{name} はすでにあります。上書きしません",
            f"{name} exists already: it is not replaced",
        )
    if isinstance(error, FileNotFoundError | NotADirectoryError | IsADirectoryError):
        return ExitCode.USAGE, say(
            lang,
            f"{name} がないか、フォルダとファイルが違います",
            f"{name}: no such file or folder, or a file where a folder is needed",
        )
    return ExitCode.REFUSED, say(
        lang, f"{name} を読み書きできません", f"cannot read or write {name}"
    ) + f" ({error.strerror or error})"


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def guarded(
    command: Callable[[argparse.Namespace, str], int],
) -> Callable[[argparse.Namespace], int]:
    """Run a command so that every failure becomes a message on stderr and an exit code."""

    def run(args: argparse.Namespace) -> int:
        lang = language(getattr(args, "lang", None))
        try:
            return int(command(args, lang))
        except KeyboardInterrupt:
            print(say(lang, "中断しました", "interrupted"), file=sys.stderr)
            return 130
        except BrokenPipeError:
            raise  # the CLI's main handles a reader that went away
        except Exception as error:
            code, message = describe_failure(error, lang)
            print(f"careplan-link {args.command_name}: {message}", file=sys.stderr)
            return int(code)

    return run


# -- settings ------------------------------------------------------------------------------------


@attrs.frozen
class OfficeSettings:
    """What the office commands need, from the command line over a configuration."""

    hub: str | None
    office: str | None
    user_id: str | None
    identity: Path | None
    identity_key: Path | None
    trust_anchors: tuple[Path, ...]
    journal: Path
    allow_insecure_http: bool = False


def office_settings(args: argparse.Namespace, config: Mapping[str, Any] | None) -> OfficeSettings:
    """The settings: each command-line option, else the configuration's item (the keys of
    `careplan-link.toml`: hub, office, user_id, identity, identity_key, trust_anchors,
    journal, allow_insecure_http), else the default."""
    config = config or {}

    def pick(option: str, key: str) -> Any:
        value = getattr(args, option, None)
        return value if value not in (None, [], ()) else config.get(key)

    anchors = pick("trust", "trust_anchors") or ()
    if isinstance(anchors, str | os.PathLike):
        anchors = (anchors,)
    journal = pick("journal", "journal") or DEFAULT_JOURNAL
    identity = pick("identity", "identity")
    identity_key = config.get("identity_key")
    return OfficeSettings(
        hub=pick("hub", "hub"),
        office=pick("office", "office"),
        user_id=pick("user_id", "user_id"),
        identity=None if identity is None else Path(identity),
        identity_key=None if identity_key is None else Path(identity_key),
        trust_anchors=tuple(Path(p) for p in anchors),
        journal=Path(journal),
        allow_insecure_http=bool(
            getattr(args, "allow_insecure_http", False) or config.get("allow_insecure_http")
        ),
    )


CONFIG_VARIABLE = "CAREPLAN_LINK_CONFIG"


def _config_of(args: argparse.Namespace) -> Mapping[str, Any] | None:
    """The configuration file's items (`--config`, else $CAREPLAN_LINK_CONFIG), or None."""
    path = getattr(args, "config", None) or os.environ.get(CONFIG_VARIABLE)
    if not path:
        return None
    from .office._config import load_config

    try:
        loaded = load_config(path)
    except CareplanLinkError as error:
        japanese = getattr(error, "japanese", str(error))
        english = getattr(error, "english", str(error))
        raise UsageError(japanese, english) from None
    return attrs.asdict(loaded, recurse=False)


def secret(variable: str, what: str, lang: str) -> str:
    """A password from `variable`, else asked on the terminal (never from the command line)."""
    value = os.environ.get(variable)
    if value is not None:
        return value
    if not sys.stdin.isatty():
        raise UsageError(
            f"環境変数 {variable} に {what} のパスワードを設定してください（入力できる端末が"
            "ありません）",
            f"set {variable} to the password of {what} (no terminal to ask on)",
        )
    return getpass.getpass(say(lang, f"{what} のパスワード: ", f"password of {what}: "))


def read_file(path: Path, what_ja: str, what_en: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise UsageError(
            f"{what_ja} {path} を読めません（{error.strerror}）",
            f"cannot read the {what_en} {path}: {error.strerror}",
        ) from None


def load_identity(
    path: Path, lang: str, *, key: Path | None = None, variable: str = IDENTITY_PASSWORD_VARIABLE
) -> Any:
    """The office identity from a PKCS#12 file (password from `variable` or a prompt), or
    from PEM certificate and key files; a bad file or password names the file."""
    from .envelope import OfficeIdentity

    data = read_file(path, "証明書ファイル", "identity file")
    try:
        if key is not None:
            return OfficeIdentity.from_pem(data, read_file(key, "秘密鍵ファイル", "key file"))
        return OfficeIdentity.from_pkcs12(data, secret(variable, str(path), lang))
    except (ValueError, TypeError):
        raise UsageError(
            f"証明書ファイル {path} を読めません。パスワードが違うか、PKCS#12 (.p12) ファイルでは"
            "ありません",
            f"cannot load the identity file {path}: wrong password, or not a PKCS#12 (.p12) file",
        ) from None


def load_trust(paths: Sequence[Path]) -> Any:
    """TrustSettings from CA certificate files (PEM); a bad file is named."""
    from cryptography import x509

    from .envelope import TrustSettings, TrustStore

    if not paths:
        raise UsageError(
            "認証局の証明書を --trust CA.pem で指定してください",
            "give the CA certificates with --trust CA.pem",
        )
    certificates = []
    for path in paths:
        try:
            certificates += x509.load_pem_x509_certificates(
                read_file(path, "認証局の証明書", "CA certificate file")
            )
        except ValueError:
            raise UsageError(
                f"{path} に PEM 形式の証明書がありません", f"{path} holds no PEM certificate"
            ) from None
    return TrustSettings(anchors=TrustStore.of(certificates))


@contextmanager
def office_workflow(args: argparse.Namespace, lang: str) -> Iterator[Any]:
    """A `Workflow` over a `Client` built from the settings; closed after the command."""
    from .client import Client
    from .office import Workflow
    from .protocol import Login

    settings = office_settings(args, _config_of(args))
    if settings.hub is None:
        raise UsageError(
            "連携基盤の URL を --hub で指定してください", "give the hub's URL with --hub"
        )
    if settings.identity is None:
        raise UsageError(
            "事業所の証明書を --identity FILE.p12 で指定してください",
            "give the office's identity with --identity FILE.p12",
        )
    identity = load_identity(settings.identity, lang, key=settings.identity_key)
    trust = load_trust(settings.trust_anchors)
    office = settings.office or identity.office_no
    user = settings.user_id or office
    password = secret(HUB_PASSWORD_VARIABLE, f"hub user {user}", lang)
    journal = _open_journal(settings.journal)
    try:
        client = Client(
            settings.hub,
            login=Login(office, user, password),
            identity=identity,
            allow_insecure_http=settings.allow_insecure_http,
        )
    except ValueError as error:
        journal.close()
        raise UsageError(
            f"連携基盤の URL が使えません: {settings.hub}", f"unusable hub URL: {error}"
        ) from None
    with client, journal:
        yield Workflow(client, identity=identity, trust=trust, journal=journal)


def _open_journal(path: Path) -> Any:
    from .office import Journal, JournalError

    if path.is_dir():
        raise UsageError(
            f"記録ファイル {path} はフォルダです", f"the journal {path} is a folder, not a file"
        )
    try:
        return Journal(path)
    except JournalError:
        raise UsageError(
            f"記録ファイル {path} を開けません（フォルダがないか、権限がありません）",
            f"cannot open the journal {path} (missing folder, or no permission)",
        ) from None


# -- the parser ----------------------------------------------------------------------------------


def add_office_options(parser: argparse.ArgumentParser, *, hub: bool = True) -> None:
    """The options every office command shares (a configuration file may supply them)."""
    if hub:
        parser.add_argument("--hub", metavar="URL", help="the hub's URL (https://…)")
        parser.add_argument(
            "--office", metavar="OFFICE_NO", help="事業所番号 (default: from the identity)"
        )
        parser.add_argument(
            "--user-id", metavar="USER_ID", help="hub user ID (default: the office number); "
            f"password from {HUB_PASSWORD_VARIABLE} or a prompt",
        )  # fmt: skip
        parser.add_argument(
            "--identity", type=Path, metavar="FILE.p12",
            help=f"the office's certificate and key; password from {IDENTITY_PASSWORD_VARIABLE} "
            "or a prompt",
        )  # fmt: skip
        parser.add_argument(
            "--trust", type=Path, action="append", metavar="CA.pem",
            help="CA certificates the partners' certificates must chain to (repeatable)",
        )  # fmt: skip
        parser.add_argument(
            "--allow-insecure-http", action="store_true",
            help="allow a plain http:// hub that is not on this machine",
        )  # fmt: skip
    parser.add_argument(
        "--journal", type=Path, metavar="PATH",
        help=f"the office's journal (SQLite; default ./{DEFAULT_JOURNAL})",
    )  # fmt: skip
    parser.add_argument(
        "--config", type=Path, metavar="FILE.toml",
        help=f"a configuration file supplying these options (careplan-link.toml; default "
        f"${CONFIG_VARIABLE} when set)",
    )  # fmt: skip
    parser.add_argument(
        "--lang", choices=("ja", "en"), help="language of the messages (default: the locale)"
    )


def add_office_commands(commands: Any) -> None:
    """Register send, receive, inbox, outbox, receipt and history."""
    send = commands.add_parser(
        "send", help="validate, seal and send every complete unit found (exit codes: docs)"
    )
    send.add_argument("paths", nargs="+", type=Path, metavar="FOLDER|FILE")
    send.add_argument("--no-validate", action="store_true", help="send without validating")
    add_office_options(send)
    send.set_defaults(run=guarded(_send), command_name="send")

    receive = commands.add_parser(
        "receive", help="download, verify and validate new messages into a folder, one "
        "subfolder per unit",
    )  # fmt: skip
    receive.add_argument("--into", type=Path, required=True, metavar="FOLDER")
    add_office_options(receive)
    receive.set_defaults(run=guarded(_receive), command_name="receive")

    for box in ("inbox", "outbox"):
        listing = commands.add_parser(box, help=f"list the hub's {box} (a table, or --json)")
        listing.add_argument("--json", action="store_true", help="print JSON")
        listing.add_argument("--status", action="append", metavar="STATUS")
        add_office_options(listing)
        listing.set_defaults(run=guarded(_listing), command_name=box, box=box)

    receipt = commands.add_parser(
        "receipt", help="report a received message imported or rejected (with a reason code)"
    )
    receipt.add_argument("message_id", metavar="MESSAGE_ID")
    receipt.add_argument("status", choices=("imported", "rejected"))
    receipt.add_argument("--reason", action="append", default=[], metavar="CODE")
    receipt.add_argument("--detail", metavar="TEXT", help="kept in the journal, never sent")
    add_office_options(receipt)
    receipt.set_defaults(run=guarded(_receipt), command_name="receipt")

    history = commands.add_parser(
        "history", help="the delivery history from the journal, as CSV or JSON (運営指導)"
    )
    history.add_argument("--month", metavar="YYYYMM")
    history.add_argument("--partner", metavar="OFFICE_NO")
    history.add_argument("--user", dest="insured_no", metavar="INSURED_NO")
    history.add_argument("--format", choices=("csv", "json"), default="csv")
    history.add_argument("--encoding", choices=("cp932", "utf-8"), default="cp932")
    history.add_argument("-o", "--output", type=Path, metavar="FILE")
    add_office_options(history)  # the hub options are accepted (a shared config) and unused
    history.set_defaults(run=guarded(_history), command_name="history")


# -- the commands --------------------------------------------------------------------------------


def _existing(paths: Sequence[Path]) -> None:
    for path in paths:
        if not path.exists():
            raise UsageError(f"{path} がありません", f"no such file or folder: {path}")


def print_report(report: Any, lang: str, stream: Any = None) -> None:
    """A validation report, one issue a line, in the user's language."""
    out = stream or sys.stdout
    for issue in report.issues:
        severity = say(lang, "エラー" if issue.severity == "error" else "警告", issue.severity)
        print(f"  {severity} {issue.message(_lang(lang))}", file=out)


def _lang(lang: str) -> Literal["ja", "en"]:
    return "ja" if lang == "ja" else "en"


def _send(args: argparse.Namespace, lang: str) -> int:
    from .errors import InvalidBundle

    _existing(args.paths)
    with office_workflow(args, lang) as workflow:
        from .office import units_of

        if not units_of(args.paths):
            raise UsageError("送信するファイルが見つかりません", "no standard file found to send")
        outcomes = workflow.send_folder(args.paths, check=not args.no_validate)
    refused = 0
    for outcome in outcomes:
        unit = outcome.unit
        label = f"{unit.serial} {unit.kind.value} → {unit.receiver.number}"
        if outcome.sent:
            again = say(lang, "（送信済み）", " (already sent)") if outcome.already_sent else ""
            print(f"{label}: {outcome.message_id}{again}")
            continue
        refused += 1
        if isinstance(outcome.error, InvalidBundle):
            print(
                say(lang, f"{label}: 検証エラーのため送信しません", f"{label}: invalid, not sent")
            )
            print_report(outcome.error.report, lang)
        else:
            assert outcome.error is not None
            why = _bilingual(outcome.error, lang)
            print(f"{label}: {say(lang, '送信しません', 'not sent')}: {why}")
    return ExitCode.REFUSED if refused else ExitCode.OK


def unit_folder(into: Path, bundle: Any) -> Path:
    """`<ファイル連番>_<sender office>_<unit kind>`: sorting the folders gives the import order."""
    return into / f"{bundle.serial}_{bundle.sender.number}_{bundle.kind.value}"


def _receive(args: argparse.Namespace, lang: str) -> int:
    from .format import write_bundle
    from .office._handoff import hand_off

    into: Path = args.into
    if into.exists() and not into.is_dir():
        raise UsageError(f"{into} はフォルダではありません", f"{into} is not a folder")
    try:
        into.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(
            f"フォルダ {into} を作れません（{error.strerror}）",
            f"cannot create the folder {into}: {error.strerror}",
        ) from None

    def write(bundle: Any) -> str:
        folder = unit_folder(into, bundle)
        if folder.is_dir() and {p.name: p.read_bytes() for p in folder.iterdir()} == dict(
            bundle.files
        ):
            return folder.name  # written by an earlier run whose receipt was lost
        write_bundle(bundle, to=_fresh(folder))
        return folder.name

    with office_workflow(args, lang) as workflow:
        results = hand_off(workflow, write)
    failed = 0
    for result in results:
        if result.folder is not None:
            print(f"{result.message_id}: {into / result.folder}")
        elif result.reason is not None:
            failed += 1
            refused = say(lang, "受け取りを拒否しました", "rejected")
            print(f"{result.message_id}: {refused} ({result.reason})")
        else:
            failed += 1
            print(
                f"{result.message_id}: {say(lang, '次回に持ち越します', 'left for the next run')}"
                f" ({_bilingual(result.error, lang) if result.error else ''})"
            )
    if not results:
        print(say(lang, "新しいメッセージはありません", "no new message"))
    return ExitCode.REFUSED if failed else ExitCode.OK


def _fresh(folder: Path) -> Path:
    # write_bundle writes into an existing folder and never replaces a file.
    folder.mkdir(exist_ok=True)
    return folder


def _listing(args: argparse.Namespace, lang: str) -> int:
    with office_workflow(args, lang) as workflow:
        walk = workflow.client.inbox if args.box == "inbox" else workflow.client.outbox
        messages = list(walk(status=args.status or None))
    if args.json:
        print(json.dumps([m.to_json() for m in messages], ensure_ascii=False, indent=1))
        return ExitCode.OK
    header = (
        ("メッセージID", "送信元", "送信先", "種別", "ファイル連番", "状態", "受付日時"),
        ("message id", "sender", "receiver", "kind", "serial", "status", "accepted"),
    )[0 if lang == "ja" else 1]
    rows = [header] + [
        (
            m.id,
            m.sender,
            f"{m.receiver}/{m.service_type}",
            m.unit_kind or "",
            m.serial or "",
            m.status.value,
            m.accepted_at.astimezone(_JST).strftime("%Y-%m-%d %H:%M"),
        )
        for m in messages
    ]
    widths = [max(_width(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        print(
            "  ".join(
                cell + " " * (w - _width(cell)) for cell, w in zip(row, widths, strict=True)
            ).rstrip()
        )
    return ExitCode.OK


_JST = datetime.timezone(datetime.timedelta(hours=9))


def _width(text: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _receipt(args: argparse.Namespace, lang: str) -> int:
    from .protocol import REJECTION_REASONS

    if args.status == "rejected" and not args.reason:
        raise UsageError("rejected には --reason CODE が必要です", "rejected needs --reason CODE")
    unknown = [code for code in args.reason if code not in REJECTION_REASONS]
    if unknown:
        raise UsageError(
            f"理由コードが違います: {', '.join(unknown)}",
            f"unknown reason code: {', '.join(unknown)} (docs/hub-protocol.md lists them)",
        )
    with office_workflow(args, lang) as workflow:
        message = workflow.receipt(args.message_id, args.status, args.reason, args.detail)
    print(f"{message.id}: {message.status.value}")
    return ExitCode.OK


def _history(args: argparse.Namespace, lang: str) -> int:
    settings = office_settings(args, _config_of(args))
    if not settings.journal.is_file():
        raise UsageError(
            f"記録ファイル {settings.journal} がありません", f"no journal at {settings.journal}"
        )
    if args.month is not None and not (len(args.month) == 6 and args.month.isdigit()):
        raise UsageError("--month は YYYYMM です", "--month is YYYYMM")
    journal = _open_journal(settings.journal)
    with journal:
        entries = journal.history(args.month, args.partner, args.insured_no)
        data = journal.export(args.format, args.encoding, entries=entries)
    if args.output is not None:
        from .format._atomic import write_atomically

        write_atomically(args.output.parent, {args.output.name: data}, overwrite=True)
        return ExitCode.OK
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
    return ExitCode.OK
