//! The extract: checks the table or query against the server, then reads
//! it in key order one page at a time (each page one short statement),
//! retrying transient failures from the last key seen, and summarises the
//! run for the manifest. Uses [`crate::encode`] for values and
//! [`crate::source`] for connections; writes no stage.

use crate::copy::{self, Template};
use crate::encode::{Codec, write_str};
use crate::error::ExtractError;
use crate::source::{Source, SourceInfo};
use bytes::BytesMut;
use chrono::{DateTime, Utc};
use futures::{StreamExt as _, pin_mut};
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use std::time::Duration;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, Statement};

/// A closed-open window `[start, end)` on the cursor, before the lag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Window {
    /// First instant in the window.
    pub start: DateTime<Utc>,
    /// First instant after it.
    pub end: DateTime<Utc>,
}

/// How transient failures (recovery conflicts, dropped connections) are retried.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Retries per page (or connection) before giving up. Default 10.
    pub max_retries: u32,
    /// The first backoff, doubled each retry. Default 100 ms.
    pub first_backoff: Duration,
    /// The longest backoff. Default 10 s.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 10,
            first_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
        }
    }
}

#[derive(Clone, Debug)]
enum Relation {
    Table {
        name: String,
        columns: Option<Vec<String>>,
    },
    Query(String),
}

/// What to extract. Build with [`ExtractSpec::table`] or
/// [`ExtractSpec::query`] and the `with_*` methods.
#[derive(Clone, Debug)]
pub struct ExtractSpec {
    source: Source,
    relation: Relation,
    key: String,
    cursor: Option<(String, Window)>,
    lag: Duration,
    page_rows: usize,
    page_bytes: usize,
    retry: RetryPolicy,
    range: Option<KeyRange>,
    consistent: bool,
    snapshot: Option<String>,
    copy: bool,
}

/// A shard's share of the key space: the keys at or after `from` and
/// before `to` (`None`: unbounded on that side), each in the key's binary
/// form as the server sent it. `empty` takes no key at all (the other
/// shards of a plan over an interval that had no rows).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyRange {
    /// The first key in the range, binary.
    pub from: Option<Vec<u8>>,
    /// The first key after the range, binary.
    pub to: Option<Vec<u8>>,
    /// Whether the range holds no key.
    pub empty: bool,
}

/// A key as the server sent it: binary, and as JSON text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key {
    /// The binary form, what a [`KeyRange`] holds.
    pub raw: Vec<u8>,
    /// The JSON text, as the key's column is written in a record.
    pub json: String,
}

impl ExtractSpec {
    /// Every column of `table` (parsed by the server as SQL names it), paged by `key`.
    pub fn table(source: Source, table: &str, key: &str) -> ExtractSpec {
        Self::new(
            source,
            Relation::Table {
                name: table.into(),
                columns: None,
            },
            key,
        )
    }

    /// The rows of a `SELECT`, paged by `key`, which must be one of its columns.
    pub fn query(source: Source, sql: &str, key: &str) -> ExtractSpec {
        let sql = sql.trim().trim_end_matches(';').trim_end();
        Self::new(source, Relation::Query(sql.into()), key)
    }

    fn new(source: Source, relation: Relation, key: &str) -> ExtractSpec {
        ExtractSpec {
            source,
            relation,
            key: key.into(),
            cursor: None,
            lag: Duration::ZERO,
            page_rows: 10_000,
            page_bytes: 8 << 20,
            retry: RetryPolicy::default(),
            range: None,
            consistent: false,
            snapshot: None,
            copy: true,
        }
    }

    /// Only these columns of the table (the key is added if missing).
    pub fn with_columns(mut self, columns: Vec<String>) -> ExtractSpec {
        if let Relation::Table { columns: c, .. } = &mut self.relation {
            *c = Some(columns);
        }
        self
    }

    /// An incremental extract: the rows whose `cursor` is in the window (shifted by the lag).
    pub fn with_cursor(mut self, cursor: &str, window: Window) -> ExtractSpec {
        self.cursor = Some((cursor.into(), window));
        self
    }

    /// Shifts the window back by `lag`, for late-committed rows.
    pub fn with_lag(mut self, lag: Duration) -> ExtractSpec {
        self.lag = lag;
        self
    }

    /// Rows per page (default 10,000); a page also ends once its NDJSON passes 8 MiB.
    pub fn with_page_rows(mut self, rows: usize) -> ExtractSpec {
        self.page_rows = rows.max(1);
        self
    }

    /// How transient failures are retried.
    pub fn with_retry(mut self, retry: RetryPolicy) -> ExtractSpec {
        self.retry = retry;
        self
    }

    /// Consistent mode: every page in one `REPEATABLE READ READ ONLY`
    /// transaction, so the extract is one snapshot. A failed page is then
    /// not retried (a new transaction would be a new snapshot).
    pub fn with_consistent(mut self, consistent: bool) -> ExtractSpec {
        self.consistent = consistent;
        self
    }

    /// Consistent mode in a snapshot another connection exported
    /// ([`Extract::export_snapshot`]): the transaction imports it (`SET
    /// TRANSACTION SNAPSHOT`) before its first statement, so this extract
    /// reads exactly what the exporting one reads. The exporting
    /// transaction must still be open when [`Extract::start`] runs.
    pub fn with_snapshot(mut self, snapshot: &str) -> ExtractSpec {
        self.consistent = true;
        self.snapshot = Some(snapshot.to_owned());
        self
    }

