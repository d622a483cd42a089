//! The `COPY ... TO STDOUT (FORMAT binary)` form of a page: the page
//! statement with its parameters written as typed literals (`COPY` takes no
//! bind parameters), and COPY's binary framing split into tuples whose
//! fields are the very bytes the query path's binary results carry (each
//! type's send function), so [`crate::encode`] writes the same JSON from
//! either. Knows nothing of paging rules (keys, limits, retries): the
//! reader owns those; this module only turns parameters into SQL and bytes
//! into fields.

use std::ops::Range;
use tokio_postgres::Client;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

/// A page statement whose parameters are markers, rendered either as `$n`
/// for a prepared statement or as literals for `COPY`. A marker is `\0n\0`:
/// a NUL byte cannot occur in SQL text (not even in a quoted identifier or
/// a string), so a marker is never confused with the user's query.
#[derive(Clone, Debug)]
pub(crate) struct Template(String);

impl Template {
    /// The marker of parameter `n` (1-based), to write into a template.
    pub(crate) fn param(n: usize) -> String {
        format!("\0{n}\0")
    }

    pub(crate) fn new(sql: String) -> Template {
        Template(sql)
    }

    /// The statement to prepare: each marker as `$n`.
    pub(crate) fn prepared(&self) -> String {
        self.render(|n| format!("${n}"))
    }

    /// The `COPY` statement of this page: each marker `n` as `literals[n - 1]`.
    pub(crate) fn copy_statement(&self, literals: &[String]) -> String {
        let select = self.render(|n| literals.get(n - 1).cloned().unwrap_or_default());
        format!("COPY ({select}) TO STDOUT (FORMAT binary)")
    }

    fn render(&self, param: impl Fn(usize) -> String) -> String {
        let mut out = String::with_capacity(self.0.len());
        let mut parts = self.0.split('\0');
        if let Some(first) = parts.next() {
            out.push_str(first);
        }
        // After the first part, parts alternate: a marker's number, then text.
        while let (Some(n), Some(text)) = (parts.next(), parts.next()) {
            out.push_str(&param(n.parse().unwrap_or(0)));
            out.push_str(text);
        }
        out
    }
}

/// A parameter in the binary form the server sent (a key) or a driver
/// writes (a window bound), to be turned into a literal.
pub(crate) struct RawParam<'a>(pub(crate) &'a [u8]);

impl std::fmt::Debug for RawParam<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} bytes", self.0.len())
    }
}

impl ToSql for RawParam<'_> {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.extend_from_slice(self.0);
        Ok(IsNull::No)
    }
    fn accepts(_: &Type) -> bool {
        true
    }
    to_sql_checked!();
}

/// Literals for parameters, and the type names they are cast to.
#[derive(Default)]
pub(crate) struct Literals {
    /// `format_type(oid, -1)` of each type seen: the name that means the
    /// type without a modifier (`bpchar`, not `character`, which is
    /// `character(1)`).
    type_names: Vec<(u32, String)>,
}

impl Literals {
    /// The literal for a value of type `ty`, given in binary, or `None`
    /// when the value's text form does not read back as the same value
    /// (then a literal would page differently from the binary parameter,
    /// and the caller must use the query path). Integers, the usual keys,
    /// are written here: their decimal form is exact. Any other value is
    /// its text form quoted by the server's `quote_literal` (which doubles
    /// quotes and writes an `E''` string where there is a backslash, so
    /// the literal means the same whatever `standard_conforming_strings`
    /// says), cast to the type, and checked by the server in the same
    /// statement: `$1::text::T = $1`.
    pub(crate) async fn literal(
        &mut self,
        client: &Client,
        ty: &Type,
        raw: &[u8],
    ) -> Result<Option<String>, tokio_postgres::Error> {
        let int = match *ty {
            Type::INT2 => raw
                .try_into()
                .ok()
                .map(|b| i64::from(i16::from_be_bytes(b))),
            Type::INT4 => raw
                .try_into()
                .ok()
                .map(|b| i64::from(i32::from_be_bytes(b))),
            Type::INT8 => raw.try_into().ok().map(i64::from_be_bytes),
            _ => None,
        };
        if let Some(v) = int {
            // Quoted, so that -9223372036854775808 is not read as the
            // negation of an integer too big for int8.
            return Ok(Some(format!("('{v}'::{})", ty.name())));
        }
        let name = match self.type_names.iter().find(|(oid, _)| *oid == ty.oid()) {
            Some((_, name)) => name.clone(),
            None => {
                let row = client
                    .query_one("SELECT format_type($1, -1)", &[&ty.oid()])
                    .await?;
                let name: String = row.try_get(0)?;
                self.type_names.push((ty.oid(), name.clone()));
                name
            }
        };
        let stmt = client
            .prepare_typed(
                &format!("SELECT quote_literal($1::text), $1::text::{name} = $1"),
                std::slice::from_ref(ty),
            )
            .await?;
        let row = client.query_one(&stmt, &[&RawParam(raw)]).await?;
        let (quoted, exact): (Option<String>, Option<bool>) = (row.try_get(0)?, row.try_get(1)?);
        Ok(match (quoted, exact) {
            (Some(q), Some(true)) => Some(format!("({q}::{name})")),
            _ => None,
        })
    }
}

