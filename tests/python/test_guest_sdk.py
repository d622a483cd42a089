"""Native tests of the Python guest SDK (guest-sdk/python/weir_guest.py):
plain CPython, no componentize-py, no wasm.

The awkward records are the Rust SDK's (guest-sdk/src/raw.rs, record.rs
tests): what a transform leaves alone comes out byte for byte as it went in,
and what it changes is written as `json.dumps` writes it.
"""

from __future__ import annotations

import json
import sys

import pytest

from conftest import WORKSPACE

sys.path.insert(0, str(WORKSPACE / "guest-sdk" / "python"))
import weir_guest  # noqa: E402

AWKWARD = [
    '{"id":1,"price":12.50,"qty":1E3,"ratio":-0.0,"tiny":1e-7,"text":"caf\\u00e9 \\/ \\"q\\"","n":{"a":1.10,"b":[1,2.50,{"c":"\\u2603"}]}}',
    '{"z":true,"a":null,"m":"日本語","e":2E+10,"big":123456789012345678901234567890}',
    '{ "spaced" : 1.0 , "arr" : [ 1 , 2 ] , "o" : { "k" : "v w" } }',
    '{"emoji":"\\ud83d\\ude00","ctl":"\\u0001\\n","esc\\u006bey":3.0}',
]


def identity(record):
    return record


def run_one(transform, line, config=None, **export):
    world = weir_guest.export(transform, **export) if transform else weir_guest.export(**export)
    [result] = weir_guest.run(world, config if config is not None else {}, [line])
    return result


@pytest.mark.parametrize("line", AWKWARD[:2] + AWKWARD[3:])
def test_untouched_records_come_out_byte_for_byte(line):
    assert run_one(identity, line) == [line]


def test_whitespace_between_tokens_is_dropped_and_spellings_kept():
    assert run_one(identity, AWKWARD[2]) == ['{"spaced":1.0,"arr":[1,2],"o":{"k":"v w"}}']


def test_a_changed_field_is_written_anew_and_the_rest_kept():
    def tag(record):
        record["id"] = 2
        return record

    [out] = run_one(tag, AWKWARD[0])
    assert out == AWKWARD[0].replace('"id":1,', '"id":2,')


def test_a_change_deep_in_a_nested_object_keeps_its_siblings():
    def deep(record):
        record["n"]["b"][2]["c"] = "snow"
        return record

    [out] = run_one(deep, AWKWARD[0])
    assert out == AWKWARD[0].replace('"\\u2603"', '"snow"')


def test_fields_added_go_last_and_removed_ones_vanish():
    def reshape(record):
        del record["qty"]
        record["added"] = 1.5
        return record

    [out] = run_one(reshape, AWKWARD[0])
    assert out == AWKWARD[0].replace('"qty":1E3,', "")[:-1] + ',"added":1.5}'


def test_a_changed_value_is_what_parse_and_emit_writes():
    def change(record):
        record["price"] = 12.5 * 2
        record["text"] = record["text"].upper()
        return record

    [out] = run_one(change, AWKWARD[0])
    expected = json.loads(AWKWARD[0])
    expected = change(expected)
    assert json.loads(out) == expected
    assert '"price":25.0' in out and '"text":"CAFÉ / \\"Q\\""' in out
    assert '"qty":1E3' in out and '"n":{"a":1.10,' in out


@pytest.mark.parametrize(
    ("old", "new", "spelled"),
    [("1", 1.0, "1.0"), ("1", True, "true"), ("0.0", -0.0, "-0.0"), ("true", 1, "1")],
)
def test_equal_values_of_another_json_type_are_written_anew(old, new, spelled):
    def swap(record):
        record["v"] = new
        return record

    assert run_one(swap, '{"v":%s}' % old) == ['{"v":%s}' % spelled]


def test_equal_value_set_again_keeps_the_input_spelling():
    def same(record):
        record["price"] = 12.5
        return record

    assert run_one(same, '{"price":12.50}') == ['{"price":12.50}']


