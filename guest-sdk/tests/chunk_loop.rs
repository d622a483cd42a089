//! The chunk loop as the host sees it: one NDJSON chunk in, output and one
//! outcome per line out, driven through the public `testing` API, which runs
//! the same code as the component's exports.

use std::fs;

use serde::{Deserialize, Serialize};
use weir_guest::testing::{self, Outcome, Processed, Session};
use weir_guest::{ChunkOutput, Error, NoConfig, Output, Record, Transform, Value};

fn identity(record: Value) -> Result<Value, Error> {
    Ok(record)
}

fn lines(items: &[&str]) -> Result<Vec<String>, String> {
    Ok(items.iter().map(|item| (*item).to_owned()).collect())
}

#[test]
fn untouched_records_keep_key_order_and_number_spelling() {
    let records = [
        r#"{"z":1,"a":2,"m":{"y":true,"b":null}}"#,
        r#"{"price":1.50,"zero":-0.0,"tiny":0.000000000000000000000000000001}"#,
        r#"{"big":123456789012345678901234567890123456789,"neg":-98765432109876543210987654321}"#,
        r#"{"u64max_plus_one":18446744073709551616,"i64min_minus_one":-9223372036854775809}"#,
        r#"{"text":"héllo ☃ \"quoted\" \\ back","list":[3,2,1,{"k":"v"}]}"#,
    ];
    let results = testing::run(weir_guest::map(identity), "{}", records);
    let expected = records
        .iter()
        .map(|record| lines(&[record]))
        .collect::<Vec<_>>();
    assert_eq!(results, expected);
}