/// What is wrong with a COPY stream (never expected from a server: a
/// protocol fault, reported rather than guessed around).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FramingError(pub(crate) String);

/// COPY's binary framing, fed chunk by chunk: the 11-byte signature, a
/// flags word, a header extension, then per tuple an `i16` field count and
/// per field an `i32` length (`-1`: NULL) and its bytes, and a trailer of
/// `-1`. Chunks may split a tuple anywhere.
pub(crate) struct Tuples {
    buf: bytes::BytesMut,
    /// Where the next unread byte is in `buf`.
    pos: usize,
    header_read: bool,
    ended: bool,
    columns: usize,
    fields: Vec<Option<Range<usize>>>,
}

/// One tuple's fields, borrowed from the stream's buffer.
pub(crate) struct Tuple<'a> {
    buf: &'a [u8],
    fields: &'a [Option<Range<usize>>],
}

impl<'a> Tuple<'a> {
    /// Field `i`: `None` for NULL.
    pub(crate) fn get(&self, i: usize) -> Option<&'a [u8]> {
        self.fields.get(i).cloned().flatten().map(|r| &self.buf[r])
    }
}

/// What [`Tuples::next_tuple`] found.
pub(crate) enum Next<'a> {
    /// A complete tuple.
    Tuple(Tuple<'a>),
    /// The buffered bytes end inside the header or a tuple: feed more.
    More,
    /// The trailer: the stream has no more tuples.
    End,
}

const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

impl Tuples {
    /// A reader of tuples of `columns` fields.
    pub(crate) fn new(columns: usize) -> Tuples {
        Tuples {
            buf: bytes::BytesMut::new(),
            pos: 0,
            header_read: false,
            ended: false,
            columns,
            fields: Vec::with_capacity(columns),
        }
    }