def test_a_new_dict_built_from_the_record_keeps_the_spellings_it_copies():
    def pick(record):
        return {"qty": record["qty"], "id": record["id"], "twice": record["id"] * 2}

    assert run_one(pick, AWKWARD[0]) == ['{"qty":1E3,"id":1,"twice":2}']


def test_flat_map_outputs_each_keep_the_inputs_spellings():
    def split(record):
        return [{"price": record["price"], "part": i} for i in range(2)]

    assert run_one(split, AWKWARD[0]) == ['{"price":12.50,"part":0}', '{"price":12.50,"part":1}']


def test_repeated_keys_are_written_as_a_parse_keeps_them():
    assert run_one(identity, '{"a":1.50,"a":2.50}') == ['{"a":2.5}']


def test_nan_in_an_output_still_fails_the_record():
    def nan(record):
        record["x"] = float("nan")
        return record

    result = run_one(nan, '{"x":1.50}')
    assert isinstance(result, weir_guest.Failed)
    assert "field `x` is nan, which JSON cannot hold" in result.value, result.value


def test_a_nan_or_infinity_deep_in_an_output_is_named_by_its_path():
    def deep(record):
        record["stats"] = {"mean": 1.5, "scores": [0.25, float("-inf")]}
        return record

    result = run_one(deep, '{"id":1}')
    assert isinstance(result, weir_guest.Failed)
    assert "field `stats.scores[1]` is -inf" in result.value, result.value
    # In field mode too: the patch's field is named.
    result = run_one(lambda r: {"score": float("nan")}, '{"text":"a"}', reads=["text"], writes=["score"])
    assert isinstance(result, weir_guest.Failed)
    assert "field `score` is nan" in result.value, result.value


def test_process_chunk_gets_the_chunks_records_and_returns_one_result_each():
    seen = []

    def batch(records, config):
        seen.append(len(records))
        return [None if r["id"] == 2 else ValueError("odd") if r["id"] == 3 else [r, r] for r in records]

    world = weir_guest.export(process_chunk=batch, init=dict)
    results = weir_guest.run(world, {}, ['{"id":1,"p":1E3}', '{"id":2}', "[]", '{"id":3}'])
    assert seen == [3]  # the array line never reaches the transform
    assert results[0] == ['{"id":1,"p":1E3}', '{"id":1,"p":1E3}']
    assert results[1] == []
    assert isinstance(results[2], weir_guest.Failed) and "array" in results[2].value
    assert isinstance(results[3], weir_guest.Failed) and results[3].value.startswith("ValueError: odd")


def test_process_chunk_that_raises_fails_every_record_of_the_chunk():
    def broken(records):
        raise RuntimeError("model not loaded")

    results = weir_guest.run(weir_guest.export(process_chunk=broken), {}, ['{"a":1}', '{"a":2}'])
    assert [r.value.split(" (at")[0] for r in results] == ["RuntimeError: model not loaded"] * 2


def test_process_chunk_returning_the_wrong_count_fails_the_chunk_saying_so():
    results = weir_guest.run(weir_guest.export(process_chunk=lambda rs: []), {}, ['{"a":1}'])
    assert "process_chunk returned 0 results for 1 records" in results[0].value


def test_export_takes_exactly_one_of_transform_and_process_chunk():
    with pytest.raises(TypeError, match="exactly one"):
        weir_guest.export(identity, process_chunk=lambda rs: rs)
    with pytest.raises(TypeError, match="exactly one"):
        weir_guest.export()


def test_a_spaced_line_without_floats_or_escapes_comes_out_compact():
    assert run_one(identity, '{ "a" : 1 , "s" : "x  y" , "n" : [ -1 ] }') == ['{"a":1,"s":"x  y","n":[-1]}']


def test_minus_zero_integer_keeps_its_spelling():
    assert run_one(identity, '{"a":-0,"b":"-0"}') == ['{"a":-0,"b":"-0"}']
