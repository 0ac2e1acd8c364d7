"""Fuzz `open_envelope` with structure-aware mutations; a command, not a pytest module.

    python tests/envelope/fuzz_envelope.py [--quick] [--seed N] [--cases N]

Four layers are mutated, each where a real attacker can reach it:

* the envelope's DER (anyone can alter bytes in transit): lengths made indefinite, longer,
  shorter or non-minimal, tags flipped between primitive and constructed, values deleted,
  duplicated or wrapped in deep nesting, bytes flipped, the input cut short; GCM and legacy
  CBC envelopes, with and without `allow_legacy_cbc`;
* the decrypted SignedData (anyone can encrypt to a receiver's public certificate): the same
  mutations applied before encryption;
* the payload ZIP (a sender with a valid certificate): flags, compression methods, declared
  sizes, CRCs, names, duplicate and extra entries;
* the manifest (the same sender): shapes, types, nesting, numbers, missing and extra keys.

It checks that only the library's errors (`CareplanLinkError`) escape; that the time to refuse
grows linearly (an input twice as large costs at most three times as much CPU time, best of
seven runs) for the inputs that used to be quadratic; and that peak memory stays bounded
(tracemalloc).
Exit status 0 when every check holds. `--quick` (CI) runs in well under 30 seconds.
"""

from __future__ import annotations

import argparse
import collections
import io
import itertools
import json
import os
import random
import sys
import time
import tracemalloc
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "format"))
sys.path.insert(0, str(HERE))  # first: tests/format has a helpers module too

from helpers import envelope_of  # noqa: E402
from unitfiles import schedule_unit  # noqa: E402

from careplan_link import Bundle  # noqa: E402
from careplan_link.envelope import (  # noqa: E402
    Manifest,
    OfficeIdentity,
    TrustStore,
    _cms,
    _der,
    open_envelope,
    seal,
)
from careplan_link.errors import CareplanLinkError  # noqa: E402
from careplan_link.testing import FakePKI  # noqa: E402

CARE, PROVIDER = "1370100016", "1370200022"

Mutation = Callable[[random.Random, bytes], bytes]


# -- DER mutations -------------------------------------------------------------------------------


def _values(data: bytes) -> list[_der.Element]:
    """Every value in `data` (constructed ones looked into), best effort on damaged input."""
    found: list[_der.Element] = []
    stack = [(0, len(data))]
    view = memoryview(data)
    while stack and len(found) < 5000:
        pointer, end = stack.pop()
        while pointer < end:
            try:
                value = _der.element(view, pointer, end)
            except Exception:
                break
            found.append(value)
            if value.tag & 0x20:
                stack.append((value.contents_start, value.end))
            pointer = value.end
    return found


def _choose(rng: random.Random, values: list[_der.Element]) -> _der.Element:
    if not values:
        raise LookupError("no value left to mutate")
    return rng.choice(values)


def _mutate(rng: random.Random, mutation: Mutation, data: bytes) -> bytes:
    try:
        return mutation(rng, data)
    except LookupError:  # damaged beyond reading: flip bytes instead
        return _flip_bytes(rng, data) if data else data


def _replace(data: bytes, value: _der.Element, new: bytes) -> bytes:
    return data[: value.start] + new + data[value.end :]


def _indefinite(rng: random.Random, data: bytes) -> bytes:
    constructed = [v for v in _values(data) if v.tag & 0x20] or _values(data)
    value = _choose(rng, constructed)
    body = data[value.contents_start : value.end]
    return _replace(data, value, bytes([value.tag | 0x20, 0x80]) + body + b"\0\0")


def _length_off(rng: random.Random, data: bytes) -> bytes:
    value = _choose(rng, _values(data))
    length = max(0, value.length + rng.choice([-2, -1, 1, 2, 1000, 1 << 31]))
    body = data[value.contents_start : value.end]
    return _replace(data, value, _der.header(value.tag, length) + body)


def _non_minimal_length(rng: random.Random, data: bytes) -> bytes:
    value = _choose(rng, _values(data))
    body = data[value.contents_start : value.end]
    return _replace(data, value, bytes([value.tag, 0x84]) + len(body).to_bytes(4, "big") + body)


def _flip_constructed(rng: random.Random, data: bytes) -> bytes:
    value = _choose(rng, _values(data))
    out = bytearray(data)
    out[value.start] ^= 0x20
    return bytes(out)


