"""API keys and tenancy: each key names the spaces it may touch.

The keys file is JSON, kept outside the data folder:

    {"keys": {"k-alice-3f9a": ["alice"], "k-team-77c1": ["team-*"], "k-admin-0b12": ["*"]}}

Patterns are shell-style (fnmatch). A space a key may not touch looks exactly like a space that does
not exist (404), so a tenant learns nothing about another tenant's spaces.
"""

import fnmatch
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError

OPEN = "open"  # the caller when no keys file is configured (loopback only)
MIN_KEY_CHARS = 16  # shorter keys are guessable; an empty one would match an empty header


@dataclass(frozen=True)
class Keys:
    grants: dict[str, tuple[str, ...]]
    required: bool = True

    @classmethod
    def open(cls) -> "Keys":
        """No keys: every caller may touch every space. `imprint serve` allows this on loopback only."""
        return cls({OPEN: ("*",)}, required=False)

    @classmethod
    def load(cls, path: Path) -> "Keys":
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
            grants = {str(key): tuple(str(p) for p in patterns) for key, patterns in raw["keys"].items()}
        except (OSError, ValueError, KeyError, AttributeError, TypeError) as error:
            raise InputError(
                f'keys file {path} is not readable JSON of the form {{"keys": {{"KEY": ["space", ...]}}}}: {error}'
            ) from error
        if not grants:
            raise InputError(f"keys file {path} holds no keys")
        short = [n for n, key in enumerate(grants, 1) if len(key.strip()) < MIN_KEY_CHARS or key != key.strip()]
        if short:
            raise InputError(
                f"keys file {path}: key number {short[0]} is shorter than {MIN_KEY_CHARS} characters "
                "or has spaces around it; use long random keys (python -c 'import secrets; "
                "print(secrets.token_urlsafe(24))')"
            )
        return cls(grants)

    def caller(self, authorization: str | None, api_key_header: str | None = None) -> str | None:
        """The key a request carries (`Authorization: Bearer K` or `X-API-Key: K`) if it is known."""
        if not self.required:
            return OPEN
        key = api_key_header
        if authorization and authorization.lower().startswith("bearer "):
            key = authorization[7:].strip()
        return key if key and key in self.grants else None

    def caller_of(self, headers: Mapping[str, str]) -> str | None:
        """The known key a request's headers carry (REST, the OpenAI routes and MCP all ask here)."""
        return self.caller(headers.get("authorization"), headers.get("x-api-key"))

    def allows_all(self, key: str) -> bool:
        """Whether the key may touch every space (its patterns include "*")."""
        return "*" in self.grants.get(key, ())

    def allows(self, key: str, space: str) -> bool:
        return any(fnmatch.fnmatchcase(space, p) for p in self.grants.get(key, ()))
