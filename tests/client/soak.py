"""The fault soak: many sends through a hub that fails 30% of requests, in virtual time.

    python tests/client/soak.py                 # the full soak: 10,000 sends
    python tests/client/soak.py --sends 1000    # what the test suite runs

Every fault kind is injected. A send that finally fails (retries exhausted, outcome unknown, a
business error) is re-driven by the sender, as a vendor's outbox would. At the end each
envelope must be on the hub exactly once, and none lost.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

import attrs

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from careplan_link.client import Client, HubError
from careplan_link.testing import FAULT_KINDS, FakeHub, FakePKI

FAULT_RATE = 0.30


@attrs.frozen
class SoakResult:
    sends: int
    stored: int
    distinct: int
    redriven: int
    faults: dict[str, int]
    requests: int
    seconds: float


def run_soak(sends: int, *, seed: int = 7, pki: FakePKI | None = None) -> SoakResult:
    pki = pki or FakePKI()
    hub = FakeHub(seed=seed)
    care = hub.register_office(pki.office("1370100012"))
    hub.register_office(pki.office("1370200028"))
    # One rule per kind; together about FAULT_RATE of all requests fail.
    share = 1 - (1 - FAULT_RATE) ** (1 / len(FAULT_KINDS))
    for kind in FAULT_KINDS:
        hub.inject(kind, rate=share)
    started = time.perf_counter()
    redriven = 0
    with Client(
        hub.url, login=care, transport=hub.transport(), retry=hub.clock.retry_policy(attempts=4)
    ) as client:
        pending = collections.deque(range(sends))
        while pending:
            number = pending.popleft()
            try:
                client.send(f"envelope {number}".encode(), to="1370200028", service_type="11")
            except HubError:
                redriven += 1
                pending.append(number)  # the vendor's outbox tries again later
    seconds = time.perf_counter() - started
    messages = hub.messages()
    return SoakResult(
        sends=sends,
        stored=len(messages),
        distinct=len({m.sha256 for m in messages}),
        redriven=redriven,
        faults=dict(hub.faults_fired),
        requests=sum(hub.requests.values()),
        seconds=seconds,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    result = run_soak(args.sends, seed=args.seed)
    faulted = sum(result.faults.values())
    print(f"sends {result.sends}, stored {result.stored}, distinct {result.distinct}, "
          f"re-driven {result.redriven}, requests {result.requests}, faulted {faulted} "
          f"({faulted / result.requests:.0%}), {result.seconds:.1f} s")  # fmt: skip
    print("faults:", ", ".join(f"{k} {v}" for k, v in sorted(result.faults.items())))
    ok = result.stored == result.distinct == result.sends
    print("OK: every envelope delivered exactly once" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