    /// Whether pages are read with `COPY ... TO STDOUT (FORMAT binary)`
    /// (the default) or as queries. Both write the same bytes; COPY
    /// skips the per-row protocol overhead, and a server that refuses it
    /// switches the extract to queries by itself (docs/extract.md).
    pub fn with_copy(mut self, copy: bool) -> ExtractSpec {
        self.copy = copy;
        self
    }

    /// Whether this is a consistent-mode extract.
    pub fn is_consistent(&self) -> bool {
        self.consistent
    }

    /// Only the keys in `range` (a shard of a sharded extract).
    pub fn with_key_range(mut self, range: KeyRange) -> ExtractSpec {
        self.range = Some(range);
        self
    }
}

/// A block of NDJSON lines in key order: what the stage writer appends to a part.
#[derive(Clone, Debug)]
pub struct Page {
    /// One JSON object per row, each line ending in `\n`.
    pub lines: Vec<u8>,
    /// Rows in `lines`.
    pub rows: u64,
    /// The first row's key, as JSON.
    pub first_key: String,
    /// The last row's key, as JSON.
    pub last_key: String,
    /// Every row's key, as JSON, in the order of `lines` (what a stage
    /// writer needs to record the key range of each part).
    pub keys: Vec<String>,
}

/// Where a standby's replay stood, read at the start and end of a run.
#[derive(Clone, Debug, Serialize)]
pub struct Replay {
    /// `pg_last_wal_replay_lsn()`.
    pub lsn: Option<String>,
    /// `pg_last_xact_replay_timestamp()`, RFC 3339.
    pub timestamp: Option<DateTime<Utc>>,
}

/// What a manifest records about an extract (docs/extract.md). Never holds the password.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// Host, port, database, user.
    pub source: SourceInfo,
    /// The table as given, for the table form.
    pub table: Option<String>,
    /// The query as given, for the query form.
    pub query: Option<String>,
    /// The page statement run (after the first page).
    pub sql: String,
    /// sha256 of `sql`, hex.
    pub sql_sha256: String,
    /// sha256 of the page statement without a shard's key range, hex:
    /// the same for every shard of one extract, and for the plan.
    pub relation_sha256: String,
    /// The key column's type (its OID), which a plan's keys are in.
    pub key_type_oid: u32,
    /// The key column.
    pub key: String,
    /// The cursor column, for an incremental extract.
    pub cursor: Option<String>,
    /// The lag, in seconds.
    pub lag_seconds: f64,
    /// The window read, after the lag.
    pub window: Option<Window>,
    /// `server_version` (`SHOW server_version`).
    pub server_version: String,
    /// `pg_is_in_recovery()`.
    pub standby: bool,
    /// Replay position before the first page (standby only).
    pub replay_start: Option<Replay>,
    /// Replay position after the last page (standby only).
    pub replay_end: Option<Replay>,
    /// Rows read.
    pub rows: u64,
    /// Pages read.
    pub pages: u64,
    /// Transient failures retried.
    pub retries: u64,
    /// Columns read as their text form, and other warnings.
    pub warnings: Vec<String>,
    /// Consistent mode: every page read in one snapshot.
    pub consistent: bool,
    /// How bytea is written: `"base64"`.
    pub bytea: &'static str,
    /// The key range of each part the rows were written to, in part
    /// order. The reader leaves it empty; the stage writer fills it.
    pub parts: Vec<PartKeys>,
}

/// The rows of one part of the extract's commit: its path and key range.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PartKeys {
    /// The part's path relative to the stage, as the manifest lists it.
    pub path: String,
    /// Its first row's key, as JSON text (a `numeric` or `float8` key keeps
    /// its exact spelling, which a JSON number in the manifest would not).
    pub first_key: String,
    /// Its last row's key, as JSON text.
    pub last_key: String,
    /// Rows in the part.
    pub rows: u64,
}

/// The last key seen, sent back to the server in the binary form it came in.
#[derive(Debug)]
struct RawKey(Vec<u8>);

impl ToSql for RawKey {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.extend_from_slice(&self.0);
        Ok(IsNull::No)
    }
    fn accepts(_: &Type) -> bool {
        true
    }
    to_sql_checked!();
}

/// A column's value as raw bytes, whatever its type.
struct RawValue<'a>(&'a [u8]);

impl<'a> tokio_postgres::types::FromSql<'a> for RawValue<'a> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(RawValue(raw))
    }
    fn accepts(_: &Type) -> bool {
        true
    }
}

struct Column {
    name: String,
    /// The column name as a JSON string followed by `:`.
    json_name: Vec<u8>,
    codec: Codec,
}

