"""Seal and open speed and memory, as ratios against floors measured in the same run.

    python benchmarks/bench_envelope.py            # ZIP payloads of 10 KB, 1 MB, 10 MB, 50 MB
    python benchmarks/bench_envelope.py --quick    # 10 KB and 1 MB (CI)

For each size it prints seal and open times and two ratios:
  * against the floor: the same steps done directly in-process (zipfile at the same level,
    SHA-256 of each file and of the ZIP, one RSA signature, AES-256-GCM over the signed
    content, RSA-OAEP for each of the two recipients; and the reverse for opening);
  * against the `openssl cms` command signing then encrypting the same ZIP (and decrypting then
    verifying it), for the cryptographic part alone (our sign+encrypt of the ZIP, without
    zipping).
Targets: seal and open of 10 MB within 1.5x the floor; the cryptographic part faster than the
openssl command; peak memory growth under 5x the payload (aim 2x), measured with tracemalloc.
The files are random bytes, so the ZIP is as large as its files (seal does not read CSV).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import tracemalloc
import zipfile
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from _timing import best_of
from careplan_link.envelope import OfficeIdentity, _cms, open_envelope, seal
from careplan_link.testing import FakePKI

SERIAL = "20250325093000"
NAMES = [
    f"{prefix}_202504_1370100016_43_1370200022_11_{SERIAL}.CSV"
    for prefix in ("UPPLAN", "UPSIKYU", "UPHOSOKU")
]
OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def files_of(size: int) -> dict[str, bytes]:
    thirds = [size // 2, size // 3, size - size // 2 - size // 3]
    return {name: os.urandom(part) for name, part in zip(NAMES, thirds, strict=True)}


def floor_seal(files: dict[str, bytes], pki_key: object, recipients: list[object]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for name, data in files.items():
            hashlib.sha256(data).digest()
            archive.writestr(name, data)
    payload = buffer.getvalue()
    hashlib.sha256(payload).digest()
    pki_key.sign(b"signed attributes" * 8, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[attr-defined]
    key, nonce = os.urandom(32), os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, payload, None)
    for recipient in recipients:
        recipient.encrypt(key, OAEP)  # type: ignore[attr-defined]
    return sealed


def floor_open(
    sealed: bytes, key: bytes, nonce: bytes, private_key: object, wrapped: bytes
) -> None:
    private_key.decrypt(wrapped, OAEP)  # type: ignore[attr-defined]
    payload = AESGCM(key).decrypt(nonce, sealed, None)
    hashlib.sha256(payload).digest()
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        for info in archive.infolist():
            hashlib.sha256(archive.read(info)).digest()


def openssl_times(folder: Path, payload: bytes, paths: dict[str, Path]) -> tuple[float, float]:
    zip_path, signed, sealed = folder / "p.zip", folder / "s.der", folder / "e.der"
    inner, out = folder / "i.der", folder / "o.zip"
    zip_path.write_bytes(payload)

    def run(*arguments: object) -> None:
        subprocess.run(["openssl", *map(str, arguments)], check=True, capture_output=True)

    def seal_command() -> None:
        run("cms", "-sign", "-binary", "-nodetach", "-outform", "DER", "-signer", paths["care"],
            "-inkey", paths["care_key"], "-in", zip_path, "-out", signed)  # fmt: skip
        run("cms", "-encrypt", "-binary", "-outform", "DER", "-aes-256-gcm", "-recip",
            paths["provider"], "-keyopt", "rsa_padding_mode:oaep", "-keyopt",
            "rsa_oaep_md:sha256", "-recip", paths["care"], "-keyopt", "rsa_padding_mode:oaep",
            "-keyopt", "rsa_oaep_md:sha256", "-in", signed, "-out", sealed)  # fmt: skip

    def open_command() -> None:
        run("cms", "-decrypt", "-binary", "-inform", "DER", "-in", sealed, "-inkey",
            paths["provider_key"], "-recip", paths["provider"], "-out", inner)  # fmt: skip
        run("cms", "-verify", "-binary", "-inform", "DER", "-in", inner, "-CAfile", paths["ca"],
            "-out", out)  # fmt: skip

    seal_time = best_of(3, seal_command)
    return seal_time, best_of(3, open_command)


def measure(size: int, pki: FakePKI, care: OfficeIdentity, provider: OfficeIdentity,
            folder: Path, paths: dict[str, Path], has_openssl: bool) -> None:  # fmt: skip
    """Print one line of figures for a payload of `size` bytes."""
    files = files_of(size)
    runs = 5 if size <= 10_000_000 else 3
    recipients = [provider.certificate]
    envelope = seal(files, sender=care, recipients=recipients, trust=pki.trust_store)
    opened = open_envelope(envelope, identity=provider, trust=pki.trust_store)
    payload = opened.payload
    seal_time = best_of(
        runs, lambda: seal(files, sender=care, recipients=recipients, trust=pki.trust_store)
    )
    open_time = best_of(
        runs, lambda: open_envelope(envelope, identity=provider, trust=pki.trust_store)
    )
    public_keys = [provider.certificate.public_key(), care.certificate.public_key()]
    floor_s = best_of(runs, lambda: floor_seal(files, care.private_key, public_keys))
    key, nonce = os.urandom(32), os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, payload, None)
    wrapped = provider.certificate.public_key().encrypt(key, OAEP)  # type: ignore[union-attr]
    floor_o = best_of(runs, lambda: floor_open(sealed, key, nonce, provider.private_key, wrapped))

    def crypto_only() -> bytes:
        cek = os.urandom(32)
        infos = _cms.recipient_infos(cek, [provider.certificate, care.certificate], oaep=True)
        digest = hashlib.sha256(infos.dump()).digest()
        pieces = _cms.sign(payload, care, signed_at=pki.now, recipients_digest=digest)
        return _cms.encrypt(pieces, cek, infos, gcm=True)

    crypto_time = best_of(runs, crypto_only)
    tracemalloc.start()
    seal(files, sender=care, recipients=recipients, trust=pki.trust_store)
    _, seal_peak = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    open_envelope(envelope, identity=provider, trust=pki.trust_store)
    _, open_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak = max(seal_peak, open_peak) / len(payload)
    if has_openssl:
        openssl_seal, openssl_open = openssl_times(folder, payload, paths)
        versus = f"{crypto_time / openssl_seal:>9.2f} {open_time / openssl_open:>13.2f}"
    else:
        versus = f"{'n/a':>9} {'n/a':>13}"
    megabytes = len(payload) / 1e6
    print(f"{megabytes:>7.2f}M {seal_time * 1e3:>7.1f}ms {seal_time / floor_s:>7.2f} "
          f"{open_time * 1e3:>7.1f}ms {open_time / floor_o:>7.2f} "
          f"{crypto_time * 1e3:>7.1f}ms {versus} {peak:>8.2f}x")  # fmt: skip


def large_file_memory(pki: FakePKI, care: OfficeIdentity, provider: OfficeIdentity) -> None:
    """Peak memory of opening one CSV-like file near the default per-file limit (64 MiB), from
    a small envelope (it compresses well): the budget is 2x the largest file + 50 MB."""
    record = b'202407,131011,0000012345,20250325,202504,1370100016,"name",244,,20250401,,1000\r\n'
    size = 60_000_000
    files = {NAMES[0]: (record * (size // len(record) + 1))[:size]}
    envelope = seal(files, sender=care, recipients=[provider.certificate], trust=pki.trust_store)
    del files
    tracemalloc.start()
    opened = open_envelope(envelope, identity=provider, trust=pki.trust_store)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    largest = max(map(len, opened.files.values()))
    print(f"open of a {largest / 1e6:.0f} MB file from a {len(envelope) / 1e6:.1f} MB envelope: "
          f"peak {peak / 1e6:.0f} MB = {peak / largest:.2f}x the file "
          f"(budget 2x + 50 MB = {(2 * largest + 50e6) / 1e6:.0f} MB)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="10 KB and 1 MB only (CI)")
    args = parser.parse_args()
    sizes = [10_000, 1_000_000] if args.quick else [10_000, 1_000_000, 10_000_000, 50_000_000]
    pki = FakePKI()
    care, provider = pki.office("1370100016"), pki.office("1370200022")
    has_openssl = shutil.which("openssl") is not None
    print("careplan_link envelope benchmark (best of runs; ratios from this run)")
    print(f"{'payload':>8} {'seal':>9} {'/floor':>7} {'open':>9} {'/floor':>7} "
          f"{'crypto':>9} {'/openssl':>9} {'open/openssl':>13} {'peak mem':>9}")  # fmt: skip
    with tempfile.TemporaryDirectory() as folder_name:
        folder = Path(folder_name)
        paths = {
            "ca": folder / "ca.pem", "care": folder / "care.pem", "care_key": folder / "care.key",
            "provider": folder / "provider.pem", "provider_key": folder / "provider.key",
        }  # fmt: skip
        from cryptography.hazmat.primitives.serialization import Encoding

        paths["ca"].write_bytes(pki.ca_certificate.public_bytes(Encoding.PEM))
        for name, identity in (("care", care), ("provider", provider)):
            paths[name].write_bytes(identity.certificate_pem())
            paths[f"{name}_key"].write_bytes(identity.private_key_pem())
        for size in sizes:
            measure(size, pki, care, provider, folder, paths, has_openssl)
    if not args.quick:
        large_file_memory(pki, care, provider)
    if not has_openssl:
        print("(openssl not found: no comparison with the openssl command)", file=sys.stderr)


if __name__ == "__main__":
    main()