#[test]
fn changed_record_keeps_its_other_fields_as_they_were() {
    fn stamp(mut record: Value) -> Result<Value, Error> {
        record["seen"] = Value::Bool(true);
        Ok(record)
    }
    let results = testing::run(
        weir_guest::map(stamp),
        "{}",
        [r#"{"id":340282366920938463463374607431768211457,"seen":false,"amount":10.10}"#],
    );
    assert_eq!(
        results,
        [lines(&[
            r#"{"id":340282366920938463463374607431768211457,"seen":true,"amount":10.10}"#
        ])]
    );
}

#[test]
fn untouched_fields_keep_their_escapes_and_number_spelling() {
    // Unchanged, the record is written back as it came, compact.
    let line = r#"{ "a" : "caf\u00e9" , "b" : 1E3, "c": {"d": 2.50e+1} }"#;
    let results = testing::run(weir_guest::map(identity), "{}", [line]);
    assert_eq!(
        results,
        [lines(&[r#"{"a":"caf\u00e9","b":1E3,"c":{"d":2.50e+1}}"#])]
    );
    // Changed, only what changed is written anew.
    fn shout(mut v: Value) -> Result<Value, Error> {
        v["x"] = Value::from("NEW");
        Ok(v)
    }
    let results = testing::run(weir_guest::map(shout), "{}", [line]);
    assert_eq!(
        results,
        [lines(&[
            r#"{"a":"caf\u00e9","b":1E3,"c":{"d":2.50e+1},"x":"NEW"}"#
        ])]
    );
}

#[derive(Deserialize)]
struct Visit {
    user: User,
    seconds: u64,
}

#[derive(Deserialize)]
struct User {
    id: u64,
}

#[derive(Serialize)]
struct Scored {
    user_id: u64,
    minutes: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScoreConfig {
    divisor: u64,
}

fn score(visit: Visit, config: &ScoreConfig) -> Result<Scored, Error> {
    if config.divisor == 0 {
        return Err(Error::new("divisor is zero"));
    }
    Ok(Scored {
        user_id: visit.user.id,
        minutes: visit.seconds / config.divisor,
    })
}

#[test]
fn typed_map_uses_its_config_and_names_bad_fields() {
    let results = testing::run(
        weir_guest::map(score),
        r#"{"divisor": 60}"#,
        [
            r#"{"user":{"id":7},"seconds":600}"#,
            r#"{"user":{"id":"7"},"seconds":600}"#,
            r#"{"user":{"id":7}}"#,
            r#"[1,2]"#,
        ],
    );
    assert_eq!(results[0], lines(&[r#"{"user_id":7,"minutes":10}"#]));
    let Err(wrong_type) = &results[1] else {
        panic!("a string id was accepted: {:?}", results[1]);
    };
    assert!(
        wrong_type.starts_with(r#"user.id: invalid type: string "7", expected u64"#),
        "{wrong_type}"
    );
    let Err(missing) = &results[2] else {
        panic!("a visit without seconds was accepted: {:?}", results[2]);
    };
    assert!(missing.starts_with("missing field `seconds`"), "{missing}");
    assert_eq!(results[3], Err("record is not a JSON object".to_owned()));
}

#[test]
fn bad_config_fails_init_naming_the_field() {
    let error = Session::start(weir_guest::map(score), r#"{"divisor": "sixty"}"#)
        .err()
        .expect("a string divisor was accepted");
    assert!(
        error.starts_with(r#"invalid config: divisor: invalid type: string "sixty""#),
        "{error}"
    );
    let error = Session::start(weir_guest::map(score), r#"{"divisor": 1, "extra": 2}"#)
        .err()
        .expect("an unknown key was accepted");
    assert!(error.contains("unknown field `extra`"), "{error}");
}

#[test]
fn transform_without_config_rejects_config_keys() {
    let error = Session::start(weir_guest::map(identity), r#"{"fields": ["a"]}"#)
        .err()
        .expect("a config was accepted by a transform that takes none");
    assert!(error.contains("unknown field `fields`"), "{error}");
    assert!(Session::start(weir_guest::map(identity), "{}").is_ok());
}

#[test]
fn chunk_has_one_outcome_per_line_whatever_the_line_endings() {
    let mut session = Session::start(weir_guest::map(identity), "{}").expect("no config");
    let processed = session.process_chunk("{\"a\":1}\r\n\n{\"b\":2}\n{\"c\":3}");
    assert_eq!(
        processed,
        Processed {
            output: "{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n".to_owned(),
            outcomes: vec![
                Outcome::Emitted(1),
                Outcome::Failed("record is not a JSON object".to_owned()),
                Outcome::Emitted(1),
                Outcome::Emitted(1),
            ],
        }
    );
    assert_eq!(
        session.process_chunk(""),
        Processed {
            output: String::new(),
            outcomes: vec![]
        }
    );
}

/// Writes its record twice, then rejects it if it has `"fail": true`.
struct EchoTwiceThenCheck;

impl Transform for EchoTwiceThenCheck {
    type Config = NoConfig;

    fn init(&mut self, _: NoConfig) -> Result<(), Error> {
        Ok(())
    }

    fn process(&mut self, record: Record<'_>, output: &mut Output<'_>) -> Result<(), Error> {
        output.pass(record);
        output.pass(record);
        let value: Value = record.parse()?;
        if value["fail"] == true {
            return Err(Error::new("asked to fail"));
        }
        if value["panic"] == true {
            panic!("asked to panic");
        }
        Ok(())
    }
}

#[test]
fn failed_record_takes_back_what_it_wrote() {
    let mut session = Session::start(EchoTwiceThenCheck, "{}").expect("no config");
    let processed = session.process_chunk("{\"n\":1}\n{\"fail\":true}\n{\"n\":3}\n");
    assert_eq!(
        processed.output,
        "{\"n\":1}\n{\"n\":1}\n{\"n\":3}\n{\"n\":3}\n"
    );
    assert_eq!(
        processed.outcomes,
        [
            Outcome::Emitted(2),
            Outcome::Failed("asked to fail".to_owned()),
            Outcome::Emitted(2)
        ]
    );
}

#[test]
fn native_panic_fails_only_its_record() {
    let results = testing::run(
        EchoTwiceThenCheck,
        "{}",
        [r#"{"n":1}"#, r#"{"panic":true}"#, r#"{"n":3}"#],
    );
    assert_eq!(results[0], lines(&[r#"{"n":1}"#, r#"{"n":1}"#]));
    assert_eq!(
        results[1],
        Err("the transform panicked: asked to panic".to_owned())
    );
    assert_eq!(results[2], lines(&[r#"{"n":3}"#, r#"{"n":3}"#]));
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Threshold {
    min: i64,
}

fn at_least(record: &Value, config: &Threshold) -> Result<bool, String> {
    match record["n"].as_i64() {
        Some(n) => Ok(n >= config.min),
        None => Err("field `n` is not an integer".to_owned()),
    }
}

#[test]
fn filter_keeps_records_verbatim_and_can_reject() {
    let results = testing::run(
        weir_guest::filter(at_least),
        r#"{"min": 2}"#,
        [r#"{"n": 1}"#, r#"{ "n" : 2 , "x":1.0 }"#, r#"{"n":"two"}"#],
    );
    assert_eq!(
        results,
        [
            lines(&[]),
            lines(&[r#"{ "n" : 2 , "x":1.0 }"#]),
            Err("field `n` is not an integer".to_owned()),
        ]
    );
}

fn split_words(record: Value) -> Vec<Value> {
    record["text"]
        .as_str()
        .unwrap_or_default()
        .split_whitespace()
        .map(|word| serde_json::json!({ "word": word }))
        .collect()
}

#[test]
fn flat_map_emits_any_number_in_order() {
    let mut session = Session::start(weir_guest::flat_map(split_words), "{}").expect("no config");
    let processed =
        session.process_chunk("{\"text\":\"a b\"}\n{\"text\":\"\"}\n{\"text\":\"c\"}\n");
    assert_eq!(
        processed.output,
        "{\"word\":\"a\"}\n{\"word\":\"b\"}\n{\"word\":\"c\"}\n"
    );
    assert_eq!(
        processed.outcomes,
        [
            Outcome::Emitted(2),
            Outcome::Emitted(0),
            Outcome::Emitted(1)
        ]
    );
}

#[test]
fn map_output_must_be_an_object() {
    fn to_number(_: Value) -> Result<u32, Error> {
        Ok(1)
    }
    let results = testing::run(weir_guest::map(to_number), "{}", [r#"{"a":1}"#]);
    assert_eq!(
        results,
        [Err("output record is not a JSON object".to_owned())]
    );
}

#[test]
fn a_nan_or_infinity_in_the_output_fails_its_record_naming_the_field() {
    #[derive(Deserialize)]
    struct Sale {
        total: f64,
        items: f64,
    }
    #[derive(Serialize)]
    struct Averaged {
        average: f64,
        per_item: Vec<f64>,
        note: Option<String>,
    }
    fn average(sale: Sale) -> Result<Averaged, Error> {
        Ok(Averaged {
            average: sale.total / sale.items,
            per_item: vec![sale.total, sale.total / sale.items],
            note: None,
        })
    }
    let results = testing::run(
        weir_guest::map(average),
        "{}",
        [
            r#"{"total":10.0,"items":4.0}"#,
            r#"{"total":0.0,"items":0.0}"#,
            r#"{"total":1.0,"items":0.0}"#,
        ],
    );
    // A null of the record's own (`note`) is no NaN: the record is written.
    assert_eq!(
        results[0],
        lines(&[r#"{"average":2.5,"per_item":[10.0,2.5],"note":null}"#])
    );
    let Err(nan) = &results[1] else {
        panic!("NaN was written: {:?}", results[1]);
    };
    assert!(nan.starts_with("`average` is NaN"), "{nan}");
    let Err(infinite) = &results[2] else {
        panic!("an infinity was written: {:?}", results[2]);
    };
    assert!(
        infinite.starts_with("`average` is an infinity"),
        "{infinite}"
    );
}

#[test]
fn assert_cases_reports_a_wrong_expectation() {
    let cases = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("weir-guest-wrong-case");
    let case = cases.join("identity");
    fs::create_dir_all(&case).expect("create case dir");
    fs::write(case.join("input.ndjson"), "{\"a\":1}\n{\"b\"\n").expect("write input");
    fs::write(case.join("expected.ndjson"), "{\"a\":2}\n").expect("write expected");
    fs::write(
        case.join("expected-quarantine.ndjson"),
        "{\"line\":2,\"reason\":\"EOF while parsing\"}\n",
    )
    .expect("write quarantine");
    let outcome = std::panic::catch_unwind(|| {
        testing::assert_cases(|| weir_guest::map(identity), &cases);
    });
    let payload = outcome.expect_err("a wrong expected.ndjson passed");
    let message = payload
        .downcast_ref::<String>()
        .expect("assert_cases panics with a message");
    assert!(message.contains("output differs"), "{message}");
    assert!(!message.contains("line 2"), "{message}");

    fs::write(case.join("expected.ndjson"), "{\"a\":1}\n").expect("write expected");
    testing::assert_cases(|| weir_guest::map(identity), &cases);
}

/// A transform whose whole chunk is handled by `F`; `process` is never used.
struct ChunkFn<F>(F);

fn chunk_fn<F>(handle: F) -> ChunkFn<F>
where
    F: FnMut(&[Record<'_>], &mut ChunkOutput) -> Result<(), Error>,
{
    ChunkFn(handle)
}

impl<F> Transform for ChunkFn<F>
where
    F: FnMut(&[Record<'_>], &mut ChunkOutput) -> Result<(), Error>,
{
    type Config = NoConfig;

    fn init(&mut self, _: NoConfig) -> Result<(), Error> {
        Ok(())
    }

    fn process(&mut self, _: Record<'_>, _: &mut Output<'_>) -> Result<(), Error> {
        Err(Error::new("process is not used"))
    }

    fn process_chunk(
        &mut self,
        records: &[Record<'_>],
        output: &mut ChunkOutput,
    ) -> Result<(), Error> {
        (self.0)(records, output)
    }
}

#[test]
fn chunk_hook_gets_every_record_in_one_call_and_fails_bad_ones_alone() {
    let mut calls = Vec::new();
    let transform = chunk_fn(|records, output| {
        calls.push(records.len());
        let parsed: Vec<Result<Value, Error>> = records.iter().map(Record::parse).collect();
        let total: i64 = parsed
            .iter()
            .flatten()
            .filter_map(|value| value["n"].as_i64())
            .sum();
        for result in parsed {
            output.record(|writer| {
                let mut value = result?;
                if value["n"] == 0 {
                    return Err(Error::new("n is zero"));
                }
                value["total"] = total.into();
                writer.emit(&value)?;
                writer.emit(&serde_json::json!({ "copy": value["n"] }))
            });
        }
        Ok(())
    });
    let results = testing::run(
        transform,
        "{}",
        [r#"{"n":1}"#, r#"{"n":"#, r#"{"n":0}"#, r#"{"n":2}"#],
    );
    assert_eq!(
        results[0],
        lines(&[r#"{"n":1,"total":3}"#, r#"{"copy":1}"#])
    );
    assert_eq!(
        results[1],
        Err("EOF while parsing a value (column 5)".to_owned())
    );
    assert_eq!(results[2], Err("n is zero".to_owned()));
    assert_eq!(
        results[3],
        lines(&[r#"{"n":2,"total":3}"#, r#"{"copy":2}"#])
    );
    assert_eq!(calls, [4], "one call for the whole chunk");
}

#[test]
fn chunk_error_fails_only_the_records_not_yet_settled() {
    let transform = chunk_fn(|records, output| {
        output.record(|writer| {
            writer.pass(records[0]);
            Ok(())
        });
        Err(Error::new("the model is gone"))
    });
    let results = testing::run(transform, "{}", [r#"{"a":1}"#, r#"{"b":2}"#, r#"{"c":3}"#]);
    assert_eq!(
        results,
        [
            lines(&[r#"{"a":1}"#]),
            Err("the model is gone".to_owned()),
            Err("the model is gone".to_owned()),
        ]
    );
}

#[test]
fn records_left_unsettled_fail_with_a_message_saying_so() {
    let transform = chunk_fn(|records, output| {
        assert_eq!(output.remaining(), records.len());
        output.record(|_| Ok(()));
        assert_eq!(output.remaining(), records.len() - 1);
        Ok(())
    });
    let results = testing::run(transform, "{}", [r#"{"a":1}"#, r#"{"b":2}"#]);
    assert_eq!(
        results,
        [
            lines(&[]),
            Err("the transform gave this record no outcome".to_owned())
        ]
    );
}

#[test]
fn settling_more_records_than_the_chunk_holds_fails_all_of_them() {
    let transform = chunk_fn(|records, output| {
        for &record in records.iter().chain(records) {
            output.record(|writer| {
                writer.pass(record);
                Ok(())
            });
        }
        Ok(())
    });
    let mut session = Session::start(transform, "{}").expect("no config");
    let processed = session.process_chunk("{\"a\":1}\n{\"b\":2}\n");
    let reason = "the transform settled more records than the chunk's 2".to_owned();
    assert_eq!(
        processed,
        Processed {
            output: String::new(),
            outcomes: vec![Outcome::Failed(reason.clone()), Outcome::Failed(reason)],
        }
    );
}

#[test]
fn native_panic_in_a_chunk_call_fails_the_chunk_but_in_a_record_only_the_record() {
    fn panicking(records: &[Record<'_>], output: &mut ChunkOutput) -> Result<(), Error> {
        for &record in records {
            output.record(|writer| {
                if record.as_str().contains("record panic") {
                    panic!("record panic");
                }
                writer.pass(record);
                Ok(())
            });
        }
        if records
            .iter()
            .any(|record| record.as_str().contains("chunk panic"))
        {
            panic!("chunk panic");
        }
        Ok(())
    }
    let results = testing::run(
        chunk_fn(panicking),
        "{}",
        [r#"{"n":1}"#, r#"{"x":"record panic"}"#, r#"{"n":3}"#],
    );
    assert_eq!(results[0], lines(&[r#"{"n":1}"#]));
    assert_eq!(
        results[1],
        Err("the transform panicked: record panic".to_owned())
    );
    assert_eq!(results[2], lines(&[r#"{"n":3}"#]));

    let mut session = Session::start(chunk_fn(panicking), "{}").expect("no config");
    let processed = session.process_chunk("{\"n\":1}\n{\"x\":\"chunk panic\"}\n");
    let reason = "the transform panicked: chunk panic".to_owned();
    assert_eq!(
        processed,
        Processed {
            output: String::new(),
            outcomes: vec![Outcome::Failed(reason.clone()), Outcome::Failed(reason)],
        },
        "a panic outside `record` takes back the whole chunk, as a trap does"
    );
}
