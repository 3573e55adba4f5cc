"""HTTP fields the AAuth flows use: Retry-After (RFC 9110 §10.2.3), Prefer: wait (RFC 7240),
HTTP-date (RFC 9110 §5.6.7), Cache-Control/Expires freshness (RFC 9111)."""

from __future__ import annotations

import calendar
import email.utils
import math
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aauth.errors import LocalError
from aauth.headers_http import (
    DEFAULT_POLL_INTERVAL,
    DELTA_SECONDS_MAX,
    SLOW_DOWN_INCREMENT,
    CacheControl,
    HeaderError,
    build_prefer_wait,
    build_retry_after,
    format_http_date,
    freshness_lifetime,
    parse_cache_control,
    parse_http_date,
    parse_prefer_wait,
    parse_retry_after,
)

NOW = 1730217600  # 2024-10-29T16:00:00Z, the digest's `created`
RFC_DATE = 784111777  # Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110 §5.6.7 example)


def test_polling_constants() -> None:
    # AAuth -11 §"Polling with GET": 5 s without Retry-After, +5 s on each 429
    assert DEFAULT_POLL_INTERVAL == 5
    assert SLOW_DOWN_INCREMENT == 5


# ---------------------------------------------------------------------------------------------
# HTTP-date


@pytest.mark.parametrize(
    "text",
    [
        "Sun, 06 Nov 1994 08:49:37 GMT",  # IMF-fixdate
        "Sunday, 06-Nov-94 08:49:37 GMT",  # obsolete RFC 850 format
        "Sun Nov  6 08:49:37 1994",  # ANSI C's asctime() format
        "  Sun, 06 Nov 1994 08:49:37 GMT ",
    ],
)
def test_the_three_rfc9110_formats(text: str) -> None:
    assert parse_http_date(text, now=NOW) == RFC_DATE


@pytest.mark.parametrize(
    ("text", "now", "expected_year"),
    [
        ("Sunday, 06-Nov-94 08:49:37 GMT", NOW, 1994),
        # 2094 would be 54 years after 2040: more than 50 years in the future -> 1994
        ("Saturday, 06-Nov-94 08:49:37 GMT", 2_215_000_000, 1994),
        # from 2050, 2094 is only 44 years ahead -> 2094
        ("Friday, 06-Nov-94 08:49:37 GMT", 2_530_000_000, 2094),
        ("Monday, 01-Jan-24 00:00:00 GMT", NOW, 2024),
        ("Wednesday, 01-Jan-70 00:00:00 GMT", NOW, 2070),
        # from 2024-10-29: 2074-01-01 is 49.2 years ahead, 2075-01-01 is 50.2 years ahead
        ("Tuesday, 01-Jan-74 00:00:00 GMT", NOW, 2074),
        ("Wednesday, 01-Jan-75 00:00:00 GMT", NOW, 1975),
        ("Wednesday, 01-Jan-80 00:00:00 GMT", NOW, 1980),
    ],
)
def test_rfc850_two_digit_year(text: str, now: int, expected_year: int) -> None:
    seconds = parse_http_date(text, now=now)
    assert email.utils.formatdate(seconds, usegmt=True).split()[3] == str(expected_year)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "Sun, 6 Nov 1994 08:49:37 GMT",  # day is 2DIGIT
        "sun, 06 Nov 1994 08:49:37 GMT",  # names are case-sensitive
        "Sun, 06 nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 gmt",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 1994 08:49:37 +0000",
        "Sun, 06 Nov 94 08:49:37 GMT",
        "Sun,  06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 8:49:37 GMT",
        "Sun, 31 Nov 1994 08:49:37 GMT",  # November has 30 days
        "Tue, 29 Feb 2100 00:00:00 GMT",  # 2100 is not a leap year
        "Sun, 00 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 23:60:00 GMT",
        "Sun, 06 Nov 1994 23:59:61 GMT",
        "Sun, 06 Nov 0000 00:00:00 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994 08:49:37 GMT",
        "Sun, \u0660\u0666 Nov 1994 08:49:37 GMT",  # Arabic-Indic digits are not DIGIT
        "Sun, 06-Nov-94 08:49:37 GMT",  # RFC 850 needs the long day name
        "Sun Nov 6 08:49:37 1994",  # asctime day is 2DIGIT or SP DIGIT
    ],
)
def test_not_http_dates(text: str) -> None:
    with pytest.raises(HeaderError) as info:
        parse_http_date(text, now=NOW)
    assert info.value.code == "invalid_request"


def test_leap_day_and_leap_second() -> None:
    assert parse_http_date("Thu, 29 Feb 2024 00:00:00 GMT", now=NOW) == calendar.timegm(
        (2024, 2, 29, 0, 0, 0)
    )
    assert parse_http_date("Sat, 29 Feb 2000 00:00:00 GMT", now=NOW) == 951782400
    # second 60 is a leap second (RFC 9110 §5.6.7); it is read as the next second
    assert parse_http_date("Sat, 31 Dec 2016 23:59:60 GMT", now=NOW) == 1483228800


