//! The extract against a real primary and hot standby (the shared
//! harness, `weir_tests::pg`): types one at a time, paging and windows, and
//! each documented error. `WEIR_TEST_EXTRACT_COPY=0` runs them on the
//! query path instead of COPY.

use chrono::{TimeZone as _, Utc};
use std::sync::atomic::{AtomicU32, Ordering};
use weir_extract::{Extract, ExtractError, ExtractSpec, RetryPolicy, Source, Window};
use weir_tests::pg::{self, Cluster};

fn table_name() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!("t{}", N.fetch_add(1, Ordering::Relaxed))
}

fn standby() -> Source {
    Source::from_url(&Cluster::shared().standby_url()).unwrap_or_else(|e| panic!("{e}"))
}

/// Whether pages are read by COPY (the default) or, with
/// `WEIR_TEST_EXTRACT_COPY=0`, as queries: every test here runs on either path.
fn copy_path() -> bool {
    std::env::var("WEIR_TEST_EXTRACT_COPY").as_deref() != Ok("0")
}

/// Every line of an extract from the standby, and its summary.
async fn extract_all(spec: ExtractSpec) -> Result<(String, weir_extract::Summary), ExtractError> {
    let mut x = Extract::start(spec.with_copy(copy_path())).await?;
    let mut out = Vec::new();
    while let Some(page) = x.next_page().await? {
        assert_eq!(
            page.lines.iter().filter(|&&b| b == b'\n').count() as u64,
            page.rows
        );
        out.extend_from_slice(&page.lines);
    }
    let summary = x.finish().await?;
    Ok((
        String::from_utf8(out).unwrap_or_else(|e| panic!("{e}")),
        summary,
    ))
}

/// The JSON the extract writes for `literal` in a column of `sql_type`.
async fn value_of(sql_type: &str, literal: &str) -> String {
    let t = table_name();
    Cluster::shared()
        .primary_exec(&format!("CREATE TABLE {t} (id int PRIMARY KEY, v {sql_type}); INSERT INTO {t} VALUES (1, {literal});"));
    let (lines, _) = extract_all(ExtractSpec::table(standby(), &t, "id"))
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let line = lines
        .strip_suffix('\n')
        .unwrap_or_else(|| panic!("one line: {lines:?}"));
    let v = line
        .strip_prefix("{\"id\":1,\"v\":")
        .and_then(|l| l.strip_suffix('}'));
    v.unwrap_or_else(|| panic!("unexpected line {line}"))
        .to_string()
}

#[tokio::test]
async fn integers_are_exact_json_integers() {
    assert_eq!(
        value_of("int8", "9223372036854775807").await,
        "9223372036854775807"
    );
    assert_eq!(
        value_of("int8", "-9223372036854775808").await,
        "-9223372036854775808"
    );
    assert_eq!(value_of("int2", "-32768").await, "-32768");
    assert_eq!(value_of("int4", "NULL").await, "null");
}

#[tokio::test]
async fn numeric_keeps_every_digit_and_names_nan() {
    let forty = "1234567890123456789012345678901234567890";
    assert_eq!(
        value_of("numeric", &format!("{forty}.5")).await,
        format!("{forty}.5")
    );
    assert_eq!(
        value_of("numeric", "'-0.000000000000000000001'").await,
        "-0.000000000000000000001"
    );
    assert_eq!(value_of("numeric", "1.50").await, "1.50");
    assert_eq!(value_of("numeric", "10000").await, "10000");
    assert_eq!(value_of("numeric", "'NaN'").await, "\"NaN\"");
    assert_eq!(value_of("numeric", "'-Infinity'").await, "\"-Infinity\"");
}

#[tokio::test]
async fn floats_are_shortest_round_trip_and_keep_negative_zero() {
    assert_eq!(value_of("float8", "1e-300").await, "1e-300");
    assert_eq!(value_of("float8", "'-0'").await, "-0.0");
    assert_eq!(value_of("float8", "0.1").await, "0.1");
    assert_eq!(value_of("float4", "0.1").await, "0.1");
    assert_eq!(value_of("float8", "'NaN'").await, "\"NaN\"");
    assert_eq!(value_of("float4", "'-Infinity'").await, "\"-Infinity\"");
}