def _delete_value(rng: random.Random, data: bytes) -> bytes:
    return _replace(data, _choose(rng, _values(data)), b"")


def _duplicate_value(rng: random.Random, data: bytes) -> bytes:
    value = _choose(rng, _values(data))
    return _replace(data, value, data[value.start : value.end] * 2)


def _wrap_deeply(rng: random.Random, data: bytes) -> bytes:
    value = _choose(rng, _values(data))
    inner = data[value.start : value.end]
    for _ in range(rng.choice([10, 70, 300])):
        inner = _der.header(0x30, len(inner)) + inner
    return _replace(data, value, inner)


def _segment_string(rng: random.Random, data: bytes) -> bytes:
    strings = [v for v in _values(data) if v.tag in (0x04, 0x80, 0x03)] or _values(data)
    value = _choose(rng, strings)
    body = data[value.contents_start : value.end]
    chunks = b"".join(b"\x04\x01" + body[i : i + 1] for i in range(min(len(body), 500)))
    return _replace(data, value, _der.header(value.tag | 0x20, len(chunks)) + chunks)


def _flip_bytes(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.choice([1, 1, 2, 8])):
        out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return bytes(out)


def _truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(len(data))]


DER_MUTATIONS: list[Mutation] = [
    _indefinite,
    _length_off,
    _non_minimal_length,
    _flip_constructed,
    _delete_value,
    _duplicate_value,
    _wrap_deeply,
    _segment_string,
    _flip_bytes,
    _truncate,
]


# -- ZIP and manifest mutations ----------------------------------------------------------------


