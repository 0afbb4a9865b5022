"""The errors imprint raises. The CLI, REST and MCP translate them once each, at their edge.

ImprintError
 +-- InputError          bad input from the caller; nothing stored was touched
 |    +-- ParseError     a file could not be read as its type (names the file)
 +-- NotFoundError       a memory, source or space that does not exist
 +-- ModelError          a model could not be found, loaded or run
 +-- EncryptionError     a missing or wrong key, or a ciphertext that does not authenticate
 +-- MissingExtraError   a feature whose optional packages are not installed (names the extra)
"""


class ImprintError(Exception):
    """Base class of every error imprint raises on purpose."""


class InputError(ImprintError):
    """The caller gave something imprint cannot use (empty text, unknown strategy, too large)."""


class ParseError(InputError):
    """A file could not be parsed; the message names the file and why."""

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class NotFoundError(ImprintError):
    """The requested memory, source or space does not exist."""


class ModelError(ImprintError):
    """A language or embedding model could not be loaded or run."""


class EncryptionError(ImprintError):
    """An encrypted space without its key, a wrong key, or a store file that was tampered with."""


class MissingExtraError(ImprintError):
    """A feature needs an optional part of imprint that is not installed: `pip install 'imprint[extra]'`."""


def check_prompt_fits(prompt_tokens: int, answer_tokens: int, window: int) -> None:
    """A prompt the model cannot read is the caller's input to shorten, not a model failure."""
    if prompt_tokens + answer_tokens > window:
        raise InputError(
            f"the prompt is {prompt_tokens:,} tokens; with {answer_tokens} left for the answer the "
            f"model reads at most {window:,}: shorten it"
        )