/// A running extract: call [`Extract::next_page`] until it returns `None`,
/// then [`Extract::finish`] for the summary.
pub struct Extract {
    spec: ExtractSpec,
    client: Client,
    object: String,
    columns: Vec<Column>,
    key_index: usize,
    first_sql: String,
    next_sql: String,
    first_stmt: Statement,
    next_stmt: Statement,
    /// The COPY form of the pages, while it is in use.
    pages_by_copy: PagesByCopy,
    bounds: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// The statement of [`Extract::key_boundaries`].
    boundaries_sql: String,
    last_key: Option<(Vec<u8>, String)>,
    done: bool,
    summary: Summary,
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Whether a failure is worth retrying: recovery conflicts, serialization
/// failures, a dropped connection, a server shutting down or starting up;
/// not a TLS failure (a certificate refused), which a retry cannot fix.
fn is_transient(e: &tokio_postgres::Error) -> bool {
    if crate::tls::is_tls_failure(e) {
        return false;
    }
    if e.is_closed() {
        return true;
    }
    match e.code().map(|c| c.code()) {
        Some(code) => {
            matches!(code, "40001" | "40P01" | "57P01" | "57P02" | "57P03")
                || code.starts_with("08")
        }
        None => std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>()),
    }
}

impl Extract {
    /// Connects, checks the table or query, the key and the cursor, reads
    /// the server's version and replay position, and prepares the pages.
    pub async fn start(spec: ExtractSpec) -> Result<Extract, ExtractError> {
        let mut retries = 0;
        let client = connect_with_retry(&spec.source, &spec.retry, &mut retries).await?;
        let q = |what: &str| {
            let what = what.to_string();
            move |source| ExtractError::Query {
                what,
                retries: String::new(),
                source,
            }
        };

        let (object, inner, table, query) = match &spec.relation {
            Relation::Table { name, columns } => {
                let row = client
                    .query_one("SELECT to_regclass($1)::text", &[name])
                    .await
                    .map_err(q("table lookup"))?;
                let resolved: String =
                    row.get::<_, Option<String>>(0)
                        .ok_or_else(|| ExtractError::MissingTable {
                            table: name.clone(),
                        })?;
                let object = format!("table {resolved}");
                let select = match columns {
                    None => "*".to_string(),
                    Some(cols) => {
                        let present: Vec<String> = client
                            .query(
                                "SELECT attname::text FROM pg_attribute WHERE attrelid = $1::text::regclass \
                                 AND attnum > 0 AND NOT attisdropped",
                                &[&resolved],
                            )
                            .await
                            .map_err(q("column lookup"))?
                            .iter()
                            .map(|r| r.get(0))
                            .collect();
                        let mut cols = cols.clone();
                        if !cols.contains(&spec.key) {
                            cols.push(spec.key.clone());
                        }
                        for c in &cols {
                            if !present.contains(c) {
                                return Err(ExtractError::MissingColumn {
                                    object,
                                    column: c.clone(),
                                    role: "",
                                });
                            }
                        }
                        cols.iter()
                            .map(|c| quote_ident(c))
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                };
                (
                    object,
                    format!("SELECT {select} FROM {resolved}"),
                    Some(name.clone()),
                    None,
                )
            }
            Relation::Query(sql) => ("query".to_string(), sql.clone(), None, Some(sql.clone())),
        };

        // The result's columns and types, from the server.
        let probe = client
            .prepare(&format!("SELECT * FROM ({inner}) AS weir_q LIMIT 0"))
            .await
            .map_err(q(&format!("{object}: describing the result")))?;
        let mut columns = Vec::new();
        let mut select = Vec::new();
        let mut warnings = Vec::new();
        // Columns of a type read as text: the key must not be one.
        let mut as_text = Vec::new();
        for col in probe.columns() {
            let name = col.name().to_string();
            if columns.iter().any(|c: &Column| c.name == name) {
                return Err(ExtractError::DuplicateColumn {
                    object,
                    column: name,
                });
            }
            let mut json_name = Vec::new();
            write_str(&mut json_name, &name);
            json_name.push(b':');
            let codec = match Codec::for_type(col.type_()) {
                Some(c) => {
                    select.push(format!("weir_q.{}", quote_ident(&name)));
                    c
                }
                None => {
                    let w = format!(
                        "{object} column {name:?} has type {} that Weir does not read natively: it is extracted as its text form",
                        col.type_().name()
                    );
                    tracing::warn!("{w}");
                    warnings.push(w);
                    select.push(format!("weir_q.{0}::text AS {0}", quote_ident(&name)));
                    as_text.push((name.clone(), col.type_().name().to_owned()));
                    Codec::Text
                }
            };
            columns.push(Column {
                name,
                json_name,
                codec,
            });
        }
        let key_index = columns
            .iter()
            .position(|c| c.name == spec.key)
            .ok_or_else(|| ExtractError::MissingColumn {
                object: object.clone(),
                column: spec.key.clone(),
                role: " (the key must be one of its columns)",
            })?;
        // The last key goes back to the server in the form it was read
        // in; a text form given as a binary value is a protocol error.
        if let Some((column, found)) = as_text.into_iter().find(|(n, _)| *n == spec.key) {
            return Err(ExtractError::KeyType { column, found });
        }

        if spec.consistent {
            // The snapshot is taken by the transaction's first statement,
            // the one just below, so the window's check and every page see it.
            client
                .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .await
                .map_err(q("starting the consistent transaction"))?;
            if let Some(id) = &spec.snapshot {
                // An identifier is hex digits and dashes (`00000003-0000001B-1`);
                // anything else cannot be one, and must not reach the SQL.
                if id.is_empty() || !id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
                    return Err(ExtractError::Config(format!(
                        "{id:?} is not a snapshot identifier (pg_export_snapshot() gives e.g. 00000003-0000001B-1)"
                    )));
                }
                client
                    .batch_execute(&format!("SET TRANSACTION SNAPSHOT '{id}'"))
                    .await
                    .map_err(q(&format!(
                        "{object}: importing the exported snapshot {id} (SET TRANSACTION SNAPSHOT; the exporting transaction must still be open)"
                    )))?;
            }
        }
        let (version, standby, now): (String, bool, DateTime<Utc>) = {
            let r = client
                .query_one(
                    "SELECT current_setting('server_version'), pg_is_in_recovery(), now()",
                    &[],
                )
                .await
                .map_err(q("server version"))?;
            (r.get(0), r.get(1), r.get(2))
        };

        let mut filters = Vec::new();
        let mut bounds = None;
        let mut window = None;
        if let Some((cursor, w)) = &spec.cursor {
            let col = probe
                .columns()
                .iter()
                .find(|c| c.name() == cursor)
                .ok_or_else(|| ExtractError::MissingColumn {
                    object: object.clone(),
                    column: cursor.clone(),
                    role: " (the cursor must be one of its columns)",
                })?;
            if !matches!(
                *col.type_(),
                Type::TIMESTAMPTZ | Type::TIMESTAMP | Type::DATE
            ) {
                return Err(ExtractError::CursorType {
                    column: cursor.clone(),
                    found: col.type_().name().into(),
                });
            }
            if now < w.end {
                return Err(ExtractError::WindowOpen {
                    end: w.end.to_rfc3339(),
                    now: now.to_rfc3339(),
                });
            }
            let lag = chrono::TimeDelta::from_std(spec.lag)
                .map_err(|_| ExtractError::Config("lag is too long".into()))?;
            let shifted = Window {
                start: w.start - lag,
                end: w.end - lag,
            };
            filters.push(format!(
                "weir_q.{0} >= {1}::timestamptz AND weir_q.{0} < {2}::timestamptz",
                quote_ident(cursor),
                Template::param(1),
                Template::param(2),
            ));
            bounds = Some((shifted.start, shifted.end));
            window = Some(shifted);
        }
        let key = format!("weir_q.{}", quote_ident(&spec.key));
        let key_type_oid = probe.columns()[key_index].type_().oid();
        let mut next_param = if bounds.is_some() { 3 } else { 1 };
        let boundaries_sql = {
            let wh = if filters.is_empty() {
                String::new()
            } else {
                format!(" WHERE {}", filters.join(" AND "))
            };
            Template::new(format!(
                "SELECT u.b FROM unnest((SELECT percentile_disc({}::float8[]) WITHIN GROUP (ORDER BY {key}) \
                 FROM ({inner}) AS weir_q{wh})) WITH ORDINALITY AS u(b, i) ORDER BY u.i",
                Template::param(next_param)
            ))
            .prepared()
        };
        let unranged = (filters.clone(), next_param);
        if let Some(range) = &spec.range {
            if range.empty {
                filters.push("false".into());
            }
            if range.from.is_some() {
                filters.push(format!("{key} >= {}", Template::param(next_param)));
                next_param += 1;
            }
            if range.to.is_some() {
                filters.push(format!("{key} < {}", Template::param(next_param)));
                next_param += 1;
            }
        }
        let build = |filters: &[String], with_key: Option<usize>| {
            let mut f = filters.to_vec();
            if let Some(param) = with_key {
                f.push(format!("{key} >= {}", Template::param(param)));
            }
            let wh = if f.is_empty() {
                String::new()
            } else {
                format!(" WHERE {}", f.join(" AND "))
            };
            Template::new(format!(
                "SELECT {} FROM ({inner}) AS weir_q{wh} ORDER BY {key} LIMIT {}",
                select.join(", "),
                spec.page_rows + 1
            ))
        };
        let (first_page, next_page) = (build(&filters, None), build(&filters, Some(next_param)));
        let (first_sql, next_sql) = (first_page.prepared(), next_page.prepared());
        let relation_sha256 = hex::encode(Sha256::digest(
            build(&unranged.0, Some(unranged.1)).prepared(),
        ));
        let first_stmt = client
            .prepare(&first_sql)
            .await
            .map_err(q(&format!("{object}: preparing pages")))?;
        let next_stmt = client
            .prepare(&next_sql)
            .await
            .map_err(q(&format!("{object}: preparing pages")))?;

        let replay_start = if standby {
            Some(read_replay(&client).await?)
        } else {
            None
        };
        let summary = Summary {
            source: spec.source.info(),
            table,
            query,
            sql_sha256: hex::encode(Sha256::digest(next_sql.as_bytes())),
            sql: next_sql.clone(),
            relation_sha256,
            key_type_oid,
            key: spec.key.clone(),
            cursor: spec.cursor.as_ref().map(|(c, _)| c.clone()),
            lag_seconds: spec.lag.as_secs_f64(),
            window,
            server_version: version,
            standby,
            replay_start,
            replay_end: None,
            rows: 0,
            pages: 0,
            retries,
            warnings,
            consistent: spec.consistent,
            bytea: "base64",
            parts: Vec::new(),
        };
        let spec_copy = spec.copy;
        Ok(Extract {
            spec,
            client,
            object,
            columns,
            key_index,
            first_sql,
            next_sql,
            first_stmt,
            next_stmt,
            pages_by_copy: PagesByCopy {
                enabled: spec_copy,
                first: first_page,
                next: next_page,
                literals: copy::Literals::default(),
                fixed_literals: None,
                proven: false,
                pages: 0,
            },
            bounds,
            boundaries_sql,
            last_key: None,
            done: false,
            summary,
        })
    }

