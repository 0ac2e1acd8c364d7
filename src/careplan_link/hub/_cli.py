"""`careplan-link hub …`: serve the hub, and administer its store.

    careplan-link hub serve --store sqlite:///var/lib/careplan/hub.sqlite \\
        --host 0.0.0.0 --port 8443 --tls-cert hub.pem --tls-key hub.key --client-ca offices-ca.pem
    careplan-link hub office add 1370100016 --store URL --certificate office.pem --service-type 43
    careplan-link hub audit export --store URL --format csv > audit.csv

    careplan-link hub migrate --store postgresql://careplan@db/hub
    careplan-link hub serve --store postgresql://careplan@db/hub --no-migrate --workers 4 …

The administration commands work on the store directly (the server may be running: SQLite
serialises the writers, PostgreSQL keeps each change one transaction). Passwords are printed
once, when generated, or read from stdin (`--password-stdin`); never taken from the command
line, where other users could read them.
Every failure is one line in English and Japanese, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from ..errors import CareplanLinkError

__all__ = ["add_hub_commands"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

DEMO_OFFICES = (
    # A care-manager office (居宅介護支援, 43) and a provider (訪問介護, 11), as the pytest
    # plugin's `hub_offices`.
    ("1370100016", ("43",)),
    ("1370200022", ("11",)),
)
"""The offices `hub serve --seed` registers."""


_HUB_EXTRA = frozenset({"starlette", "uvicorn", "anyio", "h11", "psycopg", "psycopg_pool"})

_WORKER_ENVIRONMENT = "CAREPLAN_LINK_HUB_WORKER"
"""How `serve --workers N` hands its settings to the worker processes uvicorn spawns."""


class _Refused(Exception):
    """A usage error or a refused operation: `english / japanese`, exit status 2 or 1."""

    def __init__(self, english: str, japanese: str, status: int = EXIT_USAGE) -> None:
        super().__init__(f"{english} / {japanese}")
        self.status = status


def add_hub_commands(commands: Any) -> None:
    """Register `hub` and its subcommands on the CLI's subparsers."""
    hub = commands.add_parser("hub", help="run a hub server, and administer its store")
    sub = hub.add_subparsers(title="hub commands")
    hub.set_defaults(run=_help(hub))

    serve = sub.add_parser("serve", help="serve the hub over HTTPS (or HTTP on this machine)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8443, help="port (8443; 0: any free port)")
    _store_option(serve, default="memory:")
    serve.add_argument("--tls-cert", type=Path, metavar="PEM", help="the server's certificate")
    serve.add_argument("--tls-key", type=Path, metavar="PEM", help="the server's private key")
    serve.add_argument(
        "--client-ca", type=Path, metavar="PEM",
        help="require client certificates issued by this CA (the offices' CA)",
    )  # fmt: skip
    serve.add_argument(
        "--insecure-http", action="store_true",
        help="allow plain HTTP on an address other than loopback (passwords in clear!)",
    )  # fmt: skip
    serve.add_argument(
        "--seed", action="store_true",
        help="register demo offices (test CA) and print their logins, one JSON line each",
    )  # fmt: skip
    serve.add_argument(
        "--seed-dir", type=Path, metavar="DIR",
        help="where --seed writes identity files (default: a new temporary folder)",
    )  # fmt: skip
    serve.add_argument(
        "--seed-tls", action="store_true",
        help="with --seed: serve TLS with a server certificate of the test CA and require "
        "client certificates of that CA",
    )  # fmt: skip
    serve.add_argument(
        "--test-controls", action="store_true",
        help="serve a FakeHub with a virtual clock and the /_test endpoints (loopback only)",
    )  # fmt: skip
    serve.add_argument(
        "--max-body", type=int, default=None, metavar="BYTES",
        help="largest request body read (64 MiB)",
    )  # fmt: skip
    serve.add_argument(
        "--purge-every", type=float, default=3600.0, metavar="SECONDS",
        help="how often expired messages and tokens are purged (3600)",
    )  # fmt: skip
    serve.add_argument(
        "--rate-limit", type=int, default=None, metavar="N",
        help="requests per office per minute before 429 (1200; 0: no limit)",
    )  # fmt: skip
    serve.add_argument(
        "--workers", type=int, default=1, metavar="N",
        help="hub processes sharing the listening socket (1); more than one needs a shared "
        "store (postgresql://… or sqlite:///…)",
    )  # fmt: skip
    serve.add_argument(
        "--no-migrate", action="store_true",
        help="do not migrate a PostgreSQL schema at start (run `hub migrate` first)",
    )  # fmt: skip
    serve.add_argument("--log-level", default="info", choices=("debug", "info", "warning"))
    serve.set_defaults(run=_run(_serve))

    migrate = sub.add_parser("migrate", help="bring the store's schema up to this version")
    _store_option(migrate)
    migrate.set_defaults(run=_run(_migrate))

    office = sub.add_parser("office", help="register and manage offices")
    office_sub = office.add_subparsers(title="office commands")
    office.set_defaults(run=_help(office))

    add = office_sub.add_parser("add", help="register an office; prints its password once")
    add.add_argument("office_no", metavar="OFFICE_NO")
    _store_option(add)
    add.add_argument(
        "--certificate", type=Path, action="append", default=[], required=True, metavar="PEM",
        help="the office's certificate (repeat for several)",
    )  # fmt: skip
    add.add_argument(
        "--service-type", action="append", default=[], metavar="CODE",
        help="a service type the office accepts (repeat; none: any)",
    )  # fmt: skip
    add.add_argument("--user-id", metavar="ID", help="login user ID (user-OFFICE_NO)")
    _password_stdin_option(add)
    add.set_defaults(run=_run(_office_add))

    listing = office_sub.add_parser("list", help="list the registered offices")
    _store_option(listing)
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(run=_run(_office_list))

    disable = office_sub.add_parser("disable", help="disable an office and revoke its tokens")
    disable.add_argument("office_no", metavar="OFFICE_NO")
    _store_option(disable)
    disable.set_defaults(run=_run(_office_disable))

    reset = office_sub.add_parser(
        "reset-password", help="set a new password (printed once) and revoke the tokens"
    )
    reset.add_argument("office_no", metavar="OFFICE_NO")
    _store_option(reset)
    _password_stdin_option(reset)
    reset.set_defaults(run=_run(_office_reset_password))

    add_cert = office_sub.add_parser(
        "add-certificate", help="add a (renewed) certificate; the older ones stay"
    )
    add_cert.add_argument("office_no", metavar="OFFICE_NO")
    add_cert.add_argument("certificate", type=Path, metavar="PEM")
    _store_option(add_cert)
    add_cert.set_defaults(run=_run(_office_add_certificate))

    remove_cert = office_sub.add_parser(
        "remove-certificate", help="remove a certificate (by file or SHA-256 fingerprint)"
    )
    remove_cert.add_argument("office_no", metavar="OFFICE_NO")
    remove_cert.add_argument("certificate", metavar="PEM|SHA256")
    _store_option(remove_cert)
    remove_cert.set_defaults(run=_run(_office_remove_certificate))

    purge = sub.add_parser("purge", help="drop expired content, tokens and rate windows now")
    _store_option(purge)
    purge.set_defaults(run=_run(_purge))

    audit = sub.add_parser("audit", help="the audit log")
    audit_sub = audit.add_subparsers(title="audit commands")
    audit.set_defaults(run=_help(audit))
    export = audit_sub.add_parser("export", help="export every entry (after checking the chain)")
    _store_option(export)
    export.add_argument("--format", choices=("csv", "json"), default="json")
    export.add_argument("-o", "--output", type=Path, metavar="FILE", help="(stdout)")
    export.set_defaults(run=_run(_audit_export))


def _store_option(parser: argparse.ArgumentParser, default: str | None = None) -> None:
    parser.add_argument(
        "--store", required=default is None, default=default, metavar="URL",
        help="postgresql://user@host/db, sqlite:///path/hub.sqlite or memory:"
        + (f" ({default})" if default else ""),
    )  # fmt: skip


def _password_stdin_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-stdin", action="store_true",
        help="read the password from the first line of stdin instead of generating one",
    )  # fmt: skip


