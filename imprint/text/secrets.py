"""Whether a file is, or holds, a secret: such files are never stored.

Two checks: names that hold credentials by convention (.env, private keys, keystores), and
token formats that providers publish so leaks can be found (the patterns secret scanners share).
A match refuses the whole file, since a secret's surroundings often say what it opens.
"""

import fnmatch
import re
from pathlib import Path

SECRET_NAMES = (
    ".env",
    ".env.*",
    "*.env",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.jks",
    "*.keystore",
    "id_rsa",
    "id_dsa",
    "id_ecdsa",
    "id_ed25519",
    ".netrc",
    ".pgpass",
    ".pypirc",
    ".npmrc",
    "credentials",
    "credentials.json",
    "secrets.json",
    "secrets.yaml",
    "secrets.yml",
)
_ALLOWED_NAMES = (".env.example", ".env.sample", ".env.template", "*.env.example")
SECRET_PATTERNS = {
    "a private key": r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----",
    "an AWS access key": r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
    "a GitHub token": r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{60,})\b",
    "a GitLab token": r"\bglpat-[A-Za-z0-9_-]{20,}\b",
    "a Slack token": r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b",
    "an OpenAI or Anthropic key": r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{32,}\b",
    "a Stripe secret key": r"\b[sr]k_live_[A-Za-z0-9]{20,}\b",
    "a Google API key": r"\bAIza[0-9A-Za-z_-]{35}\b",
    "a Hugging Face token": r"\bhf_[A-Za-z0-9]{34,}\b",
    "a JSON web token": r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\b",
    "an AWS secret access key": r"(?i:aws_?secret_?access_?key)\W{1,4}[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])"
    # alone on a line: 40 characters of base64 with upper and lower case and a
    # digit (a git hash is lower-case hex)
    r"|(?m:^\s*(?=[A-Za-z0-9/+]*[a-z])(?=[A-Za-z0-9/+]*[A-Z])(?=[A-Za-z0-9/+]*[0-9])"
    r"[A-Za-z0-9/+]{40}\s*$)",
    "a password in a database URL": r"\b(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|redis|amqps?)://"
    r"[^\s:/@]+:[^\s@/]+@",
}
_PATTERNS = [(what, re.compile(pattern)) for what, pattern in SECRET_PATTERNS.items()]


def secret_name(path: str | Path) -> bool:
    """Whether a file's name says it holds credentials (.env, a private key, a keystore)."""
    name = Path(path).name.lower()  # "Credentials.json" holds what "credentials.json" does
    return any(fnmatch.fnmatch(name, pattern) for pattern in SECRET_NAMES) and not any(
        fnmatch.fnmatch(name, pattern) for pattern in _ALLOWED_NAMES
    )


def find_secret(text: str) -> str | None:
    """What secret the text seems to hold and on which line ("an AWS access key on line 3"), or None."""
    for what, pattern in _PATTERNS:
        found = pattern.search(text)
        if found:
            return f"{what} on line {text.count(chr(10), 0, found.start()) + 1}"
    return None
