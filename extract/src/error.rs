//! The extract's one error type. Owns the messages and exit codes of
//! docs/extract.md; imports nothing of the reader but its identifiers.

/// What went wrong in an extract. Messages name the table (or query), the
/// column and the key; they never contain the source's password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExtractError {
    /// The source URL or its options are malformed.
    #[error("source URL: {0}")]
    SourceUrl(String),
    /// The extract's settings contradict each other or the source's schema.
    #[error("{0}")]
    Config(String),
    /// The table does not exist (or the role may not see it).
    #[error("table {table:?} does not exist")]
    MissingTable {
        /// The table as given.
        table: String,
    },
    /// A named column is not in the table or the query's result.
    #[error("{object} has no column {column:?}{role}")]
    MissingColumn {
        /// `table T` or `query`.
        object: String,
        /// The column as given.
        column: String,
        /// Why the column is needed (`" (the key must be one of its columns)"`), or empty.
        role: &'static str,
    },
    /// The cursor column is not a timestamp or date.
    #[error("cursor column {column:?} has type {found}; expected timestamptz, timestamp or date")]
    CursorType {
        /// The cursor column.
        column: String,
        /// Its type's name.
        found: String,
    },
    /// The key column has a type Weir reads only as its text form, which
    /// cannot be sent back to the server as the type's own (binary) value
    /// to resume after the last key.
    #[error(
        "key column {column:?} has type {found}, which Weir reads only as its text form, so it cannot page by it: \
         choose a key of a type Weir reads natively (integers, numeric, text, uuid, date and time types)"
    )]
    KeyType {
        /// The key column.
        column: String,
        /// Its type's name.
        found: String,
    },
    /// Two result columns share a name, so a record cannot hold both.
    #[error("{object} returns two columns named {column:?}: give one an alias")]
    DuplicateColumn {
        /// `table T` or `query`.
        object: String,
        /// The repeated name.
        column: String,
    },
    /// The interval's window has not ended yet on the server's clock.
    #[error("interval ends at {end} but the server's clock is {now}: the window is still open")]
    WindowOpen {
        /// The end the window needs reached (RFC 3339).
        end: String,
        /// The server's `now()` (RFC 3339).
        now: String,
    },
    /// The key is not unique: two rows in key order carry the same key.
    #[error("key {key_column:?} of {object} is not unique: {key} appears twice")]
    KeyNotUnique {
        /// `table T` or `query`.
        object: String,
        /// The key column.
        key_column: String,
        /// The repeated key, as JSON.
        key: String,
    },
    /// A value (or a column name) that JSON cannot represent exactly.
    #[error("{object} column {column:?} at key {key}: {reason}")]
    Unrepresentable {
        /// `table T` or `query`.
        object: String,
        /// The column.
        column: String,
        /// The row's key, as JSON.
        key: String,
        /// What cannot be represented.
        reason: String,
    },
    /// A page's `COPY` stream broke its binary framing (a server or proxy fault).
    #[error("{object}: the COPY stream of a page is malformed: {reason}")]
    CopyFraming {
        /// `table T` or `query`.
        object: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Connecting failed (refused, unreachable, authentication), after retries where they apply.
    #[error("cannot connect to {endpoint}")]
    Connect {
        /// `host:port/db as user`.
        endpoint: String,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// A statement failed and is not retried (or retries ran out).
    #[error("{what} failed{retries}")]
    Query {
        /// Which statement (`page after key 17`, `schema lookup`).
        what: String,
        /// `" after N retries"`, or empty.
        retries: String,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },
}

impl ExtractError {
    /// The process exit code docs/extract.md documents for this error:
    /// 1 bad configuration or input, 5 the source failed, 6 the data cannot
    /// be extracted exactly.
    pub fn exit_code(&self) -> u8 {
        match self {
            ExtractError::Connect { .. }
            | ExtractError::Query { .. }
            | ExtractError::CopyFraming { .. } => 5,
            ExtractError::KeyNotUnique { .. } | ExtractError::Unrepresentable { .. } => 6,
            _ => 1,
        }
    }

    /// The SQLSTATE of the server error behind this error, if there is one.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            ExtractError::Connect { source, .. } | ExtractError::Query { source, .. } => {
                source.code().map(|c| c.code())
            }
            _ => None,
        }
    }
}
