"""Relative dates in conversation turns, written out: "yesterday", said on 8 May 2023, is 7 May 2023.

A turn read months later loses its "yesterday"; the memory keeps the phrase and adds the date it
meant in brackets ("yesterday [7 May 2023]"), so "When did Caroline go to the support group?" can
be answered from the memory alone. Only phrases whose meaning is fixed by the day they were said
are resolved; anything vaguer ("recently", "a while ago") is left as it was.
"""

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta

from dateutil import parser as date_parser
from dateutil.relativedelta import relativedelta

_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_NUMBERS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "a couple of": 2,
    "a few": 3,
}
_COUNT = r"(\d{1,2}|a couple of|a few|an?|one|two|three|four|five|six|seven|eight|nine|ten)"
_ANNOTATION = re.compile(r" \[[^\[\]]*\d{4}\]")


def parse_time(value: str | None) -> date | None:
    """The day a time string names ("1:56 pm on 8 May, 2023", "2023-05-08T13:56"), or None."""
    if not value or not re.search(r"\d{4}", value):  # no year: nothing to anchor a date to
        return None
    try:
        return date_parser.parse(value, fuzzy=True, default=datetime(2000, 1, 1)).date()
    except (ValueError, OverflowError):
        return None


_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_YEAR = r"(?:1[5-9]|20)\d{2}\b"
_NAMED_DAY = re.compile(
    rf"\b\d{{4}}-\d{{2}}-\d{{2}}\b"  # ISO
    rf"|\b(?:\d{{1,2}}(?:st|nd|rd|th)? )?(?:{_MONTHS}),? (?:\d{{1,2}}(?:st|nd|rd|th)?,? )?{_YEAR}"
    rf"|\b(?:in|during|of|by|around) (?:the year )?{_YEAR}",
    re.IGNORECASE,
)  # a bare year


def named_day(text: str) -> date | None:
    """The first day, month or year a text names ("in 2019", "in May 2022", "on 8 May, 2023"), as its
    first day; None if it names none (a bare number is a year only after "in", "during", "of", "by" or
    "around": "Who scored 2000 points?" names no year). Whole sentences defeat dateutil's fuzzy reading."""
    found = _NAMED_DAY.search(text)
    return parse_time(found.group()) if found else None


def stated_day(time: str | None, text: str) -> date | None:
    """The day a memory holds from: its own time, else the first day its text names (an undated note
    "Mira moved to Tallinn in 2021" holds from 2021, not from the day it was added); None: undated."""
    return parse_time(time) or named_day(text)


def day(d: date) -> str:
    return f"{d.day} {d:%B} {d.year}"


def month(d: date) -> str:
    return f"{d:%B} {d.year}"


def _ago(count: str, unit: str, said: date) -> str:
    n = _NUMBERS.get(count.lower()) or int(count)
    if unit == "day":
        return day(said - timedelta(days=n))
    if unit == "week":
        return f"the week of {day(said - timedelta(weeks=n))}"
    if unit == "month":
        return month(said - relativedelta(months=n))
    return str((said - relativedelta(years=n)).year)


def _weekday(which: str, name: str, said: date) -> str:
    target = _WEEKDAYS.index(name.lower())
    if which == "last":
        return day(said - timedelta(days=(said.weekday() - target - 1) % 7 + 1))
    return day(said + timedelta(days=(target - said.weekday() - 1) % 7 + 1))


# (pattern, what it means said on a given day); the longer phrases first
_RULES: list[tuple[re.Pattern, Callable[[re.Match, date], str]]] = [
    (re.compile(rf"\b{pattern}\b", re.IGNORECASE), meaning)
    for pattern, meaning in [
        (r"the day before yesterday", lambda m, d: day(d - timedelta(days=2))),
        (r"the day after tomorrow", lambda m, d: day(d + timedelta(days=2))),
        (r"yesterday|last night", lambda m, d: day(d - timedelta(days=1))),
        (r"today|tonight|this (?:morning|afternoon|evening)", lambda m, d: day(d)),
        (r"tomorrow", lambda m, d: day(d + timedelta(days=1))),
        (rf"{_COUNT} (day|week|month|year)s? ago", lambda m, d: _ago(m[1], m[2].lower(), d)),
        (r"(?:last|this past) (week|weekend)", lambda m, d: f"the {m[1].lower()} before {day(d)}"),
        (r"this (week|weekend)", lambda m, d: f"the {m[1].lower()} of {day(d)}"),
        (r"next (week|weekend)", lambda m, d: f"the {m[1].lower()} after {day(d)}"),
        (rf"(last|next) ({'|'.join(_WEEKDAYS)})", lambda m, d: _weekday(m[1].lower(), m[2], d)),
        (r"last month", lambda m, d: month(d - relativedelta(months=1))),
        (r"this month", lambda m, d: month(d)),
        (r"next month", lambda m, d: month(d + relativedelta(months=1))),
        (r"last year", lambda m, d: str(d.year - 1)),
        (r"this year", lambda m, d: str(d.year)),
        (r"next year", lambda m, d: str(d.year + 1)),
    ]
]


def resolve_relative_dates(text: str, said: date) -> str:
    """`text` with the date each relative phrase meant, in brackets after it."""
    spans: list[tuple[int, int, str]] = []
    for pattern, meaning in _RULES:
        for match in pattern.finditer(text):
            if not any(start < match.end() and match.start() < end for start, end, _ in spans):
                spans.append((match.start(), match.end(), meaning(match, said)))
    for _, end, meant in sorted(spans, reverse=True):
        text = f"{text[:end]} [{meant}]{text[end:]}"
    return text


def strip_resolved_dates(text: str) -> str:
    """The text as it was said, without the bracketed dates `resolve_relative_dates` added."""
    return _ANNOTATION.sub("", text)
