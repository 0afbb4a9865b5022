"""How a space's values are written: as they are, or sealed when the space is encrypted.

Part of SpaceStore (a mixin over its connection and cipher). Encrypted spaces made since format 2
bind each sealed value to its row (and a memory's text to whether it is shown): a ciphertext copied
onto another row, or a memory hidden by editing its `dropped` column, no longer authenticates.
Format 3 derives the space's keys with its name too: a space file copied under another name (same
master key) does not open as that space. Formats 1 and 2 keep reading as they were written.
"""

import hmac
import os

from ..errors import EncryptionError
from ..text.words import with_identifier_parts
from .core import StoreCore
from .crypto import SpaceCipher

ENCRYPTION_FORMATS = {"aes-gcm-v1": 1, "aes-gcm-v2": 2, "aes-gcm-v3": 3}


class Fields(StoreCore):
    def _open_cipher(self, master_key: bytes | None) -> SpaceCipher | None:
        name = self.name
        meta = dict(self._conn.execute("SELECT key, value FROM meta"))
        if "encryption" not in meta:
            if master_key is not None:
                raise EncryptionError(
                    f"space {name!r} was created without encryption and a key is set; "
                    "it cannot be encrypted in place: add its data to a new space"
                )
            return None
        if master_key is None:
            raise EncryptionError(f"space {name!r} is encrypted: set IMPRINT_KEY_FILE or IMPRINT_KEY")
        if meta["encryption"] not in ENCRYPTION_FORMATS:
            raise EncryptionError(f"space {name!r} uses encryption {meta['encryption']!r}, unknown to this imprint")
        self._format = ENCRYPTION_FORMATS[meta["encryption"]]
        cipher = SpaceCipher(master_key, bytes.fromhex(meta["salt"]), name if self._format >= 3 else None)
        if not hmac.compare_digest(cipher.check_value(), meta["key_check"]):
            self._format = 0
            raise EncryptionError(
                f"wrong key for space {name!r}: it was encrypted with another key, or is a copy of "
                "another space (its data is bound to the space it was written in)"
            )
        return cipher

    def _new_encryption(self, master_key: bytes) -> None:
        """Inside the first migration: mark a new space encrypted, with its salt and key check."""
        salt = os.urandom(16)
        self._conn.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)",
            [
                ("encryption", "aes-gcm-v3"),
                ("salt", salt.hex()),
                ("key_check", SpaceCipher(master_key, salt, self.name).check_value()),
            ],
        )

    def _field(self, field: str, *row: object) -> str:
        """The associated data a value is sealed with: its column, and from format 2 its row."""
        return ":".join([field, *map(str, row)]) if self._format >= 2 else field

    def _to_column(self, sealed: bytes | None) -> str | bytes | None:
        """How sealed bytes sit in a text column: as they are (SQLite keeps any type in any column)."""
        return sealed

    def _from_column(self, value: str | bytes | None) -> str | bytes | None:
        return value

    def _seal(self, text: str | None, field: str) -> str | bytes | None:
        return text if self.cipher is None else self._to_column(self.cipher.seal_text(text, field))

    def _seal_text(self, text: str, chunk_id: int, raw_id: int, shown: bool) -> str | bytes:
        """A chunk's text, bound to its row and to whether it is a memory or kept raw only."""
        return self._seal(text, self._field("chunk.text", chunk_id, raw_id, "memory" if shown else "dropped"))

    def _open_text(self, value: str | bytes, chunk_id: int, raw_id: int, shown: bool = True) -> str:
        return self._open(value, self._field("chunk.text", chunk_id, raw_id, "memory" if shown else "dropped"))

    def _seal_plain_in_v1(self, text: str | None, field: str) -> str | bytes | None:
        """Columns format 1 left in plaintext (a dropped chunk's reason, since when a sentence was
        replaced): sealed from format 2 on."""
        return self._seal(text, field) if self._format >= 2 else text

    def _open_plain_in_v1(self, value: str | bytes | None, field: str) -> str | None:
        return self._open(value, field) if self._format >= 2 else value

    def _open(self, value: str | bytes | None, field: str) -> str | None:
        return value if self.cipher is None else self.cipher.open_text(self._from_column(value), field)

    def _source_key(self, source: str) -> str | bytes:
        return source if self.cipher is None else self._to_column(self.cipher.seal_fixed(source, "source"))

    def _index_text(self, text: str) -> str:
        """What the keyword index holds for a memory: its words and its identifiers' parts (tags of
        them when encrypted). Adding and deleting an entry must give the same."""
        text = with_identifier_parts(text)
        return text if self.cipher is None else self.cipher.keyword_tags(text)

    def _open_source(self, value: str | bytes) -> str:
        return value if self.cipher is None else self.cipher.open_fixed(self._from_column(value), "source")

    def _seal_bytes(self, data: bytes | None, field: str) -> bytes | None:
        return data if self.cipher is None or data is None else self.cipher.seal(data, field)

    def _open_bytes(self, data: bytes | None, field: str) -> bytes | None:
        return data if self.cipher is None or data is None else self.cipher.open(data, field)

    def _entity_key(self, name: str) -> str:
        return name if self.cipher is None else self.cipher.tag(name)