    /// The next page in key order, or `None` after the last. A transient
    /// failure is retried from the last key seen; the failed page is
    /// discarded whole, so no row is duplicated or lost.
    pub async fn next_page(&mut self) -> Result<Option<Page>, ExtractError> {
        if self.done {
            return Ok(None);
        }
        let mut attempt = 0u32;
        loop {
            match self.read_page().await {
                Ok(Some(page)) => {
                    self.summary.rows += page.rows;
                    self.summary.pages += 1;
                    return Ok(Some(page));
                }
                Ok(None) => {
                    self.done = true;
                    return Ok(None);
                }
                Err(PageError::Fatal(e)) => return Err(e),
                // read_page switches to queries on this; kept for the match.
                Err(PageError::NoLiteral(ty)) => {
                    return Err(ExtractError::Config(format!(
                        "{}: no exact literal for a value of type {ty}",
                        self.object
                    )));
                }
                Err(PageError::Db(e)) => {
                    let what = match &self.last_key {
                        None => format!("{}: first page", self.object),
                        Some((_, k)) => format!("{}: page after key {k}", self.object),
                    };
                    if e.code().map(|c| c.code()) == Some("57014") {
                        return Err(ExtractError::Query {
                            what: format!("{what} (statement timeout)"),
                            retries: String::new(),
                            source: e,
                        });
                    }
                    if self.spec.consistent {
                        return Err(ExtractError::Query {
                            what: format!(
                                "{what} (consistent mode: its one snapshot cannot be resumed, so it is not retried; rerun the extract)"
                            ),
                            retries: String::new(),
                            source: e,
                        });
                    }
                    if !is_transient(&e) || attempt >= self.spec.retry.max_retries {
                        let retries = if attempt > 0 {
                            format!(" after {attempt} retries")
                        } else {
                            String::new()
                        };
                        return Err(ExtractError::Query {
                            what,
                            retries,
                            source: e,
                        });
                    }
                    attempt += 1;
                    self.summary.retries += 1;
                    tracing::info!("{what}: retrying ({attempt}): {e}");
                    tokio::time::sleep(backoff(&self.spec.retry, attempt)).await;
                    if self.client.is_closed() {
                        self.reconnect(&mut attempt).await?;
                    }
                }
            }
        }
    }