def _help(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    def show(_: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return EXIT_USAGE

    return show


def _run(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except _Refused as refused:
            print(f"careplan-link: {refused}", file=sys.stderr)
            return refused.status
        except ImportError as error:
            if (error.name or "").split(".")[0] not in _HUB_EXTRA:
                raise
            print(
                f"careplan-link: the hub needs the [hub] extra ({error.name} is missing): "
                'pip install "careplan-link[hub]" / '
                "hub の実行には [hub] の追加パッケージが必要です",
                file=sys.stderr,
            )
            return EXIT_USAGE
        except (CareplanLinkError, ValueError, KeyError) as error:
            print(f"careplan-link: {type(error).__name__}: {error}", file=sys.stderr)
            return EXIT_FAILED
        except OSError as error:
            print(
                f"careplan-link: {error.filename or ''}: {error.strerror or error} / "
                "ファイルまたはネットワークのエラーです",
                file=sys.stderr,
            )
            return EXIT_USAGE

    return run


# -- serve ---------------------------------------------------------------------------------


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _serve(args: argparse.Namespace) -> int:
    from . import Admin, Hub, open_store
    from ._asgi import DEFAULT_MAX_BODY, build_app, runs_inline
    from ._server import bind, every, json_log_handler, serve_forever, serve_workers
    from ._tls import TLSFiles

    loopback = _is_loopback(args.host)
    if args.seed_tls and not args.seed:
        raise _Refused("--seed-tls needs --seed", "--seed-tls は --seed と一緒に指定します")
    if args.seed_tls and (args.tls_cert or args.tls_key or args.client_ca):
        raise _Refused(
            "--seed-tls makes its own certificates: leave out --tls-cert, --tls-key, --client-ca",
            "--seed-tls は証明書を自動作成します（--tls-cert 等は指定しません）",
        )
    if bool(args.tls_cert) != bool(args.tls_key):
        raise _Refused(
            "give both --tls-cert and --tls-key", "--tls-cert と --tls-key は両方必要です"
        )
    if args.client_ca and not args.tls_cert:
        raise _Refused("--client-ca needs --tls-cert", "--client-ca には --tls-cert が必要です")
    tls_wanted = bool(args.tls_cert or args.seed_tls)
    if not tls_wanted and not loopback and not args.insecure_http:
        raise _Refused(
            f"refusing plain HTTP on {args.host}: logins would cross the network in clear; "
            "give --tls-cert and --tls-key, or --insecure-http",
            f"{args.host} で平文 HTTP は使えません（パスワードが暗号化されずに流れます）。"
            "--tls-cert と --tls-key、または --insecure-http を指定してください",
        )
    if args.test_controls and not loopback:
        raise _Refused(
            "--test-controls is served on a loopback address only",
            "--test-controls はループバックアドレスでのみ使えます",
        )
    if args.workers < 1:
        raise _Refused("--workers is at least 1", "--workers は 1 以上です")
    if args.rate_limit is not None and args.rate_limit < 0:
        raise _Refused("--rate-limit is 0 or more", "--rate-limit は 0 以上です")
    if args.workers > 1 and (args.test_controls or args.store.split(":")[0] == "memory"):
        raise _Refused(
            "--workers above 1 needs a shared store (postgresql://… or sqlite:///…) and no "
            "--test-controls: each worker is its own process",
            "--workers を 2 以上にするには共有ストア（postgresql://… か sqlite:///…）が必要です"
            "（--test-controls は使えません）",
        )

    _log_to_stderr(json_log_handler, args.log_level)
    store = open_store(args.store, migrate=not args.no_migrate)
    if args.test_controls:
        from ..testing import FakeHub

        fake = FakeHub(store=store)
        # The same rules on the FakeHub's virtual clock: purging follows the clock the test
        # controls move, not the wall clock.
        hub = Hub(store, clock=fake.clock.now, settings=_settings(args.rate_limit))
        handle: Callable[[Any], Any] = fake.handle
        controls: Any = fake
    else:
        hub = Hub(store, settings=_settings(args.rate_limit))
        handle, controls = hub.handle, None

    tls: TLSFiles | None = None
    if args.tls_cert:
        tls = TLSFiles(args.tls_cert, args.tls_key, args.client_ca)
    if args.seed:
        folder = args.seed_dir or Path(tempfile.mkdtemp(prefix="careplan-link-seed-"))
        seeded_tls = _seed(Admin(store), folder, args.host, server_certificate=args.seed_tls)
        if args.seed_tls:
            tls = seeded_tls

    if args.workers > 1:
        store.close()  # the workers open their own (the seeding is written)
        app: Any = None
    else:
        app = build_app(
            handle,
            max_body=args.max_body or DEFAULT_MAX_BODY,
            controls=controls,
            background=[every(args.purge_every, _elected(store, hub.purge, args.purge_every),
                              "purge")],
            inline=controls is None and runs_inline(store),
        )  # fmt: skip
    sock = bind(args.host, args.port)
    port = sock.getsockname()[1]
    shown = f"[{args.host}]" if ":" in args.host else args.host
    url = f"{'https' if tls else 'http'}://{shown}:{port}"
    # The first line a script waits for (with --port 0 it is how it learns the port).
    print(json.dumps({"event": "listening", "url": url}), flush=True)
    logging.getLogger("careplan_link.hub").info(
        "listening",
        extra={
            "event": {
                "event": "listening",
                "url": url,
                "store": _store_kind(args.store),
                "client_certificates": bool(tls and tls.client_ca),
                "test_controls": bool(args.test_controls),
                "workers": args.workers,
            }
        },
    )
    if args.workers > 1:
        os.environ[_WORKER_ENVIRONMENT] = json.dumps(
            {
                "store": args.store,
                "max_body": args.max_body or DEFAULT_MAX_BODY,
                "purge_every": args.purge_every,
                "log_level": args.log_level,
                "rate_limit": args.rate_limit,
            }
        )
        serve_workers(f"{__name__}:worker_app", sock, tls, workers=args.workers)
        return EXIT_OK
    try:
        serve_forever(app, sock, tls)
    finally:
        store.close()
    return EXIT_OK


def _settings(rate_limit: int | None) -> Any:
    from ._rules import HubSettings

    if rate_limit is None:
        return HubSettings()
    return HubSettings(rate_limit=rate_limit or None)  # 0: no limit


def _elected(store: Any, job: Callable[[], object], period: float) -> Callable[[], object]:
    """`job`, run only when this process is elected for this period: with a PostgreSQL store
    (several processes, several hosts) one of them runs it (`PostgresStore.elect`, a database
    advisory lock); other stores have one process, which always runs it."""
    elect = getattr(store, "elect", None)
    if elect is None:
        return job

    def once() -> object:
        with elect("purge", period) as elected:
            return job() if elected else "not elected: another hub process purges"

    return once


def worker_app() -> Any:
    """The application of one `serve --workers N` process (uvicorn imports and calls this in
    each worker; the settings come from the parent in the environment)."""
    from . import Hub, open_store
    from ._asgi import build_app
    from ._server import every, json_log_handler

    settings = json.loads(os.environ[_WORKER_ENVIRONMENT])
    _log_to_stderr(json_log_handler, settings["log_level"])
    store = open_store(settings["store"], migrate=False)
    hub = Hub(store, settings=_settings(settings["rate_limit"]))
    period = float(settings["purge_every"])
    return build_app(
        hub.handle,
        max_body=int(settings["max_body"]),
        background=[every(period, _elected(store, hub.purge, period), "purge")],
    )


def _migrate(args: argparse.Namespace) -> int:
    from . import open_store

    store = open_store(args.store, migrate=True)
    try:
        version = getattr(store, "schema_version", None)
        print(json.dumps({"store": _store_kind(args.store),
                          "schema_version": version() if version else None}))  # fmt: skip
    finally:
        store.close()
    return EXIT_OK


def _store_kind(url: str) -> str:
    """The store's kind and path, never credentials (a PostgreSQL URL may carry a password)."""
    scheme = url.split(":", 1)[0]
    return url if scheme in ("memory", "sqlite") else f"{scheme}:…"


def _log_to_stderr(handler: Callable[[], logging.Handler], level: str) -> None:
    for name in ("careplan_link.hub", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler()]
        logger.setLevel(level.upper())
        logger.propagate = False


def _seed(admin: Any, folder: Path, host: str, *, server_certificate: bool) -> Any:
    """Register the demo offices with identities of a new test CA, write their files to
    `folder`, print one JSON line per office; with `server_certificate`, also a server
    certificate for `host` and the TLS settings that trust the test CA for clients."""
    from ..testing import FakePKI
    from ._tls import TLSFiles

    folder.mkdir(parents=True, exist_ok=True)
    pki = FakePKI()
    ca_path = folder / "ca.pem"
    ca_path.write_bytes(pki.ca_certificate.public_bytes(serialization.Encoding.PEM))
    for office_no, service_types in DEMO_OFFICES:
        identity = pki.office(office_no)
        certificate_pem = identity.certificate_pem()
        files = {
            "certificate": folder / f"{office_no}.cert.pem",
            "key": folder / f"{office_no}.key.pem",
            "pkcs12": folder / f"{office_no}.p12",
            "ca": ca_path,
        }
        files["certificate"].write_bytes(certificate_pem)
        _write_private(files["key"], identity.private_key_pem())
        pkcs12_password = "careplan-link-demo"
        _write_private(files["pkcs12"], identity.to_pkcs12(pkcs12_password))
        user_id = f"user-{office_no}"
        password = _register(admin, office_no, certificate_pem.decode(), service_types, user_id)
        line = {
            "office_no": office_no,
            "user_id": user_id,
            "password": password,
            "service_types": list(service_types),
            "files": {name: str(path) for name, path in files.items()},
            "pkcs12_password": pkcs12_password,
        }
        print(json.dumps(line), flush=True)
    if not server_certificate:
        return None
    server = pki.office(
        "0000000000",
        name="careplan_link demo hub",
        extended_key_usage=(ExtendedKeyUsageOID.SERVER_AUTH,),
        subject_alt_name=_server_names(host),
    )
    certificate_path, key_path = folder / "server.cert.pem", folder / "server.key.pem"
    certificate_path.write_bytes(server.certificate_pem())
    _write_private(key_path, server.private_key_pem())
    return TLSFiles(certificate_path, key_path, ca_path)


def _server_names(host: str) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        names.append(x509.DNSName(host))
    else:
        if not address.is_loopback and not address.is_unspecified:
            names.append(x509.IPAddress(address))
    return names


def _write_private(path: Path, data: bytes) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_bytes(data)


def _register(
    admin: Any, office_no: str, certificate: str, service_types: Sequence[str], user_id: str
) -> str:
    """Add the office, or, seeding a store that has it already, give it the new certificate
    and a new password (what was printed last time is lost with that run's test CA)."""
    if any(office.office_no == office_no for office in admin.list_offices()):
        admin.add_certificate(office_no, certificate)
        return str(admin.reset_password(office_no))
    return str(
        admin.add_office(
            office_no, certificates=[certificate], service_types=service_types, user_id=user_id
        )
    )


# -- offices -------------------------------------------------------------------------------


@contextlib.contextmanager
def _admin(args: argparse.Namespace) -> Iterator[Any]:
    from . import Admin, open_store

    store = open_store(args.store)
    try:
        yield Admin(store)
    finally:
        store.close()


def _read_password(args: argparse.Namespace) -> str | None:
    if not args.password_stdin:
        return None
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise _Refused("no password on stdin", "標準入力にパスワードがありません")
    return password


def _certificate_pem(path: Path) -> str:
    data = path.read_bytes()
    try:
        certificate = x509.load_pem_x509_certificate(data)
    except ValueError:
        try:
            certificate = x509.load_der_x509_certificate(data)
        except ValueError:
            raise _Refused(
                f"{path} is not a certificate (PEM or DER)",
                f"{path} は証明書（PEM または DER）ではありません",
            ) from None
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def _print_password(office_no: str, user_id: str | None, password: str | None) -> None:
    if password is None:
        print(json.dumps({"office_no": office_no, "user_id": user_id}))
        return
    print(json.dumps({"office_no": office_no, "user_id": user_id, "password": password}))
    print(
        "the password is shown this once; the hub keeps only its hash / "
        "パスワードはこの一度だけ表示されます（ハブにはハッシュのみ保存されます）",
        file=sys.stderr,
    )


def _office_add(args: argparse.Namespace) -> int:
    password = _read_password(args)
    certificates = [_certificate_pem(path) for path in args.certificate]
    user_id = args.user_id or f"user-{args.office_no}"
    with _admin(args) as admin:
        generated = admin.add_office(
            args.office_no,
            certificates=certificates,
            service_types=args.service_type,
            user_id=user_id,
            password=password,
        )
    _print_password(args.office_no, user_id, None if password else str(generated))
    return EXIT_OK


def _office_list(args: argparse.Namespace) -> int:
    with _admin(args) as admin:
        offices = admin.list_offices()
    for office in offices:
        row = {
            "office_no": office.office_no,
            "user_id": office.user_id,
            "service_types": list(office.service_types),
            "certificates": [_fingerprint(c) for c in office.certificates],
            "disabled": office.disabled,
        }
        if args.json:
            print(json.dumps(row))
        else:
            state = "disabled" if office.disabled else "active"
            print(
                f"{office.office_no}  {office.user_id}  {state}  "
                f"types={','.join(office.service_types) or '*'}  "
                f"certificates={len(office.certificates)}"
            )
    return EXIT_OK


def _fingerprint(certificate: x509.Certificate | str) -> str:
    if isinstance(certificate, str):
        certificate = x509.load_pem_x509_certificate(certificate.encode())
    return certificate.fingerprint(hashes.SHA256()).hex()


def _office_disable(args: argparse.Namespace) -> int:
    with _admin(args) as admin:
        revoked = admin.disable_office(args.office_no)
    print(json.dumps({"office_no": args.office_no, "disabled": True, "tokens_revoked": revoked}))
    return EXIT_OK


def _office_reset_password(args: argparse.Namespace) -> int:
    password = _read_password(args)
    with _admin(args) as admin:
        generated = admin.reset_password(args.office_no, password=password)
    _print_password(args.office_no, None, None if password else str(generated))
    return EXIT_OK


def _office_add_certificate(args: argparse.Namespace) -> int:
    pem = _certificate_pem(args.certificate)
    with _admin(args) as admin:
        admin.add_certificate(args.office_no, pem)
    print(json.dumps({"office_no": args.office_no, "added": _fingerprint(pem)}))
    return EXIT_OK


def _office_remove_certificate(args: argparse.Namespace) -> int:
    given = Path(args.certificate)
    if given.is_file():
        fingerprint = _fingerprint(_certificate_pem(given))
    else:
        fingerprint = args.certificate.lower().replace(":", "")
    with _admin(args) as admin:
        held = {
            _fingerprint(certificate): certificate
            for office in admin.list_offices()
            if office.office_no == args.office_no
            for certificate in office.certificates
        }
        if fingerprint not in held:
            raise _Refused(
                f"office {args.office_no} has no certificate {fingerprint}",
                f"事業所 {args.office_no} にその証明書（{fingerprint}）はありません",
                EXIT_FAILED,
            )
        admin.remove_certificate(args.office_no, held[fingerprint])
    print(json.dumps({"office_no": args.office_no, "removed": fingerprint}))
    return EXIT_OK


# -- purge and audit -----------------------------------------------------------------------


def _purge(args: argparse.Namespace) -> int:
    with _admin(args) as admin:
        result = admin.purge()
    print(json.dumps(_plain(result), default=str))
    return EXIT_OK


def _plain(value: Any) -> Any:
    import attrs

    if attrs.has(type(value)):
        return attrs.asdict(value)
    return value


def _audit_export(args: argparse.Namespace) -> int:
    with _admin(args) as admin:
        text = admin.export_audit(args.format)
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
    return EXIT_OK
