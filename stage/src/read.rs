//! Reading what a stage or a local file holds, with errors that say what failed.
//!
//! Owns the byte streams of reads: a store object as a synchronous stream
//! ([`StoreRead`]), a part checked against its manifest's size and sha256
//! as it streams ([`VerifiedRead`]), a decompressed part ([`PartReader`])
//! and a local input file or stdin ([`Input`], [`InputLines`]). Each hands
//! back a [`StageError`] naming the object: whether the store, the
//! integrity check or the compressed data failed is decided here, once. Must not
//! import `write` or `cleanup`.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::PathBuf;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use sha2::{Digest, Sha256};
use tokio::runtime::Handle;

use crate::batch::codec::{Codec, Decoder};
use crate::batch::lines::{LineEvent, LineReader};
use crate::error::StageError;
use crate::manifest::PartInfo;

/// A store object as a synchronous byte stream.
pub struct StoreRead {
    handle: Handle,
    stream: BoxStream<'static, object_store::Result<Bytes>>,
    current: Bytes,
    object: String,
}

impl StoreRead {
    pub(crate) fn new(
        handle: Handle,
        stream: BoxStream<'static, object_store::Result<Bytes>>,
        object: String,
    ) -> Self {
        Self {
            handle,
            stream,
            current: Bytes::new(),
            object,
        }
    }
}

/// An error of the store (not of the data) while streaming an object.
#[derive(Debug, thiserror::Error)]
#[error("reading {object} from the store failed")]
pub struct StoreReadError {
    object: String,
    source: object_store::Error,
}

impl Read for StoreRead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.handle.block_on(self.stream.next()) {
                None => return Ok(0),
                Some(Ok(b)) => self.current = b,
                Some(Err(source)) => {
                    return Err(io::Error::other(StoreReadError {
                        object: self.object.clone(),
                        source,
                    }));
                }
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        bytes::Buf::advance(&mut self.current, n);
        Ok(n)
    }
}

/// Wraps a part's stored bytes; at the end checks size and sha256.
pub struct VerifiedRead<R> {
    inner: R,
    hasher: Sha256,
    read: u64,
    expected_bytes: u64,
    expected_sha256: String,
    object: String,
    checked: bool,
}

impl<R: Read> VerifiedRead<R> {
    pub(crate) fn new(inner: R, part: &PartInfo) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            read: 0,
            expected_bytes: part.compressed_bytes,
            expected_sha256: part.sha256.clone(),
            object: part.path.clone(),
            checked: false,
        }
    }
}

/// A part whose bytes are not what its manifest says.
#[derive(Debug, thiserror::Error)]
#[error("{object}: {detail}")]
pub struct IntegrityError {
    /// The part.
    pub object: String,
    /// The mismatch.
    pub detail: String,
}

impl<R: Read> Read for VerifiedRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        self.hasher.update(&buf[..n]);
        let fail = |detail: String| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                IntegrityError {
                    object: self.object.clone(),
                    detail,
                },
            )
        };
        if self.read > self.expected_bytes {
            return Err(fail(format!(
                "part is larger than the {} bytes its manifest lists",
                self.expected_bytes
            )));
        }
        if n == 0 && !buf.is_empty() && !self.checked {
            self.checked = true;
            if self.read != self.expected_bytes {
                return Err(fail(format!(
                    "part has {} bytes but its manifest lists {}",
                    self.read, self.expected_bytes
                )));
            }
            let actual = hex::encode(std::mem::take(&mut self.hasher).finalize());
            if actual != self.expected_sha256 {
                return Err(fail(format!(
                    "sha256 is {actual} but its manifest lists {}",
                    self.expected_sha256
                )));
            }
        }
        Ok(n)
    }
}

