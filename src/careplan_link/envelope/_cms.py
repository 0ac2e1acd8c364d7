"""CMS (RFC 5652) structures: SignedData, AuthEnvelopedData (RFC 5083/5084) and EnvelopedData.

asn1crypto describes and encodes the structures; cryptography does every cryptographic step.
Nothing here writes DER by hand.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import hmac
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from asn1crypto import algos, cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.asymmetric import padding as rsa_padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import (
    AEADDecryptionContext,
    Cipher,
    algorithms,
    modes,
)
from cryptography.hazmat.primitives.serialization import Encoding

from ..errors import (
    DecryptionError,
    EnvelopeError,
    LegacyEncryptionRefused,
    MalformedEnvelope,
    NotForThisRecipient,
    SignatureError,
    UntrustedSigner,
)
from . import _der
from ._identity import OfficeIdentity

__all__ = [
    "RECIPIENTS_DIGEST_OID",
    "Signed",
    "decrypt",
    "encrypt",
    "open_signed",
    "recipient_infos",
    "refuse_non_der",
    "sign",
    "verify_signature",
]

# A signed attribute of our own: SHA-256 of the DER of the envelope's RecipientInfos. CMS leaves
# the recipient list unauthenticated (and OpenSSL 3.0 cannot read AuthEnvelopedData authAttrs),
# so this is what makes a changed, added or removed recipient entry detectable. The OID is a
# UUID arc (ITU-T X.667), which needs no registration.
RECIPIENTS_DIGEST_OID = "2.25.181270290167395834357853014573385467731"
cms.CMSAttributeType._map[RECIPIENTS_DIGEST_OID] = "careplan_link_recipients_digest"
cms.CMSAttribute._oid_specs["careplan_link_recipients_digest"] = cms.SetOfOctetString


_PARSE_NOTE = """Parsing steps catch Exception: asn1crypto reports malformed input not only with
ValueError but also with TypeError, KeyError, AttributeError, OverflowError… (found by the
bit-flip test). Each such block only parses; our own EnvelopeErrors are re-raised untouched."""


@contextlib.contextmanager
def _reading(error: type[EnvelopeError], what: str) -> Iterator[None]:
    """Turn any failure while reading parsed structures into `error` (see _PARSE_NOTE)."""
    try:
        yield
    except EnvelopeError:
        raise
    except Exception as failure:
        raise error(f"{what} cannot be read: {failure!r}") from None


class GcmParameters(core.Sequence):  # type: ignore[misc]
    """GCMParameters of RFC 5084."""

    _fields = [  # noqa: RUF012  (asn1crypto's declarative form)
        ("aes_nonce", core.OctetString),
        ("aes_icvlen", core.Integer, {"default": 12}),
    ]


_GCM_KEY_SIZES = {"aes128_gcm": 16, "aes192_gcm": 24, "aes256_gcm": 32}
_CBC_KEY_SIZES = {"aes128_cbc": 16, "aes192_cbc": 24, "aes256_cbc": 32}
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_DIGEST_ALGORITHMS = {"sha256", "sha384", "sha512"}


def _load_certificate(der: bytes) -> x509.Certificate:
    """A certificate from a SignedData, every part read now: cryptography parses the subject,
    issuer and extensions lazily, and a damaged one would fail later with a bare ValueError."""
    certificate = x509.load_der_x509_certificate(der)
    certificate.subject  # noqa: B018
    certificate.issuer  # noqa: B018
    certificate.extensions  # noqa: B018
    certificate.public_key()
    return certificate


def _asn1_certificate(certificate: x509.Certificate) -> asn1_x509.Certificate:
    # Loading is lazy and dumping gives the original bytes back: cheaper than building.
    return asn1_x509.Certificate.load(certificate.public_bytes(Encoding.DER))


def _issuer_and_serial(certificate: x509.Certificate) -> cms.IssuerAndSerialNumber:
    return cms.IssuerAndSerialNumber(
        {
            "issuer": asn1_x509.Name.load(certificate.issuer.public_bytes()),
            "serial_number": certificate.serial_number,
        }
    )


# -- SignedData --------------------------------------------------------------------------------


def sign(
    content: bytes,
    identity: OfficeIdentity,
    *,
    signed_at: datetime.datetime,
    recipients_digest: bytes | None,
) -> list[bytes]:
    """The DER of a SignedData ContentInfo holding `content` (id-data), signed by `identity`,
    as three pieces `[before, content, after]` so that the content is never copied."""
    attributes = [
        cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
        cms.CMSAttribute({"type": "signing_time", "values": [cms.Time({"utc_time": signed_at})]}),
        cms.CMSAttribute({"type": "message_digest", "values": [hashlib.sha256(content).digest()]}),
    ]
    if recipients_digest is not None:
        attributes.append(
            cms.CMSAttribute(
                {"type": "careplan_link_recipients_digest", "values": [recipients_digest]}
            )
        )
    signed_attrs = cms.CMSAttributes(attributes)
    # The signature covers the attributes' DER with the SET OF tag (RFC 5652 §5.4).
    signature = identity.private_key.sign(
        _as_set(signed_attrs.dump()), rsa_padding.PKCS1v15(), hashes.SHA256()
    )
    signer = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                name="issuer_and_serial_number", value=_issuer_and_serial(identity.certificate)
            ),
            "digest_algorithm": {"algorithm": "sha256"},
            "signed_attrs": signed_attrs,
            "signature_algorithm": {"algorithm": "rsassa_pkcs1v15"},
            "signature": signature,
        }
    )
    certificates = map(_asn1_certificate, (identity.certificate, *identity.chain))
    signed_data = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [{"algorithm": "sha256"}],
            # An empty placeholder: the content is spliced in (see _der).
            "encap_content_info": {"content_type": "data", "content": b""},
            "certificates": [
                cms.CertificateChoices(name="certificate", value=c) for c in certificates
            ],
            "signer_infos": [signer],
        }
    )
    info = bytes(cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump())
    before, after = _der.splice(info, _SIGNED_CONTENT_PATH, len(content))
    return [before, content, after]


# ContentInfo → [0] → SignedData → encapContentInfo → [0] → OCTET STRING
_SIGNED_CONTENT_PATH = (1, 0, 2, 1, 0)
# ContentInfo → [0] → AuthEnvelopedData/EnvelopedData → (auth)EncryptedContentInfo → [0]
_ENCRYPTED_CONTENT_PATH = (1, 0, 2, 2)


def _as_set(encoded_attributes: bytes) -> bytes:
    """Signed attributes are encoded [0] IMPLICIT in SignerInfo but signed as a SET OF."""
    return b"\x31" + encoded_attributes[1:]


class Signed:
    """What a verified SignedData says: content, signer certificate(s), time, bound digest."""

    def __init__(
        self,
        content: bytes,
        signer: x509.Certificate,
        certificates: list[x509.Certificate],
        signed_at: datetime.datetime | None,
        recipients_digest: bytes | None,
    ) -> None:
        self.content = content
        self.signer = signer
        self.certificates = certificates
        self.signed_at = signed_at
        self.recipients_digest = recipients_digest


def verify_signature(inner: bytes, *, inner_type: str) -> Signed:
    """Parse the decrypted content as SignedData and verify its one signature.

    `inner_type` is the envelope's content type: `data` when it holds a SignedData ContentInfo
    (what OpenSSL's sign-then-encrypt pipeline and `seal` make), `signed_data` when it holds the
    SignedData itself (or, leniently, its ContentInfo).
    """
    refuse_non_der(inner, "the decrypted content")
    with _reading(SignatureError, "the SignedData"):
        signed_data = _load_signed_data(inner, inner_type)
        encapsulated = signed_data["encap_content_info"]
        if encapsulated["content_type"].native != "data":
            raise SignatureError("the signed content is not of type id-data")
        content = encapsulated["content"].native
        if content is None:
            raise SignatureError("the signature is detached: the signed content is missing")
        signers = list(signed_data["signer_infos"])
        if len(signers) != 1:
            raise SignatureError(f"expected one signer, found {len(signers)}")
        certificates = [
            _load_certificate(choice.chosen.dump())
            for choice in signed_data["certificates"] or []
            if choice.name == "certificate"
        ]
        return _verify_signer_info(signers[0], bytes(content), certificates)


def _load_signed_data(inner: bytes, inner_type: str) -> cms.SignedData:
    try:
        if inner_type == "signed_data" and inner[:1] == b"\x30" and not _is_content_info(inner):
            signed_data = cms.SignedData.load(inner, strict=True)
            # Parses the signer info now, inside this try; not `.native` of the whole, which
            # would also parse the DER inside every certificate extension's OCTET STRING
            # (not walked by refuse_non_der; cryptography reads certificates).
            signed_data["signer_infos"].native  # noqa: B018
            return signed_data
        info = cms.ContentInfo.load(inner, strict=True)
        if info["content_type"].native != "signed_data":
            raise SignatureError(
                f"the decrypted content is {info['content_type'].native}, not a SignedData"
            )
        signed_data = info["content"]
        signed_data["signer_infos"].native  # noqa: B018
        return signed_data
    except EnvelopeError:
        raise
    except Exception as error:  # see _PARSE_NOTE
        raise SignatureError(f"the decrypted content is not a SignedData: {error!r}") from None


def _is_content_info(data: bytes) -> bool:
    try:
        content_type = cms.ContentInfo.load(data, strict=True)["content_type"].native
        return bool(content_type == "signed_data")
    except Exception:  # see _PARSE_NOTE
        return False


def _verify_signer_info(
    signer: cms.SignerInfo, content: bytes, certificates: list[x509.Certificate]
) -> Signed:
    certificate = _signer_certificate(signer, certificates)
    digest_name = signer["digest_algorithm"]["algorithm"].native
    if digest_name not in _DIGEST_ALGORITHMS:
        raise SignatureError(f"digest algorithm {digest_name} is not accepted")
    hash_type = _HASHES[digest_name]
    attributes = signer["signed_attrs"]
    if not attributes:
        raise SignatureError("the signature has no signed attributes (content type, digest)")
    values = {attribute["type"].native: attribute["values"] for attribute in attributes}
    if "content_type" not in values or values["content_type"][0].native != "data":
        raise SignatureError("the signed content-type attribute is missing or not id-data")
    if "message_digest" not in values:
        raise SignatureError("the signed message-digest attribute is missing")
    expected = hashlib.new(digest_name, content).digest()
    if not hmac.compare_digest(values["message_digest"][0].native, expected):
        raise SignatureError("the signed content was altered (message digest differs)")
    public_key = certificate.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise SignatureError("the signer's key is not an RSA key")
    try:
        public_key.verify(
            signer["signature"].native,
            _as_set(attributes.dump()),
            _signature_padding(signer, hash_type),
            hash_type(),
        )
    except InvalidSignature:
        raise SignatureError("the signature does not verify") from None
    signed_at = None
    if "signing_time" in values:
        signed_at = values["signing_time"][0].native
        if signed_at.tzinfo is None:
            signed_at = signed_at.replace(tzinfo=datetime.UTC)
    bound = values.get("careplan_link_recipients_digest")
    return Signed(
        content, certificate, certificates, signed_at, None if bound is None else bound[0].native
    )


def _signature_padding(
    signer: cms.SignerInfo, hash_type: type[hashes.HashAlgorithm]
) -> rsa_padding.AsymmetricPadding:
    algorithm = signer["signature_algorithm"]
    name = algorithm["algorithm"].native
    if name == "rsassa_pss":
        parameters = algorithm["parameters"]
        return rsa_padding.PSS(
            mgf=rsa_padding.MGF1(
                _HASHES[parameters["mask_gen_algorithm"]["parameters"]["algorithm"].native]()
            ),
            salt_length=parameters["salt_length"].native,
        )
    if name in ("rsassa_pkcs1v15", "sha256_rsa", "sha384_rsa", "sha512_rsa"):
        return rsa_padding.PKCS1v15()
    raise SignatureError(f"signature algorithm {name} is not accepted")


def _signer_certificate(
    signer: cms.SignerInfo, certificates: list[x509.Certificate]
) -> x509.Certificate:
    sid = signer["sid"]
    for certificate in certificates:
        if sid.name == "issuer_and_serial_number":
            wanted = sid.chosen
            candidate = _asn1_certificate(certificate)
            if (
                candidate.issuer == wanted["issuer"]
                and candidate.serial_number == wanted["serial_number"].native
            ):
                return certificate
        elif _subject_key_identifier(certificate) == sid.chosen.native:
            return certificate
    raise UntrustedSigner("the signer's certificate is not included in the signature")


def _subject_key_identifier(certificate: x509.Certificate) -> bytes | None:
    try:
        extension = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    except x509.ExtensionNotFound:
        return None
    return extension.value.digest


# -- encryption --------------------------------------------------------------------------------


# Built once: asn1crypto builds structures from Python values slowly (about 3 ms for these
# parameters) but reads and re-encodes a loaded value at the cost of a copy.
_RSAES_OAEP_SHA256 = cms.KeyEncryptionAlgorithm(
    {
        "algorithm": "rsaes_oaep",
        "parameters": algos.RSAESOAEPParams(
            {
                "hash_algorithm": {"algorithm": "sha256"},
                "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": "sha256"}},
            }
        ),
    }
).dump()
_RSAES_PKCS1V15 = cms.KeyEncryptionAlgorithm({"algorithm": "rsaes_pkcs1v15"}).dump()


def recipient_infos(
    key: bytes, recipients: Sequence[x509.Certificate], *, oaep: bool
) -> cms.RecipientInfos:
    """The content-encryption key transported to each recipient (RSA-OAEP-SHA256 or PKCS#1 v1.5)."""
    infos = []
    for recipient in recipients:
        public_key = recipient.public_key()
        if not isinstance(public_key, rsa.RSAPublicKey):
            raise ValueError("recipient certificates must have RSA keys")
        if oaep:
            encrypted = public_key.encrypt(key, _oaep(hashes.SHA256))
            algorithm = cms.KeyEncryptionAlgorithm.load(_RSAES_OAEP_SHA256)
        else:
            encrypted = public_key.encrypt(key, rsa_padding.PKCS1v15())
            algorithm = cms.KeyEncryptionAlgorithm.load(_RSAES_PKCS1V15)
        infos.append(
            cms.RecipientInfo(
                name="ktri",
                value=cms.KeyTransRecipientInfo(
                    {
                        "version": "v0",
                        "rid": cms.RecipientIdentifier(
                            name="issuer_and_serial_number",
                            value=_issuer_and_serial(recipient),
                        ),
                        "key_encryption_algorithm": algorithm,
                        "encrypted_key": encrypted,
                    }
                ),
            )
        )
    return cms.RecipientInfos(infos)


def _oaep(hash_type: type[hashes.HashAlgorithm]) -> rsa_padding.OAEP:
    return rsa_padding.OAEP(mgf=rsa_padding.MGF1(hash_type()), algorithm=hash_type(), label=None)


def encrypt(pieces: list[bytes], key: bytes, infos: cms.RecipientInfos, *, gcm: bool) -> bytes:
    """AuthEnvelopedData (AES-256-GCM) or EnvelopedData (AES-256-CBC) around the concatenation
    of `pieces` (content type id-data).

    The list is emptied as it is encrypted, so that a caller who keeps no other reference frees
    each plaintext piece as soon as it is encrypted (the payload is the large one).
    """
    if gcm:
        nonce = os.urandom(12)
        gcm_encryptor = Cipher(algorithms.AES(key), modes.GCM(nonce)).encryptor()
        ciphertext = _encrypt_pieces(pieces, gcm_encryptor.update)
        ciphertext.append(gcm_encryptor.finalize())
        tag = gcm_encryptor.tag
        algorithm = {
            "algorithm": "aes256_gcm",
            "parameters": GcmParameters({"aes_nonce": nonce, "aes_icvlen": 16}),
        }
    else:
        iv = os.urandom(16)
        cbc_encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
        padder = padding.PKCS7(128).padder()
        ciphertext = _encrypt_pieces(pieces, lambda p: cbc_encryptor.update(padder.update(p)))
        ciphertext.append(cbc_encryptor.update(padder.finalize()) + cbc_encryptor.finalize())
        algorithm = {"algorithm": "aes256_cbc", "parameters": iv}
    encrypted_info = {
        "content_type": "data",
        "content_encryption_algorithm": algorithm,
        "encrypted_content": b"",  # a placeholder: the ciphertext is spliced in (see _der)
    }
    if gcm:
        content_type = "authenticated_enveloped_data"
        envelope: cms.AuthEnvelopedData | cms.EnvelopedData = cms.AuthEnvelopedData(
            {
                "version": "v0",
                "recipient_infos": infos,
                "auth_encrypted_content_info": encrypted_info,
                "mac": tag,
            }
        )
    else:
        content_type = "enveloped_data"
        envelope = cms.EnvelopedData(
            {"version": "v0", "recipient_infos": infos, "encrypted_content_info": encrypted_info}
        )
    info = bytes(cms.ContentInfo({"content_type": content_type, "content": envelope}).dump())
    size = sum(map(len, ciphertext))
    before, after = _der.splice(info, _ENCRYPTED_CONTENT_PATH, size)
    return b"".join([before, *ciphertext, after])


def _encrypt_pieces(pieces: list[bytes], update: Callable[[bytes], bytes]) -> list[bytes]:
    ciphertext = []
    pieces.reverse()
    while pieces:
        ciphertext.append(update(pieces.pop()))
    return ciphertext


# -- decryption --------------------------------------------------------------------------------


class Decrypted:
    def __init__(
        self, inner: bytes, inner_type: str, recipients_der: bytes, *, authenticated: bool
    ) -> None:
        self.inner = inner
        self.inner_type = inner_type
        self.recipients_der = recipients_der
        self.authenticated = authenticated
        """False for CBC: the content could have been altered without the key (malleable)."""


def decrypt(data: bytes, identity: OfficeIdentity, *, allow_legacy: bool = False) -> Decrypted:
    """Decrypt an AuthEnvelopedData or EnvelopedData addressed to `identity`.

    EnvelopedData (AES-CBC) and RSA PKCS#1 v1.5 key transport only with `allow_legacy`.
    """
    refuse_non_der(data, "the envelope")
    with _reading(MalformedEnvelope, "the CMS envelope (DER)"):
        info = cms.ContentInfo.load(data, strict=True)
        kind = info["content_type"].native
        if kind not in ("authenticated_enveloped_data", "enveloped_data"):
            raise MalformedEnvelope(f"a CMS {kind}, not an encrypted envelope")
        if kind == "enveloped_data" and not allow_legacy:
            raise LegacyEncryptionRefused(
                "レガシー形式 (EnvelopedData, AES-CBC) の封筒は許可されていません / a legacy "
                "EnvelopedData (AES-CBC) envelope, not allowed (allow_legacy_cbc)"
            )
        envelope = info["content"]
        if envelope["version"].native not in ("v0", "v2"):
            raise MalformedEnvelope(f"unexpected envelope version {envelope['version'].native}")
        infos = envelope["recipient_infos"]
        recipients_der = bytes(infos.dump())
        authenticated = kind == "authenticated_enveloped_data"
        encrypted_info = envelope[
            "auth_encrypted_content_info" if authenticated else "encrypted_content_info"
        ]
        inner_type = encrypted_info["content_type"].native
        if inner_type not in ("data", "signed_data"):
            raise MalformedEnvelope(f"the encrypted content type {inner_type} is not accepted")
        ciphertext = encrypted_info["encrypted_content"].native
        if ciphertext is None:
            raise MalformedEnvelope("the envelope holds no encrypted content")
        algorithm = encrypted_info["content_encryption_algorithm"]
        tag = envelope["mac"].native if authenticated else None
    with _reading(DecryptionError, "the recipient entry"):
        key = _content_key(infos, identity, allow_legacy=allow_legacy)
    with _reading(DecryptionError, "the content encryption parameters"):
        if tag is not None:
            inner = _decrypt_gcm(algorithm, key, bytes(ciphertext), tag)
        else:
            inner = _decrypt_cbc(algorithm, key, bytes(ciphertext))
    return Decrypted(inner, inner_type, recipients_der, authenticated=authenticated)


def _content_key(
    infos: cms.RecipientInfos, identity: OfficeIdentity, *, allow_legacy: bool
) -> bytes:
    mine = _asn1_certificate(identity.certificate)
    key_id = _subject_key_identifier(identity.certificate)
    for info in infos:
        if info.name != "ktri":
            continue
        ktri = info.chosen
        rid = ktri["rid"]
        if rid.name == "issuer_and_serial_number":
            matches = (
                rid.chosen["issuer"] == mine.issuer
                and rid.chosen["serial_number"].native == mine.serial_number
            )
        else:
            matches = key_id is not None and rid.chosen.native == key_id
        if matches:
            return _unwrap_key(ktri, identity, allow_legacy=allow_legacy)
    raise NotForThisRecipient(
        f"the envelope is not addressed to office {identity.office_no}'s certificate "
        f"(serial {identity.certificate.serial_number:x})"
    )


def _unwrap_key(
    ktri: cms.KeyTransRecipientInfo, identity: OfficeIdentity, *, allow_legacy: bool
) -> bytes:
    algorithm = ktri["key_encryption_algorithm"]
    name = algorithm["algorithm"].native
    if name == "rsaes_pkcs1v15" and not allow_legacy:
        # Bleichenbacher: PKCS#1 v1.5 unwrapping errors are an oracle on the content key.
        raise LegacyEncryptionRefused(
            "レガシー形式 (RSA PKCS#1 v1.5) の鍵配送は許可されていません / legacy RSA PKCS#1 "
            "v1.5 key transport, not allowed (allow_legacy_cbc)"
        )
    encrypted = ktri["encrypted_key"].native
    try:
        if name == "rsaes_oaep":
            parameters = algorithm["parameters"]
            hash_name = parameters["hash_algorithm"]["algorithm"].native
            mgf_hash = parameters["mask_gen_algorithm"]["parameters"]["algorithm"].native
            if hash_name not in _HASHES or mgf_hash not in _HASHES:
                raise DecryptionError(f"RSA-OAEP with {hash_name}/{mgf_hash} is not accepted")
            label = parameters["p_source_algorithm"]["parameters"].native or None
            oaep = rsa_padding.OAEP(
                mgf=rsa_padding.MGF1(_HASHES[mgf_hash]()),
                algorithm=_HASHES[hash_name](),
                label=label,
            )
            return identity.private_key.decrypt(encrypted, oaep)
        if name == "rsaes_pkcs1v15":
            return identity.private_key.decrypt(encrypted, rsa_padding.PKCS1v15())
    except ValueError:
        raise DecryptionError("the content key cannot be decrypted with this identity") from None
    raise DecryptionError(f"key transport {name} is not accepted")


def _decrypt_gcm(
    algorithm: cms.EncryptionAlgorithm, key: bytes, ciphertext: bytes, tag: bytes
) -> bytes:
    decryptor = _gcm_decryptor(algorithm, key, tag)
    try:
        return decryptor.update(ciphertext) + decryptor.finalize()
    except InvalidTag:
        raise DecryptionError(
            "the encrypted content fails its authentication check (altered or wrong key)"
        ) from None


def _gcm_decryptor(
    algorithm: cms.EncryptionAlgorithm, key: bytes, tag: bytes
) -> AEADDecryptionContext:
    name = algorithm["algorithm"].native
    if _GCM_KEY_SIZES.get(name) != len(key):
        raise DecryptionError(f"content encryption {name} with a {len(key)}-byte key")
    try:
        parameters = GcmParameters.load(algorithm["parameters"].dump(), strict=True)
        nonce = parameters["aes_nonce"].native
        if parameters["aes_icvlen"].native != len(tag) or len(tag) < 12:
            raise DecryptionError("the authentication tag length does not match its parameters")
        return Cipher(algorithms.AES(key), modes.GCM(nonce, tag, min_tag_length=12)).decryptor()
    except (ValueError, TypeError) as error:
        raise DecryptionError(f"the AES-GCM parameters cannot be read: {error}") from None


def _decrypt_cbc(algorithm: cms.EncryptionAlgorithm, key: bytes, ciphertext: bytes) -> bytes:
    name = algorithm["algorithm"].native
    if _CBC_KEY_SIZES.get(name) != len(key):
        raise DecryptionError(f"content encryption {name} with a {len(key)}-byte key")
    iv = algorithm["parameters"].native
    try:
        decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
        padded = decryptor.update(ciphertext) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        return unpadder.update(padded) + unpadder.finalize()
    except (ValueError, TypeError):
        raise DecryptionError(
            "the encrypted content cannot be decrypted (altered or wrong key)"
        ) from None


# -- opening without copies ------------------------------------------------------------------


class Opened:
    """A decrypted envelope whose signature verified, and the DER of its recipient list.

    `authenticated` is False for CBC content: the certificates beside the signature are not
    covered by it, so a malleable cipher lets them be altered without the key.
    """

    def __init__(self, signed: Signed, recipients_der: bytes, *, authenticated: bool) -> None:
        self.signed = signed
        self.recipients_der = recipients_der
        self.authenticated = authenticated


def open_signed(data: bytes, identity: OfficeIdentity, *, allow_legacy: bool = False) -> Opened:
    """Decrypt an envelope addressed to `identity` and verify its signature.

    The common form (what `seal` and OpenSSL's sign-then-encrypt pipeline make with AES-GCM) is
    read in place: the ciphertext is decrypted straight from the input, and the signed content
    into its own buffer, so the payload exists once. Any other shape, and any envelope the fast
    reading does not understand, goes through the general path (`decrypt`, `verify_signature`),
    which accepts every supported form and gives the precise error for the rest.
    """
    refuse_non_der(data, "the envelope")
    opened = _open_in_place(data, identity, allow_legacy=allow_legacy)
    if opened is not None:
        return opened
    decrypted = decrypt(data, identity, allow_legacy=allow_legacy)
    inner, decrypted.inner = decrypted.inner, b""
    signed = verify_signature(inner, inner_type=decrypted.inner_type)
    return Opened(signed, decrypted.recipients_der, authenticated=decrypted.authenticated)


class _Unexpected(Exception):
    """The input is not in the form `_open_in_place` reads; the general path takes over."""


def _open_in_place(data: bytes, identity: OfficeIdentity, *, allow_legacy: bool) -> Opened | None:
    view = memoryview(data)
    try:
        located = _locate_gcm_envelope(view)
    except Exception:  # any surprise: the general path reads it and names the problem
        return None
    infos, recipients_der, algorithm, ciphertext, tag = located
    with _reading(DecryptionError, "the recipient entry"):
        key = _content_key(infos, identity, allow_legacy=allow_legacy)
    with _reading(DecryptionError, "the content encryption parameters"):
        decryptor = _gcm_decryptor(algorithm, key, tag)
    try:
        pieces = _decrypt_signed_data(ciphertext, decryptor)
    except Exception:  # see above
        return None
    try:
        decryptor.finalize()
    except InvalidTag:
        raise DecryptionError(
            "the encrypted content fails its authentication check (altered or wrong key)"
        ) from None
    _, content, after = pieces
    try:
        signer_infos, certificates = _signed_data_parts(after)
    except Exception:  # see above
        return None
    with _reading(SignatureError, "the SignedData"):
        signers = list(signer_infos)
        if len(signers) != 1:
            raise SignatureError(f"expected one signer, found {len(signers)}")
        signed = _verify_signer_info(signers[0], content, certificates)
    return Opened(signed, recipients_der, authenticated=True)


def _locate_gcm_envelope(
    view: memoryview,
) -> tuple[cms.RecipientInfos, bytes, cms.EncryptionAlgorithm, memoryview, bytes]:
    """Find the parts of an AuthEnvelopedData ContentInfo without copying its ciphertext."""
    top = _der.element(view, 0, len(view))
    if top.tag != 0x30 or top.end != len(view):
        raise _Unexpected
    content_type, explicit = _expect(view, top, 0x06, 0xA0)
    if _load(cms.ContentType, view, content_type).native != "authenticated_enveloped_data":
        raise _Unexpected
    (body,) = _expect(view, explicit, 0x30)
    version, infos, encrypted_info, mac = _expect(view, body, 0x02, 0x31, 0x30, 0x04)
    if _load(core.Integer, view, version).native != 0:
        raise _Unexpected
    inner_type, algorithm, ciphertext = _expect(view, encrypted_info, 0x06, 0x30, 0x80)
    if _load(cms.ContentType, view, inner_type).native != "data":
        raise _Unexpected
    recipients_der = bytes(view[infos.start : infos.end])
    return (
        cms.RecipientInfos.load(recipients_der, strict=True),
        recipients_der,
        _load(cms.EncryptionAlgorithm, view, algorithm),
        view[ciphertext.contents_start : ciphertext.end],
        _load(core.OctetString, view, mac).native,
    )


def _decrypt_signed_data(ciphertext: memoryview, decryptor: AEADDecryptionContext) -> list[bytes]:
    """Decrypt a SignedData ContentInfo as `[before, content, after]`.

    GCM is a stream cipher, so the plaintext can be decrypted in any pieces: first the headers
    down to the content octets, one value at a time, then the content in one piece of its own,
    then the rest. Nothing decrypted here is used before the caller checked the tag.
    """
    plain = _Plaintext(ciphertext, decryptor)
    top = plain.element(0, len(ciphertext))
    if top.tag != 0x30 or top.end != len(ciphertext):
        raise _Unexpected
    content_type = plain.element(top.contents_start, top.end)
    if content_type.tag != 0x06:
        raise _Unexpected
    plain.decrypt_to(content_type.end)
    if _load(cms.ContentType, plain.view(), content_type).native != "signed_data":
        raise _Unexpected
    explicit = plain.element(content_type.end, top.end, tag=0xA0, last=True)
    signed_data = plain.element(explicit.contents_start, explicit.end, tag=0x30, last=True)
    version = plain.element(signed_data.contents_start, signed_data.end, tag=0x02)
    algorithms = plain.element(version.end, signed_data.end, tag=0x31)
    encapsulated = plain.element(algorithms.end, signed_data.end, tag=0x30)
    encapsulated_type = plain.element(encapsulated.contents_start, encapsulated.end, tag=0x06)
    plain.decrypt_to(encapsulated_type.end)
    if _load(cms.ContentType, plain.view(), encapsulated_type).native != "data":
        raise _Unexpected
    wrapper = plain.element(encapsulated_type.end, encapsulated.end, tag=0xA0, last=True)
    octets = plain.element(wrapper.contents_start, wrapper.end, tag=0x04, last=True)
    before = bytes(plain.decrypted)
    content = decryptor.update(ciphertext[octets.contents_start : octets.end])
    after = decryptor.update(ciphertext[octets.end :])
    return [before, content, after]


class _Plaintext:
    """The decrypted start of a stream, extended one DER header at a time."""

    def __init__(self, ciphertext: memoryview, decryptor: AEADDecryptionContext) -> None:
        self._ciphertext = ciphertext
        self._decryptor = decryptor
        self.decrypted = bytearray()

    def decrypt_to(self, end: int) -> None:
        if end > len(self._ciphertext):
            raise _Unexpected
        if end > len(self.decrypted):
            start = len(self.decrypted)
            self.decrypted += self._decryptor.update(self._ciphertext[start:end])

    def view(self) -> memoryview:
        return memoryview(bytes(self.decrypted))

    def element(
        self, pointer: int, limit: int, *, tag: int = -1, last: bool = False
    ) -> _der.Element:
        self.decrypt_to(pointer + 2)
        length_octet = self.decrypted[pointer + 1]
        if length_octet & 0x80:
            # Long form: the number of length octets follows (_der.element decodes them).
            self.decrypt_to(pointer + 2 + (length_octet & 0x7F))
        found = _der.element(self.decrypted, pointer, limit)
        if (tag != -1 and found.tag != tag) or (last and found.end != limit):
            raise _Unexpected
        return found


def _signed_data_parts(after: bytes) -> tuple[cms.SignerInfos, list[x509.Certificate]]:
    """The signer infos and certificates from what follows the content of a SignedData."""
    view = memoryview(after)
    _der.check_der(view)
    found = _der.children(view, _der.Element(0x30, 0, 0, len(after)))
    tags = [value.tag for value in found]
    if tags not in ([0xA0, 0x31], [0x31]):
        raise _Unexpected
    signer_infos = _load(cms.SignerInfos, view, found[-1])
    signer_infos.native  # noqa: B018  (parses every field now)
    certificates = []
    if tags[0] == 0xA0:
        choices = _load(cms.CertificateSet, view, found[0], implicit=0)
        certificates = [
            _load_certificate(choice.chosen.dump())
            for choice in choices
            if choice.name == "certificate"
        ]
    return signer_infos, certificates


def _expect(view: memoryview, parent: _der.Element, *tags: int) -> list[_der.Element]:
    found = _der.children(view, parent)
    if [value.tag for value in found] != list(tags):
        raise _Unexpected
    return found


def _load(kind: type[core.Asn1Value], view: memoryview, value: _der.Element, **spec: int) -> Any:
    return kind.load(bytes(view[value.start : value.end]), strict=True, **spec)


def refuse_non_der(data: bytes, what: str) -> None:
    """Refuse, before anything parses it, what asn1crypto would read in time growing with the
    square of its size or recursing without bound: indefinite lengths (BER, what
    `openssl cms -stream` writes) and constructed strings anywhere in `data`, and deep
    nesting (`_der.check_der`, linear in the input)."""
    try:
        _der.check_der(data)
    except _der.NotDer as error:
        if error.indefinite:
            raise MalformedEnvelope(
                f"{what} is indefinite-length BER ({error}; as `openssl cms -stream` writes); "
                "envelopes are DER: make it with `openssl cms ... -outform DER` without -stream, "
                "or convert it with `openssl cms -cmsout -inform DER -outform DER`"
            ) from None
        raise MalformedEnvelope(f"{what} is not DER: {error}") from None