#[tokio::test]
async fn timestamps_are_rfc3339_utc_with_z() {
    assert_eq!(
        value_of("timestamptz", "'1969-07-20 20:17:40+00'").await,
        "\"1969-07-20T20:17:40Z\""
    );
    assert_eq!(
        value_of("timestamptz", "'2126-01-01 05:30:00.5+05:30'").await,
        "\"2126-01-01T00:00:00.5Z\""
    );
    assert_eq!(
        value_of("timestamp", "'1900-02-28 23:59:59.000001'").await,
        "\"1900-02-28T23:59:59.000001Z\""
    );
    assert_eq!(value_of("timestamptz", "'infinity'").await, "\"infinity\"");
    assert_eq!(value_of("timestamp", "'-infinity'").await, "\"-infinity\"");
}

#[tokio::test]
async fn timestamps_beyond_year_9999_are_an_error_naming_column_and_key() {
    let t = table_name();
    Cluster::shared()
        .primary_exec(&format!("CREATE TABLE {t} (id int PRIMARY KEY, born timestamp); INSERT INTO {t} VALUES (17, '10000-01-01');"));
    let e = extract_all(ExtractSpec::table(standby(), &t, "id"))
        .await
        .err()
        .unwrap_or_else(|| panic!("no error"));
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("table {t}")) && msg.contains("\"born\"") && msg.contains("key 17"),
        "{msg}"
    );
    assert_eq!(e.exit_code(), 6);
}

#[tokio::test]
async fn dates_times_and_intervals_are_iso_strings() {
    assert_eq!(value_of("date", "'0099-12-31'").await, "\"0099-12-31\"");
    assert_eq!(value_of("date", "'infinity'").await, "\"infinity\"");
    assert_eq!(
        value_of("time", "'23:59:59.999999'").await,
        "\"23:59:59.999999\""
    );
    assert_eq!(
        value_of("timetz", "'12:00:00+05:30'").await,
        "\"12:00:00+05:30\""
    );
    assert_eq!(
        value_of("interval", "'1 year 2 months 3 days 04:05:06.5'").await,
        "\"P1Y2M3DT4H5M6.5S\""
    );
    assert_eq!(value_of("interval", "'-1 day'").await, "\"P-1D\"");
    assert_eq!(value_of("interval", "'0'").await, "\"PT0S\"");
}

#[tokio::test]
async fn json_and_jsonb_are_embedded_with_big_integers_exact() {
    let big = "123456789012345678901234567890";
    assert_eq!(
        value_of("jsonb", &format!("'{{\"a\": [1, {{\"n\": {big}}}]}}'")).await,
        format!("{{\"a\":[1,{{\"n\":{big}}}]}}")
    );
    assert_eq!(
        value_of("json", "E'{\"k\" :\\n \"x y\\\\n\"}'").await,
        "{\"k\":\"x y\\n\"}"
    );
}

#[tokio::test]
async fn a_json_value_naming_a_key_twice_is_an_error_naming_column_and_key() {
    let t = table_name();
    Cluster::shared().primary_exec(&format!(
        "CREATE TABLE {t} (id int PRIMARY KEY, doc json);
         INSERT INTO {t} VALUES (1, '{{\"a\": 1}}'), (23, '{{\"tags\": {{\"x\": 1, \"x\": 2}}}}');"
    ));
    let e = extract_all(ExtractSpec::table(standby(), &t, "id"))
        .await
        .err()
        .unwrap_or_else(|| panic!("no error"));
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("table {t}"))
            && msg.contains("\"doc\"")
            && msg.contains("key 23")
            && msg.contains("the key \"x\" twice"),
        "{msg}"
    );
    assert_eq!(e.exit_code(), 6);
}

