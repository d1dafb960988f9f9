"""The data contract (shared/design/CONTRACT.md) as code: decode and validate records.

The JSON Schema files next to this module (``*.schema.json``, draft-07) are the single source of
truth for the record shapes. They are compiled once, at import, to Python code by fastjsonschema;
this module adds what JSON Schema cannot say (RFC 3339 times with an offset, real calendar dates,
sane years) as fastjsonschema custom formats, and turns every failure into a :class:`RecordError`
with a short ``code`` (a bounded set, usable as a metric label) and a ``reason`` a person can read.

Hot path: ``decode(feed, raw)`` is orjson, a count of keys written against keys read (a key
given twice is rejected), the contract's id fields normalised (:func:`normalise_id`), and one
compiled validator call; the decoded
dict is returned with its ids normalised and otherwise as it is (extra fields kept, nothing
filled in).
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import math
import re
import unicodedata
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any, NamedTuple

import fastjsonschema
import orjson
from fastjsonschema import JsonSchemaValueException

__all__ = [
    "FEEDS",
    "FEED_RECORD_TYPES",
    "REASON_CODES",
    "RECORD_TYPES",
    "SCHEMAS",
    "RecordError",
    "decode",
    "event_ts",
    "normalise_id",
    "parse_date",
    "parse_time",
    "validate",
]

FEEDS = ("bids", "attendance", "prescriptions", "payments", "registry", "alert-dispositions",
         "alerts")  # alerts: Sunlight's own output, read back by second-line detectors

RECORD_TYPES = (
    "bid",
    "attendance",
    "prescription",
    "payment",
    "registry-person",
    "registry-company",
    "alert",
    "disposition",
    "dead-letter",
)

#: The record type(s) each input feed carries ("registry" dispatches on ``record_type``).
FEED_RECORD_TYPES: dict[str, tuple[str, ...]] = {
    "bids": ("bid",),
    "attendance": ("attendance",),
    "prescriptions": ("prescription",),
    "payments": ("payment",),
    "registry": ("registry-person", "registry-company"),
    "alert-dispositions": ("disposition",),
    "alerts": ("alert",),
}

#: Every value RecordError.code can take.
REASON_CODES = frozenset({
    "not_json",
    "not_object",
    "missing_field",
    "wrong_type",
    "bad_value",
    "bad_time",
    "oversized",
    "unknown_record_type",
    "empty",
    "duplicate_key",
    "key_mismatch",
    "future_time",
})

TIME_YEARS = (1970, 2100)  # event times outside these years are absurd
DATE_YEARS = (1900, 2100)  # dates (office start, death) can lie well before 1970


class RecordError(ValueError):
    """A record that cannot be read or breaks the contract.

    ``code`` is one of :data:`REASON_CODES`; ``reason`` is a sentence naming the field;
    ``field`` is the field path (e.g. ``key_personnel[0].required_onsite_ratio``) or None.
    ``str(err) == err.reason``.
    """

    def __init__(self, code: str, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.field = field

    def __reduce__(self):  # picklable despite the custom __init__
        return (type(self), (self.code, self.reason, self.field))

    def __repr__(self) -> str:
        return f"RecordError({self.code!r}, {self.reason!r})"


# --------------------------------------------------------------------------- times and dates

# RFC 3339 date-time (section 5.6): T, t or space between date and time, Z/z or +hh:mm offset.
_TIME_RE = re.compile(
    r"([0-9]{4})-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
    r"(?:[Zz]|[+-][0-9]{2}:[0-9]{2})\Z"
)
_DATE_RE = re.compile(r"([0-9]{4})-[0-9]{2}-[0-9]{2}\Z")
_fromisoformat = datetime.fromisoformat
_YEAR_LO, _YEAR_HI = (f"{y:04d}" for y in TIME_YEARS)


def _parse_time_lenient(s: str) -> datetime:
    """fromisoformat for the RFC 3339 spellings Python 3.11 does not take (t/z, leap second)."""
    t = s.upper()
    if t[17:19] == "60":  # leap second: RFC 3339 allows :60; Python does not
        t = t[:17] + "59" + t[19:]
    return _fromisoformat(t)


def _time_problem(s: str) -> str | None:
    """None if ``s`` is a valid contract time, else what is wrong (completes 'field X ...')."""
    m = _TIME_RE.match(s)
    if m is None:
        return f"is not an RFC 3339 time with an offset: {_show(s)}"
    try:
        _parse_time_lenient(s)
    except ValueError as e:
        return f"is not a valid time ({e}): {_show(s)}"
    year = int(m.group(1))
    if not TIME_YEARS[0] <= year <= TIME_YEARS[1]:
        return f"has year {year}, outside {TIME_YEARS[0]}..{TIME_YEARS[1]}: {_show(s)}"
    return None


def _date_problem(s: str) -> str | None:
    m = _DATE_RE.match(s)
    if m is None:
        return f"is not a date YYYY-MM-DD: {_show(s)}"
    try:
        date.fromisoformat(s)
    except ValueError as e:
        return f"is not a valid date ({e}): {_show(s)}"
    year = int(m.group(1))
    if not DATE_YEARS[0] <= year <= DATE_YEARS[1]:
        return f"has year {year}, outside {DATE_YEARS[0]}..{DATE_YEARS[1]}: {_show(s)}"
    return None


#: The last time string :func:`_is_time` parsed, and its parse: decode checks a record's
#: event_time, then event_ts parses that very string object again (held here, so no other
#: string can take its identity).
_last_time: tuple[str, datetime] = ("", datetime.min)


def _is_time(s: str) -> bool:
    """fastjsonschema custom format "date-time" (hot path: one regex, one C parse)."""
    global _last_time
    # The regex guarantees 4 ASCII digits first, so comparing the strings compares the years.
    if _TIME_RE.match(s) is None or not _YEAR_LO <= s[:4] <= _YEAR_HI:
        return False
    try:
        parsed = _fromisoformat(s)
    except ValueError:
        return _time_problem(s) is None
    _last_time = (s, parsed)
    return True


def _is_date(s: str) -> bool:
    """fastjsonschema custom format "date"."""
    return _date_problem(s) is None


def parse_time(s: str, *, field: str | None = None) -> datetime:
    """Parse a contract time (RFC 3339 with an offset, year 1970..2100) to an aware datetime.

    Raises RecordError(code="bad_time") for anything else, naive times included; ``field``
    only names the field in the reason.
    """
    last = _last_time
    if last[0] is s:  # just checked by _is_time: the same test and parse as below
        return last[1]
    if isinstance(s, str) and _TIME_RE.match(s) is not None and _YEAR_LO <= s[:4] <= _YEAR_HI:
        try:
            return _fromisoformat(s)
        except ValueError:
            pass
    what = f"field '{field}'" if field else "time"
    if not isinstance(s, str):
        raise RecordError("bad_time", f"{what} must be a string, got {_json_type(s)}", field)
    problem = _time_problem(s)
    if problem is None:  # an RFC 3339 spelling Python only parses after normalising (t, z, :60)
        return _parse_time_lenient(s)
    raise RecordError("bad_time", f"{what} {problem}", field)


def parse_date(s: str, *, field: str | None = None) -> date:
    """Parse a contract date (YYYY-MM-DD, a real calendar date, year 1900..2100)."""
    what = f"field '{field}'" if field else "date"
    if not isinstance(s, str):
        raise RecordError("bad_time", f"{what} must be a string, got {_json_type(s)}", field)
    problem = _date_problem(s)
    if problem is not None:
        raise RecordError("bad_time", f"{what} {problem}", field)
    return date.fromisoformat(s)


def event_ts(record: dict) -> float:
    """The record's event time as epoch seconds (UTC).

    Uses ``event_time``; records that have none use the time that plays its part:
    ``decided_at`` (alert dispositions), ``time`` (alerts). Registry records have no time
    (RecordError missing_field).
    """
    for field in ("event_time", "decided_at", "time"):
        s = record.get(field)
        if s is not None:
            return parse_time(s, field=field).timestamp()
    raise RecordError("missing_field", "field 'event_time' is required", "event_time")


# --------------------------------------------------------------------------- schemas

#: The schema files, beside the package (not ``__file__``: the module may be compiled, elsewhere).
_HERE = Path(importlib.resources.files("schemas"))  # type: ignore[arg-type]
_FORMATS = {"date-time": _is_time, "date": _is_date}


def _load(record_type: str) -> dict:
    return orjson.loads((_HERE / f"{record_type}.schema.json").read_bytes())


#: The JSON Schema of each record type, as loaded from ``schemas/<type>.schema.json``.
SCHEMAS: dict[str, dict] = {rt: _load(rt) for rt in RECORD_TYPES}


class _Required(NamedTuple):
    names: frozenset[str]
    order: tuple[str, ...]
    when: str | None  # the condition, for the reason ("stage is bid or award")


class _Conditional(NamedTuple):
    field: str
    values: frozenset[str]
    then: _Required | None
    otherwise: _Required | None


def _split_conditional(schema: dict) -> tuple[dict, _Conditional | None]:
    """Take the schema's top-level if/then/else out when it has the one shape the contract
    uses: ``if`` a string field (required) is one of some values, ``then``/``else`` more
    required fields. Checked here in a few C-level operations instead of by the generated code,
    which evaluates ``if`` by raising and catching an exception (2 to 10 us a record). Any
    other shape is left in the schema, for the generated code."""
    cond_if = schema.get("if")
    if not isinstance(cond_if, dict) or set(cond_if) != {"properties", "required"}:
        return schema, None
    props = cond_if["properties"]
    if not isinstance(props, dict) or len(props) != 1:
        return schema, None
    ((field, test),) = props.items()
    if cond_if["required"] != [field] or not isinstance(test, dict):
        return schema, None
    if set(test) == {"enum"}:
        values = test["enum"]
    elif set(test) == {"const"}:
        values = [test["const"]]
    else:
        return schema, None
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        return schema, None
    branches: list[_Required | None] = []
    for key in ("then", "else"):
        branch = schema.get(key)
        if branch is None:
            branches.append(None)
            continue
        if not isinstance(branch, dict) or not set(branch) <= {
            "required", "x-required-when", "description", "$comment"
        }:
            return schema, None
        names = tuple(branch.get("required", ()))
        branches.append(_Required(frozenset(names), names, branch.get("x-required-when")))
    rest = {k: v for k, v in schema.items() if k not in ("if", "then", "else")}
    return rest, _Conditional(field, frozenset(values), branches[0], branches[1])


def _compile(schema: dict) -> tuple[_Required, Callable[..., Any], _Conditional | None]:
    """Compile a schema once: (top-level required, func(obj, formats), conditional or None).

    The top-level ``required`` is checked with one C-level ``keys() >= set`` (the generated code
    rebuilds a set on every call, a fifth of its time) and a simple conditional requirement
    by :func:`_split_conditional`; everything else is the code fastjsonschema generates.
    use_default=False: the record is returned unchanged.
    """
    rest, conditional = _split_conditional(schema)
    names = tuple(rest.get("required", ()))
    rest = {k: v for k, v in rest.items() if k != "required"}
    compiled = fastjsonschema.compile(rest, formats=_FORMATS, use_default=False)
    if (
        isinstance(compiled, functools.partial)
        and not compiled.args
        and compiled.keywords.keys() == {"custom_formats"}
    ):
        func = compiled.func  # call it with the formats positionally: no partial/kwargs cost
    else:  # pragma: no cover - other fastjsonschema versions

        def func(obj: Any, formats: Any, _compiled: Callable[[Any], Any] = compiled) -> Any:
            return _compiled(obj)

    return _Required(frozenset(names), names, None), func, conditional


_COMPILED = {rt: _compile(s) for rt, s in SCHEMAS.items()}


def _missing(required: _Required, obj: dict) -> RecordError:
    names = [k for k in required.order if k not in obj]
    suffix = f" when {required.when}" if required.when else ""
    if len(names) == 1:
        return RecordError("missing_field", f"field '{names[0]}' is required{suffix}", names[0])
    listed = ", ".join(f"'{n}'" for n in names)
    return RecordError("missing_field", f"fields {listed} are required{suffix}", names[0])


def _check_conditional(cond: _Conditional, obj: dict) -> None:
    v = obj.get(cond.field)
    required = cond.then if type(v) is str and v in cond.values else cond.otherwise
    if required is not None and not obj.keys() >= required.names:
        raise _missing(required, obj)


def _check(record_type: str, obj: dict) -> None:
    required, func, conditional = _COMPILED[record_type]
    if not obj.keys() >= required.names:
        raise _missing(required, obj)
    func(obj, _FORMATS)
    if conditional is not None:
        _check_conditional(conditional, obj)


def _check_registry(obj: dict, formats: Any = None) -> None:
    rt = obj.get("record_type")
    if rt == "person":
        _check("registry-person", obj)
    elif rt == "company":
        _check("registry-company", obj)
    elif "record_type" not in obj:
        raise RecordError(
            "missing_field",
            'field \'record_type\' is required ("person" or "company")',
            "record_type",
        )
    else:
        raise RecordError(
            "unknown_record_type",
            f'field \'record_type\' must be "person" or "company", got {_show(rt)}',
            "record_type",
        )


_NOTHING_REQUIRED = _Required(frozenset(), (), None)
_FEED_CHECKS = {
    "bids": _COMPILED["bid"],
    "attendance": _COMPILED["attendance"],
    "prescriptions": _COMPILED["prescription"],
    "payments": _COMPILED["payment"],
    "registry": (_NOTHING_REQUIRED, _check_registry, None),
    "alert-dispositions": _COMPILED["disposition"],
    "alerts": _COMPILED["alert"],
}
if tuple(_FEED_CHECKS) != FEEDS:  # pragma: no cover
    raise RuntimeError("_FEED_CHECKS out of step with FEEDS")


# --------------------------------------------------------------------------- decode / validate


def decode(feed: str, raw: bytes | None, max_bytes: int = 1_048_576) -> dict:
    """Parse and validate one input record of a feed (one of :data:`FEEDS`).

    Returns the parsed dict (unknown extra fields kept), its ids normalised: every field of the
    contract named ``*_id``, ``*_ids`` or ``relatives`` (top level, or in an array's objects),
    by :func:`normalise_id`, so the stream and the pre-check see one spelling. Raises
    RecordError for anything that is not a valid record, an object giving a key twice included
    (``duplicate_key``). A null value on ``registry`` is
    a deletion (tombstone), not a record: handle it by key before calling this (``empty``).
    An unknown ``feed`` is a programming error: ValueError, not RecordError.
    """
    try:
        required, func, conditional = _FEED_CHECKS[feed]
    except KeyError:
        raise ValueError(f"unknown feed {feed!r}; feeds are {', '.join(FEEDS)}") from None
    if not raw:
        raise RecordError("empty", "record is empty (null or zero bytes)")
    size = len(raw)
    if size > max_bytes:
        raise RecordError(
            "oversized", f"record is {size} bytes, over the limit of {max_bytes} bytes"
        )
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise _not_json(e) from None
    if type(obj) is not dict:
        raise RecordError("not_object", f"record must be a JSON object, got {_json_type(obj)}")
    written = _keys_at_most(raw)
    # orjson writes every key read as '"key":', so no more written than the top level's keys
    # read is no duplicate, known without writing the record again.
    screen = written > len(obj) or b"[" in raw
    if screen:
        try:
            screen = written > orjson.dumps(obj).count(b'":')
        except TypeError:  # read, but nested deeper than orjson writes (254 levels): Sunlight
            # could neither repartition nor cite it
            raise RecordError("not_json", "record is nested too deeply to write again (over "
                              "254 levels)") from None
    if screen or (b"\\" in raw and b"\\u0022" in raw):
        _check_duplicate_keys(raw)  # more keys written than read: maybe one given twice
    _normalise_ids(obj, _FEED_IDS[feed])
    if not obj.keys() >= required.names:
        raise _missing(required, obj)
    try:
        func(obj, _FORMATS)
    except JsonSchemaValueException as e:
        raise _schema_error(e) from None
    if conditional is not None:
        _check_conditional(conditional, obj)
    return obj


# --------------------------------------------------------------------------- ids and keys

#: Characters that show as nothing, so two ids that look alike would differ.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"), None)
_ID_SUFFIXES = ("_id", "_ids")


def normalise_id(value: str) -> str:
    """The one spelling of an id, for the stream and the pre-check alike: Unicode NFKC (a
    full-width ``Ｐ`` is ``P``), zero-width characters removed, surrounding space stripped.

    >>> normalise_id(" P-\u200b0001\u3000"), normalise_id("\uff30-1")
    ('P-0001', 'P-1')
    """
    if value.isascii():
        return value.strip()
    return unicodedata.normalize("NFKC", value.translate(_INVISIBLE)).strip()


def is_id_field(name: str) -> bool:
    """Whether a field holds ids (its values are normalised with :func:`normalise_id`)."""
    return name.endswith(_ID_SUFFIXES) or name == "relatives"


class _IdFields(NamedTuple):
    """Where a record type's ids are (field names from its schema)."""

    fields: tuple[str, ...]  # top-level id strings
    lists: tuple[str, ...]  # top-level arrays of ids
    nested: tuple[tuple[str, str], ...]  # (array of objects, id field in each)


def _id_fields(*schemas: dict) -> _IdFields:
    """The contract's id fields of these schemas: named ``*_id``, ``*_ids`` or
    ``relatives``, at the top or in an array's objects (read once, at import)."""
    fields, lists, nested = [], [], []
    for schema in schemas:
        for name, prop in schema.get("properties", {}).items():
            items = prop.get("items") or {}
            kinds = prop.get("type")
            kinds = {kinds} if isinstance(kinds, str) else set(kinds or ())
            if is_id_field(name) and "string" in kinds:
                fields.append(name)
            elif is_id_field(name) and "array" in kinds:
                lists.append(name)
            elif "array" in kinds and isinstance(items, dict):
                nested += [(name, inner) for inner in items.get("properties", {})
                           if is_id_field(inner)]
    return _IdFields(*(tuple(dict.fromkeys(x)) for x in (fields, lists, nested)))


def _normalise_ids(obj: dict, where: _IdFields) -> None:
    """Normalise, in place, every id of the contract in ``obj`` (:func:`normalise_id`)."""
    for name in where.fields:
        value = obj.get(name)
        if type(value) is str:
            obj[name] = normalise_id(value)
    for name in where.lists:
        values = obj.get(name)
        if type(values) is list:
            values[:] = [normalise_id(v) if type(v) is str else v for v in values]
    for name, inner in where.nested:
        items = obj.get(name)
        if type(items) is list:
            for item in items:
                if type(item) is dict and type(item.get(inner)) is str:
                    item[inner] = normalise_id(item[inner])


#: feed -> where its records' ids are.
_FEED_IDS = {feed: _id_fields(*(SCHEMAS[rt] for rt in FEED_RECORD_TYPES[feed]))
             for feed in FEEDS}


_KEY_END = re.compile(rb'"\s*:')
#: A quote then white space: where a key may end with space before its colon.
_QUOTE_SPACE = re.compile(rb'"[ \n\t\r]')


def _keys_at_most(raw: bytes) -> int:
    """An upper bound on the object keys written in valid JSON ``raw``: each key ends with a
    quote then a colon, and inside a string a quote is escaped. Compared with the same count
    over orjson's writing of what was read (keys read, plus the same escaped quotes before a
    colon inside strings): more means a key was given twice. A quote escaped as ``\\u0022``
    would hide one, so such records are always checked."""
    count = raw.count(b'":')
    if _QUOTE_SPACE.search(raw) is not None:  # one scan, not one per kind of space
        count = len(_KEY_END.findall(raw))
    return count


def _check_duplicate_keys(raw: bytes) -> None:
    """Raise ``duplicate_key`` if an object in ``raw`` gives a key twice: which one counts is
    undefined between parsers, so the record means different things to different readers."""

    def pairs(items: list[tuple[str, Any]]) -> dict:
        obj = dict(items)
        if len(obj) != len(items):
            seen: set[str] = set()
            twice = next(k for k, _ in items if k in seen or seen.add(k))  # type: ignore[func-returns-value]
            raise RecordError("duplicate_key",
                              f"field {_show(twice)} is given more than once in one object",
                              twice)
        return obj

    try:
        json.loads(raw, object_pairs_hook=pairs)
    except RecursionError:
        raise RecordError("not_json", "record is nested too deeply to read") from None


def validate(record_type: str, obj: object) -> dict:
    """Validate a record of a type in :data:`RECORD_TYPES` (input or output) and return it.

    Besides the schema, every number anywhere in the record must be finite (orjson would write
    NaN and infinity as null). An unknown ``record_type`` is a programming error: ValueError.
    """
    if record_type not in _COMPILED:
        raise ValueError(
            f"unknown record type {record_type!r}; types are {', '.join(RECORD_TYPES)}"
        )
    if not isinstance(obj, dict):
        raise RecordError("not_object", f"record must be a JSON object, got {_json_type(obj)}")
    try:
        _check(record_type, obj)
    except JsonSchemaValueException as e:
        raise _schema_error(e) from None
    _check_finite(obj)
    return obj


def _check_finite(obj: dict) -> None:
    """Reject NaN and infinities anywhere in obj (iterative: no recursion limit)."""
    stack: list[tuple[str, Any]] = [("", obj)]
    while stack:
        path, v = stack.pop()
        if isinstance(v, dict):
            for k, x in v.items():
                if isinstance(x, dict | list | float):
                    stack.append((f"{path}.{k}" if path else str(k), x))
        elif isinstance(v, list):
            for i, x in enumerate(v):
                if isinstance(x, dict | list | float):
                    stack.append((f"{path}[{i}]", x))
        elif not math.isfinite(v):
            shown = path if len(path) <= 200 else path[:197] + "..."
            raise RecordError(
                "bad_value", f"field '{shown}' must be a finite number, got {v!r}", path
            )


# --------------------------------------------------------------------------- error reasons

_JSON_TYPES = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    type(None): "null",
    dict: "object",
    list: "array",
}
_ARTICLE = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "null": "null",
    "object": "an object",
    "array": "an array",
}


