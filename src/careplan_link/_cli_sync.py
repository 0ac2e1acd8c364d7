"""`careplan-link sync` (the office's folder hand-off) and `careplan-link demo`.

    careplan-link sync --config C:\\careplan\\careplan-link.toml --once   # a scheduled task
    careplan-link sync --config careplan-link.toml                       # watch until stopped
    careplan-link demo                                                    # no configuration

Exit status: 0 done, 1 a unit refused or invalid (see rejected/), 2 usage or configuration,
3 the hub is unreachable. Passwords come from environment variables or a prompt (docs/sync.md).
"""

from __future__ import annotations

import argparse
import locale
import logging
import logging.handlers
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from .errors import CareplanLinkError

__all__ = ["add_sync_commands"]

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
CONFIG_VARIABLE = "CAREPLAN_LINK_CONFIG"
DEFAULT_CONFIG = "careplan-link.toml"

log = logging.getLogger("careplan_link.sync")


def add_sync_commands(commands: Any) -> None:
    """Register `sync` and `demo` on the CLI's subparsers."""
    sync = commands.add_parser(
        "sync",
        help="hand units between the care software's folders and the hub "
        "（送信フォルダを監視して送信し、受信フォルダへ受け取る）",
    )
    sync.add_argument(
        "--config",
        type=Path,
        default=None,
        help=f"the TOML configuration ({CONFIG_VARIABLE}, else ./{DEFAULT_CONFIG})",
    )
    sync.add_argument("--once", action="store_true", help="one pass, then exit (scheduled task)")
    sync.add_argument(
        "--settle",
        type=float,
        default=None,
        metavar="SECONDS",
        help="take a unit once no file of it changed this long (config: settle_seconds)",
    )
    sync.add_argument("--lang", choices=("ja", "en"), default=None, help="message language")
    sync.add_argument("--verbose", "-v", action="store_true", help="log every step to stderr")
    sync.set_defaults(run=_sync)

    demo = commands.add_parser(
        "demo",
        help="run a month between two offices through a local hub, then print the timelines "
        "（デモ：設定不要）",
    )
    demo.add_argument("--users", type=int, default=5, help="how many users (5)")
    demo.set_defaults(run=_demo)


def _language(chosen: str | None) -> str:
    if chosen:
        return chosen
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(variable)
        if value:
            return "ja" if value.lower().startswith("ja") else "en"
    found = locale.getlocale()[0] or ""
    return "ja" if found.lower().startswith("ja") else "en"


def _say(lang: str, japanese: str, english: str) -> str:
    return japanese if lang == "ja" else english


def _demo(args: argparse.Namespace) -> int:
    try:
        from .office._demo import run_demo
    except ImportError as error:
        print(
            f"careplan-link demo には [hub] の追加パッケージが必要です / demo needs the [hub] "
            f'extra ({error.name} is missing): python -m pip install "careplan-link[hub]"',
            file=sys.stderr,
        )
        return EXIT_USAGE
    if args.users < 1:
        print("--users は1以上です / --users must be 1 or more", file=sys.stderr)
        return EXIT_USAGE
    try:
        return run_demo(users=args.users)
    except (CareplanLinkError, OSError) as error:
        print(f"careplan-link demo: {error}", file=sys.stderr)
        return EXIT_REFUSED


