//! The COPY path against the query path on a real standby: the same pages,
//! byte for byte, for every type of docs/extract.md's type table and for
//! keys of many types (each page's last key goes back to the server as a
//! literal), in windows and shard ranges; and a COPY cut off mid-stream is
//! retried without a row duplicated or lost.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use weir_extract::{Extract, ExtractSpec, KeyRange, RetryPolicy, Source, Window};
use weir_tests::pg::{Cluster, PASSWORD};

fn table_name() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!("c{}", N.fetch_add(1, Ordering::Relaxed))
}

fn standby() -> Source {
    Source::from_url(&Cluster::shared().standby_url()).unwrap_or_else(|e| panic!("{e}"))
}

/// What a page holds, for comparing two extracts.
#[derive(Debug, PartialEq, Eq)]
struct PageSeen {
    lines: String,
    rows: u64,
    first_key: String,
    last_key: String,
    keys: Vec<String>,
}

/// Every page of an extract, and how many were read by COPY.
async fn pages(spec: ExtractSpec) -> (Vec<PageSeen>, u64) {
    let mut x = Extract::start(spec)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let mut seen = Vec::new();
    while let Some(p) = x
        .next_page()
        .await
        .unwrap_or_else(|e| panic!("{e}: {:?}", std::error::Error::source(&e)))
    {
        seen.push(PageSeen {
            lines: String::from_utf8(p.lines).unwrap_or_else(|e| panic!("{e}")),
            rows: p.rows,
            first_key: p.first_key,
            last_key: p.last_key,
            keys: p.keys,
        });
    }
    let by_copy = x.pages_by_copy();
    x.finish().await.unwrap_or_else(|e| panic!("{e:#}"));
    (seen, by_copy)
}

/// The pages of `spec` by COPY, checked equal to those by query, and that
/// every page of the first was read by COPY.
async fn same_on_both_paths(spec: ExtractSpec) -> Vec<PageSeen> {
    let (by_copy, copied) = pages(spec.clone().with_copy(true)).await;
    let (by_query, copied_by_query) = pages(spec.with_copy(false)).await;
    assert_eq!(copied, by_copy.len() as u64, "pages by COPY");
    assert_eq!(copied_by_query, 0);
    assert_eq!(by_copy, by_query);
    by_copy
}

#[tokio::test]
async fn copy_and_query_write_identical_pages_for_every_type() {
    let t = table_name();
    let forty = "1234567890123456789012345678901234567890";
    Cluster::shared().primary_exec(&format!(
        "CREATE TYPE mood_{t} AS ENUM ('sad', 'ok');
         CREATE DOMAIN pos_{t} AS int4 CHECK (VALUE > 0);
         CREATE TYPE pair_{t} AS (a int, b text);
         CREATE TABLE {t} (
           id int PRIMARY KEY, i2 int2, i4 int4, i8 int8, o oid, n numeric, f4 float4, f8 float8,
           b bool, tx text, vc varchar(10), ch char(4), nm name, c1 \"char\", e mood_{t}, u uuid,
           ip inet, cr cidr, tz timestamptz, ts timestamp, d date, tm time, ttz timetz, iv interval,
           j json, jb jsonb, a2 int4[], ta text[], na numeric[], by bytea, dm pos_{t},
           mo money, mac macaddr, r int4range, cp pair_{t}, x xml);
         INSERT INTO {t} VALUES
           (1, -32768, 2147483647, -9223372036854775808, 4294967295, {forty}.5, 0.1, 1e-300,
            true, E'q\"b\\\\t\\t\\n\\u0001é''', 'varchar', 'ab', 'name', 'x', 'ok',
            '0195C2E0-0000-7000-8000-00000000000A', '10.0.0.1/8', '10.0.0.0/8',
            '2126-01-01 05:30:00.5+05:30', '1900-02-28 23:59:59.000001', '0099-12-31',
            '23:59:59.999999', '12:00:00+05:30', '1 year 2 months 3 days 04:05:06.5',
            E'{{\"k\" :\\n \"x y\\\\n\"}}', '{{\"a\": [1, {{\"n\": 123456789012345678901234567890}}]}}',
            '{{{{1,2}},{{3,NULL}}}}', '{{}}', ARRAY[1.50, 'NaN'], '\\x000102ff', 7,
            '12.34', '08:00:2b:01:02:03', '[1,10)', ROW(1, 'a,b'), '<a>x</a>'),
           (2, 0, 0, 0, 0, 'NaN', 'NaN', '-0', false, '', '', '', '', '', 'sad',
            '00000000-0000-0000-0000-000000000000', '::1', '::/0', 'infinity', '-infinity', 'infinity',
            '00:00:00', '00:00:00-00:00:01', '-1 day', '[]', '{{}}', '{{{{{{1}},{{2}}}},{{{{3}},{{4}}}}}}',
            '{{NULL,\"\"}}', '{{}}', '', 1, '0', '00:00:00:00:00:00', 'empty', ROW(NULL, NULL), ''),
           (3, 1, 1, 1, 1, '-Infinity', '-Infinity', 'Infinity', NULL, NULL, NULL, NULL, NULL, NULL, NULL,
            NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
            NULL, NULL, NULL, NULL, NULL),
           (4, NULL, NULL, NULL, NULL, '-0.000000000000000000001', NULL, NULL, NULL, NULL, NULL, NULL, NULL,
            NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
            NULL, NULL, NULL, NULL, NULL, NULL, NULL);"
    ));
    let seen = same_on_both_paths(ExtractSpec::table(standby(), &t, "id").with_page_rows(2)).await;
    let all: String = seen.iter().map(|p| p.lines.as_str()).collect();
    assert_eq!(all.lines().count(), 4, "{all}");
    for want in [
        format!("\"n\":{forty}.5"),
        "\"a2\":[[1,2],[3,null]]".into(),
        "\"a2\":[[[1],[2]],[[3],[4]]]".into(),
        "\"n\":\"NaN\"".into(),
        "\"f8\":\"Infinity\"".into(),
        "\"f8\":-0.0".into(),
        "\"r\":\"[1,10)\"".into(),
        "\"by\":\"AAEC/w==\"".into(),
        "\"i2\":null".into(),
    ] {
        assert!(all.contains(&want), "{want} not in {all}");
    }
}