def _json_type(v: Any) -> str:
    t = _JSON_TYPES.get(type(v))
    if t is not None:
        return t
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, dict):
        return "object"
    if isinstance(v, list | tuple):
        return "array"
    return type(v).__name__


def _show(v: Any, limit: int = 60) -> str:
    """A short, bounded rendering of a value for a reason."""
    if isinstance(v, dict):
        return "an object"
    if isinstance(v, list | tuple):
        return "an array"
    if isinstance(v, float):
        return f"{v:g}" if math.isfinite(v) else repr(v)
    s = repr(v)
    if len(s) > limit:
        s = s[: limit - 4] + "...'" if isinstance(v, str) else s[: limit - 3] + "..."
    return s


_OPS = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}


def _num(x: Any) -> str:
    return f"{x:g}" if isinstance(x, float) or abs(x) >= 1_000_000 else str(x)


def _not_json(e: orjson.JSONDecodeError) -> RecordError:
    msg = str(e)
    if "UTF-8" in msg or "surrogate" in msg:
        return RecordError("not_json", f"record is not valid UTF-8: {msg}")
    if "depth" in msg or "recursion" in msg:
        return RecordError("not_json", f"record is nested too deeply to read: {msg}")
    return RecordError("not_json", f"record is not valid JSON: {msg}")


