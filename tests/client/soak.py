"""The fault soaks, in virtual time: sends, whole units, and a poison message among many.

    python tests/client/soak.py            # the full soaks: 10,000 sends, 10,000 units,
                                           # a poison message among 1,000
    python tests/client/soak.py --quick    # the same, smaller (under 30 s: CI)

1. `send`: many envelopes through a hub that fails 30% of requests with every fault kind; a
   send that finally fails (retries exhausted, outcome unknown, a business error, a garbled
   answer) is re-driven by the sender, as a vendor's outbox would. Each envelope must end on
   the hub exactly once.
2. `Workflow.send_bundle` (the office layer): the same with whole transmission units, each
   sealed anew on every re-drive (sealing is randomised, so only the unit's own idempotency
   key can recognise it). Each unit must be stored exactly once.
3. `Workflow.receive`: one poison message (its ZIP names a compression method no reader has)
   first in an inbox of many; it must be rejected, and every other message imported.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import attrs

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from careplan_link import Bundle, OfficeIdentity, OpenedEnvelope, TrustStore, seal
from careplan_link.client import Client, HubError, Message
from careplan_link.office import Workflow
from careplan_link.testing import FAULT_KINDS, FakeHub, FakePKI

FAULT_RATE = 0.30
CARE, PROVIDER = "1370100016", "1370200022"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE_SERIAL = "20250325093000"


@attrs.frozen
class SoakResult:
    sends: int
    stored: int
    distinct: int
    redriven: int
    faults: dict[str, int]
    requests: int
    seconds: float
    already_sent: int = 0
    """send_bundle calls that found their unit already on the hub (a lost or garbled answer)."""


@attrs.frozen
class PoisonResult:
    messages: int
    imported: int
    rejected: tuple[str, ...]
    """Ids of the rejected messages."""
    poison: str
    seconds: float


def faulty_hub(seed: int, pki: FakePKI) -> tuple[FakeHub, OfficeIdentity, OfficeIdentity]:
    """A hub failing about FAULT_RATE of all requests, one rule per fault kind."""
    hub = FakeHub(seed=seed)
    care, provider = pki.office(CARE), pki.office(PROVIDER)
    share = 1 - (1 - FAULT_RATE) ** (1 / len(FAULT_KINDS))
    for kind in FAULT_KINDS:
        hub.inject(kind, rate=share)
    return hub, care, provider


def unit(number: int, *, sender: str = CARE) -> Bundle:
    """The shipped example unit under its own ファイル連番 (one second apart), its file names
    naming `sender` as the sending office."""
    serial = (datetime.datetime(2025, 3, 25, 9, 30) + datetime.timedelta(seconds=number)).strftime(
        "%Y%m%d%H%M%S"
    )
    return Bundle.from_files(
        {
            path.name.replace(EXAMPLE_SERIAL, serial).replace(f"_{CARE}_", f"_{sender}_"): (
                path.read_bytes()
            )
            for path in sorted(EXAMPLES.glob("*.CSV"))
        }
    )


def run_soak(sends: int, *, seed: int = 7, pki: FakePKI | None = None) -> SoakResult:
    """Soak 1: `send` of raw envelopes."""
    hub, care, provider = faulty_hub(seed, pki or FakePKI())
    login = hub.register_office(care)
    hub.register_office(provider)
    started = time.perf_counter()
    redriven = 0
    with Client(
        hub.url, login=login, transport=hub.transport(), retry=hub.clock.retry_policy(attempts=4)
    ) as client:
        pending = collections.deque(range(sends))
        while pending:
            number = pending.popleft()
            try:
                client.send(f"envelope {number}".encode(), to=PROVIDER, service_type="11")
            except HubError:
                redriven += 1
                pending.append(number)  # the vendor's outbox tries again later
    messages = hub.messages()
    return SoakResult(
        sends=sends,
        stored=len(messages),
        distinct=len({m.sha256 for m in messages}),
        redriven=redriven,
        faults=dict(hub.faults_fired),
        requests=sum(hub.requests.values()),
        seconds=time.perf_counter() - started,
    )


def run_bundle_soak(units: int, *, seed: int = 11, pki: FakePKI | None = None) -> SoakResult:
    """Soak 2: `Workflow.send_bundle` of distinct units, re-driven by the caller after any
    failure."""
    pki = pki or FakePKI()
    hub, care, provider = faulty_hub(seed, pki)
    login = hub.register_office(care)
    hub.register_office(provider)
    bundles = [unit(number) for number in range(units)]
    started = time.perf_counter()
    redriven = already = 0
    with Client(
        hub.url,
        login=login,
        identity=care,
        transport=hub.transport(),
        retry=hub.clock.retry_policy(attempts=4),
    ) as client:
        office = Workflow(client, identity=care, trust=pki.trust_store)
        pending = collections.deque(range(units))
        while pending:
            number = pending.popleft()
            try:
                # Validation is the format's business, not the soak's: it only costs time here.
                sent = office.send_bundle(bundles[number], check=False)
            except HubError:
                redriven += 1
                pending.append(number)
            else:
                already += sent.already_sent
    messages = hub.messages()
    return SoakResult(
        sends=units,
        stored=len(messages),
        distinct=len({m.serial for m in messages}),
        redriven=redriven,
        faults=dict(hub.faults_fired),
        requests=sum(hub.requests.values()),
        seconds=time.perf_counter() - started,
        already_sent=already,
    )


@contextmanager
def compression_method_99() -> Iterator[None]:
    """While active, `seal` writes ZIPs whose first CSV entry names compression method 99 (which
    no ZIP reader implements; zipfile raised NotImplementedError from it)."""
    from careplan_link.envelope import _seal

    build = _seal.build_payload

    def poisoned(*arguments: object, **keywords: object) -> bytes:
        payload = bytearray(build(*arguments, **keywords))  # type: ignore[arg-type]
        local = [i for i in range(len(payload) - 4) if payload[i : i + 4] == b"PK\x03\x04"]
        central = [i for i in range(len(payload) - 4) if payload[i : i + 4] == b"PK\x01\x02"]
        payload[local[1] + 8 : local[1] + 10] = (99).to_bytes(2, "little")
        payload[central[1] + 10 : central[1] + 12] = (99).to_bytes(2, "little")
        return bytes(payload)

    with mock.patch.object(_seal, "build_payload", poisoned):
        yield


def poison_envelope(
    bundle: Bundle, *, sender: OfficeIdentity, recipient: OfficeIdentity, trust: TrustStore
) -> bytes:
    """A correctly signed and encrypted envelope whose ZIP cannot be read."""
    with compression_method_99():
        return seal(bundle, sender=sender, recipients=[recipient.certificate], trust=trust)


def run_poison_soak(messages: int, *, pki: FakePKI | None = None) -> PoisonResult:
    """Soak 3: a poison message first in an inbox of `messages`; receive takes in the rest."""
    pki = pki or FakePKI()
    hub = FakeHub()
    care, provider = pki.office(CARE), pki.office(PROVIDER)
    care_login, provider_login = hub.register_office(care), hub.register_office(provider)
    started = time.perf_counter()
    with Client(hub.url, login=care_login, transport=hub.transport()) as sender:
        poison = sender.send(
            poison_envelope(unit(0), sender=care, recipient=provider, trust=pki.trust_store),
            to=PROVIDER,
            service_type="11",
        )
        for number in range(1, messages):
            envelope = seal(
                unit(number), sender=care, recipients=[provider.certificate], trust=pki.trust_store
            )
            sender.send(envelope, to=PROVIDER, service_type="11", serial=unit(number).serial)
    imported: list[str] = []

    def import_files(opened: OpenedEnvelope, message: Message) -> None:
        imported.append(message.id)

    with Client(
        hub.url, login=provider_login, identity=provider, transport=hub.transport()
    ) as receiver:
        office = Workflow(receiver, identity=provider, trust=pki.trust_store)
        # The files are the shipped example, valid: validating 1,000 copies only costs time.
        done = office.receive(import_files, check=False)
    return PoisonResult(
        messages=messages,
        imported=len({r.message.id for r in done if r.imported} & set(imported)),
        rejected=tuple(r.message.id for r in done if r.outcome == "rejected"),
        poison=poison.id,
        seconds=time.perf_counter() - started,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller soaks, under 30 s (CI)")
    parser.add_argument("--sends", type=int, help="soak 1 size (default 10,000; quick 1,000)")
    parser.add_argument("--units", type=int, help="soak 2 size (default 10,000; quick 150)")
    parser.add_argument("--messages", type=int, help="soak 3 size (default 1,000; quick 100)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    sends = args.sends or (1_000 if args.quick else 10_000)
    units = args.units or (150 if args.quick else 10_000)
    messages = args.messages or (100 if args.quick else 1_000)
    pki = FakePKI()
    ok = True
    for title, result in (
        ("send", run_soak(sends, seed=args.seed, pki=pki)),
        ("send_bundle", run_bundle_soak(units, seed=args.seed + 4, pki=pki)),
    ):
        faulted = sum(result.faults.values())
        print(f"{title}: calls {result.sends}, stored {result.stored}, distinct "
              f"{result.distinct}, re-driven {result.redriven}, already sent "
              f"{result.already_sent}, requests {result.requests}, faulted {faulted} "
              f"({faulted / result.requests:.0%}), {result.seconds:.1f} s")  # fmt: skip
        print("  faults:", ", ".join(f"{k} {v}" for k, v in sorted(result.faults.items())))
        good = result.stored == result.distinct == result.sends
        print("  OK: every one stored exactly once" if good else "  FAILED")
        ok = ok and good
    poison = run_poison_soak(messages, pki=pki)
    good = poison.rejected == (poison.poison,) and poison.imported == messages - 1
    print(f"receive: messages {poison.messages}, imported {poison.imported}, rejected "
          f"{len(poison.rejected)} (the poison: {poison.rejected == (poison.poison,)}), "
          f"{poison.seconds:.1f} s")  # fmt: skip
    print("  OK: the poison rejected, every other message imported" if good else "  FAILED")
    sys.exit(0 if ok and good else 1)


if __name__ == "__main__":
    main()