    async fn reconnect(&mut self, attempt: &mut u32) -> Result<(), ExtractError> {
        loop {
            let result = async {
                let client = self.spec.source.connect().await?;
                let first = client.prepare(&self.first_sql).await?;
                let next = client.prepare(&self.next_sql).await?;
                Ok::<_, tokio_postgres::Error>((client, first, next))
            }
            .await;
            match result {
                Ok((client, first, next)) => {
                    (self.client, self.first_stmt, self.next_stmt) = (client, first, next);
                    return Ok(());
                }
                Err(e) if is_transient(&e) && *attempt < self.spec.retry.max_retries => {
                    *attempt += 1;
                    self.summary.retries += 1;
                    tokio::time::sleep(backoff(&self.spec.retry, *attempt)).await;
                }
                Err(source) => {
                    return Err(ExtractError::Connect {
                        endpoint: self.spec.source.endpoint(),
                        source,
                    });
                }
            }
        }
    }

    /// One page: by COPY while the server allows it, else as a query. A
    /// server that refuses the COPY (a privilege, a feature, a proxy that
    /// does not know `COPY (query)`) switches the rest of the extract to
    /// queries, with a warning in the summary, and the same page is read
    /// again as a query: a page is all or nothing, so nothing of the
    /// refused attempt is kept.
    async fn read_page(&mut self) -> Result<Option<Page>, PageError> {
        if self.pages_by_copy.enabled {
            let why = match self.read_page_by_copy().await {
                Err(PageError::Db(e)) if copy::is_refusal(&e) => format!(
                    "the server refused COPY ... TO STDOUT (FORMAT binary) ({})",
                    e.as_db_error().map_or_else(
                        || e.to_string(),
                        |d| format!("{}: {}", d.code().code(), d.message())
                    )
                ),
                Err(PageError::NoLiteral(ty)) => format!(
                    "a value of type {ty} does not read back exactly from its text, so COPY cannot carry it as a literal"
                ),
                page => return page,
            };
            self.pages_by_copy.enabled = false;
            let w = format!("{}: {why}: pages are read as queries", self.object);
            tracing::warn!("{w}");
            self.summary.warnings.push(w);
        }
        self.read_page_by_query().await
    }

