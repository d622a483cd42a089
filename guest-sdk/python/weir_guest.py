"""Write Weir transforms in Python.

The Python side of Weir's guest SDK. A transform is a plain function over one
record (a ``dict``); this module runs the chunk loop the host's
``weir:transform@0.1.0`` world (``wit/weir.wit``) asks for around it, and
componentize-py turns the app into a WebAssembly component::

    import weir_guest

    def tag(record: dict, config: dict) -> dict | None:
        record[config["field"]] = True
        return record

    WitWorld = weir_guest.export(tag, init=dict)

What the function returns decides what a record becomes:

- a ``dict``: one output record (a map);
- ``None``: nothing; the record is filtered out;
- a ``list`` or ``tuple`` of dicts: that many records, in order (a flat map;
  ``[]`` filters too);
- anything else fails the record with a ``TypeError``.

Records stay exact: a value an output record shares unchanged with its
input (same JSON type and value) is copied from the input line, so number
spellings (``12.50``, ``1E3``), ``\\u`` escapes and key spellings survive;
changed values are written as ``json.dumps`` writes them. ``export(
process_chunk=fn)`` hands ``fn`` a whole chunk's records at once instead.

An exception raised for one record fails that record alone: the host
quarantines it with ``"<ExceptionType>: <message> (at <file>:<line>)"``, and the
rest of the chunk goes on.

Fields: ``export(fn, reads=[...], writes=[...])`` declares the top-level
fields the transform reads and writes (``weir:transform@0.2.0``). The host
then hands ``fn`` a dict of just the read fields the record has, and
``fn`` returns a dict of fields to set (only names in ``writes``; a value
left equal to the one read is dropped, so it keeps its bytes), ``None``
to filter the record out, or a list of such dicts for that many copies;
``{}`` passes the record on unchanged. The host writes the values into
the record itself: the transform never parses or writes a whole record,
which is what makes it fast, and every other byte of the record is kept.
Fields cannot be removed (``None`` as a value writes ``null``).
``reads``/``writes`` may also be functions of ``init``'s result, for
fields named in the config; if both return ``None`` the transform takes
whole records after all.

The same code runs natively under plain CPython, without componentize-py:
``run`` and ``check_cases`` drive the very chunk loop the component runs
(in field mode they see the patches; ``weir test`` applies them as the
host does).
This module imports nothing but the standard library (and, inside a
component, the bindings componentize-py generates).
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable

try:  # Inside a component: the types componentize-py generated from wit/weir.wit.
    from componentize_py_types import Err
    from wit_world.imports.types import FieldSpec
    from wit_world.imports.types import Outcome_Emitted as Emitted
    from wit_world.imports.types import Outcome_Failed as Failed
    from wit_world.imports.types import Processed
except ImportError:  # Natively: the same shapes, so tests see what the host sees.

    @dataclass
    class FieldSpec:  # type: ignore[no-redef]
        """The top-level fields a transform reads and writes."""

        reads: list
        writes: list

    @dataclass
    class Emitted:  # type: ignore[no-redef]
        """The record produced ``value`` output records (0: filtered out)."""

        value: int

    @dataclass
    class Failed:  # type: ignore[no-redef]
        """The record was rejected; the host quarantines it with ``value``."""

        value: str

    @dataclass
    class Processed:  # type: ignore[no-redef]
        """One chunk's output NDJSON and one outcome per input record."""

        output: str
        outcomes: list

    class Err(Exception):  # type: ignore[no-redef]
        """An error ``init`` or ``finish`` returns to the host."""

        def __init__(self, value: str) -> None:
            super().__init__(value)
            self.value = value


__all__ = ["export", "run", "check_cases", "Failed", "Emitted", "Processed", "Err", "FieldSpec"]

# Outcomes are read, never kept, by the host: one object per count will do.
_EMITTED = [Emitted(n) for n in range(8)]
_THIS_FILE = os.path.abspath(__file__)
_STDLIB = os.path.dirname(os.path.abspath(os.__file__))


