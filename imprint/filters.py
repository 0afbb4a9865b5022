"""Filters on search, ask and list: metadata equality or sets, source, speaker, time range.

The store applies them inside its queries (store/filtering.py), so a filtered search ranks only
memories that pass: a filter can never leak a memory that a later step would have had to drop.
"""

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from .errors import InputError

FILTER_FIELDS = ("source", "speaker", "since", "until")  # filter keys that are not metadata keys
# A filter's cost grows with its keys and values (a query clause each): 3,000 keys ran Postgres out
# of memory and made SQLite's expression tree too large. Real filters name a few.
MAX_FILTER_KEYS = 32
MAX_FILTER_VALUES = 256  # accepted values of one key


def tag_value(value: Any) -> str:
    """How a metadata value is stored for filtering: strings as they are, the rest as JSON
    (True -> "true", 3 -> "3"), so a filter given as a string or a number finds the same. Numbers
    compare by value: 3.0 is stored and matched as 3."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if isinstance(value, str) else json.dumps(value)


@dataclass(frozen=True)
class Filters:
    """What a search, an answer or a list may draw on: memories whose metadata has each key with one
    of the given values, from `source`, said by `speaker`, timed within [since, until]."""

    metadata: dict[str, tuple[str, ...]] = field(default_factory=dict)
    source: str | None = None
    speaker: str | None = None
    since: str | None = None
    until: str | None = None

    @classmethod
    def parse(cls, filters: dict[str, Any] | None) -> "Filters | None":
        """From the dict users give: {"user_id": "u1", "topic": ["a", "b"], "since": "2024-01-01"}.
        None or {} means no filter."""
        if not filters:
            return None
        if not isinstance(filters, dict):
            raise InputError(f"filters must be an object of key: value, not {type(filters).__name__}")
        if len(filters) > MAX_FILTER_KEYS:
            raise InputError(f"a filter takes at most {MAX_FILTER_KEYS} keys, not {len(filters)}")
        metadata, fields = {}, {}
        for key, value in filters.items():
            if not isinstance(key, str) or not key:
                raise InputError(f"filter keys must be non-empty strings, not {key!r}")
            if key in FILTER_FIELDS:
                if not isinstance(value, str) or not value:
                    raise InputError(f"filter {key!r} must be a non-empty string, not {value!r}")
                if key in ("since", "until"):
                    try:
                        (datetime if "T" in value else date).fromisoformat(value)
                    except ValueError:
                        raise InputError(f"filter {key!r} must be an ISO date or time, not {value!r}") from None
                fields[key] = value
                continue
            values = value if isinstance(value, list) else [value]
            if len(values) > MAX_FILTER_VALUES:
                raise InputError(f"filter {key!r} takes at most {MAX_FILTER_VALUES} values, not {len(values)}")
            if not values or any(v is None or isinstance(v, (dict, list)) for v in values):
                raise InputError(
                    f"filter {key!r} takes a value or a non-empty list of values "
                    f"(strings, numbers, true/false), not {value!r}"
                )
            metadata[key] = tuple(tag_value(v) for v in values)
        return cls(metadata=metadata, **fields)