    /// The parameters of this page's statement in order, in binary: the
    /// window's bounds, the shard's range, the last key seen.
    fn page_params(&self) -> Vec<Vec<u8>> {
        let mut params = Vec::new();
        if let Some((start, end)) = &self.bounds {
            for t in [start, end] {
                let mut b = BytesMut::new();
                // A DateTime<Utc> always has a binary form (the driver's own encoding).
                let _ = t.to_sql(&Type::TIMESTAMPTZ, &mut b);
                params.push(b.to_vec());
            }
        }
        let range = self.spec.range.as_ref();
        params.extend(range.and_then(|r| r.from.clone()));
        params.extend(range.and_then(|r| r.to.clone()));
        params.extend(self.last_key.as_ref().map(|(raw, _)| raw.clone()));
        params
    }

    async fn read_page_by_query(&mut self) -> Result<Option<Page>, PageError> {
        let params: Vec<RawKey> = self.page_params().into_iter().map(RawKey).collect();
        let stmt = match &self.last_key {
            None => &self.first_stmt,
            Some(_) => &self.next_stmt,
        };
        let rows = self
            .client
            .query_raw(stmt, params.iter().map(|p| p as &(dyn ToSql + Sync)))
            .await
            .map_err(PageError::Db)?;
        pin_mut!(rows);
        let mut page = PageBuilder::new(self);
        while let Some(row) = rows.next().await {
            let row = row.map_err(PageError::Db)?;
            if !page.push(&row)? {
                break;
            }
        }
        let page = page.finish();
        Ok(self.end_page(page))
    }

    /// The page as `COPY (page statement) TO STDOUT (FORMAT binary)`, the
    /// parameters written as literals ([`copy::literal`]). In consistent
    /// mode the first COPY runs under a savepoint, so that a refusal
    /// leaves the transaction (and its snapshot) usable for queries.
    async fn read_page_by_copy(&mut self) -> Result<Option<Page>, PageError> {
        let params = self.page_params();
        let (template, stmt) = match &self.last_key {
            None => (&self.pages_by_copy.first, &self.first_stmt),
            Some(_) => (&self.pages_by_copy.next, &self.next_stmt),
        };
        let types = stmt.params().to_vec();
        let mut literal = async |ty: &Type, raw: &[u8]| {
            self.pages_by_copy
                .literals
                .literal(&self.client, ty, raw)
                .await
                .map_err(PageError::Db)?
                .ok_or_else(|| PageError::NoLiteral(ty.name().to_string()))
        };
        // The window's and the range's literals are the same on every page.
        let fixed = params.len() - usize::from(self.last_key.is_some());
        let mut literals = match self.pages_by_copy.fixed_literals.clone() {
            Some(l) => l,
            None => {
                let mut l = Vec::new();
                for (ty, raw) in types.iter().zip(&params[..fixed]) {
                    l.push(literal(ty, raw).await?);
                }
                l
            }
        };
        if self.pages_by_copy.fixed_literals.is_none() {
            self.pages_by_copy.fixed_literals = Some(literals.clone());
        }
        if let (Some(ty), Some(raw)) = (types.get(fixed), params.get(fixed)) {
            literals.push(literal(ty, raw).await?);
        }
        let sql = template.copy_statement(&literals);
        let savepoint = self.spec.consistent && !self.pages_by_copy.proven;
        if savepoint {
            self.client
                .batch_execute("SAVEPOINT weir_copy")
                .await
                .map_err(PageError::Db)?;
        }
        let result = self.copy_page(&sql).await;
        if savepoint {
            let end = match &result {
                Ok(_) => Some("RELEASE SAVEPOINT weir_copy"),
                Err(PageError::Db(e)) if copy::is_refusal(e) => {
                    Some("ROLLBACK TO SAVEPOINT weir_copy")
                }
                // Consistent mode: any other failure ends the extract.
                Err(_) => None,
            };
            if let Some(end) = end {
                self.client
                    .batch_execute(end)
                    .await
                    .map_err(PageError::Db)?;
            }
        }
        let page = self.end_page(result?);
        self.pages_by_copy.proven = true;
        if page.is_some() {
            self.pages_by_copy.pages += 1;
        }
        Ok(page)
    }