#[tokio::test]
async fn arrays_nest_and_keep_null_and_empty() {
    assert_eq!(
        value_of("int4[]", "'{{1,2},{3,NULL}}'").await,
        "[[1,2],[3,null]]"
    );
    assert_eq!(value_of("text[]", "'{}'").await, "[]");
    assert_eq!(
        value_of("numeric[]", "ARRAY[1.50, 'NaN']").await,
        "[1.50,\"NaN\"]"
    );
    assert_eq!(value_of("text[]", "NULL").await, "null");
}

#[tokio::test]
async fn bytea_is_base64_with_zero_bytes() {
    assert_eq!(value_of("bytea", "'\\x000102ff'").await, "\"AAEC/w==\"");
}

#[tokio::test]
async fn text_uuid_inet_and_enums_are_strings() {
    assert_eq!(
        value_of("text", "E'q\"b\\\\t\\t\\n\\u0001é'").await,
        "\"q\\\"b\\\\t\\t\\n\\u0001é\""
    );
    assert_eq!(
        value_of("uuid", "'0195C2E0-0000-7000-8000-00000000000A'").await,
        "\"0195c2e0-0000-7000-8000-00000000000a\""
    );
    assert_eq!(value_of("inet", "'10.0.0.1'").await, "\"10.0.0.1\"");
    assert_eq!(value_of("inet", "'10.0.0.1/8'").await, "\"10.0.0.1/8\"");
    assert_eq!(value_of("cidr", "'10.0.0.0/8'").await, "\"10.0.0.0/8\"");
    assert_eq!(value_of("bool", "true").await, "true");
    let e = table_name();
    Cluster::shared().primary_exec(&format!("CREATE TYPE mood_{e} AS ENUM ('sad', 'ok');"));
    assert_eq!(value_of(&format!("mood_{e}"), "'ok'").await, "\"ok\"");
}

#[tokio::test]
async fn unknown_types_are_their_text_form_with_a_warning_naming_the_column() {
    let t = table_name();
    Cluster::shared().primary_exec(&format!(
        "CREATE TABLE {t} (id int PRIMARY KEY, r int4range); INSERT INTO {t} VALUES (1, '[1,10)');"
    ));
    let (lines, summary) = extract_all(ExtractSpec::table(standby(), &t, "id"))
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(lines, "{\"id\":1,\"r\":\"[1,10)\"}\n");
    assert!(
        summary
            .warnings
            .iter()
            .any(|w| w.contains("\"r\"") && w.contains("int4range")),
        "{:?}",
        summary.warnings
    );
}

/// 1000 rows, an hour apart from 2026-01-01, keys not in cursor order.
fn hourly_table() -> String {
    let t = table_name();
    Cluster::shared()
        .primary_exec(&format!(
            "CREATE TABLE {t} (id int PRIMARY KEY, at timestamptz, body text);
             INSERT INTO {t} SELECT (i * 7919) % 1000, '2026-01-01'::timestamptz + i * interval '1 hour', 'row ' || i
             FROM generate_series(0, 999) i;"
        ));
    t
}

fn window(from_hour: i64, to_hour: i64) -> Window {
    let base = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_else(|| panic!("date"));
    Window {
        start: base + chrono::TimeDelta::hours(from_hour),
        end: base + chrono::TimeDelta::hours(to_hour),
    }
}

#[tokio::test]
async fn pages_cover_the_closed_open_window_without_duplicates_or_gaps() {
    let t = hourly_table();
    let spec = |w| {
        ExtractSpec::table(standby(), &t, "id")
            .with_cursor("at", w)
            .with_page_rows(7)
    };
    let (both, summary) = extract_all(spec(window(100, 300)))
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let (first, _) = extract_all(spec(window(100, 200)))
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let (second, _) = extract_all(spec(window(200, 300)))
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(summary.rows, 200);
    assert_eq!(summary.pages, 29);
    let sorted = |s: &str| {
        let mut v: Vec<String> = s.lines().map(String::from).collect();
        v.sort();
        v
    };
    assert_eq!(sorted(&both), sorted(&(first.clone() + &second)));
    assert_eq!(sorted(&first).len(), 100);
    assert!(
        first.contains("\"at\":\"2026-01-05T04:00:00Z\"")
            && !first.contains("\"at\":\"2026-01-09T08:00:00Z\"")
    );
    assert!(summary.standby && summary.replay_start.is_some() && summary.replay_end.is_some());
    assert!(!format!("{summary:?}").contains(pg::PASSWORD));
}