def _zip(entries: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w", method) as archive:
        warnings.simplefilter("ignore", UserWarning)  # duplicate names are on purpose
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


def _headers(data: bytes, signature: bytes) -> list[int]:
    found, start = [], 0
    while (at := data.find(signature, start)) != -1:
        found.append(at)
        start = at + 4
    return found


def _zip_field(rng: random.Random, data: bytes) -> bytes:
    """Overwrite one field of a central-directory or local header with a hostile value."""
    out = bytearray(data)
    central, local = _headers(data, b"PK\x01\x02"), _headers(data, b"PK\x03\x04")
    fields = [  # (headers, offset, size, values)
        (central, 8, 2, [0x0001, 0x0041, 0x0008, 0x0800, 0xFFFF]),  # flags
        (central, 10, 2, [1, 6, 9, 12, 14, 93, 95, 98, 99, 0xFFFF]),  # method
        (central, 16, 4, [0, 0xFFFFFFFF, rng.getrandbits(32)]),  # CRC
        (central, 20, 4, [0, 1, 0xFFFFFFFF]),  # compressed size
        (central, 24, 4, [0, 1, 0xFFFFFFFF, 1 << 30]),  # uncompressed size
        (central, 28, 2, [0, 0xFFFF]),  # name length
        (central, 30, 2, [4, 0xFFFF]),  # extra length
        (central, 42, 4, [0, 0xFFFFFFFF, 7]),  # local header offset
        (local, 6, 2, [0x0001, 0x0008]),
        (local, 8, 2, [99, 12]),
        (local, 26, 2, [0xFFFF, 0]),
    ]
    headers, offset, size, values = rng.choice(fields)
    if not headers:
        return _flip_bytes(rng, data)
    at = rng.choice(headers) + offset
    out[at : at + size] = (rng.choice(values) & ((1 << (8 * size)) - 1)).to_bytes(size, "little")
    return bytes(out)


def _manifest_shapes(rng: random.Random, document: dict[str, object]) -> bytes:
    shapes: list[Callable[[], object]] = [
        lambda: [],
        lambda: None,
        lambda: {**document, "format": rng.choice([0, 2, "1", 1.0, 1e999, 10**4000 // 10**3990])},
        lambda: {**document, "files": rng.choice([{}, "x", [1], [[]], [{"name": 1}]])},
        lambda: {k: v for k, v in document.items() if k != rng.choice(list(document))},
        lambda: {**document, "sender": rng.choice([None, [], {"office_no": 5}])},
        lambda: {**document, "created_at": rng.choice(["", "0001-01-01", "9999-99-99", 5])},
        lambda: {**document, "serial": "\ue000" * 3},
        lambda: {**document, "extra": "x" * 10000},
    ]
    text = json.dumps(rng.choice(shapes)(), ensure_ascii=rng.random() < 0.5)
    if rng.random() < 0.2:
        depth = rng.choice([100, 5000, 200_000])
        text = "[" * depth + "]" * depth
    if rng.random() < 0.1:
        return text.encode("utf-8")[: rng.randrange(1, len(text) + 1)]
    return text.encode("utf-8")


# -- the run -----------------------------------------------------------------------------------


class Fuzzer:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.pki = FakePKI()
        self.care = self.pki.office(CARE)
        self.provider = self.pki.office(PROVIDER)
        self.trust: TrustStore = self.pki.trust_store
        self.files = schedule_unit()
        self.gcm = self._seal(cbc=False)
        self.cbc = self._seal(cbc=True)
        bundle = Bundle.from_files(self.files)
        self.manifest = Manifest.for_bundle(bundle, created_at=self.pki.now)
        self.payload = _zip([("manifest.json", self.manifest.to_json()), *bundle.files.items()])
        self.signed = b"".join(
            _cms.sign(self.payload, self.care, signed_at=self.pki.now, recipients_digest=None)
        )
        self.outcomes: collections.Counter[str] = collections.Counter()
        self.escaped: list[str] = []

    def _seal(self, *, cbc: bool) -> bytes:
        return seal(
            self.files, sender=self.care, recipients=[self.provider.certificate],
            trust=self.trust, cbc=cbc,
        )  # fmt: skip

    def open(
        self, data: bytes, *, legacy: bool = False, identity: OfficeIdentity | None = None
    ) -> None:
        try:
            open_envelope(
                data, identity=identity or self.provider, trust=self.trust, allow_legacy_cbc=legacy
            )
            self.outcomes["opened"] += 1
        except CareplanLinkError as error:
            self.outcomes[f"{type(error).__name__}/{error.reason}"] += 1
        except Exception as error:  # the finding: a foreign error escaped
            self.escaped.append(f"{type(error).__name__}: {error!r}"[:300])

    def encrypt_to_provider(self, inner: bytes) -> bytes:
        key = os.urandom(32)
        infos = _cms.recipient_infos(key, [self.provider.certificate], oaep=True)
        return _cms.encrypt([inner], key, infos, gcm=True)

    def signed_payload(self, payload: bytes) -> bytes:
        return envelope_of(
            payload, signer=self.care, recipients=[self.provider.certificate],
            signed_at=self.pki.now,
        )  # fmt: skip

    def der_case(self) -> None:
        mutate = self.rng.choice(DER_MUTATIONS)
        legacy = self.rng.random() < 0.5
        seed = self.cbc if self.rng.random() < 0.4 else self.gcm
        data = seed
        for _ in range(self.rng.choice([1, 1, 1, 2, 3])):
            data = _mutate(self.rng, mutate, data)
        self.open(data, legacy=legacy)

    def inner_case(self) -> None:
        data = _mutate(self.rng, self.rng.choice(DER_MUTATIONS), self.signed)
        self.open(self.encrypt_to_provider(data))

    def zip_case(self) -> None:
        payload = self.payload
        choice = self.rng.random()
        if choice < 0.5:
            for _ in range(self.rng.choice([1, 2])):
                payload = _zip_field(self.rng, payload)
        elif choice < 0.7:
            names = list(self.files)
            name = self.rng.choice(
                ["../" + names[0], names[0] + "/", "manifest.json", names[0], "C:x", "a\0b", "é"]
            )
            entries = [("manifest.json", self.manifest.to_json()), *self.files.items()]
            entries.append((name, b"x" * self.rng.choice([0, 1, 5000])))
            payload = _zip(entries, self.rng.choice([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]))
        else:
            payload = self.rng.choice(DER_MUTATIONS[-2:])(self.rng, payload)  # flips, cuts
        self.open(self.signed_payload(payload))

    def manifest_case(self) -> None:
        document = json.loads(self.manifest.to_json())
        manifest = _manifest_shapes(self.rng, document)
        entries = [("manifest.json", manifest), *self.files.items()]
        self.open(self.signed_payload(_zip(entries)))


def _best(runs: int, action: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.process_time()
        action()
        best = min(best, time.process_time() - started)
    return best


def scaling(fuzzer: Fuzzer, sizes: list[int]) -> list[str]:
    """The inputs that used to cost time quadratic in their size: refused in linear time."""
    signed_data = b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02"

    def nested_ber(size: int) -> bytes:
        body = b"\x24\x80" * 1000 + b"\x04\x01a" * (size // 3) + b"\x00\x00" * 1000
        return b"\x30\x84" + (len(body) + 2).to_bytes(4, "big") + b"\xa0\x80" + body + b"\0\0"

    def segmented(size: int) -> bytes:
        chunks = b"\x04\x01a" * (size // 3)
        inner = b"\xa0\x84" + len(chunks).to_bytes(4, "big") + chunks
        body = signed_data + inner
        return b"\x30\x84" + len(body).to_bytes(4, "big") + body

    def deep(size: int) -> bytes:
        depth = size // 6
        return b"".join(
            b"\x30\x84" + (6 * (depth - i - 1)).to_bytes(4, "big") for i in range(depth)
        )

    cases: dict[str, Callable[[int], bytes]] = {
        "nested BER envelope": nested_ber,
        "nested BER inside encrypted SignedData": lambda n: fuzzer.encrypt_to_provider(
            nested_ber(n)
        ),
        "segmented string inside encrypted SignedData": lambda n: fuzzer.encrypt_to_provider(
            segmented(n)
        ),
        "deep nesting inside encrypted SignedData": lambda n: fuzzer.encrypt_to_provider(deep(n)),
    }
    failures = []
    for name, make in cases.items():
        inputs = [make(size) for size in sizes]
        # CPU time (the load of other processes does not count), best of seven rounds with
        # the sizes interleaved, so that what load remains falls on every size alike.
        times = [float("inf")] * len(sizes)
        for _ in range(7):
            for index, data in enumerate(inputs):
                times[index] = min(times[index], _best(1, lambda data=data: fuzzer.open(data)))
        ratios = [b / a if a else 0.0 for a, b in itertools.pairwise(times)]
        shown = ", ".join(f"{t * 1000:.1f} ms" for t in times)
        print(f"  {name}: {shown} (ratios {', '.join(f'{r:.2f}' for r in ratios)})")
        if any(b > 3 * a + 0.005 for a, b in itertools.pairwise(times)):
            failures.append(f"{name} is not linear: {shown}")
    return failures


def memory(fuzzer: Fuzzer, size: int) -> list[str]:
    """Peak memory while refusing large hostile inputs stays within a few times their size."""
    failures = []
    body = b"\x24\x80" * 1000 + b"\x04\x01a" * (size // 3) + b"\x00\x00" * 1000
    samples = {
        "nested BER": fuzzer.encrypt_to_provider(b"\x30\x80" + body + b"\0\0"),
        "zip bomb past the limits": fuzzer.signed_payload(
            _zip(
                [
                    ("manifest.json", fuzzer.manifest.to_json()),
                    (next(iter(fuzzer.files)), b"0" * (80 << 20)),
                ]
            )
        ),
    }
    for name, data in samples.items():
        tracemalloc.start()
        fuzzer.open(data)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        bound = 4 * len(data) + (20 << 20)
        print(f"  {name}: input {len(data) / 1e6:.1f} MB, peak {peak / 1e6:.1f} MB")
        if peak > bound:
            failures.append(f"{name}: peak {peak} bytes over {bound}")
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the CI run (< 30 s)")
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--cases", type=int, help="mutated envelopes per layer")
    args = parser.parse_args(argv)
    cases = args.cases or (100 if args.quick else 2000)
    started = time.perf_counter()
    print(f"fuzz_envelope: seed {args.seed}, {cases} cases per layer")
    fuzzer = Fuzzer(args.seed)
    for layer in (fuzzer.der_case, fuzzer.inner_case, fuzzer.zip_case, fuzzer.manifest_case):
        for _ in range(cases):
            layer()
    total = sum(fuzzer.outcomes.values()) + len(fuzzer.escaped)
    print(f"{total} envelopes opened or refused in {time.perf_counter() - started:.1f} s:")
    for outcome, count in fuzzer.outcomes.most_common():
        print(f"  {count:6d}  {outcome}")
    failures = [f"foreign error escaped: {e}" for e in fuzzer.escaped[:20]]
    print("time to refuse, by input size (CPU time, best of 7):")
    sizes = [300_000, 600_000, 1_200_000] if args.quick else [1_200_000, 2_400_000, 4_800_000]
    failures += scaling(fuzzer, sizes)
    print("peak memory:")
    failures += memory(fuzzer, sizes[-1])
    print(f"done in {time.perf_counter() - started:.1f} s")
    for failure in failures:
        print(f"FAIL {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