def _dumps(record: Any) -> str:
    """One output record as a compact JSON line (without its newline)."""
    if not isinstance(record, dict):
        raise TypeError(
            "a transform returns a dict (a JSON object), a list of dicts or None, "
            f"not {type(record).__name__}"
        )
    return _json_of(_dump, record)


def _json_of(dump: Callable[[Any], str], record: dict) -> str:
    """``dump(record)``; a NaN or infinity in it fails naming its field
    (the encoder's own message names only the value)."""
    try:
        return dump(record)
    except ValueError:
        found = _non_finite(record, "")
        if found is None:
            raise
        path, value = found
        raise ValueError(
            f"field `{path}` is {value!r}, which JSON cannot hold (NaN and infinities are "
            "not JSON numbers): set it to None or a string, or leave it out"
        ) from None


def _non_finite(value: Any, path: str) -> tuple[str, float] | None:
    """The path (``a.b[2]``) and value of the first NaN or infinity in
    ``value``, depth first in the order the encoder writes."""
    if isinstance(value, float):
        return None if math.isfinite(value) else (path, value)
    if isinstance(value, dict):
        for key, item in value.items():
            found = _non_finite(item, f"{path}.{key}" if path else str(key))
            if found is not None:
                return found
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            found = _non_finite(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None



# allow_nan=False: NaN and Infinity are not JSON; the record fails instead.
# One encoder, so each write skips `json.dumps`'s argument handling.
_dump = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def _c_dump() -> Callable[[Any], str]:
    """``_dump`` without ``JSONEncoder.encode``'s Python frames: the C
    encoder called directly, half the cost per small object (a field
    mode patch). ``_dump`` itself where the C encoder is missing."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return _dump
    try:
        encode = make(None, None, json.encoder.encode_basestring, None, ":", ",", False, False, False)
        join = "".join
        if join(encode({"a": [1, "é"]}, 0)) != '{"a":[1,"é"]}':
            return _dump
    except Exception:  # noqa: BLE001 - another interpreter's signature: the plain way
        return _dump

    def dump(value: Any) -> str:
        return join(encode(value, 0))

    return dump


_fast_dump = _c_dump()


# Exact records. A record is parsed whole with `json.loads` (C; scanning it
# in Python to skip the fields a transform does not read would cost more than
# parsing them), and its line is kept. Most lines are already what `_dump`
# writes for them (compact, no `\u` escapes, floats spelled as `repr`
# spells them): `_canonical` finds that out with one more C call, and their
# outputs are just `_dump`ed. For the others, `_splice` writes each output
# record against the line: every value the transform left equal to the
# input's (same JSON type, same value) is copied from the line, spelling,
# escapes and all, and only changed values are written anew, as `_dump`
# writes them. Keys keep their input spelling and the output dict's order.
# This is what the Rust SDK's `Output::emit_from` does (guest-sdk/src/record.rs).

_WS = re.compile(r"[ \t\n\r]*")
_SCAN = json.JSONDecoder().scan_once
_SCANSTRING = json.decoder.scanstring
# A string literal (kept) or whitespace between tokens (dropped).
_MINIFY = re.compile(r'("(?:[^"\\]|\\.)*")|[ \t\n\r]+')


# What `_dump` may spell differently from the input, whitespace between
# tokens aside (a splice drops that too): a `\u` or `\/` escape, a fraction
# or exponent (`12.50`, `1E3`), `-0`. May match inside a string; then the
# slower exact check decides.
_MAYBE_RESPELLED = re.compile(r"\\[u/]|[0-9][.eE]|-0(?![0-9])")


def _canonical(record: dict, line: str) -> bool:
    """Whether ``_dump`` writes ``record`` (parsed from ``line``) as
    ``line``, whitespace between tokens aside."""
    if _MAYBE_RESPELLED.search(line) is None:
        return True
    try:
        return _dump(record) == line
    except ValueError:  # NaN in the input: not canonical, and never spliced as NaN
        return False


def _splice(new: Any, raw: str, old: Any) -> str:
    """``new`` as compact JSON, copying from ``raw`` (the JSON text of
    ``old``, the value it came from) every part it leaves unchanged."""
    if isinstance(new, dict):
        if old is not _CHANGED and _same(new, old):
            return _MINIFY.sub(_keep_strings, raw)
        members = _members(raw)
        if members is None:
            return _dump(new)
        parts = []
        for key, value in new.items():
            member = members.get(key) if isinstance(key, str) else None
            if member is None:
                parts.append(_dump(key if isinstance(key, str) else str(key)) + ":" + _dump(value))
            else:
                parts.append(member[0] + ":" + _splice(value, member[1], member[2]))
        return "{" + ",".join(parts) + "}"
    if isinstance(new, (list, tuple)):
        if _same(new, old):
            return _MINIFY.sub(_keep_strings, raw)
        items = _items(raw)
        if items is None or len(items) != len(new):
            return _dump(new)
        return "[" + ",".join(_splice(v, r, o) for v, (r, o) in zip(new, items)) + "]"
    if _same(new, old):
        return raw
    return _dump(new)


# Stands for the value a whole output record came from: its members are
# compared one by one, the record as a whole never (a transform's output
# record almost always differs from its input).
_CHANGED = object()


def _keep_strings(match: re.Match) -> str:
    return match.group(1) or ""


def _same(new: Any, old: Any) -> bool:
    """Whether ``new`` is ``old``, with the same JSON types (``1``, ``1.0``
    and ``true`` differ; so do ``0.0`` and ``-0.0``)."""
    if type(new) is not type(old) and not (type(new) is tuple and type(old) is list):
        return False
    if isinstance(new, (dict, list, tuple)):
        return new == old and _dump(new) == _dump(old)
        return False
    if isinstance(new, float):
        return new == old and str(new) == str(old)  # str tells -0.0 from 0.0
    return new == old


def _members(raw: str) -> dict | None:
    """An object's members as ``{key: (key_text, value_text, value)}``, the
    texts as written in ``raw``; ``None`` if ``raw`` is not one well-formed object
    without repeated keys (the caller then writes the value anew)."""
    try:
        i = _WS.match(raw, 0).end()
        if raw[i : i + 1] != "{":
            return None
        i = _WS.match(raw, i + 1).end()
        members: dict = {}
        if raw[i : i + 1] == "}":
            i += 1
        else:
            while True:
                if raw[i : i + 1] != '"':
                    return None
                key, j = _SCANSTRING(raw, i + 1)
                key_text = raw[i:j]
                j = _WS.match(raw, j).end()
                if raw[j : j + 1] != ":":
                    return None
                j = _WS.match(raw, j + 1).end()
                value, k = _SCAN(raw, j)
                if key in members:
                    return None
                members[key] = (key_text, raw[j:k], value)
                i = _WS.match(raw, k).end()
                if raw[i : i + 1] == ",":
                    i = _WS.match(raw, i + 1).end()
                    continue
                if raw[i : i + 1] == "}":
                    i += 1
                    break
                return None
    except (StopIteration, ValueError):
        return None
    return members if _WS.match(raw, i).end() == len(raw) else None


def _items(raw: str) -> list | None:
    """An array's items as ``(text, value)``; ``None`` if ``raw`` is not one."""
    try:
        i = _WS.match(raw, 0).end()
        if raw[i : i + 1] != "[":
            return None
        i = _WS.match(raw, i + 1).end()
        items: list = []
        if raw[i : i + 1] == "]":
            i += 1
        else:
            while True:
                value, k = _SCAN(raw, i)
                items.append((raw[i:k], value))
                i = _WS.match(raw, k).end()
                if raw[i : i + 1] == ",":
                    i = _WS.match(raw, i + 1).end()
                    continue
                if raw[i : i + 1] == "]":
                    i += 1
                    break
                return None
    except (StopIteration, ValueError):
        return None
    return items if _WS.match(raw, i).end() == len(raw) else None


def _writer(record: dict, line: str) -> Callable[[Any], str]:
    """How to write the outputs made from ``record``, just parsed from
    ``line`` (before the transform sees, and maybe changes, it)."""
    if _canonical(record, line):
        return _dumps

    def spliced(output: Any) -> str:
        _dumps(output)  # the same checks (a dict; no NaN) and errors as a plain write
        return _splice(output, line, _CHANGED)

    return spliced


def _describe(error: BaseException) -> str:
    """``Type: message (at file.py:line)``, naming the innermost frame of the
    transform's own code (not this module, not the standard library)."""
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    where = None
    tb = error.__traceback__
    while tb is not None:
        path = os.path.abspath(tb.tb_frame.f_code.co_filename)
        if path != _THIS_FILE and not path.startswith(_STDLIB):
            where = f"{os.path.basename(path)}:{tb.tb_lineno}"
        tb = tb.tb_next
    return f"{text} (at {where})" if where else text


@dataclass
class _Unreadable:
    """An input line that is not a JSON object: it fails without reaching the transform."""

    failed: Any


class _Chunks:
    """The chunk loop over one transform instance; the component's exports
    and the native ``run`` both use it."""

    def __init__(
        self,
        transform: Callable[..., Any] | None,
        init: Callable[[dict], Any] | None,
        finish: Callable[..., Any] | None,
        config_text: str,
        process_chunk: Callable[..., Any] | None = None,
        reads: Any = None,
        writes: Any = None,
    ) -> None:
        try:
            config = json.loads(config_text)
        except ValueError as e:
            raise Err(f"the config is not valid JSON: {e}") from None
        if not isinstance(config, dict):
            raise Err(f"the config must be a JSON object, not {type(config).__name__}")
        state: Any = None
        if init is None:
            if config:
                keys = ", ".join(f"`{k}`" for k in config)
                raise Err(f"this transform takes no configuration, but got {keys}")
            self._call = transform
            self._chunk = process_chunk
            self._finish = finish
        else:
            try:
                state = init(config)
            except Exception as e:  # noqa: BLE001 - every init error fails the run
                raise Err(f"invalid config: {_describe(e)}") from None
            self._call = lambda record: transform(record, state)  # type: ignore[misc]
            self._chunk = (lambda records: process_chunk(records, state)) if process_chunk else None
            self._finish = (lambda: finish(state)) if finish is not None else None
        self.fields: FieldSpec | None = None
        if reads is not None or writes is not None:
            try:
                names = [_names(spec, state, init is not None) for spec in (reads, writes)]
            except Exception as e:  # noqa: BLE001 - a bad spec fails the run
                raise Err(f"invalid fields: {_describe(e)}") from None
            if names != [None, None]:  # both functions said None: whole records
                self.fields = FieldSpec(names[0] or [], names[1] or [])

    def process(self, chunk: str) -> Processed:
        if self.fields is not None:
            return self._process_fields(chunk)
        lines = chunk.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        records: list = []
        writers: list = []
        for line in lines:
            try:
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise TypeError(
                        f"the input record is a JSON {_json_kind(record)}, not an object"
                    )
                writers.append(_writer(record, line))
                records.append(record)
            except Exception as e:  # noqa: BLE001 - one bad record fails alone
                writers.append(None)
                records.append(_Unreadable(Failed(_describe(e))))
        results = self._results(records)
        parts: list[str] = []
        outcomes: list = []
        for write, record, result in zip(writers, records, results):
            if isinstance(record, _Unreadable):
                outcomes.append(record.failed)
                continue
            try:
                if isinstance(result, BaseException):
                    raise result
                if result is None:
                    outcomes.append(_EMITTED[0])
                    continue
                if isinstance(result, (list, tuple)):
                    out = [write(r) for r in result]
                    parts.extend(out)
                    n = len(out)
                    outcomes.append(_EMITTED[n] if n < len(_EMITTED) else Emitted(n))
                else:
                    parts.append(write(result))
                    outcomes.append(_EMITTED[1])
            except Exception as e:  # noqa: BLE001 - one bad record fails alone
                outcomes.append(Failed(_describe(e)))
        output = "\n".join(parts) + "\n" if parts else ""
        try:
            output.encode("utf-8")
        except UnicodeEncodeError:
            # A lone surrogate (from a "\ud800" escape) cannot cross the
            # boundary as UTF-8: fail the records that carry one.
            return self._without_unencodable(lines, parts, outcomes)
        return Processed(output, outcomes)

    def _process_fields(self, chunk: str) -> Processed:
        """Field mode: each line is a projection (a dict of the read
        fields the record has), each output line a patch."""
        lines = chunk.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        # One parse for the chunk: the host's projections are one-line
        # objects, so the lines joined by commas are a JSON array (a third
        # of the cost of a `json.loads` per line).
        records = json.loads("[" + ",".join(lines) + "]")
        # What was read, before the transform changes the dicts in place.
        given = [r.copy() for r in records]
        results = self._results(records)
        parts: list[str] = []
        outcomes: list = []
        for line, result in zip(given, results):
            try:
                if isinstance(result, BaseException):
                    raise result
                if result is None:
                    outcomes.append(_EMITTED[0])
                elif isinstance(result, dict):
                    parts.append(_patch(result, line))
                    outcomes.append(_EMITTED[1])
                elif isinstance(result, (list, tuple)):
                    out = [_patch(r, line) for r in result]
                    parts.extend(out)
                    n = len(out)
                    outcomes.append(_EMITTED[n] if n < len(_EMITTED) else Emitted(n))
                else:
                    raise TypeError(
                        "a field transform returns a dict of the fields it sets, a list of "
                        f"them or None, not {type(result).__name__}"
                    )
            except Exception as e:  # noqa: BLE001 - one bad record fails alone
                outcomes.append(Failed(_describe(e)))
        output = "\n".join(parts) + "\n" if parts else ""
        try:
            output.encode("utf-8")
        except UnicodeEncodeError:
            return self._without_unencodable(lines, parts, outcomes)
        return Processed(output, outcomes)

    def _results(self, records: list) -> list:
        """What the transform returned for each record (an exception it
        raised stands for its result), ``None`` for unreadable ones."""
        if self._chunk is not None:
            readable = [r for r in records if not isinstance(r, _Unreadable)]
            try:
                returned = list(self._chunk(readable))
                if len(returned) != len(readable):
                    raise ValueError(
                        f"process_chunk returned {len(returned)} results for {len(readable)} records"
                    )
            except Exception as e:  # noqa: BLE001 - the chunk's records fail together
                returned = [e] * len(readable)
            it = iter(returned)
            return [None if isinstance(r, _Unreadable) else next(it) for r in records]
        call = self._call
        results: list = []
        for record in records:
            if isinstance(record, _Unreadable):
                results.append(None)
                continue
            try:
                results.append(call(record))
            except Exception as e:  # noqa: BLE001 - one bad record fails alone
                results.append(e)
        return results

    @staticmethod
    def _without_unencodable(lines: list[str], parts: list[str], outcomes: list) -> Processed:
        kept: list[str] = []
        checked: list = []
        at = 0
        for outcome in outcomes:
            if isinstance(outcome, Failed):
                checked.append(outcome)
                continue
            mine = parts[at : at + outcome.value]
            at += outcome.value
            try:
                for part in mine:
                    part.encode("utf-8")
            except UnicodeEncodeError as e:
                checked.append(Failed(f"UnicodeEncodeError: output is not valid UTF-8: {e}"))
                continue
            kept.extend(mine)
            checked.append(outcome)
        return Processed("\n".join(kept) + "\n" if kept else "", checked)

    def finish(self) -> str:
        if self._finish is None:
            return ""
        try:
            records = self._finish()
            if records is None:
                return ""
            if isinstance(records, dict):
                records = [records]
            lines = [_dumps(r) for r in records]
        except Exception as e:  # noqa: BLE001 - every finish error fails the run
            raise Err(f"finish failed: {_describe(e)}") from None
        return "".join(line + "\n" for line in lines)


def _names(spec: Any, state: Any, configured: bool) -> list | None:
    """A ``reads``/``writes`` argument as a list of names: a list, or a
    function of ``init``'s result (of nothing without ``init``); ``None``
    if it is, or returns, ``None``."""
    if callable(spec):
        spec = spec(state) if configured else spec()
    if spec is None:
        return None
    if isinstance(spec, str) or not all(isinstance(n, str) for n in spec):
        raise TypeError(f"fields are a list of names (str), not {spec!r}")
    return list(spec)


def _patch(out: Any, given: dict) -> str:
    """The patch line for ``out``, what a field transform returned for a
    projection whose values were ``given`` (a shallow copy taken before the
    call): its members, less those left equal to the value read, which so
    keep their bytes. Only a scalar (string, number, boolean, null) counts
    as left equal: a list or object may have been changed in place, so it
    is always written."""
    if not isinstance(out, dict):
        raise TypeError(
            f"a field transform returns dicts of the fields it sets, not {type(out).__name__}"
        )
    for key, value in out.items():
        if key in given and type(value) in _SCALARS and _same(value, given[key]):
            out = {
                k: v
                for k, v in out.items()
                if not (k in given and type(v) in _SCALARS and _same(v, given[k]))
            }
            break
    return _json_of(_fast_dump, out)


_SCALARS = frozenset((str, int, float, bool, type(None)))


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"


def export(
    transform: Callable[..., Any] | None = None,
    *,
    init: Callable[[dict], Any] | None = None,
    finish: Callable[..., Any] | None = None,
    process_chunk: Callable[..., Any] | None = None,
    reads: Any = None,
    writes: Any = None,
) -> type:
    """The class componentize-py exports: assign it to ``WitWorld`` in the
    app module.

    - ``transform(record)`` is called once per input record (a ``dict``) and
      returns a dict, ``None`` or a list of dicts (see the module docs).
    - ``init``, if given, is called once per instance with the config (a
      ``dict`` parsed from the JSON the host passes; ``{}`` when none was
      given). Whatever it returns (a parsed config, or per-instance state) is
      passed to every ``transform(record, state)`` call and to
      ``finish(state)``. An exception fails the run before any output is
      written, with ``invalid config: <Type>: <message>``. ``init=dict``
      passes the config through as it is. Without ``init`` the transform
      accepts only an empty config, so a stray config is not silently
      ignored.
    - ``finish``, if given, is called once per instance after its last chunk
      and returns extra records: a dict, a list of dicts or ``None``. The host
      replaces an instance after a record traps it, so aggregates kept in the
      state may miss records in that case.
    - ``process_chunk``, given instead of ``transform``, is called once per
      chunk with the list of its records (and the state, with ``init``), to
      work on many records at once. It returns one result per record, in
      order, each what ``transform`` would return for it; an exception
      *instance* in that list fails its record alone, and an exception raised
      fails every record of the chunk. Lines that are not JSON objects fail
      without being passed.
    - ``reads`` and ``writes``, if given (a list of top-level field names,
      or a function of ``init``'s result returning one), put the transform
      in field mode: it gets a dict of just the read fields and returns a
      dict of the fields it sets (see the module docs).
    """
    if (transform is None) == (process_chunk is None):
        raise TypeError("export takes a per-record transform or process_chunk=, exactly one of them")

    class WitWorld:
        _instance: _Chunks | None = None

        def init(self, config: str) -> None:
            WitWorld._instance = _Chunks(
                transform, init, finish, config, process_chunk, reads, writes
            )

        def fields(self) -> FieldSpec | None:
            return _require(WitWorld._instance).fields

        def process(self, input: str) -> Processed:  # noqa: A002 - WIT's name
            return _require(WitWorld._instance).process(input)

        def finish(self) -> str:
            return _require(WitWorld._instance).finish()

    WitWorld.__qualname__ = WitWorld.__name__ = f"WitWorld[{getattr(transform or process_chunk, '__name__', 'transform')}]"
    return WitWorld


def _require(instance: _Chunks | None) -> _Chunks:
    if instance is None:
        raise Err("the host called the transform before init")
    return instance


def run(world: type, config: dict | str, records: Iterable[dict | str]) -> list:
    """Runs ``records`` through the class ``export`` returned, natively, in
    one chunk, as the host would: ``init(config)``, ``process``, ``finish``.

    Returns, per input record, either the list of its output lines (``str``,
    compact JSON) or ``Failed(reason)``; output of ``finish`` is appended as
    one more list if there is any. Raises ``Err`` if ``init`` or ``finish``
    fails.
    """
    instance = world()
    instance.init(config if isinstance(config, str) else json.dumps(config))
    chunk = "".join(
        (r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in records
    )
    processed = instance.process(chunk)
    lines = processed.output.split("\n")[:-1]
    results: list = []
    at = 0
    for outcome in processed.outcomes:
        if isinstance(outcome, Failed):
            results.append(outcome)
        else:
            results.append(lines[at : at + outcome.value])
            at += outcome.value
    extra = instance.finish()
    if extra:
        results.append(extra.split("\n")[:-1])
    return results


def check_cases(world: type, cases_dir: str) -> list[str]:
    """Checks golden cases natively, the way ``weir test`` checks them against
    the component: each sub-folder of ``cases_dir`` holds ``input.ndjson``,
    optional ``config.json``, ``expected.ndjson`` and optional
    ``expected-quarantine.ndjson`` (one ``{"line": N, "reason": "<substring>"}``
    per rejected input line). Returns one message per problem; empty means
    every case passed.
    """
    problems: list[str] = []
    for name in sorted(os.listdir(cases_dir)):
        case = os.path.join(cases_dir, name)
        if not os.path.isdir(case):
            continue
        config = _read(os.path.join(case, "config.json")) or "{}"
        inputs = (_read(os.path.join(case, "input.ndjson")) or "").split("\n")[:-1]
        try:
            results = run(world, config.strip(), inputs)
        except Err as e:
            problems.append(f"{name}: {e.value}")
            continue
        output = "".join(
            line + "\n" for r in results if not isinstance(r, Failed) for line in r
        )
        expected = _read(os.path.join(case, "expected.ndjson")) or ""
        if output != expected:
            problems.append(f"{name}: output differs\n--- expected\n{expected}--- got\n{output}")
        rejected = {i + 1: r.value for i, r in enumerate(results) if isinstance(r, Failed)}
        wanted = {}
        for line in (_read(os.path.join(case, "expected-quarantine.ndjson")) or "").splitlines():
            if line.strip():
                entry = json.loads(line)
                wanted[entry["line"]] = entry["reason"]
        for line, reason in wanted.items():
            if line not in rejected:
                problems.append(f"{name}: line {line} was not rejected")
            elif reason not in rejected[line]:
                problems.append(f"{name}: line {line} rejected with {rejected[line]!r}, expected {reason!r}")
        for line in rejected.keys() - wanted.keys():
            problems.append(f"{name}: line {line} rejected unexpectedly: {rejected[line]}")
    return problems


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        return None