@given(st.integers(0, 253402300799))
def test_http_date_round_trip_and_agrees_with_email_utils(timestamp: int) -> None:
    text = format_http_date(timestamp)
    assert text == email.utils.formatdate(timestamp, usegmt=True)
    assert parse_http_date(text, now=NOW) == timestamp
    # the asctime form of the same instant
    fields = text.replace(",", "").split()
    asctime = f"{fields[0]} {fields[2]} {int(fields[1]):>2} {fields[4]} {fields[3]}"
    assert parse_http_date(asctime, now=NOW) == timestamp


def test_format_http_date_refusals() -> None:
    for bad in (1.5, True, "0"):
        with pytest.raises(LocalError):
            format_http_date(bad)  # type: ignore[arg-type]
    with pytest.raises(LocalError):
        format_http_date(253402300800)  # year 10000
    with pytest.raises(LocalError):
        format_http_date(-62135596801)  # year 0


# ---------------------------------------------------------------------------------------------
# Retry-After


@pytest.mark.parametrize(
    ("text", "now", "expected"),
    [
        ("0", NOW, 0),  # AAuth -11: 0 means poll again at once
        ("5", NOW, 5),
        ("30", NOW, 30),
        (" 120 ", NOW, 120),
        ("007", NOW, 7),
        ("99999999999999999999999", NOW, DELTA_SECONDS_MAX),
        ("0" * 50 + "3", NOW, 3),
        ("Sun, 06 Nov 1994 08:49:37 GMT", RFC_DATE - 90, 90),
        ("Sun, 06 Nov 1994 08:49:37 GMT", RFC_DATE - 0.5, 1),  # whole seconds, rounded up
        ("Sun, 06 Nov 1994 08:49:37 GMT", RFC_DATE + 3600, 0),  # in the past: at once
        ("Sunday, 06-Nov-94 08:49:37 GMT", RFC_DATE - 10, 10),
        ("Sun Nov  6 08:49:37 1994", RFC_DATE - 10, 10),
    ],
)
def test_retry_after(text: str, now: float, expected: int) -> None:
    assert parse_retry_after(text, now=now) == expected


@pytest.mark.parametrize(
    "text", ["", "-1", "1.5", "5s", "5, 10", "+5", "Sun, 06 Nov 1994", "soon", "\u0665"]
)
def test_retry_after_rejections(text: str) -> None:
    with pytest.raises(HeaderError) as info:
        parse_retry_after(text, now=NOW)
    assert info.value.code == "invalid_request"
    assert info.value.header == "Retry-After"


def test_retry_after_build_and_limits() -> None:
    assert build_retry_after(0) == "0"
    assert parse_retry_after(build_retry_after(30), now=NOW) == 30
    for bad in (-1, 1.5, True, "5"):
        with pytest.raises(LocalError):
            build_retry_after(bad)  # type: ignore[arg-type]
    with pytest.raises(HeaderError):
        parse_retry_after("1" * 9000, now=NOW)
    with pytest.raises(LocalError):
        parse_retry_after(5, now=NOW)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Prefer: wait


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("wait=45", 45),  # AAuth -11 §"Initial Request" example
        ("wait=0", 0),
        ("respond-async, wait=100", 100),  # RFC 7240 §4.3 example
        ("WAIT=10", 10),  # preference names are case-insensitive
        ('wait="15"', 15),  # a word may be a quoted-string
        ("wait = 7", 7),  # RFC 7240 BWS around "="
        ("wait=5;foo=bar;baz", 5),  # parameters are ignored
        ("wait=5, wait=10", 5),  # RFC 7240 §2: only the first instance counts
        ('return=minimal; foo="some;parameter,with\\"odd chars", wait=9', 9),
        (", , wait=3 ,", 3),  # empty list elements are skipped
        ("handling=lenient", None),
        ("", None),
        ("wait", None),  # an empty value is no value
        ("wait=", None),
        ('wait=""', None),
        ("wait=, wait=5", None),  # the first (empty) instance still wins
        ("waiting=5", None),
        ("wait=99999999999999999999", DELTA_SECONDS_MAX),
    ],
)
def test_prefer_wait(text: str, expected: int | None) -> None:
    assert parse_prefer_wait(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "wait=-1",
        "wait=1.5",
        "wait=abc",
        'wait="abc"',
        "wait=5 6",
        "wait=5 foo",
        "=5",
        ";wait=5",
        'wait="unterminated',
        "wait=5\x00",
        "wait=\u0661",
        "w\u00e4it=5",
        "wait=(5)",
        "wait==5",
    ],
)
def test_prefer_rejections(text: str) -> None:
    with pytest.raises(HeaderError) as info:
        parse_prefer_wait(text)
    assert info.value.code == "invalid_request"
    assert info.value.header == "Prefer"


def test_prefer_build() -> None:
    assert build_prefer_wait(45) == "wait=45"
    for bad in (-1, 2.0, False, "45"):
        with pytest.raises(LocalError):
            build_prefer_wait(bad)  # type: ignore[arg-type]


