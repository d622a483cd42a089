//! Exported snapshots on a real hot standby (the shared harness,
//! `weir_tests::pg`): a consistent extract exports its snapshot, others
//! import it and read exactly what it reads, whatever the primary did
//! since; the errors of an import that cannot work.

use std::sync::atomic::{AtomicU32, Ordering};
use weir_extract::{Extract, ExtractError, ExtractSpec, Source};
use weir_tests::pg::Cluster;

fn table_name() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!("snap{}", N.fetch_add(1, Ordering::Relaxed))
}

fn standby() -> Source {
    Source::from_url(&Cluster::shared().standby_url()).unwrap_or_else(|e| panic!("{e}"))
}

/// Every line of an extract.
async fn lines_of(spec: ExtractSpec) -> Result<String, ExtractError> {
    let mut x = Extract::start(spec).await?;
    let mut out = Vec::new();
    while let Some(page) = x.next_page().await? {
        out.extend_from_slice(&page.lines);
    }
    x.finish().await?;
    Ok(String::from_utf8(out).unwrap_or_else(|e| panic!("{e}")))
}

fn rows(range: std::ops::RangeInclusive<u32>, body: impl Fn(u32) -> String) -> String {
    range
        .map(|i| format!("{{\"id\":{i},\"body\":\"{}\"}}\n", body(i)))
        .collect()
}

#[tokio::test]
async fn an_imported_snapshot_reads_what_its_exporter_reads_on_the_standby() {
    let pg = Cluster::shared();
    let t = table_name();
    pg.primary_exec(&format!(
        "CREATE TABLE {t} (id int4 PRIMARY KEY, body text);
         INSERT INTO {t} SELECT i, 'row ' || i FROM generate_series(1, 10) i;"
    ));
    let spec = ExtractSpec::table(standby(), &t, "id")
        .with_consistent(true)
        .with_page_rows(3);
    let mut coordinator = Extract::start(spec.clone())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // pg_export_snapshot() works during recovery (PostgreSQL 15).
    let id = coordinator
        .export_snapshot()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(coordinator.summary().standby);

    // After the export: rows added and a row changed, replayed on the standby.
    pg.primary_exec(&format!(
        "INSERT INTO {t} SELECT i, 'new' FROM generate_series(11, 15) i;
         UPDATE {t} SET body = 'changed' WHERE id = 4;"
    ));
    let imported = lines_of(spec.clone().with_snapshot(&id))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(imported, rows(1..=10, |i| format!("row {i}")));
    // A snapshot of its own, taken now, sees the changes: the import is what hid them.
    let own = lines_of(spec.clone())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let now = |i: u32| match i {
        4 => "changed".to_owned(),
        11.. => "new".to_owned(),
        _ => format!("row {i}"),
    };
    assert_eq!(own, rows(1..=15, now));
    coordinator.finish().await.unwrap_or_else(|e| panic!("{e}"));

    // Once the exporting transaction has ended, its snapshot is gone.
    let Err(gone) = lines_of(spec.clone().with_snapshot(&id)).await else {
        panic!("imported a snapshot whose transaction had ended");
    };
    assert_eq!(gone.exit_code(), 5);
    assert!(
        gone.to_string()
            .contains(&format!("importing the exported snapshot {id}")),
        "{gone}"
    );
    // Only an identifier reaches the SQL; only a consistent extract exports.
    let Err(bad) = lines_of(spec.clone().with_snapshot("1'; DROP TABLE x; --")).await else {
        panic!("took a bad snapshot identifier");
    };
    assert!(
        bad.to_string().contains("is not a snapshot identifier"),
        "{bad}"
    );
    let mut plain = Extract::start(ExtractSpec::table(standby(), &t, "id"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let Err(refused) = plain.export_snapshot().await else {
        panic!("exported the snapshot of a non-consistent extract");
    };
    assert!(
        refused.to_string().contains("only a consistent extract"),
        "{refused}"
    );
}