/// Turns an I/O error from reading a part (or an input file) in `codec`
/// (none for a plain file) into a [`StageError`] that says whether the
/// store, the integrity check or the compressed data failed.
pub(crate) fn read_error(object: &str, codec: Option<Codec>, e: io::Error) -> StageError {
    if let Some(inner) = e.get_ref() {
        if let Some(i) = inner.downcast_ref::<IntegrityError>() {
            return StageError::Integrity {
                object: i.object.clone(),
                detail: i.detail.clone(),
            };
        }
        if inner.downcast_ref::<StoreReadError>().is_some() {
            return StageError::Read {
                object: object.to_owned(),
                what: "the store failed while streaming it".into(),
                source: e,
            };
        }
    }
    // flate2 reports bad data as InvalidInput or InvalidData; the zstd
    // crate reports libzstd's errors (bad magic, corrupt block, checksum)
    // as Other. The store's and the integrity check's errors are told
    // apart above, so what is left of Other from a decoder is its data.
    let what = match (codec, e.kind()) {
        (Some(c), io::ErrorKind::UnexpectedEof) => {
            format!("truncated {c} data (the file ends mid-stream)")
        }
        (Some(c), io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData) => {
            format!("corrupt {c} data")
        }
        (Some(c @ Codec::Zstd), io::ErrorKind::Other) => format!("corrupt {c} data"),
        _ => "read failed".into(),
    };
    StageError::Read {
        object: object.to_owned(),
        what,
        source: e,
    }
}

/// A part's records: its stored bytes verified and decompressed by the
/// codec its manifest lists. Every error names the part.
pub struct PartReader {
    inner: Decoder<VerifiedRead<StoreRead>>,
    codec: Codec,
    object: String,
}

impl PartReader {
    pub(crate) fn new(
        stored: VerifiedRead<StoreRead>,
        part: &PartInfo,
    ) -> Result<Self, StageError> {
        let object = part.path.clone();
        let inner = Decoder::new(part.codec, stored)
            .map_err(|e| read_error(&object, Some(part.codec), e))?;
        Ok(Self {
            inner,
            codec: part.codec,
            object,
        })
    }

    /// The part, relative to its stage.
    pub fn object(&self) -> &str {
        &self.object
    }

    /// Reads decompressed bytes into `buf`; 0 at the end of the part, once
    /// its size and digest were found right.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize, StageError> {
        loop {
            match self.inner.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other.map_err(|e| read_error(&self.object, Some(self.codec), e)),
            }
        }
    }

    /// Reads into `bytes` until it holds `want` bytes or the part ends;
    /// returns whether it ended. (`read_to_end` zeroes the buffer's new
    /// space once; resizing before every read zeroed most of a block per
    /// read, 1.3% of a whole run's CPU, all of it on the feeder thread.)
    pub fn fill(&mut self, bytes: &mut Vec<u8>, want: usize) -> Result<bool, StageError> {
        let missing = want.saturating_sub(bytes.len());
        if missing == 0 {
            return Ok(false);
        }
        bytes.reserve(missing);
        let got = (&mut self.inner)
            .take(missing as u64)
            .read_to_end(bytes)
            .map_err(|e| read_error(&self.object, Some(self.codec), e))?;
        Ok(got < missing)
    }
}

/// Where `weir stage` reads records from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Standard input.
    Stdin,
    /// A file, plain, gzip or zstd.
    File(PathBuf),
}

impl Input {
    /// The name used in quarantine entries and errors.
    pub fn name(&self) -> String {
        match self {
            Input::Stdin => "<stdin>".into(),
            Input::File(p) => p.display().to_string(),
        }
    }

    /// Opens the input as lines of at most `max_line_bytes`, decompressing
    /// it when it starts with the gzip or zstd magic. A file named `.gz` or
    /// `.zst` must start with that codec's magic.
    pub fn lines(&self, max_line_bytes: usize) -> Result<InputLines, StageError> {
        let raw: Box<dyn Read + Send> = match self {
            Input::Stdin => Box::new(io::stdin()),
            Input::File(p) => Box::new(File::open(p).map_err(|source| StageError::Io {
                path: p.display().to_string(),
                source,
            })?),
        };
        let mut buffered = BufReader::with_capacity(256 * 1024, raw);
        let head = buffered
            .fill_buf()
            .map_err(|e| read_error(&self.name(), None, e))?;
        let sniffed = Codec::sniff(head);
        let named = match self {
            Input::File(p) => p.to_str().and_then(Codec::of_name),
            Input::Stdin => None,
        };
        if let Some(named) = named
            && sniffed != Some(named)
        {
            let ext = named.extension();
            return Err(StageError::Read {
                object: self.name(),
                what: if head.is_empty() {
                    format!("empty file named .{ext} (a {named} file has at least a header)")
                } else {
                    format!("named .{ext} but does not start with the {named} magic bytes")
                },
                source: io::Error::from(io::ErrorKind::InvalidData),
            });
        }
        let reader: Box<dyn BufRead + Send> = match sniffed {
            Some(codec) => Box::new(BufReader::with_capacity(
                256 * 1024,
                Decoder::new(codec, buffered)
                    .map_err(|e| read_error(&self.name(), Some(codec), e))?,
            )),
            None => Box::new(buffered),
        };
        Ok(InputLines {
            lines: LineReader::new(reader, max_line_bytes),
            codec: sniffed,
            object: self.name(),
        })
    }
}

