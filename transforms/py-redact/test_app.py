"""Native tests of py-redact: plain CPython, no componentize-py, no wasm.

    PYTHONPATH=../../guest-sdk/python python3 test_app.py

They run the same chunk loop the component runs (weir_guest.run) and the
golden cases in cases/ (weir_guest.check_cases); `weir test redact.wasm`
checks the same cases against the built component.
"""

import os
import sys

import app
import weir_guest

HERE = os.path.dirname(os.path.abspath(__file__))


def test_golden_cases():
    problems = weir_guest.check_cases(app.WitWorld, os.path.join(HERE, "cases"))
    assert not problems, "\n".join(problems)


def test_dates_and_short_numbers_are_not_phones():
    [out] = weir_guest.run(app.WitWorld, {"fields": ["t"]}, [{"t": "2026-11-26, order 123456"}])
    assert out == ['{"t":"2026-11-26, order 123456"}'], out


def test_unknown_config_key_fails_init():
    try:
        weir_guest.run(app.WitWorld, {"fields": ["t"], "mask": "x"}, [])
    except weir_guest.Err as e:
        assert "unknown key `mask`" in e.value, e.value
    else:
        raise AssertionError("init accepted an unknown key")


def test_missing_fields_fails_init():
    try:
        weir_guest.run(app.WitWorld, {}, [])
    except weir_guest.Err as e:
        assert "`fields` must be a non-empty list" in e.value, e.value
    else:
        raise AssertionError("init accepted a config without fields")


if __name__ == "__main__":
    tests = [(n, f) for n, f in sorted(globals().items()) if n.startswith("test_")]
    for name, test in tests:
        test()
        print(f"ok   {name}")
    print(f"{len(tests)} passed")
    sys.exit(0)
