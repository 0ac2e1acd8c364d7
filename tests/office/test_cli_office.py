"""The office commands end to end over a served FakeHub (`FakeHub.serve()`): send, receive,
inbox, outbox, receipt, history — and every error path: a message and an exit code, never a
traceback."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from careplan_link._cli_office import ExitCode
from careplan_link.cli import main
from careplan_link.office import Event, Journal
from careplan_link.testing import FakeHub
from careplan_link.testing.pytest_plugin import HubOffices

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PROVIDER = "1370200022"
PASSWORD = "p12-password"


class Setup:
    def __init__(self, root: Path, url: str, offices: HubOffices) -> None:
        self.root = root
        self.url = url
        self.offices = offices
        self.care_p12 = root / "care.p12"
        self.provider_p12 = root / "provider.p12"
        self.ca = root / "ca.pem"
        self.care_p12.write_bytes(offices.care.to_pkcs12(PASSWORD))
        self.provider_p12.write_bytes(offices.provider.to_pkcs12(PASSWORD))
        self.ca.write_bytes(offices.pki.ca_certificate.public_bytes(Encoding.PEM))
        self.outbox = root / "outbox"
        shutil.copytree(EXAMPLES, self.outbox, ignore=shutil.ignore_patterns("*.md", "*.txt"))

    def care(self, *argv: str) -> list[str]:
        return self._as(self.offices.care_login, self.care_p12, "care.db", argv)

    def provider(self, *argv: str) -> list[str]:
        return self._as(self.offices.provider_login, self.provider_p12, "provider.db", argv)

    def _as(self, login: object, p12: Path, journal: str, argv: tuple[str, ...]) -> list[str]:
        os.environ["CAREPLAN_LINK_HUB_PASSWORD"] = login.password  # type: ignore[attr-defined]
        return [
            *argv,
            "--hub", self.url,
            "--user-id", login.user_id,  # type: ignore[attr-defined]
            "--identity", str(p12),
            "--trust", str(self.ca),
            "--journal", str(self.root / journal),
            "--lang", "en",
        ]  # fmt: skip


@pytest.fixture
def setup(
    tmp_path: Path, fake_hub: FakeHub, hub_offices: HubOffices, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Setup]:
    monkeypatch.setenv("CAREPLAN_LINK_PASSWORD", PASSWORD)
    monkeypatch.setenv("CAREPLAN_LINK_HUB_PASSWORD", "")
    with fake_hub.serve(timeout=10) as url:
        yield Setup(tmp_path, url, hub_offices)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_send_receive_receipt_and_history_over_a_served_hub(
    setup: Setup, fake_hub: FakeHub, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(setup.care("send", str(setup.outbox)), capsys)
    assert (code, err) == (0, "")
    (line,) = out.splitlines()
    message_id = line.rsplit(" ", 1)[-1]
    assert f"→ {PROVIDER}" in line and fake_hub.message(message_id).status == "delivered"

    code, out, _ = run(setup.care("send", str(setup.outbox)), capsys)  # again: held once
    assert code == 0 and "already sent" in out and len(fake_hub.messages()) == 1

    code, out, _ = run(setup.provider("inbox", "--json"), capsys)
    assert code == 0 and [m["id"] for m in json.loads(out)] == [message_id]
    code, out, _ = run(setup.provider("inbox"), capsys)
    assert code == 0 and "message id" in out and message_id in out

    inbox = setup.root / "inbox"
    code, out, _ = run(setup.provider("receive", "--into", str(inbox)), capsys)
    assert code == 0 and message_id in out
    (folder,) = inbox.iterdir()
    assert folder.name.endswith(f"_1370100016_{fake_hub.message(message_id).unit_kind}")
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        p.name for p in setup.outbox.iterdir() if p.suffix == ".CSV"
    )
    assert fake_hub.message(message_id).status == "downloaded"
    code, out, _ = run(setup.provider("receive", "--into", str(inbox)), capsys)
    assert code == 0 and "no new message" in out  # nothing written twice

    code, out, _ = run(setup.provider("receipt", message_id, "imported"), capsys)
    assert code == 0 and out.strip() == f"{message_id}: imported"

    code, out, _ = run(setup.care("outbox", "--json"), capsys)
    assert json.loads(out)[0]["status"] == "imported"

    # The care office pulls the statuses into its journal (send refreshes nothing by itself).
    journal = Journal(setup.root / "care.db")
    assert journal.events(message_id)[:4] == [
        Event.VALIDATED,
        Event.SEALED,
        Event.SENDING,
        Event.SENT,
    ]
    journal.close()
    code, out, _ = run(setup.provider("history", "--format", "csv", "--encoding", "utf-8"), capsys)
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out.lstrip("\ufeff"))))
    assert {r["event"] for r in rows} >= {"downloaded", "imported"}
    assert all(r["sha256"] == fake_hub.message(message_id).sha256 for r in rows)
    assert (setup.root / "provider.db").stat().st_mode & 0o777 == 0o600


def test_an_invalid_unit_is_not_sent_and_its_report_printed(
    setup: Setup, fake_hub: FakeHub, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = next(setup.outbox.glob("UPPLAN*"))
    lines = plan.read_bytes().split(b"\r\n")
    fields = lines[1].split(b",")
    fields[14] = b"171111"  # a 被保険者番号 of the wrong length
    lines[1] = b",".join(fields)
    plan.write_bytes(b"\r\n".join(lines))
    code, out, _ = run(setup.care("send", str(setup.outbox)), capsys)
    assert code == ExitCode.REFUSED
    assert "invalid, not sent" in out and "error" in out
    assert fake_hub.messages() == []


@pytest.mark.usefixtures("no_backoff")
def test_the_hub_down_is_exit_3(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    argv = setup.care("send", str(setup.outbox))
    argv[argv.index("--hub") + 1] = "http://127.0.0.1:9"  # nothing listens on the discard port
    code, _, err = run(argv, capsys)
    assert code == ExitCode.UNREACHABLE and "cannot be reached" in err


@pytest.mark.parametrize(
    ("change", "expected", "says"),
    [
        ("no-folder", ExitCode.USAGE, "no such file or folder"),
        ("bad-password", ExitCode.USAGE, "care.p12"),
        ("not-p12", ExitCode.USAGE, "care.p12"),
        ("no-trust-file", ExitCode.USAGE, "ca.pem"),
        ("no-hub", ExitCode.USAGE, "--hub"),
        ("http-far-away", ExitCode.USAGE, "unusable hub URL"),
        ("wrong-login", ExitCode.USAGE, "refused the login"),
        ("journal-is-folder", ExitCode.USAGE, "is a folder"),
        ("no-password-no-terminal", ExitCode.USAGE, "CAREPLAN_LINK_PASSWORD"),
    ],
)
def test_every_configuration_error_is_a_message_and_exit_2(
    setup: Setup,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    change: str,
    expected: int,
    says: str,
) -> None:
    argv = setup.care("send", str(setup.outbox))
    if change == "no-folder":
        argv[1] = str(setup.root / "missing")
    elif change == "bad-password":
        monkeypatch.setenv("CAREPLAN_LINK_PASSWORD", "wrong")
    elif change == "not-p12":
        setup.care_p12.write_bytes(b"not a PKCS#12 file")
    elif change == "no-trust-file":
        setup.ca.unlink()
    elif change == "no-hub":
        at = argv.index("--hub")
        del argv[at : at + 2]
    elif change == "http-far-away":
        argv[argv.index("--hub") + 1] = "http://hub.example.jp"
    elif change == "wrong-login":
        monkeypatch.setenv("CAREPLAN_LINK_HUB_PASSWORD", "not the password")
    elif change == "journal-is-folder":
        (setup.root / "care.db").mkdir()
    elif change == "no-password-no-terminal":
        monkeypatch.delenv("CAREPLAN_LINK_PASSWORD")
        monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code, _, err = run(argv, capsys)
    assert code == expected, err
    assert says in err and err.startswith("careplan-link send: ")


def test_messages_speak_japanese(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    argv = setup.care("send", str(setup.root / "missing"))
    argv[argv.index("--lang") + 1] = "ja"
    code, _, err = run(argv, capsys)
    assert code == ExitCode.USAGE and "がありません" in err


def test_receive_into_a_file_and_receipt_misuse_are_usage_errors(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    a_file = setup.root / "a-file"
    a_file.write_text("x")
    code, _, err = run(setup.provider("receive", "--into", str(a_file)), capsys)
    assert code == ExitCode.USAGE and "not a folder" in err
    code, _, err = run(setup.provider("receipt", "msg-1", "rejected"), capsys)
    assert code == ExitCode.USAGE and "--reason" in err
    code, _, err = run(setup.provider("receipt", "msg-1", "rejected", "--reason", "NOPE"), capsys)
    assert code == ExitCode.USAGE and "NOPE" in err


def test_history_filters_and_encodings(
    setup: Setup, fake_hub: FakeHub, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(setup.care("send", str(setup.outbox)), capsys)
    assert code == 0
    journal_args = ["--journal", str(setup.root / "care.db"), "--lang", "en"]
    code, out, _ = run(["history", "--format", "json", *journal_args], capsys)
    entries = json.loads(out)
    assert entries and {e["partner"] for e in entries} == {PROVIDER}
    insured = entries[0]["insured_nos"]
    assert insured  # the journal keeps the users' insured numbers
    month = entries[0]["month"]
    for options, count in (
        (["--partner", PROVIDER], len(entries)),
        (["--partner", "9999999999"], 0),
        (["--user", insured[0]], len(entries)),
        (["--user", "0000000000"], 0),
        (["--month", month], len(entries)),
        (["--month", "199901"], 0),
    ):
        code, out, _ = run(["history", "--format", "json", *options, *journal_args], capsys)
        assert code == 0 and len(json.loads(out)) == count, options
    output = setup.root / "history.csv"
    code, _, _ = run(["history", "-o", str(output), *journal_args], capsys)
    assert code == 0 and output.read_bytes().decode("cp932").startswith("at,event,")
    code, _, err = run(["history", "--month", "2025-03", *journal_args], capsys)
    assert code == ExitCode.USAGE and "YYYYMM" in err
    code, _, err = run(["history", "--journal", str(setup.root / "none.db")], capsys)
    assert code == ExitCode.USAGE and "none.db" in err


def test_a_configuration_file_supplies_the_options_and_the_command_line_wins(
    setup: Setup, fake_hub: FakeHub, capsys: pytest.CaptureFixture[str]
) -> None:
    login = setup.offices.care_login
    config = setup.root / "careplan-link.toml"
    config.write_text(
        f'office = "{login.office_no}"\n'
        f'user_id = "{login.user_id}"\n'
        f'hub = "{setup.url}"\n'
        'identity = "care.p12"\n'
        'trust_anchors = ["ca.pem"]\n'
        'journal = "from-config.db"\n',
        encoding="utf-8",
    )
    os.environ["CAREPLAN_LINK_HUB_PASSWORD"] = login.password
    code, _, err = run(["send", str(setup.outbox), "--config", str(config)], capsys)
    assert (code, err) == (0, ""), err
    assert (setup.root / "from-config.db").is_file()  # relative to the file's folder
    journal = setup.root / "from-the-command-line.db"
    argv = ["history", "--config", str(config), "--journal", str(journal)]
    code, _, err = run(argv, capsys)
    assert code == ExitCode.USAGE and "from-the-command-line.db" in err  # not the config's

    config.write_text('hub = "https://hub.example.jp"\n', encoding="utf-8")  # items missing
    code, _, err = run(["outbox", "--config", str(config), "--lang", "en"], capsys)
    assert code == ExitCode.USAGE and err.startswith("careplan-link outbox: ")


def test_office_settings_take_the_option_over_the_configuration() -> None:
    import argparse

    from careplan_link._cli_office import DEFAULT_JOURNAL, office_settings

    config = {
        "hub": "https://hub.example.jp",
        "identity": "office.p12",
        "trust_anchors": ("a.pem", "b.pem"),
        "user_id": "care01",
        "journal": "j.db",
    }
    args = argparse.Namespace(hub="https://other.example.jp", trust=None, journal=None)
    settings = office_settings(args, config)
    assert settings.hub == "https://other.example.jp"  # the command line wins
    assert settings.trust_anchors == (Path("a.pem"), Path("b.pem"))  # the config fills in
    assert (settings.user_id, settings.journal) == ("care01", Path("j.db"))
    bare = office_settings(argparse.Namespace(), None)
    assert bare.hub is None and bare.journal == Path(DEFAULT_JOURNAL)


def test_every_failure_maps_to_one_exit_code_and_a_message_in_each_language() -> None:
    from careplan_link._cli_office import UsageError, describe_failure
    from careplan_link.errors import (
        AuthenticationError,
        HubBusinessError,
        HubTransportError,
        OutcomeUnknown,
    )

    locked = OSError(22, "The process cannot access the file", "plan.CSV")
    locked.winerror = 32  # type: ignore[attr-defined]  (Windows: held open by Excel)
    cases: list[tuple[BaseException, ExitCode, str]] = [
        (UsageError("使い方が違います", "wrong usage"), ExitCode.USAGE, "wrong usage"),
        (AuthenticationError(401, "BAD_LOGIN", "no"), ExitCode.USAGE, "refused the login"),
        (HubTransportError("down"), ExitCode.UNREACHABLE, "cannot be reached"),
        (OutcomeUnknown("lost"), ExitCode.UNREACHABLE, "cannot be reached"),
        (HubBusinessError("NOT_REGISTERED", "no such office"), ExitCode.REFUSED, "refused"),
        (OSError(28, "No space left on device", "x.p7m"), ExitCode.REFUSED, "disk is full"),
        (locked, ExitCode.REFUSED, "another program"),
        (FileNotFoundError(2, "No such file", "gone"), ExitCode.USAGE, "gone"),
        (RuntimeError("boom"), ExitCode.REFUSED, "unexpected error (RuntimeError)"),
    ]
    for error, code, says in cases:
        got, message = describe_failure(error, "en")
        assert (got, says in message) == (code, True), (error, message)
        _, japanese = describe_failure(error, "ja")
        assert japanese != message and any(ord(c) > 0x2FFF for c in japanese), error