    /// Appends a chunk of the stream (what the last tuple borrowed is dropped).
    pub(crate) fn feed(&mut self, chunk: &[u8]) {
        if self.pos > 0 {
            let _ = self.buf.split_to(self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(chunk);
    }

    /// Whether the trailer was read.
    pub(crate) fn ended(&self) -> bool {
        self.ended
    }

    /// The next tuple in the buffered bytes, if they hold a whole one.
    pub(crate) fn next_tuple(&mut self) -> Result<Next<'_>, FramingError> {
        if self.ended {
            return if self.pos == self.buf.len() {
                Ok(Next::End)
            } else {
                Err(FramingError(format!(
                    "{} bytes after the COPY trailer",
                    self.buf.len() - self.pos
                )))
            };
        }
        let data = &self.buf[..];
        if !self.header_read {
            let Some(fixed) = data.get(self.pos..self.pos + 19) else {
                return Ok(Next::More);
            };
            if &fixed[..11] != SIGNATURE {
                return Err(FramingError(
                    "the COPY stream does not start with the binary signature".into(),
                ));
            }
            let flags = u32::from_be_bytes([fixed[11], fixed[12], fixed[13], fixed[14]]);
            // Bit 16: OIDs included; bits 0 to 15: critical flags a reader must know.
            if flags & 0x0001_FFFF != 0 {
                return Err(FramingError(format!(
                    "COPY header flags {flags:#010x} this reader does not know"
                )));
            }
            let ext = u32::from_be_bytes([fixed[15], fixed[16], fixed[17], fixed[18]]) as usize;
            if data.len() < self.pos + 19 + ext {
                return Ok(Next::More);
            }
            self.pos += 19 + ext;
            self.header_read = true;
        }
        let mut at = self.pos;
        let Some(count) = data.get(at..at + 2) else {
            return Ok(Next::More);
        };
        let count = i16::from_be_bytes([count[0], count[1]]);
        at += 2;
        if count == -1 {
            self.pos = at;
            self.ended = true;
            return if self.pos == data.len() {
                Ok(Next::End)
            } else {
                Err(FramingError(format!(
                    "{} bytes after the COPY trailer",
                    data.len() - self.pos
                )))
            };
        }
        if usize::try_from(count).ok() != Some(self.columns) {
            return Err(FramingError(format!(
                "a COPY tuple of {count} fields, where the statement has {}",
                self.columns
            )));
        }
        self.fields.clear();
        for _ in 0..self.columns {
            let Some(len) = data.get(at..at + 4) else {
                return Ok(Next::More);
            };
            let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
            at += 4;
            if len == -1 {
                self.fields.push(None);
                continue;
            }
            let len = usize::try_from(len)
                .map_err(|_| FramingError(format!("a COPY field of length {len}")))?;
            if data.len() < at + len {
                return Ok(Next::More);
            }
            self.fields.push(Some(at..at + len));
            at += len;
        }
        self.pos = at;
        Ok(Next::Tuple(Tuple {
            buf: data,
            fields: &self.fields,
        }))
    }
}

/// Whether a failed `COPY` means this server (or a proxy in front of it)
/// does not allow it, where the same page as a query may still work: a
/// feature or privilege refused, or `COPY (query)` / `FORMAT binary` not
/// understood. Such a failure switches the extract to the query path.
pub(crate) fn is_refusal(e: &tokio_postgres::Error) -> bool {
    matches!(
        e.code().map(|c| c.code()),
        Some("0A000" | "42501" | "42601" | "22023")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A COPY stream of `rows`, each field `None` for NULL.
    fn stream(rows: &[Vec<Option<&[u8]>>]) -> Vec<u8> {
        let mut out = SIGNATURE.to_vec();
        out.extend_from_slice(&0u32.to_be_bytes());
        out.extend_from_slice(&3u32.to_be_bytes());
        out.extend_from_slice(b"ext");
        for row in rows {
            out.extend_from_slice(&(row.len() as i16).to_be_bytes());
            for f in row {
                match f {
                    None => out.extend_from_slice(&(-1i32).to_be_bytes()),
                    Some(v) => {
                        out.extend_from_slice(&(v.len() as i32).to_be_bytes());
                        out.extend_from_slice(v);
                    }
                }
            }
        }
        out.extend_from_slice(&(-1i16).to_be_bytes());
        out
    }

    /// Every tuple, feeding the stream in chunks of `size` bytes.
    fn read_in_chunks(data: &[u8], size: usize) -> Result<Vec<Vec<Option<Vec<u8>>>>, FramingError> {
        let mut t = Tuples::new(2);
        let mut rows = Vec::new();
        let mut chunks = data.chunks(size);
        loop {
            match t.next_tuple()? {
                Next::Tuple(tuple) => {
                    rows.push((0..2).map(|i| tuple.get(i).map(<[u8]>::to_vec)).collect())
                }
                Next::More => match chunks.next() {
                    Some(c) => t.feed(c),
                    None => return Err(FramingError("truncated".into())),
                },
                Next::End => return Ok(rows),
            }
        }
    }

    #[test]
    fn tuples_split_anywhere_read_the_same_with_nulls_and_empty_fields() {
        let rows: Vec<Vec<Option<&[u8]>>> = vec![
            vec![Some(b"\x00\x00\x00\x01"), None],
            vec![Some(b""), Some(b"hello")],
            vec![None, None],
        ];
        let data = stream(&rows);
        let want: Vec<Vec<Option<Vec<u8>>>> = rows
            .iter()
            .map(|r| r.iter().map(|f| f.map(<[u8]>::to_vec)).collect())
            .collect();
        for size in [1, 2, 3, 7, 19, 22, data.len()] {
            assert_eq!(
                read_in_chunks(&data, size),
                Ok(want.clone()),
                "chunks of {size}"
            );
        }
    }

    #[test]
    fn a_stream_cut_short_or_malformed_is_not_read_as_complete() {
        let data = stream(&[vec![Some(b"ab"), None]]);
        assert!(read_in_chunks(&data[..data.len() - 2], 5).is_err());
        let mut bad = data.clone();
        bad[0] = b'X';
        assert!(
            read_in_chunks(&bad, 64)
                .unwrap_err()
                .0
                .contains("signature")
        );
        let three = stream(&[vec![Some(b"a"), None, None]]);
        assert!(
            read_in_chunks(&three, 64)
                .unwrap_err()
                .0
                .contains("3 fields")
        );
        let mut oids = data.clone();
        oids[13] = 1;
        assert!(read_in_chunks(&oids, 64).unwrap_err().0.contains("flags"));
        let mut extra = data;
        extra.push(0);
        assert!(
            read_in_chunks(&extra, 64)
                .unwrap_err()
                .0
                .contains("after the COPY trailer")
        );
    }

    #[test]
    fn templates_render_markers_as_parameters_or_literals_and_nothing_else() {
        let t = Template::new(format!(
            "SELECT weir_q.\"$1\" FROM (SELECT '$1' AS \"$1\") AS weir_q WHERE weir_q.\"$1\" >= {} AND x < {}",
            Template::param(1),
            Template::param(12)
        ));
        assert_eq!(
            t.prepared(),
            "SELECT weir_q.\"$1\" FROM (SELECT '$1' AS \"$1\") AS weir_q WHERE weir_q.\"$1\" >= $1 AND x < $12"
        );
        let lits: Vec<String> = (1..=12).map(|i| format!("L{i}")).collect();
        assert_eq!(
            t.copy_statement(&lits),
            "COPY (SELECT weir_q.\"$1\" FROM (SELECT '$1' AS \"$1\") AS weir_q WHERE weir_q.\"$1\" >= L1 AND x < L12) TO STDOUT (FORMAT binary)"
        );
    }
}