/// Keys whose text needs quoting, every digit, or microseconds: each page's
/// last key is written into the next COPY as a literal, and a literal that
/// read back as another value would skip or repeat rows.
#[tokio::test]
async fn keys_of_every_kind_page_the_same_by_copy_and_by_query() {
    let keys: &[(&str, &[&str])] = &[
        (
            "int8",
            &["-9223372036854775808", "-1", "0", "9223372036854775807"],
        ),
        (
            "text",
            &[
                "E'a''b'",
                "E'back\\\\slash'",
                "E'q\"'",
                "'é\u{1F600}'",
                "''",
            ],
        ),
        (
            "numeric",
            &[
                "1234567890123456789012345678901234567890.5",
                "1234567890123456789012345678901234567890.50001",
                "-0.000000000000000000001",
                "'NaN'",
            ],
        ),
        (
            "timestamptz",
            &[
                "'2026-01-01 00:00:00.000001+00'",
                "'2026-01-01 00:00:00.000002+00'",
                "'-infinity'",
                "'1969-12-31 23:59:59.999999+00'",
            ],
        ),
        (
            "uuid",
            &[
                "'0195c2e0-0000-7000-8000-00000000000a'",
                "'0195c2e0-0000-7000-8000-00000000000b'",
            ],
        ),
        ("float8", &["0.1", "0.30000000000000004", "1e-300", "'NaN'"]),
        ("bytea", &["'\\x00'", "'\\x0000'", "'\\x27'", "'\\x5c'"]),
        // format_type(bpchar) is `character`, which is char(1): the cast must be to bpchar.
        ("char(3)", &["'a'", "'a b'", "'ab'", "'b  '"]),
        ("date", &["'0099-12-31'", "'2026-11-26'", "'infinity'"]),
    ];
    for (ty, values) in keys {
        let t = table_name();
        let rows: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("({v}, {i})"))
            .collect();
        Cluster::shared().primary_exec(&format!(
            "CREATE TABLE {t} (k {ty} PRIMARY KEY, v int); INSERT INTO {t} VALUES {};",
            rows.join(", ")
        ));
        let seen =
            same_on_both_paths(ExtractSpec::table(standby(), &t, "k").with_page_rows(1)).await;
        let total: u64 = seen.iter().map(|p| p.rows).sum();
        assert_eq!(total, values.len() as u64, "{ty}: {seen:?}");
    }
}

