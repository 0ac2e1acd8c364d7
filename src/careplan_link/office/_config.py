"""One office's configuration for `careplan-link sync`: a TOML file, read with stdlib tomllib.

    office = "1310000003"                 # 事業所番号 (10 digits)
    user_id = "care01"                    # the hub login's user ID
    hub = "https://hub.example.jp"
    identity = "my-office.p12"            # PKCS#12 (or a PEM certificate, with identity_key)
    trust_anchors = ["ca.pem"]            # CA certificates that certify offices
    settle_seconds = 10                   # a unit is taken once no file of it changed this long
    poll_seconds = 5                      # how often `sync` (without watchfiles) looks again
    journal = "journal.sqlite"

    [folders]
    outbox = "送信"                       # where the care software exports
    inbox = "受信"
    rejected = "送信エラー"
    receipts = "取込結果"

    [log]
    file = "sync.log"                     # a rotating file (max_bytes, backups)

Relative paths are relative to the configuration file's folder. Secrets are never in the file:
the hub password comes from the environment variable CAREPLAN_LINK_HUB_PASSWORD and the
PKCS#12 password from CAREPLAN_LINK_PASSWORD (or a prompt when a terminal is attached); neither
is ever logged nor written to the journal.
"""

from __future__ import annotations

import getpass
import os
import re
import sys
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from ..errors import CareplanLinkError

__all__ = [
    "HUB_PASSWORD_VARIABLE",
    "IDENTITY_PASSWORD_VARIABLE",
    "ConfigError",
    "Folders",
    "SyncConfig",
    "load_config",
    "secret",
]

HUB_PASSWORD_VARIABLE = "CAREPLAN_LINK_HUB_PASSWORD"
IDENTITY_PASSWORD_VARIABLE = "CAREPLAN_LINK_PASSWORD"
DEFAULT_SETTLE_SECONDS = 10.0
DEFAULT_POLL_SECONDS = 5.0

_OFFICE_NO = re.compile(r"[0-9A-Z]{10}")
_FOLDER_DEFAULTS = {
    "outbox": "outbox",
    "inbox": "inbox",
    "rejected": "rejected",
    "receipts": "receipts",
}
_KNOWN = {
    "office",
    "service_type",
    "user_id",
    "hub",
    "identity",
    "identity_key",
    "trust_anchors",
    "settle_seconds",
    "poll_seconds",
    "journal",
    "folders",
    "log",
    "allow_insecure_http",
}


class ConfigError(CareplanLinkError, ValueError):
    """The configuration file is missing, unreadable or wrong; the message says which item, in
    Japanese and English."""

    def __init__(self, japanese: str, english: str) -> None:
        super().__init__(f"{japanese} / {english}")
        self.japanese = japanese
        self.english = english


@attrs.frozen
class Folders:
    """The hand-off folders: the care software exports into `outbox`; units arrive in `inbox`
    (one subfolder each); invalid units go to `rejected` with their report; the vendor drops
    `<message id>.imported` / `.rejected` into `receipts`."""

    outbox: Path
    inbox: Path
    rejected: Path
    receipts: Path

    def create(self) -> None:
        """Make the folders that do not exist yet."""
        for folder in (self.outbox, self.inbox, self.rejected, self.receipts):
            folder.mkdir(parents=True, exist_ok=True)

    @classmethod
    def under(cls, root: Path) -> Folders:
        """The default layout: `outbox`, `inbox`, `rejected`, `receipts` under `root`."""
        return cls(**{name: root / default for name, default in _FOLDER_DEFAULTS.items()})


@attrs.frozen
class SyncConfig:
    """What `careplan-link sync` needs, read from one TOML file (see the module docstring)."""

    office: str
    hub: str
    user_id: str
    identity: Path
    trust_anchors: tuple[Path, ...]
    folders: Folders
    journal: Path
    identity_key: Path | None = None
    service_type: str | None = None
    settle_seconds: float = DEFAULT_SETTLE_SECONDS
    poll_seconds: float = DEFAULT_POLL_SECONDS
    log_file: Path | None = None
    log_max_bytes: int = 5 * 1024 * 1024
    log_backups: int = 10
    allow_insecure_http: bool = False