#[tokio::test]
async fn snapshot_mode_reads_every_row_in_key_order() {
    let t = hourly_table();
    let (lines, _) = extract_all(ExtractSpec::table(standby(), &t, "id").with_page_rows(64))
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let ids: Vec<String> = lines
        .lines()
        .map(|l| l.split(',').next().unwrap_or_default().to_string())
        .collect();
    let want: Vec<String> = (0..1000).map(|i| format!("{{\"id\":{i}")).collect();
    assert_eq!(ids, want);
}

/// The plan of the page statement `summary.sql` (snapshot mode: `$1` is
/// the last key) for a page after key 10, on the standby.
fn page_plan(summary: &weir_extract::Summary) -> String {
    Cluster::shared().psql(
        Cluster::shared().standby_port,
        &format!("PREPARE page AS {}; EXPLAIN EXECUTE page(10);", summary.sql),
    )
}

/// What docs/extract.md says of volatile functions: a page of a plain
/// query is read from the key's index, but a volatile function in the
/// select list puts a sort over a scan of every row under each page.
#[tokio::test]
async fn a_volatile_function_in_the_select_list_makes_each_page_sort_the_whole_query() {
    let t = table_name();
    Cluster::shared().primary_exec(&format!(
        "CREATE TABLE {t} (id int PRIMARY KEY, body text);
         INSERT INTO {t} SELECT i, md5(i::text) FROM generate_series(1, 20000) i;
         ANALYZE {t};"
    ));
    let plan_of = async |query: String| {
        let (_, summary) =
            extract_all(ExtractSpec::query(standby(), &query, "id").with_page_rows(1000))
                .await
                .unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(summary.rows, 20000);
        page_plan(&summary)
    };
    let plain = plan_of(format!("SELECT id, body, now() AS at FROM {t}")).await;
    assert!(
        plain.contains("Index Scan") && !plain.contains("Sort"),
        "{plain}"
    );
    let volatile = plan_of(format!("SELECT id, body, random() AS r FROM {t}")).await;
    assert!(
        volatile.contains("Sort") && volatile.contains("Seq Scan"),
        "{volatile}"
    );
    let in_where = plan_of(format!("SELECT id, body FROM {t} WHERE random() < 2")).await;
    assert!(
        in_where.contains("Index Scan") && !in_where.contains("Sort"),
        "{in_where}"
    );
}

#[tokio::test]
async fn a_non_unique_key_across_a_page_boundary_is_detected() {
    let t = table_name();
    Cluster::shared().primary_exec(&format!(
        "CREATE TABLE {t} (id int, v text); INSERT INTO {t} VALUES (1,'a'),(2,'b'),(2,'c'),(3,'d');"
    ));
    let e = extract_all(ExtractSpec::table(standby(), &t, "id").with_page_rows(2))
        .await
        .err()
        .unwrap_or_else(|| panic!("no error"));
    assert!(
        matches!(e, ExtractError::KeyNotUnique { ref key, .. } if key == "2"),
        "{e}"
    );
}

#[tokio::test]
async fn the_query_form_needs_the_key_column() {
    let t = hourly_table();
    let e = extract_all(ExtractSpec::query(
        standby(),
        &format!("SELECT body FROM {t};"),
        "id",
    ))
    .await
    .err()
    .unwrap_or_else(|| panic!("no error"));
    assert!(
        e.to_string()
            .contains("query has no column \"id\" (the key must be one of its columns)"),
        "{e}"
    );
    let (lines, _) = extract_all(ExtractSpec::query(
        standby(),
        &format!("SELECT id, upper(body) AS b FROM {t} WHERE id < 3"),
        "id",
    ))
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(lines.lines().count(), 3);
}

