"""The sync configuration file, secrets, and `careplan-link sync` as a command."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from careplan_link.cli import main
from careplan_link.office._config import (
    HUB_PASSWORD_VARIABLE,
    IDENTITY_PASSWORD_VARIABLE,
    ConfigError,
    load_config,
    secret,
)

from .sync_helpers import CARE, identities, inbox_folders, month, pki, two_offices

MINIMAL = """
office = "1310000003"
user_id = "care01"
hub = "http://127.0.0.1:9"
identity = "office.p12"
trust_anchors = ["ca.pem"]
"""


def test_a_minimal_file_gets_the_default_folders_next_to_it(tmp_path: Path) -> None:
    path = tmp_path / "ケアプラン" / "careplan-link.toml"
    path.parent.mkdir()
    path.write_text(MINIMAL, encoding="utf-8")
    config = load_config(path)
    base = path.parent.resolve()
    assert config.identity == base / "office.p12"
    assert config.trust_anchors == (base / "ca.pem",)
    assert config.folders.outbox == base / "outbox"
    assert config.journal == base / "journal.sqlite"
    assert config.settle_seconds == 10.0


def test_folders_settle_time_and_log_are_read(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        MINIMAL
        + 'settle_seconds = 3\n[folders]\noutbox = "送信"\ninbox = "D:/共有/受信"\n'
        + '[log]\nfile = "logs/sync.log"\nbackups = 3\n',
        encoding="utf-8",
    )
    config = load_config(path)
    assert config.settle_seconds == 3.0
    assert config.folders.outbox.name == "送信"
    assert config.log_file == tmp_path.resolve() / "logs" / "sync.log"
    assert config.log_backups == 3


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("", "office"),
        (MINIMAL.replace('"1310000003"', '"13101"'), "office"),
        (MINIMAL + "password = 'x'\n", "password"),
        (MINIMAL.replace('trust_anchors = ["ca.pem"]', ""), "trust_anchors"),
        (MINIMAL + "settle_seconds = -1\n", "settle_seconds"),
        (MINIMAL + "[folders]\noutgoing = 'x'\n", "[folders]"),
        ("office = ", "TOML"),
    ],
)
def test_a_wrong_file_names_what_is_wrong_in_both_languages(
    tmp_path: Path, text: str, named: str
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert named in raised.value.english
    assert raised.value.japanese != raised.value.english


def test_a_password_comes_from_the_environment_or_a_prompt_never_without_either() -> None:
    assert secret("X", "hub", environ={"X": "s3cret"}) == "s3cret"
    assert secret("X", "hub", environ={}, prompt=lambda text: "typed") == "typed"
    with pytest.raises(ConfigError) as raised:
        secret("X", "hub", environ={})  # pytest's stdin is no terminal
    assert "X" in raised.value.english


def _write_config(root: Path, url: str, *, password: str = "p12-password") -> Path:
    care, _ = identities()
    (root / "office.p12").write_bytes(care.to_pkcs12(password))  # type: ignore[attr-defined]
    from cryptography.hazmat.primitives.serialization import Encoding

    (root / "ca.pem").write_bytes(pki().ca_certificate.public_bytes(Encoding.PEM))
    config = root / "careplan-link.toml"
    config.write_text(
        f'office = "{CARE.number}"\nuser_id = "care01"\nhub = "{url}"\n'
        'identity = "office.p12"\ntrust_anchors = ["ca.pem"]\nsettle_seconds = 0\n'
        '[folders]\noutbox = "送信"\ninbox = "受信"\nrejected = "送信エラー"\n'
        'receipts = "取込結果"\n[log]\nfile = "ログ/sync.log"\n',
        encoding="utf-8",
    )
    return config


def test_sync_once_as_a_command_sends_and_logs_to_a_rotating_file_without_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cli_root = tmp_path / "事業所"
    cli_root.mkdir()
    (tmp_path / "hub").mkdir()
    with two_offices(tmp_path / "hub") as offices:
        config = _write_config(cli_root, offices.url)
        monkeypatch.setenv(IDENTITY_PASSWORD_VARIABLE, "p12-password")
        monkeypatch.setenv(HUB_PASSWORD_VARIABLE, offices.passwords[CARE.number])
        (cli_root / "送信").mkdir()
        for name, data in month().plans[0].files.items():
            (cli_root / "送信" / name).write_bytes(data)
        try:
            status = main(["sync", "--config", str(config), "--once", "--lang", "en"])
        finally:
            for handler in logging.getLogger("careplan_link").handlers[:]:
                logging.getLogger("careplan_link").removeHandler(handler)
                handler.close()
        out = capsys.readouterr().out
        assert status == 0, out
        assert out.startswith(f"sent {month().plans[0].serial}_")
        assert len(offices.provider.run_once().received) == 1
        assert len(inbox_folders(offices.provider)) == 1
        log = (cli_root / "ログ" / "sync.log").read_text(encoding="utf-8")
        assert "sent" in log
        for secret_text in ("p12-password", offices.passwords[CARE.number]):
            assert secret_text not in log
            assert secret_text.encode() not in (cli_root / "journal.sqlite").read_bytes()


@pytest.mark.parametrize(
    ("case", "expected"),
    [("wrong identity password", 2), ("hub down", 3), ("missing trust anchor", 2)],
)
@pytest.mark.usefixtures("no_backoff")
def test_sync_errors_give_a_message_and_an_exit_code_never_a_traceback(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    case: str,
    expected: int,
) -> None:
    config = _write_config(tmp_path, "http://127.0.0.1:9")  # nothing listens on port 9
    monkeypatch.setenv(IDENTITY_PASSWORD_VARIABLE, "p12-password")
    monkeypatch.setenv(HUB_PASSWORD_VARIABLE, "whatever-password")
    if case == "wrong identity password":
        monkeypatch.setenv(IDENTITY_PASSWORD_VARIABLE, "not-the-password")
    if case == "missing trust anchor":
        (tmp_path / "ca.pem").unlink()
    try:
        status = main(["sync", "--config", str(config), "--once", "--lang", "ja"])
    finally:
        for handler in logging.getLogger("careplan_link").handlers[:]:
            logging.getLogger("careplan_link").removeHandler(handler)
            handler.close()
    captured = capsys.readouterr()
    assert status == expected
    assert "Traceback" not in captured.err + captured.out
    assert captured.err.strip()
    if case == "hub down":
        assert "連携基盤に接続できません" in captured.err