def _field_path(name: str | None) -> str:
    # fastjsonschema names the value "data", "data.amount", "data.key_personnel[0].role", ...
    if not name or name == "data":
        return ""
    return name[5:] if name.startswith("data.") else name


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _schema_error(e: JsonSchemaValueException) -> RecordError:
    try:
        return _schema_error_unchecked(e)
    except Exception:  # never let a reason builder hide the real problem
        return RecordError("bad_value", str(e.message).replace("data.", "", 1))


def _schema_error_unchecked(e: JsonSchemaValueException) -> RecordError:
    rule = e.rule
    d = e.definition if isinstance(e.definition, dict) else {}
    v = e.value
    path = _field_path(e.name)
    field = f"'{path}'"

    if rule == "required":
        missing = [k for k in d.get("required", ()) if not (isinstance(v, dict) and k in v)]
        names = [_join(path, k) for k in missing] or [path]
        when = d.get("x-required-when")
        suffix = f" when {when}" if when else ""
        if len(names) == 1:
            reason = f"field '{names[0]}' is required{suffix}"
        else:
            reason = "fields " + ", ".join(f"'{n}'" for n in names) + f" are required{suffix}"
        return RecordError("missing_field", reason, names[0])

    if rule == "type":
        if not path:
            return RecordError("not_object", f"record must be a JSON object, got {_json_type(v)}")
        want = d.get("type")
        wants = [want] if isinstance(want, str) else list(want or ())
        expected = " or ".join(_ARTICLE.get(w, w) for w in wants)
        return RecordError(
            "wrong_type", f"field {field} must be {expected}, got {_json_type(v)}", path
        )

    if rule == "format":
        fmt = d.get("format")
        problem = None
        if isinstance(v, str):
            problem = _time_problem(v) if fmt == "date-time" else _date_problem(v)
        if problem is None:
            problem = f"is not a valid {fmt}: {_show(v)}"
        return RecordError("bad_time", f"field {field} {problem}", path)

    if rule == "enum":
        allowed = ", ".join(_show(x) for x in d.get("enum", ()))
        reason = f"field {field} must be one of {allowed}; got {_show(v)}"
    elif rule == "const":
        reason = f"field {field} must be {_show(d.get('const'))}, got {_show(v)}"
    elif rule in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        op = _OPS[rule]
        if isinstance(v, float) and not math.isfinite(v):
            reason = f"field {field} must be a finite number, got {v!r}"
        else:
            reason = f"field {field} must be {op} {_num(d.get(rule))}, got {_show(v)}"
    elif rule == "minLength":
        n = d.get("minLength")
        if n == 1:
            reason = f"field {field} must not be empty"
        else:
            reason = f"field {field} must be at least {n} characters long, got {len(v)}"
    elif rule == "maxLength":
        n = d.get("maxLength")
        reason = f"field {field} must be at most {n} characters long, got {len(v)}"
    elif rule == "pattern":
        reason = f"field {field} must match {d.get('pattern')}, got {_show(v)}"
    else:
        msg = str(e.message)
        reason = f"field {field}: {msg[len(e.name or ''):].strip()}" if path else msg
    return RecordError("bad_value", reason, path or None)
