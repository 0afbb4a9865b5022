"""Encryption at rest for one space: AES-GCM for contents, AES-SIV where equality must survive,
HMAC tags as a blind keyword index.

Why field-level AES-GCM (the `cryptography` package) and not SQLCipher: it needs no native build
(SQLCipher means compiling SQLite and a binding on every machine), keeps the stdlib sqlite3 and its
WAL crash safety, and lets each space have its own key. What stays visible: row counts and sizes,
timestamps of writes, which rows share a source (sources are encrypted deterministically so they
can still be looked up), and keyword-tag frequencies (a blind index cannot hide how often a tag
occurs). Embeddings are encrypted like text: they can be inverted back to it.

The user keeps one 32-byte master key (a key file or IMPRINT_KEY), never stored with the data. Each
space derives its own keys from it with HKDF over a random salt kept in the space's file.
"""

import base64
import hashlib
import hmac
import os
import re
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..errors import EncryptionError

MASTER_KEY_BYTES = 32
_NONCE_BYTES = 12
_CHECK = b"imprint key check v1"


def new_master_key() -> str:
    """A fresh random master key, as the base64 text a key file holds."""
    return base64.b64encode(os.urandom(MASTER_KEY_BYTES)).decode()


def decode_master_key(text: str, origin: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except ValueError:
        key = b""
    if len(key) != MASTER_KEY_BYTES:
        raise EncryptionError(f"{origin} must hold a base64 {MASTER_KEY_BYTES}-byte key (make one: imprint keygen)")
    return key


def read_key_file(path: Path, data_dir: Path) -> bytes:
    """The master key from a file, refused if it lives inside the data directory it protects."""
    path, data_dir = Path(path).resolve(), Path(data_dir).resolve()
    if path.is_relative_to(data_dir):
        raise EncryptionError(f"key file {path} is inside the data directory {data_dir}: keep keys apart from data")
    try:
        return decode_master_key(path.read_text(), f"key file {path}")
    except OSError as error:
        raise EncryptionError(f"cannot read key file {path}: {error.strerror}") from error


def load_master_key(key_file: Path | None, key: str | None, data_dir: Path) -> bytes | None:
    """The configured master key (a file wins over the variable), or None: no encryption."""
    if key_file is not None:
        return read_key_file(key_file, data_dir)
    if key:
        return decode_master_key(key, "IMPRINT_KEY")
    return None


class SpaceCipher:
    """The keys of one space, derived from the master key and the space's salt."""

    def __init__(self, master_key: bytes, salt: bytes, space: str | None = None) -> None:
        """`space`: the space's name, bound into its keys (format 3); None for older formats."""
        info = b"imprint space keys" + (b"\x00" + space.encode() if space is not None else b"")
        material = HKDF(algorithm=hashes.SHA256(), length=128, salt=salt, info=info).derive(master_key)
        self._gcm = AESGCM(material[:32])
        self._siv = AESSIV(material[32:96])
        self._mac_key = material[96:]

    def check_value(self) -> str:
        """Stored with the space, so a wrong key is caught at open rather than as garbage later."""
        return self.tag(_CHECK.decode())

    def seal(self, data: bytes, field: str) -> bytes:
        """Randomised encryption; `field` is bound in, so ciphertexts cannot be moved between columns."""
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._gcm.encrypt(nonce, data, field.encode())

    def open(self, blob: bytes, field: str) -> bytes:
        try:
            return self._gcm.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], field.encode())
        except InvalidTag as error:
            raise EncryptionError(f"{field}: ciphertext does not authenticate (wrong key or tampered file)") from error

    def seal_text(self, text: str | None, field: str) -> bytes | None:
        return None if text is None else self.seal(text.encode(), field)

    def open_text(self, blob: bytes | None, field: str) -> str | None:
        return None if blob is None else self.open(blob, field).decode()

    def seal_fixed(self, text: str, field: str) -> bytes:
        """Deterministic encryption (AES-SIV): equal plaintexts give equal ciphertexts, for lookups."""
        return self._siv.encrypt(text.encode(), [field.encode()])

    def open_fixed(self, blob: bytes, field: str) -> str:
        try:
            return self._siv.decrypt(blob, [field.encode()]).decode()
        except InvalidTag as error:
            raise EncryptionError(f"{field}: ciphertext does not authenticate (wrong key or tampered file)") from error

    def tag(self, text: str) -> str:
        """A keyed digest: the same text gives the same tag, which says nothing without the key."""
        return hmac.new(self._mac_key, text.encode(), hashlib.sha256).hexdigest()[:32]

    def keyword_tags(self, text: str) -> str:
        """The blind keyword index of a text: one short tag per lower-cased word, in order."""
        return " ".join("k" + self.tag(word)[:20] for word in re.findall(r"\w+", text.lower()))