def _sync(args: argparse.Namespace) -> int:
    from .office._config import ConfigError

    lang = _language(args.lang)
    try:
        return _run_sync(args, lang)
    except ConfigError as error:
        print(f"careplan-link sync: {_say(lang, error.japanese, error.english)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_OK


def _run_sync(args: argparse.Namespace, lang: str) -> int:
    from .client import Client
    from .errors import HubError
    from .office import Journal, Workflow
    from .office._config import (
        HUB_PASSWORD_VARIABLE,
        ConfigError,
        load_config,
        secret,
    )
    from .office._sync import FolderSync
    from .protocol import Login

    path = args.config or Path(os.environ.get(CONFIG_VARIABLE) or DEFAULT_CONFIG)
    config = load_config(path)
    _set_up_logging(config.log_file, config.log_max_bytes, config.log_backups, args.verbose)
    identity = _identity(config)
    trust = _trust(config)
    password = secret(HUB_PASSWORD_VARIABLE, f"hub user {config.user_id}")
    settle = args.settle if args.settle is not None else config.settle_seconds
    try:
        config.folders.create()
        journal = Journal(config.journal)
    except OSError as error:
        raise ConfigError(
            f"フォルダを作成できません: {error.filename}（{error.strerror}）",
            f"cannot create the folder {error.filename}: {error.strerror}",
        ) from None
    except CareplanLinkError as error:
        raise ConfigError(str(error), str(error)) from None
    try:
        client = Client(
            config.hub,
            login=Login(config.office, config.user_id, password),
            identity=identity,
            allow_insecure_http=config.allow_insecure_http,
        )
    except (ValueError, CareplanLinkError) as error:
        journal.close()
        raise ConfigError(f"hub の設定が正しくありません: {error}", f"hub: {error}") from None
    with client, journal:
        workflow = Workflow(client, identity=identity, trust=trust, journal=journal)
        try:
            sync = FolderSync(workflow, config.folders, settle_seconds=settle)
        except OSError as error:
            raise ConfigError(
                f"フォルダを使えません: {error}", f"cannot use the folders: {error}"
            ) from None
        if args.once:
            result = sync.run_once()
            _print_pass(result, lang)
            if result.hub_unreachable:
                return EXIT_UNREACHABLE
            return EXIT_OK if result.ok else EXIT_REFUSED
        stop = threading.Event()
        _stop_on_signals(stop)
        log.info("sync started for office %s (settle %.1f s)", config.office, settle)
        print(
            _say(
                lang,
                f"監視を開始しました（{config.folders.outbox}）。Ctrl+C で終了します",
                f"watching {config.folders.outbox}; Ctrl+C stops",
            ),
            file=sys.stderr,
        )
        try:
            sync.watch(
                stop, poll_seconds=config.poll_seconds, on_pass=lambda r: _print_pass(r, lang)
            )
        except HubError as error:  # pragma: no cover - run_once reports hub failures itself
            print(f"careplan-link sync: {error}", file=sys.stderr)
            return EXIT_UNREACHABLE
        return EXIT_OK


def _identity(config: Any) -> Any:
    from .envelope import OfficeIdentity
    from .office._config import IDENTITY_PASSWORD_VARIABLE, ConfigError, secret

    try:
        data = config.identity.read_bytes()
        key = config.identity_key.read_bytes() if config.identity_key else None
    except OSError as error:
        raise ConfigError(
            f"証明書ファイル {error.filename} を読めません（{error.strerror}）",
            f"cannot read the identity file {error.filename}: {error.strerror}",
        ) from None
    try:
        if key is not None:
            return OfficeIdentity.from_pem(data, key)
        password = secret(IDENTITY_PASSWORD_VARIABLE, str(config.identity))
        return OfficeIdentity.from_pkcs12(data, password)
    except (ValueError, TypeError) as error:
        raise ConfigError(
            f"証明書ファイル {config.identity} を読めません（パスワードが違うか、形式が違います）",
            f"cannot load the identity {config.identity}: wrong password or not an identity "
            f"file ({str(error).splitlines()[0] if str(error) else type(error).__name__})",
        ) from None


def _trust(config: Any) -> Any:
    from cryptography import x509

    from .envelope import TrustSettings, TrustStore
    from .office._config import ConfigError

    certificates = []
    for path in config.trust_anchors:
        try:
            certificates += x509.load_pem_x509_certificates(Path(path).read_bytes())
        except OSError as error:
            raise ConfigError(
                f"認証局の証明書 {path} を読めません（{error.strerror}）",
                f"cannot read the trust anchor {path}: {error.strerror}",
            ) from None
        except ValueError:
            raise ConfigError(
                f"{path} に PEM 形式の証明書がありません", f"{path} holds no PEM certificate"
            ) from None
    return TrustSettings(anchors=TrustStore.of(certificates))


def _set_up_logging(file: Path | None, max_bytes: int, backups: int, verbose: bool) -> None:
    """A rotating log file (Windows keeps no journald for a scheduled task), and stderr."""
    logger = logging.getLogger("careplan_link")
    logger.setLevel(logging.INFO)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            file, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
        )
        handler.setFormatter(formatter)
        logger.addHandler(handler)
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(formatter)
    stream.setLevel(logging.INFO if verbose else logging.ERROR)
    logger.addHandler(stream)


def _stop_on_signals(stop: threading.Event) -> None:
    def handle(signum: int, frame: object) -> None:
        stop.set()

    for name in ("SIGINT", "SIGTERM", "SIGBREAK"):
        number = getattr(signal, name, None)
        if number is not None:
            signal.signal(number, handle)


def _print_pass(result: Any, lang: str) -> None:
    for folder, message_id in result.sent:
        print(_say(lang, f"送信 {folder} {message_id}", f"sent {folder} {message_id}"))
    for folder, message_id in result.received:
        print(
            _say(lang, f"受信 {message_id} inbox/{folder}", f"received {message_id} inbox/{folder}")
        )
    for message_id, status in result.receipts:
        print(_say(lang, f"受領通知 {status} {message_id}", f"receipt {status} {message_id}"))
    for message_id, reason in result.refused:
        print(_say(lang, f"受信を拒否 {message_id} {reason}", f"refused {message_id} {reason}"))
    for folder in result.rejected:
        print(
            _say(lang, f"送信せず rejected/{folder}", f"not sent: see rejected/{folder}"),
            file=sys.stderr,
        )
    for waiting in result.waiting:
        print(
            _say(
                lang,
                f"待機 {waiting.name}: {waiting.reason_ja}",
                f"waiting {waiting.name}: {waiting.reason_en}",
            )
        )
    for line in result.errors:
        print(_say(lang, f"エラー {line}", f"error {line}"), file=sys.stderr)
    if result.hub_unreachable:
        print(_say(lang, "連携基盤に接続できません", "the hub is unreachable"), file=sys.stderr)