def load_config(path: str | os.PathLike[str]) -> SyncConfig:
    """Read and check a configuration file; raises ConfigError naming what is wrong."""
    file = Path(path)
    try:
        with file.open("rb") as stream:
            document = tomllib.load(stream)
    except FileNotFoundError:
        raise ConfigError(
            f"設定ファイル {file} がありません", f"the configuration file {file} does not exist"
        ) from None
    except OSError as error:
        raise ConfigError(
            f"設定ファイル {file} を読めません（{error.strerror}）",
            f"cannot read the configuration file {file}: {error.strerror}",
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(
            f"設定ファイル {file} の書式が正しくありません（{error}）",
            f"the configuration file {file} is not valid TOML: {error}",
        ) from None
    return config_from(document, base=file.resolve().parent, origin=str(file))


def config_from(document: Mapping[str, Any], *, base: Path, origin: str = "") -> SyncConfig:
    """A `SyncConfig` from an already parsed document; relative paths are taken from `base`."""
    where = f"{origin}: " if origin else ""
    unknown = sorted(set(document) - _KNOWN)
    if unknown:
        raise ConfigError(
            f"{where}知らない設定項目です: {', '.join(unknown)}",
            f"{where}unknown settings: {', '.join(unknown)}",
        )

    def text(key: str, *, required: bool = True) -> str | None:
        value = document.get(key)
        if value is None:
            if required:
                raise ConfigError(
                    f"{where}設定項目 {key} がありません", f"{where}the setting {key} is missing"
                )
            return None
        if not isinstance(value, str) or not value:
            raise ConfigError(
                f"{where}設定項目 {key} は文字列で指定します", f"{where}{key} must be a string"
            )
        return value

    def number(key: str, default: float) -> float:
        value = document.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ConfigError(
                f"{where}設定項目 {key} は0以上の数で指定します",
                f"{where}{key} must be a number of seconds, 0 or more",
            )
        return float(value)

    def path(value: str) -> Path:
        candidate = Path(value).expanduser()
        return candidate if candidate.is_absolute() else base / candidate

    office = text("office")
    assert office is not None
    if not _OFFICE_NO.fullmatch(office):
        raise ConfigError(
            f"{where}office（事業所番号）は10桁です: {office!r}",
            f"{where}office must be the 10-character office number, not {office!r}",
        )
    anchors = document.get("trust_anchors")
    if isinstance(anchors, str):
        anchors = [anchors]
    if not anchors or not all(isinstance(a, str) and a for a in anchors):
        raise ConfigError(
            f"{where}trust_anchors（信頼する認証局の証明書ファイル）を指定してください",
            f"{where}trust_anchors (the CA certificate files to trust) must be given",
        )
    folders_doc = document.get("folders", {})
    if not isinstance(folders_doc, Mapping) or set(folders_doc) - set(_FOLDER_DEFAULTS):
        raise ConfigError(
            f"{where}[folders] には outbox, inbox, rejected, receipts を指定します",
            f"{where}[folders] takes outbox, inbox, rejected and receipts",
        )
    folders = Folders(
        **{
            name: path(str(folders_doc.get(name, default)))
            for name, default in _FOLDER_DEFAULTS.items()
        }
    )
    log_doc = document.get("log", {})
    if not isinstance(log_doc, Mapping):
        raise ConfigError(f"{where}[log] は表で指定します", f"{where}[log] must be a table")
    log_file = log_doc.get("file")
    key = text("identity_key", required=False)
    return SyncConfig(
        office=office,
        service_type=text("service_type", required=False),
        hub=text("hub") or "",
        user_id=text("user_id") or "",
        identity=path(text("identity") or ""),
        identity_key=path(key) if key else None,
        trust_anchors=tuple(path(a) for a in anchors),
        folders=folders,
        journal=path(text("journal", required=False) or "journal.sqlite"),
        settle_seconds=number("settle_seconds", DEFAULT_SETTLE_SECONDS),
        poll_seconds=number("poll_seconds", DEFAULT_POLL_SECONDS),
        log_file=path(str(log_file)) if log_file else None,
        log_max_bytes=int(log_doc.get("max_bytes", 5 * 1024 * 1024)),
        log_backups=int(log_doc.get("backups", 10)),
        allow_insecure_http=bool(document.get("allow_insecure_http", False)),
    )


def secret(
    variable: str,
    what: str,
    *,
    environ: Mapping[str, str] | None = None,
    prompt: Callable[[str], str] | None = None,
) -> str:
    """A password from the environment variable `variable`, else asked on the terminal.

    Raises ConfigError when neither is available (a scheduled task has no terminal)."""
    value = (os.environ if environ is None else environ).get(variable)
    if value is not None:
        return value
    if prompt is None and not sys.stdin.isatty():
        raise ConfigError(
            f"環境変数 {variable} に{what}のパスワードを設定してください"
            "（入力できる端末がありません）",
            f"set {variable} to the password of {what} (no terminal to ask on)",
        )
    return (prompt or getpass.getpass)(f"{what} password / パスワード: ")