/// An input's lines; every error names the input.
pub struct InputLines {
    lines: LineReader<Box<dyn BufRead + Send>>,
    codec: Option<Codec>,
    object: String,
}

impl InputLines {
    /// Appends the next line's content to `out` (see
    /// [`LineReader::next_into`]); `None` at the end.
    pub fn next_into(&mut self, out: &mut Vec<u8>) -> Result<Option<LineEvent>, StageError> {
        self.lines
            .next_into(out)
            .map_err(|e| read_error(&self.object, self.codec, e))
    }
}

/// A run of consecutive members of one part, fetched on the store's
/// runtime while the caller does other work ([`Stage::fetch_members`]).
/// [`MemberFetch::lines`] waits for the bytes, checks each member against
/// the part's member index and decompresses them, so any thread can read
/// its own share of a part with nothing serial in between.
///
/// [`Stage::fetch_members`]: crate::Stage::fetch_members
pub struct MemberFetch {
    pub(crate) task: tokio::task::JoinHandle<Result<Bytes, StageError>>,
    pub(crate) handle: Handle,
    pub(crate) object: String,
    pub(crate) codec: Codec,
    /// The first member's index in the part.
    pub(crate) first: usize,
    pub(crate) members: Vec<crate::manifest::MemberInfo>,
}

impl MemberFetch {
    /// Records the run holds.
    pub fn records(&self) -> u64 {
        self.members.iter().map(|m| m.records()).sum()
    }

    /// Uncompressed bytes the run holds.
    pub fn uncompressed_bytes(&self) -> u64 {
        self.members.iter().map(|m| m.uncompressed_bytes()).sum()
    }

    /// Waits for the stored bytes, checks every member's size and sha256,
    /// decompresses them and checks that they are the listed bytes and
    /// lines: whole lines, each ending in `\n`.
    pub fn lines(self) -> Result<Vec<u8>, StageError> {
        let uncompressed = self.uncompressed_bytes() as usize;
        let stored = match self.handle.block_on(self.task) {
            Ok(r) => r?,
            Err(e) => {
                return Err(StageError::Read {
                    object: self.object,
                    what: "the fetch of its members failed".into(),
                    source: io::Error::other(e),
                });
            }
        };
        let fail = |detail: String| StageError::Integrity {
            object: self.object.clone(),
            detail,
        };
        let expected: u64 = self.members.iter().map(|m| m.compressed_bytes()).sum();
        if stored.len() as u64 != expected {
            return Err(fail(format!(
                "members {} to {} are {} bytes but its manifest lists {expected}",
                self.first,
                self.first + self.members.len() - 1,
                stored.len()
            )));
        }
        let mut out = Vec::with_capacity(uncompressed);
        let mut at = 0usize;
        for (i, m) in self.members.iter().enumerate() {
            let index = self.first + i;
            let bytes = &stored[at..at + m.compressed_bytes() as usize];
            at += bytes.len();
            let actual = hex::encode(Sha256::digest(bytes));
            if actual != m.sha256() {
                return Err(fail(format!(
                    "member {index}'s sha256 is {actual} but its manifest lists {}",
                    m.sha256()
                )));
            }
            let start = out.len();
            Decoder::new(self.codec, bytes)
                .and_then(|mut d| d.read_to_end(&mut out))
                .map_err(|e| read_error(&self.object, Some(self.codec), e))?;
            let plain = &out[start..];
            let lines = memchr::memchr_iter(b'\n', plain).count() as u64;
            if plain.len() as u64 != m.uncompressed_bytes()
                || lines != m.records()
                || plain.last() != Some(&b'\n')
            {
                return Err(fail(format!(
                    "member {index} holds {} bytes in {lines} lines but its manifest lists {} bytes in {} lines",
                    plain.len(),
                    m.uncompressed_bytes(),
                    m.records()
                )));
            }
        }
        Ok(out)
    }
}