#[tokio::test]
async fn schema_errors_name_what_is_wrong() {
    let t = hourly_table();
    let e = extract_all(ExtractSpec::table(standby(), "no_such_table", "id"))
        .await
        .err()
        .unwrap_or_else(|| panic!("no error"));
    assert_eq!(e.to_string(), "table \"no_such_table\" does not exist");
    let e = extract_all(ExtractSpec::table(standby(), &t, "id").with_columns(vec!["bdy".into()]))
        .await
        .err()
        .unwrap_or_else(|| panic!("no error"));
    assert_eq!(e.to_string(), format!("table {t} has no column \"bdy\""));
    let e = extract_all(ExtractSpec::table(standby(), &t, "id").with_cursor("id", window(0, 1)))
        .await
        .err()
        .unwrap_or_else(|| panic!("no error"));
    assert_eq!(
        e.to_string(),
        "cursor column \"id\" has type int4; expected timestamptz, timestamp or date"
    );
    // A key of a type read only as its text form (bit) is refused before
    // any page, rather than failing each page's resume as a protocol error.
    let b = table_name();
    Cluster::shared().primary_exec(&format!(
        "CREATE TABLE {b} (k bit(3) PRIMARY KEY, v text); INSERT INTO {b} VALUES (B'001', 'a'), (B'010', 'b');"
    ));
    let e = extract_all(ExtractSpec::table(standby(), &b, "k"))
        .await
        .err()
        .unwrap_or_else(|| panic!("no error"));
    assert!(
        e.to_string()
            .starts_with("key column \"k\" has type bit, which Weir reads only as its text form"),
        "{e}"
    );
    let future = Window {
        start: Utc::now(),
        end: Utc::now() + chrono::TimeDelta::days(1),
    };
    let e = extract_all(ExtractSpec::table(standby(), &t, "id").with_cursor("at", future))
        .await
        .err()
        .unwrap_or_else(|| panic!("no error"));
    assert!(e.to_string().contains("the window is still open"), "{e}");
}

#[tokio::test]
async fn a_wrong_password_fails_without_showing_it() {
    let c = Cluster::shared();
    let src = Source::from_url(&format!(
        "postgres://postgres:not-it-xyz@127.0.0.1:{}/postgres",
        c.standby_port
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let e = extract_all(ExtractSpec::table(src, "pg_class", "oid"))
        .await
        .err()
        .unwrap_or_else(|| panic!("no error"));
    assert_eq!(e.sqlstate(), Some("28P01"), "{e:?}");
    assert_eq!(e.exit_code(), 5);
    let shown = format!("{e} {e:?} {:#}", anyhow_like(&e));
    assert!(!shown.contains("not-it-xyz"), "{shown}");
}

fn anyhow_like(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(&format!(": {c}"));
        cur = c.source();
    }
    s
}

#[tokio::test]
async fn an_unreachable_host_fails_after_retries() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(1);
    let src = Source::from_url(&format!("postgres://u@127.0.0.1:{port}/db"))
        .unwrap_or_else(|e| panic!("{e}"));
    let retry = RetryPolicy {
        max_retries: 2,
        first_backoff: std::time::Duration::from_millis(10),
        ..RetryPolicy::default()
    };
    let e = extract_all(ExtractSpec::table(src, "t", "id").with_retry(retry))
        .await
        .err()
        .unwrap_or_else(|| panic!("no error"));
    assert!(
        e.to_string()
            .starts_with(&format!("cannot connect to 127.0.0.1:{port}/db as u")),
        "{e}"
    );
    assert_eq!(e.exit_code(), 5);
}

#[tokio::test]
async fn a_statement_timeout_is_named() {
    let src = standby().with_statement_timeout(Some(std::time::Duration::from_millis(50)));
    let e = extract_all(ExtractSpec::query(
        src,
        "SELECT 1 AS id, pg_sleep(2)::text AS s",
        "id",
    ))
    .await
    .err()
    .unwrap_or_else(|| panic!("no error"));
    assert!(e.to_string().contains("statement timeout"), "{e}");
    assert_eq!(e.sqlstate(), Some("57014"));
}
