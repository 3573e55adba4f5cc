"""Plain HTTP fields the AAuth flows lean on: ``Retry-After``, ``Prefer: wait``, HTTP-dates and
the freshness of a cached response (``Cache-Control``, ``Expires``).

None of these is a Structured Field (RFC 9651): each has its own small ABNF, and each is parsed
here with a strict, precompiled grammar instead of the SF parser.

* ``Retry-After`` (RFC 9110 §10.2.3) is ``HTTP-date / delay-seconds``. :func:`parse_retry_after`
  returns seconds from ``now``. AAuth -11 §"Polling with GET": an absent header means
  :data:`DEFAULT_POLL_INTERVAL` (5 s) and a ``429`` adds :data:`SLOW_DOWN_INCREMENT` (5 s);
  both are the caller's (the poll loop's) business, the constants live here.
* ``Prefer`` (RFC 7240 §2, with verified erratum 4439) is a comma-separated list of
  preferences, each ``token [ "=" word ] *( ";" parameter )``, where ``word`` is a token or a
  quoted-string. It is *not* an SF Dictionary: values may be quoted-strings with escapes and
  ``=`` may have whitespace around it (RFC 7240's ``BWS``). Only ``wait`` (§4.3,
  ``delta-seconds``) is interpreted. Preference names compare case-insensitively; only the
  first ``wait`` counts (§2); an empty value equals no value (§2).
* HTTP-date (RFC 9110 §5.6.7): all three formats are accepted, as recipients MUST; the
  conversion to Unix seconds is plain arithmetic (the engine does not import ``datetime``).

Errors are :class:`HeaderError` (a :class:`~aauth.errors.RemoteError`), code
``invalid_request``, with ``header`` naming the field. Values the caller builds are checked
and refused with :class:`~aauth.errors.LocalError`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from .errors import LocalError, RemoteError

__all__ = [
    "DEFAULT_POLL_INTERVAL",
    "DELTA_SECONDS_MAX",
    "MAX_HEADER_LENGTH",
    "SLOW_DOWN_INCREMENT",
    "CacheControl",
    "HeaderError",
    "build_prefer_wait",
    "build_retry_after",
    "format_http_date",
    "freshness_lifetime",
    "parse_cache_control",
    "parse_http_date",
    "parse_prefer_wait",
    "parse_retry_after",
]

#: AAuth -11 §"Polling with GET": the polling interval when ``Retry-After`` is absent.
DEFAULT_POLL_INTERVAL: Final = 5
#: AAuth -11 §"Polling with GET": seconds added to the interval on each ``429``.
SLOW_DOWN_INCREMENT: Final = 5
#: RFC 9111 §1.2.2: a delta-seconds value too large to represent is taken as 2^31.
DELTA_SECONDS_MAX: Final = 2**31
#: Longest field value any parser here accepts by default.
MAX_HEADER_LENGTH: Final = 8_192


class HeaderError(RemoteError):
    """A header field a peer sent is malformed.

    ``header`` names the field (for example ``"Retry-After"``). Code ``invalid_request``
    unless a subclass says otherwise.
    """

    default_code = "invalid_request"

    def __init__(
        self, message: str, *, header: str, code: str | None = None, retryable: bool = False
    ) -> None:
        super().__init__(f"{header}: {message}", code=code, retryable=retryable)
        self.header: str = header


def _field_text(text: object, header: str, max_length: int) -> str:
    """The field value with surrounding OWS removed (RFC 9110 §5.5), length-checked."""
    if not isinstance(text, str):
        raise LocalError(f"{header} field value must be a str, not {type(text).__name__}")
    if len(text) > max_length:
        raise HeaderError(f"field value is longer than {max_length} characters", header=header)
    return text.strip(" \t")


# ---------------------------------------------------------------------------------------------
# delta-seconds (RFC 9110 §10.2.3 delay-seconds, RFC 9111 §1.2.2 delta-seconds: 1*DIGIT)

_DIGITS_RE: Final = re.compile(r"[0-9]+")
_MAX_DIGITS: Final = 10  # anything longer is >= 2^31 anyway; avoids int() on huge strings


def _delta_seconds(digits: str) -> int:
    """``1*DIGIT`` (already matched) as an int, capped at 2^31 (RFC 9111 §1.2.2)."""
    if len(digits.lstrip("0")) > _MAX_DIGITS:
        return DELTA_SECONDS_MAX
    return min(int(digits), DELTA_SECONDS_MAX)


# ---------------------------------------------------------------------------------------------
# HTTP-date (RFC 9110 §5.6.7)

_MONTHS: Final = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)
_MONTH_NUMBER: Final[Mapping[str, int]] = {name: i + 1 for i, name in enumerate(_MONTHS)}
_DAY_NAMES: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DAY_NAMES_LONG: Final = (
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
)
_MON: Final = "|".join(_MONTHS)
_TIME: Final = r"([0-9]{2}):([0-9]{2}):([0-9]{2})"
# IMF-fixdate = day-name "," SP date1 SP time-of-day SP GMT   (all names case-sensitive)
_IMF_FIXDATE_RE: Final = re.compile(
    rf"(?:{'|'.join(_DAY_NAMES)}), ([0-9]{{2}}) ({_MON}) ([0-9]{{4}}) {_TIME} GMT"
)
# rfc850-date = day-name-l "," SP date2 SP time-of-day SP GMT; date2 = day "-" month "-" 2DIGIT
_RFC850_RE: Final = re.compile(
    rf"(?:{'|'.join(_DAY_NAMES_LONG)}), ([0-9]{{2}})-({_MON})-([0-9]{{2}}) {_TIME} GMT"
)
# asctime-date = day-name SP date3 SP time-of-day SP year; date3 = month SP ( 2DIGIT / SP DIGIT )
_ASCTIME_RE: Final = re.compile(
    rf"(?:{'|'.join(_DAY_NAMES)}) ({_MON}) ([0-9]{{2}}| [0-9]) {_TIME} ([0-9]{{4}})"
)


_FIFTY_YEARS: Final = 1_577_847_600  # 50 mean Gregorian years (365.2425 days) in seconds


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


_DAYS_IN_MONTH: Final = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _days_in_month(year: int, month: int) -> int:
    if month == 2 and _is_leap(year):
        return 29
    return _DAYS_IN_MONTH[month - 1]


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (no clock, no ``datetime``)."""
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _year_of(timestamp: float) -> int:
    """The Gregorian year that contains Unix time ``timestamp`` (inverse of the above)."""
    z = int(timestamp // 86400) + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (month <= 2)


def _timestamp(year: int, month: int, day: int, time: Sequence[str]) -> int | None:
    hour, minute, second = int(time[0]), int(time[1]), int(time[2])
    # RFC 9110 §5.6.7: hour 00-23, minute 00-59, second 00-60 (leap second)
    if hour > 23 or minute > 59 or second > 60:
        return None
    if year < 1 or not 1 <= day <= _days_in_month(year, month):
        return None
    return _days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second


def parse_http_date(text: str, *, now: float, header: str = "HTTP-date") -> int:
    """Unix seconds of an HTTP-date (RFC 9110 §5.6.7), in any of its three formats.

    ``now`` (the caller's current Unix time) is only used for the obsolete two-digit-year
    RFC 850 form: its century is the current one, unless that puts the date more than 50
    years in the future, in which case it is the previous one (RFC 9110 §5.6.7).
    Day names are not checked against the date (recipients need not, RFC 9110 §5.6.7).

    :raises HeaderError: not an HTTP-date, or an impossible calendar date or time.
    """
    value = _field_text(text, header, MAX_HEADER_LENGTH)
    m = _IMF_FIXDATE_RE.fullmatch(value)
    if m is not None:
        day, month, year = int(m.group(1)), _MONTH_NUMBER[m.group(2)], int(m.group(3))
        result = _timestamp(year, month, day, m.group(4, 5, 6))
    elif (m := _ASCTIME_RE.fullmatch(value)) is not None:
        month, day, year = _MONTH_NUMBER[m.group(1)], int(m.group(2).lstrip()), int(m.group(6))
        result = _timestamp(year, month, day, m.group(3, 4, 5))
    elif (m := _RFC850_RE.fullmatch(value)) is not None:
        day, month, yy = int(m.group(1)), _MONTH_NUMBER[m.group(2)], int(m.group(3))
        current = _year_of(now)
        year = current - current % 100 + yy
        result = _timestamp(year, month, day, m.group(4, 5, 6))
        # RFC 9110 §5.6.7: a date more than 50 years in the future is the most recent past
        # year with the same last two digits
        if result is not None and result - now > _FIFTY_YEARS:
            result = _timestamp(year - 100, month, day, m.group(4, 5, 6))
    else:
        raise HeaderError("not an HTTP-date (RFC 9110 §5.6.7)", header=header)
    if result is None:
        raise HeaderError("HTTP-date names an impossible date or time", header=header)
    return result


def format_http_date(timestamp: int) -> str:
    """The IMF-fixdate form of Unix time ``timestamp`` (RFC 9110 §5.6.7), e.g.
    ``Sun, 06 Nov 1994 08:49:37 GMT``."""
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise LocalError("timestamp must be an int")
    days, secs = divmod(timestamp, 86400)
    year = _year_of(timestamp)
    day_of_year = days - _days_from_civil(year, 1, 1)
    month = 1
    while day_of_year >= _days_in_month(year, month):
        day_of_year -= _days_in_month(year, month)
        month += 1
    if not 1 <= year <= 9999:
        raise LocalError("HTTP-date years have four digits")
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0
    hour, rest = divmod(secs, 3600)
    minute, second = divmod(rest, 60)
    return (
        f"{_DAY_NAMES[weekday]}, {day_of_year + 1:02d} {_MONTHS[month - 1]} {year:04d} "
        f"{hour:02d}:{minute:02d}:{second:02d} GMT"
    )


# ---------------------------------------------------------------------------------------------
# Retry-After (RFC 9110 §10.2.3)


def parse_retry_after(text: str, *, now: float, max_length: int = MAX_HEADER_LENGTH) -> int:
    """Seconds to wait, from a ``Retry-After`` value (RFC 9110 §10.2.3).

    ``delay-seconds`` is returned as is (capped at 2^31); an HTTP-date is turned into the
    whole seconds from ``now`` until it, never negative (a date in the past means "now").
    AAuth -11 §"Deferred Responses" uses seconds; ``0`` means poll again at once.

    :param now: the current Unix time, from the caller's clock.
    :raises HeaderError: neither form (two field lines joined with ``,`` included).
    """
    value = _field_text(text, "Retry-After", max_length)
    if _DIGITS_RE.fullmatch(value) is not None:
        return _delta_seconds(value)
    try:
        date = parse_http_date(value, now=now, header="Retry-After")
    except HeaderError:
        raise HeaderError(
            "neither delay-seconds nor an HTTP-date (RFC 9110 §10.2.3)", header="Retry-After"
        ) from None
    return max(0, math.ceil(date - now))


def build_retry_after(seconds: int) -> str:
    """The ``Retry-After`` value for ``seconds`` (delay-seconds; AAuth -11 uses seconds)."""
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
        raise LocalError("Retry-After seconds must be a non-negative int")
    return str(seconds)


# ---------------------------------------------------------------------------------------------
# Comma-separated lists of token[=word] with ;parameters (RFC 7240 §2, RFC 9111 §5.2)

_TCHARS: Final = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"  # RFC 9110 §5.6.2 token
_QUOTED: Final = r'"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"'  # §5.6.4
_WORD: Final = rf"(?:{_TCHARS}|{_QUOTED})"
# RFC 7240 §2 "empty or zero-length values ... are equivalent to no value": "=" may be
# followed by nothing
_PAIR: Final = rf"({_TCHARS})(?:[ \t]*=[ \t]*({_WORD})?)?"
_ELEMENT_RE: Final = re.compile(
    rf"{_PAIR}(?:[ \t]*;(?:[ \t]*{_TCHARS}(?:[ \t]*=[ \t]*{_WORD}?)?)?)*"
)
_SEPARATOR_RE: Final = re.compile(r"[ \t]*(?:,[ \t]*)+")
_UNESCAPE_RE: Final = re.compile(r"\\(.)", re.DOTALL)


def _word_value(word: str | None) -> str | None:
    """A token as is; a quoted-string unquoted and unescaped (RFC 9110 §5.6.4)."""
    if word is None or not word.startswith('"'):
        return word
    return _UNESCAPE_RE.sub(r"\1", word[1:-1])


def _elements(value: str, header: str) -> list[tuple[str, str | None]]:
    """``(lowercased name, value)`` of each element of a ``1#element`` list, in order.

    Empty list elements are skipped (RFC 9110 §5.6.1.2); element parameters (after ``;``)
    are checked for syntax and otherwise ignored.
    """
    out: list[tuple[str, str | None]] = []
    i = 0
    n = len(value)
    m = _SEPARATOR_RE.match(value, i)  # leading empty elements
    if m is not None:
        i = m.end()
    while i < n:
        m = _ELEMENT_RE.match(value, i)
        if m is None:
            raise HeaderError(f"malformed list element at offset {i}", header=header)
        out.append((m.group(1).lower(), _word_value(m.group(2))))
        i = m.end()
        if i < n:
            sep = _SEPARATOR_RE.match(value, i)
            if sep is None:
                raise HeaderError(f"expected ',' at offset {i}", header=header)
            i = sep.end()
    return out


# ---------------------------------------------------------------------------------------------
# Prefer: wait (RFC 7240 §4.3)


def parse_prefer_wait(text: str, *, max_length: int = MAX_HEADER_LENGTH) -> int | None:
    """The ``wait`` preference of a ``Prefer`` value, in seconds, or ``None`` if absent.

    RFC 7240 §2: preference names are case-insensitive; only the first occurrence of a
    preference counts; an empty value is no value (``None``). §4.3: the value is
    ``delta-seconds``; a quoted value is unquoted first. Values over 2^31 are capped.
    Other preferences are ignored.

    A server MAY ignore ``Prefer`` altogether (RFC 7240 §2), so a caller that gets a
    :class:`HeaderError` may simply proceed without a wait.

    :raises HeaderError: the field is not a list of preferences, or ``wait`` is not a
        number of seconds.
    """
    value = _field_text(text, "Prefer", max_length)
    for name, raw in _elements(value, "Prefer"):
        if name != "wait":
            continue
        if not raw:
            return None  # RFC 7240 §2: an empty value is no value
        if _DIGITS_RE.fullmatch(raw) is None:
            raise HeaderError("wait must be a number of seconds (RFC 7240 §4.3)", header="Prefer")
        return _delta_seconds(raw)
    return None


def build_prefer_wait(seconds: int) -> str:
    """``wait=N`` for a ``Prefer`` field (RFC 7240 §4.3)."""
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
        raise LocalError("Prefer wait seconds must be a non-negative int")
    return f"wait={seconds}"


# ---------------------------------------------------------------------------------------------
# Cache-Control / Expires freshness (RFC 9111 §4.2.1, §5.2)


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheControl:
    """The response directives of a ``Cache-Control`` value that a key cache needs.

    ``max_age`` is ``None`` when absent; ``max_age_invalid`` is set when it was present but
    not ``delta-seconds`` (RFC 9111 §4.2.1: treat as stale).
    """

    max_age: int | None = None
    max_age_invalid: bool = False
    no_store: bool = False
    no_cache: bool = False


def parse_cache_control(text: str, *, max_length: int = MAX_HEADER_LENGTH) -> CacheControl:
    """Parse a response ``Cache-Control`` value (RFC 9111 §5.2).

    Directive names are case-insensitive; the first ``max-age`` wins (RFC 9111 §4.2.1);
    ``max-age="60"`` is read like ``max-age=60``; unknown directives are ignored.

    :raises HeaderError: the value is not a comma-separated list of directives.
    """
    value = _field_text(text, "Cache-Control", max_length)
    max_age: int | None = None
    invalid = False
    no_store = no_cache = False
    for name, raw in _elements(value, "Cache-Control"):
        if name == "max-age":
            if max_age is None and not invalid:
                if raw is not None and _DIGITS_RE.fullmatch(raw) is not None:
                    max_age = _delta_seconds(raw)
                else:
                    invalid = True
        elif name == "no-store":
            no_store = True
        elif name == "no-cache":
            no_cache = True
    return CacheControl(
        max_age=max_age, max_age_invalid=invalid, no_store=no_store, no_cache=no_cache
    )


def _header_value(headers: Iterable[tuple[str, str]], name: str) -> str | None:
    values = [v.strip(" \t") for k, v in headers if k.lower() == name]
    return ", ".join(values) if values else None


def freshness_lifetime(headers: Iterable[tuple[str, str]], *, now: float) -> int | None:
    """How many seconds a response stays fresh by its own headers, or ``None`` if they say
    nothing (RFC 9111 §4.2.1, for a private cache: ``s-maxage`` does not apply).

    * ``Cache-Control`` with ``no-store`` or ``no-cache``: ``0``.
    * ``Cache-Control: max-age``: its value; an invalid one gives ``0`` (stale).
    * otherwise ``Expires`` minus ``Date`` (minus ``now`` without a valid ``Date``), never
      negative; an invalid ``Expires`` gives ``0`` (RFC 9111 §5.3).
    * a ``Cache-Control`` that does not parse gives ``0``: the response is treated as stale.

    Never raises for bad peer input: the caller clamps the result to its own floor and
    ceiling, so a hostile value can neither pin nor flush an entry.
    """
    pairs = tuple(headers)
    cache_control = _header_value(pairs, "cache-control")
    if cache_control is not None:
        try:
            cc = parse_cache_control(cache_control)
        except HeaderError:
            return 0
        if cc.no_store or cc.no_cache or cc.max_age_invalid:
            return 0
        if cc.max_age is not None:
            return cc.max_age
    expires = _header_value(pairs, "expires")
    if expires is None:
        return None
    try:
        expires_at = parse_http_date(expires, now=now, header="Expires")
    except HeaderError:
        return 0  # RFC 9111 §5.3: an invalid Expires (e.g. "0") means already expired
    base = now
    date = _header_value(pairs, "date")
    if date is not None:
        try:
            base = parse_http_date(date, now=now, header="Date")
        except HeaderError:
            base = now
    return max(0, math.ceil(expires_at - base))