@given(st.integers(0, 10**12))
def test_prefer_and_retry_after_round_trip(seconds: int) -> None:
    assert parse_prefer_wait(build_prefer_wait(seconds)) == min(seconds, DELTA_SECONDS_MAX)
    assert parse_retry_after(build_retry_after(seconds), now=NOW) == min(seconds, DELTA_SECONDS_MAX)


# ---------------------------------------------------------------------------------------------
# Cache-Control and freshness


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("max-age=300", CacheControl(max_age=300)),
        ("public, MAX-AGE=600", CacheControl(max_age=600)),
        ('max-age="60"', CacheControl(max_age=60)),
        ("max-age=60, max-age=5", CacheControl(max_age=60)),  # the first wins
        ("max-age=abc", CacheControl(max_age_invalid=True)),
        ("max-age", CacheControl(max_age_invalid=True)),
        ("max-age=-1, max-age=5", CacheControl(max_age_invalid=True)),
        ("no-store", CacheControl(no_store=True)),
        ("no-cache, max-age=5", CacheControl(max_age=5, no_cache=True)),
        ('no-cache="set-cookie"', CacheControl(no_cache=True)),
        ("private, s-maxage=99, immutable", CacheControl()),
        ("", CacheControl()),
    ],
)
def test_parse_cache_control(text: str, expected: CacheControl) -> None:
    assert parse_cache_control(text) == expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([], None),
        ([("Content-Type", "application/json")], None),
        ([("Cache-Control", "max-age=3600")], 3600),
        ([("cache-control", "public"), ("Cache-Control", "max-age=120")], 120),
        ([("Cache-Control", "no-store, max-age=3600")], 0),
        ([("Cache-Control", "no-cache")], 0),
        ([("Cache-Control", "max-age=soon")], 0),  # invalid -> stale
        ([("Cache-Control", "max-age=5 6")], 0),  # unparsable -> stale
        ([("Cache-Control", "public")], None),
        # Cache-Control max-age beats Expires
        ([("Cache-Control", "max-age=10"), ("Expires", "Sun, 06 Nov 1994 08:49:37 GMT")], 10),
        ([("Expires", format_http_date(NOW + 900))], 900),
        ([("Expires", format_http_date(NOW - 900))], 0),
        ([("Expires", "0")], 0),  # RFC 9111 §5.3: invalid Expires = already expired
        (
            [("Expires", format_http_date(NOW + 900)), ("Date", format_http_date(NOW - 100))],
            1000,
        ),
        ([("Expires", format_http_date(NOW + 900)), ("Date", "garbage")], 900),
        ([("Cache-Control", "public"), ("Expires", format_http_date(NOW + 60))], 60),
    ],
)
def test_freshness_lifetime(headers: list[tuple[str, str]], expected: int | None) -> None:
    assert freshness_lifetime(headers, now=NOW) == expected


def test_cache_control_errors() -> None:
    with pytest.raises(HeaderError):
        parse_cache_control("max-age=5=6")  # not a list of directives
    with pytest.raises(HeaderError):
        parse_cache_control("max-age=5 no-store")


# ---------------------------------------------------------------------------------------------
# Arbitrary input: a value or our error, nothing else

_ANY = (
    st.text(max_size=80)
    | st.text(st.sampled_from('wait=0123456789 ,;"\\\tmax-age-no-store'), max_size=80)
    | st.text(st.sampled_from("SunMonNov, 0123456789:GMT-"), max_size=40)
)
_NOWS = st.integers(0, 4_000_000_000) | st.floats(0, 4e9)


@given(_ANY, _NOWS)
def test_parsers_return_a_value_or_our_error(text: str, now: float) -> None:
    def run(parse: Callable[[], object]) -> object:
        try:
            return parse()
        except HeaderError as exc:
            assert exc.code == "invalid_request"
            return None

    date = run(lambda: parse_http_date(text, now=now))
    assert date is None or isinstance(date, int)
    retry = run(lambda: parse_retry_after(text, now=now))
    assert retry is None or (isinstance(retry, int) and 0 <= retry <= DELTA_SECONDS_MAX)
    if isinstance(date, int) and text.strip(" \t").isdigit() is False:
        assert retry == max(0, math.ceil(date - now))
    wait = run(lambda: parse_prefer_wait(text))
    assert wait is None or (isinstance(wait, int) and 0 <= wait <= DELTA_SECONDS_MAX)
    cc = run(lambda: parse_cache_control(text))
    assert cc is None or isinstance(cc, CacheControl)


@given(
    st.lists(
        st.tuples(st.sampled_from(["Cache-Control", "Expires", "Date", "X"]), _ANY), max_size=4
    ),
    _NOWS,
)
def test_freshness_never_raises(headers: list[tuple[str, str]], now: float) -> None:
    lifetime = freshness_lifetime(headers, now=now)
    assert lifetime is None or lifetime >= 0