    /// Runs one page's COPY and reads its tuples into a page (not yet the
    /// extract's: [`Extract::end_page`] records its last key).
    async fn copy_page(&self, sql: &str) -> Result<Option<(Page, Vec<u8>)>, PageError> {
        let stream = self.client.copy_out(sql).await.map_err(PageError::Db)?;
        pin_mut!(stream);
        let mut tuples = copy::Tuples::new(self.columns.len());
        let mut page = PageBuilder::new(self);
        let framing = |e: copy::FramingError| {
            PageError::Fatal(ExtractError::CopyFraming {
                object: self.object.clone(),
                reason: e.0,
            })
        };
        'stream: loop {
            match tuples.next_tuple().map_err(framing)? {
                copy::Next::Tuple(t) => {
                    if !page.push(&t)? {
                        // The rest of the stream is discarded by the
                        // driver, as the rest of a query's rows are.
                        break 'stream;
                    }
                }
                copy::Next::End => break 'stream,
                copy::Next::More => match stream.next().await {
                    Some(chunk) => tuples.feed(&chunk.map_err(PageError::Db)?),
                    None if tuples.ended() => break 'stream,
                    None => {
                        return Err(framing(copy::FramingError(
                            "the COPY stream ended before its trailer".into(),
                        )));
                    }
                },
            }
        }
        Ok(page.finish())
    }

    /// Makes a read page the extract's: its last key is where the next page starts.
    fn end_page(&mut self, page: Option<(Page, Vec<u8>)>) -> Option<Page> {
        let (page, raw) = page?;
        self.last_key = Some((raw, page.last_key.clone()));
        Some(page)
    }

    /// Pages read with COPY so far (the rest were read as queries).
    pub fn pages_by_copy(&self) -> u64 {
        self.pages_by_copy.pages
    }

    /// The keys that cut the rows into `count` shards of about the same
    /// size: `count - 1` keys in order (fewer only when the window holds
    /// no row), each the first key of the next shard. One statement
    /// (`percentile_disc` over the key, in the window), retried like a
    /// page.
    pub async fn key_boundaries(&mut self, count: u32) -> Result<Vec<Key>, ExtractError> {
        let fractions: Vec<f64> = (1..count)
            .map(|i| f64::from(i) / f64::from(count))
            .collect();
        let mut attempt = 0u32;
        loop {
            let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
            if let Some((start, end)) = &self.bounds {
                params.push(start);
                params.push(end);
            }
            params.push(&fractions);
            let rows = self.client.query(&self.boundaries_sql, &params).await;
            match rows {
                Ok(rows) => {
                    let col = &self.columns[self.key_index];
                    let mut keys = Vec::new();
                    for row in rows {
                        let Some(raw) = row
                            .try_get::<_, Option<RawValue>>(0)
                            .ok()
                            .flatten()
                            .map(|v| v.0.to_vec())
                        else {
                            continue;
                        };
                        let mut json = Vec::new();
                        col.codec.write(&raw, &mut json).map_err(|reason| {
                            ExtractError::Unrepresentable {
                                object: self.object.clone(),
                                column: col.name.clone(),
                                key: "(a shard boundary)".into(),
                                reason,
                            }
                        })?;
                        keys.push(Key {
                            raw,
                            json: String::from_utf8_lossy(&json).into_owned(),
                        });
                    }
                    return Ok(keys);
                }
                Err(e) if is_transient(&e) && attempt < self.spec.retry.max_retries => {
                    attempt += 1;
                    self.summary.retries += 1;
                    tracing::info!(
                        "{}: shard boundaries: retrying ({attempt}): {e}",
                        self.object
                    );
                    tokio::time::sleep(backoff(&self.spec.retry, attempt)).await;
                    if self.client.is_closed() {
                        self.reconnect(&mut attempt).await?;
                    }
                }
                Err(source) => {
                    return Err(ExtractError::Query {
                        what: format!("{}: shard boundaries", self.object),
                        retries: String::new(),
                        source,
                    });
                }
            }
        }
    }

    /// Exports this consistent extract's snapshot (`pg_export_snapshot()`)
    /// and returns its identifier, for other connections to read the very
    /// same snapshot ([`ExtractSpec::with_snapshot`]). They can import it
    /// only while this extract's transaction is open, that is until
    /// [`Extract::finish`]. Works on a hot standby too (PostgreSQL 10 and
    /// later: tested on 15).
    pub async fn export_snapshot(&mut self) -> Result<String, ExtractError> {
        if !self.spec.consistent {
            return Err(ExtractError::Config(
                "only a consistent extract has a snapshot to export".to_owned(),
            ));
        }
        let row = self
            .client
            .query_one("SELECT pg_export_snapshot()", &[])
            .await
            .map_err(|source| ExtractError::Query {
                what: format!(
                    "{}: exporting its snapshot (pg_export_snapshot)",
                    self.object
                ),
                retries: String::new(),
                source,
            })?;
        Ok(row.get(0))
    }

    /// Reads the replay position again (on a standby) and returns the summary.
    pub async fn finish(mut self) -> Result<Summary, ExtractError> {
        if self.summary.standby {
            self.summary.replay_end = Some(read_replay(&self.client).await?);
        }
        if self.spec.consistent {
            self.client
                .batch_execute("COMMIT")
                .await
                .map_err(|source| ExtractError::Query {
                    what: format!("{}: ending the consistent transaction", self.object),
                    retries: String::new(),
                    source,
                })?;
        }
        Ok(self.summary)
    }

    /// The summary so far (rows, pages, retries).
    pub fn summary(&self) -> &Summary {
        &self.summary
    }
}

/// The COPY form of an extract's pages, and what it has learnt.
struct PagesByCopy {
    /// Whether pages are read by COPY (cleared when the server refuses it).
    enabled: bool,
    /// The first page's statement, its parameters as markers.
    first: Template,
    /// Every later page's statement.
    next: Template,
    /// What makes the parameters' literals.
    literals: copy::Literals,
    /// The literals of the parameters that do not change from page to page
    /// (the window, the shard's range), once made.
    fixed_literals: Option<Vec<String>>,
    /// Whether a COPY page has succeeded (no savepoint needed after).
    proven: bool,
    /// Pages read by COPY.
    pages: u64,
}

/// A row's values in binary, from either path.
trait RowValues {
    /// Column `i`: `None` for NULL.
    fn value(&self, i: usize) -> Result<Option<&[u8]>, String>;
}

impl RowValues for tokio_postgres::Row {
    fn value(&self, i: usize) -> Result<Option<&[u8]>, String> {
        self.try_get::<_, Option<RawValue>>(i)
            .map(|v| v.map(|v| v.0))
            .map_err(|e| e.to_string())
    }
}