/// A window (its bounds as timestamptz literals) and shard ranges (keys
/// from `key_boundaries`, as literals) on both paths.
#[tokio::test]
async fn windows_and_shard_ranges_are_the_same_by_copy_and_by_query() {
    let t = table_name();
    Cluster::shared().primary_exec(&format!(
        "CREATE TABLE {t} (id text PRIMARY KEY, at timestamptz, body text);
         INSERT INTO {t} SELECT 'k''' || lpad(((i * 7919) % 1000)::text, 4, '0'),
           '2026-01-01'::timestamptz + i * interval '1 hour' + interval '1 microsecond', 'row ' || i
         FROM generate_series(0, 999) i;"
    ));
    let base = chrono::DateTime::parse_from_rfc3339("2026-01-05T00:00:00.000001Z")
        .unwrap_or_else(|e| panic!("{e}"))
        .to_utc();
    let window = Window {
        start: base,
        end: base + chrono::TimeDelta::hours(300),
    };
    let spec = ExtractSpec::table(standby(), &t, "id")
        .with_cursor("at", window)
        .with_page_rows(7);
    let whole = same_on_both_paths(spec.clone()).await;
    assert_eq!(whole.iter().map(|p| p.rows).sum::<u64>(), 300);
    let mut x = Extract::start(spec.clone())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let cuts = x
        .key_boundaries(3)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(cuts.len(), 2);
    let mut bounds: Vec<Option<Vec<u8>>> = vec![None];
    bounds.extend(cuts.iter().map(|k| Some(k.raw.clone())));
    bounds.push(None);
    let mut keys = Vec::new();
    for pair in bounds.windows(2) {
        let range = KeyRange {
            from: pair[0].clone(),
            to: pair[1].clone(),
            empty: false,
        };
        for p in same_on_both_paths(spec.clone().with_key_range(range)).await {
            keys.extend(p.keys);
        }
    }
    let whole_keys: Vec<String> = whole.into_iter().flat_map(|p| p.keys).collect();
    assert_eq!(keys, whole_keys);
}

/// The standby's backends running a COPY of `table`, terminated: the
/// extract's connection drops in the middle of a page's stream.
async fn terminate_copy_of(admin: &tokio_postgres::Client, table: &str) -> u64 {
    let rows = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = 'weir-extract' AND state = 'active' \
             AND query LIKE 'COPY (%' AND query LIKE $1",
            &[&format!("%{table}%")],
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    rows.len() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_cut_off_mid_stream_is_retried_without_duplicates_or_losses() {
    let t = table_name();
    // Rows of 20 kB (more than the server's 8 kB send buffer, so each row
    // reaches the client as it is made), 20 ms each: a page of 10 rows
    // streams for about 200 ms.
    Cluster::shared().primary_exec(&format!(
        "CREATE TABLE {t} (id int PRIMARY KEY, body text);
         INSERT INTO {t} SELECT i, repeat(md5(i::text), 625) FROM generate_series(1, 50) i;
         CREATE FUNCTION slow_{t}(i int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS
           $$ BEGIN PERFORM pg_sleep(0.02); RETURN i; END $$;"
    ));
    let c = Cluster::shared();
    let url = format!(
        "host=127.0.0.1 port={} user=postgres password={PASSWORD} dbname=postgres",
        c.standby_port
    );
    let (admin, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(conn);
    let retry = RetryPolicy {
        max_retries: 20,
        first_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(100),
    };
    let spec = ExtractSpec::query(
        standby(),
        &format!("SELECT id, body, slow_{t}(id) AS s FROM {t}"),
        "id",
    )
    .with_page_rows(10)
    .with_retry(retry);
    let mut x = Extract::start(spec)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let mut got = Vec::new();
    let mut terminated = 0;
    loop {
        // 100 ms into each page's first attempt: about 5 rows received.
        let cut = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            terminate_copy_of(&admin, &t).await
        };
        let (page, n) = tokio::join!(x.next_page(), cut);
        terminated += n;
        match page.unwrap_or_else(|e| panic!("{e:#}")) {
            Some(page) => got.extend_from_slice(&page.lines),
            None => break,
        }
    }
    let by_copy = x.pages_by_copy();
    let summary = x.finish().await.unwrap_or_else(|e| panic!("{e:#}"));
    let want: String = admin
        .query(&format!("SELECT id, body FROM {t} ORDER BY id"), &[])
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .iter()
        .map(|r| {
            let (id, body): (i32, String) = (r.get(0), r.get(1));
            format!("{{\"id\":{id},\"body\":\"{body}\",\"s\":{id}}}\n")
        })
        .collect();
    assert_eq!(want.lines().count(), 50);
    assert!(
        String::from_utf8_lossy(&got) == want,
        "the rows differ from the table's"
    );
    assert_eq!(by_copy, summary.pages, "every page by COPY");
    assert!(
        terminated >= 3 && summary.retries >= 3,
        "terminated {terminated}, retried {}: the test did not cut COPYs off",
        summary.retries
    );
}
