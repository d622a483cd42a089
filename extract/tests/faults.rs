//! The extract under faults, each on a cluster of its own: recovery
//! conflicts on the standby are retried with an exact result, and a standby
//! stopped mid-extract fails cleanly. `WEIR_TEST_EXTRACT_COPY=0` runs
//! them on the query path instead of COPY.

use std::time::Duration;
use weir_extract::{Extract, ExtractSpec, RetryPolicy, Source};
use weir_tests::pg::{Cluster, PASSWORD};

/// A client of one of the cluster's servers, for SQL that must run while
/// an extract does.
async fn connect(port: u16) -> tokio_postgres::Client {
    let url =
        format!("host=127.0.0.1 port={port} user=postgres password={PASSWORD} dbname=postgres");
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(conn);
    client
}

/// Whether pages are read by COPY (the default) or, with
/// `WEIR_TEST_EXTRACT_COPY=0`, as queries.
fn copy_path() -> bool {
    std::env::var("WEIR_TEST_EXTRACT_COPY").as_deref() != Ok("0")
}

fn setup(cluster: &Cluster) {
    cluster.primary_exec(
        "CREATE TABLE stable (id int PRIMARY KEY, body text);
             INSERT INTO stable SELECT i, 'row ' || i FROM generate_series(1, 300) i;
             CREATE TABLE churn (id int PRIMARY KEY, v int);
             INSERT INTO churn SELECT i, 0 FROM generate_series(1, 50) i;
             CREATE FUNCTION slow(i int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS
               $$ BEGIN PERFORM pg_sleep(0.02); RETURN i; END $$;",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_conflicts_are_retried_and_the_result_is_exact() {
    let cluster = Cluster::start();
    setup(&cluster);
    let churn = connect(cluster.primary_port).await;
    let source = Source::from_url(&cluster.standby_url()).unwrap_or_else(|e| panic!("{e}"));
    let retry = RetryPolicy {
        max_retries: 20,
        first_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(200),
    };
    // Each page takes about 400 ms (20 rows, 20 ms each); 50 ms into every
    // page's first attempt, the primary removes row versions that the
    // page's snapshot might need, and the standby cancels the page.
    let spec = ExtractSpec::query(
        source,
        "SELECT id, body, slow(id) AS s FROM stable WHERE id <= 100",
        "id",
    )
    .with_page_rows(20)
    .with_retry(retry)
    .with_copy(copy_path());
    let mut x = Extract::start(spec)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let mut got = Vec::new();
    loop {
        let conflict = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            churn
                .batch_execute("UPDATE churn SET v = v + 1")
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            churn
                .batch_execute("VACUUM churn")
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        };
        let (page, ()) = tokio::join!(x.next_page(), conflict);
        match page.unwrap_or_else(|e| panic!("{e:?}")) {
            Some(page) => got.extend_from_slice(&page.lines),
            None => break,
        }
    }
    let summary = x.finish().await.unwrap_or_else(|e| panic!("{e:#}"));
    let want: String = (1..=100)
        .map(|i| format!("{{\"id\":{i},\"body\":\"row {i}\",\"s\":{i}}}\n"))
        .collect();
    assert_eq!(String::from_utf8_lossy(&got), want);
    assert!(
        summary.retries > 0,
        "no recovery conflict happened: the test did not test retries"
    );
}

#[tokio::test]
async fn a_standby_stopped_mid_extract_fails_cleanly() {
    let cluster = Cluster::start();
    setup(&cluster);
    let source = Source::from_url(&cluster.standby_url()).unwrap_or_else(|e| panic!("{e}"));
    let retry = RetryPolicy {
        max_retries: 3,
        first_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
    };
    let spec = ExtractSpec::table(source, "stable", "id")
        .with_page_rows(100)
        .with_retry(retry)
        .with_copy(copy_path());
    let mut x = Extract::start(spec)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let first = x
        .next_page()
        .await
        .unwrap_or_else(|e| panic!("{e:#}"))
        .unwrap_or_else(|| panic!("a page"));
    assert_eq!(
        (
            first.first_key.as_str(),
            first.last_key.as_str(),
            first.rows
        ),
        ("1", "100", 100)
    );
    cluster.stop_standby();
    let e = x
        .next_page()
        .await
        .err()
        .unwrap_or_else(|| panic!("the stopped standby answered"));
    assert_eq!(e.exit_code(), 5, "{e}");
    assert!(e.to_string().contains("127.0.0.1"), "{e}");
}
