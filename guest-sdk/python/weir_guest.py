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

An exception raised for one record fails that record alone: the host
quarantines it with ``"<ExceptionType>: <message> (at <file>:<line>)"``, and the
rest of the chunk goes on.

The same code runs natively under plain CPython, without componentize-py:
``run`` and ``check_cases`` drive the very chunk loop the component runs.
This module imports nothing but the standard library (and, inside a
component, the bindings componentize-py generates).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Callable, Iterable

try:  # Inside a component: the types componentize-py generated from wit/weir.wit.
    from componentize_py_types import Err
    from wit_world.imports.types import Outcome_Emitted as Emitted
    from wit_world.imports.types import Outcome_Failed as Failed
    from wit_world.imports.types import Processed
except ImportError:  # Natively: the same shapes, so tests see what the host sees.

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


__all__ = ["export", "run", "check_cases", "Failed", "Emitted", "Processed", "Err"]

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
    # allow_nan=False: NaN and Infinity are not JSON; the record fails instead.
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


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


class _Chunks:
    """The chunk loop over one transform instance; the component's exports
    and the native ``run`` both use it."""

    def __init__(
        self,
        transform: Callable[..., Any],
        init: Callable[[dict], Any] | None,
        finish: Callable[..., Any] | None,
        config_text: str,
    ) -> None:
        try:
            config = json.loads(config_text)
        except ValueError as e:
            raise Err(f"the config is not valid JSON: {e}") from None
        if not isinstance(config, dict):
            raise Err(f"the config must be a JSON object, not {type(config).__name__}")
        if init is None:
            if config:
                keys = ", ".join(f"`{k}`" for k in config)
                raise Err(f"this transform takes no configuration, but got {keys}")
            self._call = transform
            self._finish = finish
        else:
            try:
                state = init(config)
            except Exception as e:  # noqa: BLE001 - every init error fails the run
                raise Err(f"invalid config: {_describe(e)}") from None
            self._call = lambda record: transform(record, state)
            self._finish = (lambda: finish(state)) if finish is not None else None

    def process(self, chunk: str) -> Processed:
        lines = chunk.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        call = self._call
        parts: list[str] = []
        outcomes: list = []
        for line in lines:
            try:
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise TypeError(
                        f"the input record is a JSON {_json_kind(record)}, not an object"
                    )
                result = call(record)
                if result is None:
                    outcomes.append(_EMITTED[0])
                elif isinstance(result, (list, tuple)):
                    out = [_dumps(r) for r in result]
                    parts.extend(out)
                    n = len(out)
                    outcomes.append(_EMITTED[n] if n < len(_EMITTED) else Emitted(n))
                else:
                    parts.append(_dumps(result))
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
    transform: Callable[..., Any],
    *,
    init: Callable[[dict], Any] | None = None,
    finish: Callable[..., Any] | None = None,
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
    """

    class WitWorld:
        _instance: _Chunks | None = None

        def init(self, config: str) -> None:
            WitWorld._instance = _Chunks(transform, init, finish, config)

        def process(self, input: str) -> Processed:  # noqa: A002 - WIT's name
            return _require(WitWorld._instance).process(input)

        def finish(self) -> str:
            return _require(WitWorld._instance).finish()

    WitWorld.__qualname__ = WitWorld.__name__ = f"WitWorld[{getattr(transform, '__name__', 'transform')}]"
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