impl RowValues for copy::Tuple<'_> {
    fn value(&self, i: usize) -> Result<Option<&[u8]>, String> {
        Ok(self.get(i))
    }
}

/// One page as its rows arrive, under the page's rules, the same for both
/// paths: the row of the last key seen (which the statement's `>=` reads
/// again) is skipped, a key seen twice is an error, and the page ends at
/// `page_rows` rows or once its NDJSON passes `page_bytes`.
struct PageBuilder<'x> {
    x: &'x Extract,
    lines: Vec<u8>,
    keys: Vec<String>,
    count: u64,
    prev: Option<Vec<u8>>,
    skipped_last: bool,
}

impl<'x> PageBuilder<'x> {
    fn new(x: &'x Extract) -> PageBuilder<'x> {
        PageBuilder {
            x,
            lines: Vec::new(),
            keys: Vec::new(),
            count: 0,
            prev: None,
            skipped_last: false,
        }
    }

    /// Takes a row; `false` once the page is full (this row not taken).
    fn push(&mut self, row: &impl RowValues) -> Result<bool, PageError> {
        let x = self.x;
        let col = &x.columns[x.key_index];
        let unrepresentable = |column: &str, key: &str, reason: String| {
            PageError::Fatal(ExtractError::Unrepresentable {
                object: x.object.clone(),
                column: column.to_string(),
                key: key.to_string(),
                reason,
            })
        };
        let key_raw = row
            .value(x.key_index)
            .map_err(|r| unrepresentable(&col.name, "?", r))?
            .unwrap_or_default();
        let mut key_json = Vec::new();
        col.codec
            .write(key_raw, &mut key_json)
            .map_err(|r| unrepresentable(&col.name, "?", r))?;
        let key_json = String::from_utf8_lossy(&key_json).into_owned();
        let dup = |key: &str| {
            PageError::Fatal(ExtractError::KeyNotUnique {
                object: x.object.clone(),
                key_column: x.spec.key.clone(),
                key: key.to_string(),
            })
        };
        if let Some((last_raw, _)) = &x.last_key
            && last_raw.as_slice() == key_raw
            && self.count == 0
        {
            if self.skipped_last {
                return Err(dup(&key_json));
            }
            self.skipped_last = true;
            return Ok(true);
        }
        if self.prev.as_deref() == Some(key_raw) {
            return Err(dup(&key_json));
        }
        if self.count as usize >= x.spec.page_rows || self.lines.len() >= x.spec.page_bytes {
            return Ok(false);
        }
        let out = &mut self.lines;
        out.push(b'{');
        for (i, col) in x.columns.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&col.json_name);
            match row
                .value(i)
                .map_err(|r| unrepresentable(&col.name, &key_json, r))?
            {
                None => out.extend_from_slice(b"null"),
                Some(v) => col
                    .codec
                    .write(v, out)
                    .map_err(|r| unrepresentable(&col.name, &key_json, r))?,
            }
        }
        out.extend_from_slice(b"}\n");
        self.count += 1;
        self.keys.push(key_json);
        self.prev = Some(key_raw.to_vec());
        Ok(true)
    }

    /// The page and its last key in binary, or `None` for no rows.
    fn finish(self) -> Option<(Page, Vec<u8>)> {
        let first_key = self.keys.first()?.clone();
        let last_key = self.keys.last()?.clone();
        Some((
            Page {
                lines: self.lines,
                rows: self.count,
                first_key,
                last_key,
                keys: self.keys,
            },
            self.prev.unwrap_or_default(),
        ))
    }
}

enum PageError {
    Db(tokio_postgres::Error),
    Fatal(ExtractError),
    /// A parameter of this type has no exact literal (the COPY path only).
    NoLiteral(String),
}

fn backoff(retry: &RetryPolicy, attempt: u32) -> Duration {
    retry
        .first_backoff
        .saturating_mul(1 << attempt.saturating_sub(1).min(16))
        .min(retry.max_backoff)
}

async fn connect_with_retry(
    source: &Source,
    retry: &RetryPolicy,
    retries: &mut u64,
) -> Result<Client, ExtractError> {
    let mut attempt = 0;
    loop {
        match source.connect().await {
            Ok(c) => return Ok(c),
            Err(e)
                if is_transient(&e)
                    && e.code().is_none_or(|c| c.code() != "28P01")
                    && attempt < retry.max_retries =>
            {
                attempt += 1;
                *retries += 1;
                tracing::info!(
                    "connecting to {}: retrying ({attempt}): {e}",
                    source.endpoint()
                );
                tokio::time::sleep(backoff(retry, attempt)).await;
            }
            Err(source_err) => {
                return Err(ExtractError::Connect {
                    endpoint: source.endpoint(),
                    source: source_err,
                });
            }
        }
    }
}

async fn read_replay(client: &Client) -> Result<Replay, ExtractError> {
    let r = client
        .query_one(
            "SELECT pg_last_wal_replay_lsn()::text, pg_last_xact_replay_timestamp()",
            &[],
        )
        .await
        .map_err(|source| ExtractError::Query {
            what: "replay position".into(),
            retries: String::new(),
            source,
        })?;
    Ok(Replay {
        lsn: r.get(0),
        timestamp: r.get(1),
    })
}
