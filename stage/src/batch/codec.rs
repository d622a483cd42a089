//! The codecs of parts, and the one place parts are compressed and
//! decompressed.
//!
//! A part is a concatenation of independent members (gzip members, or zstd
//! frames) of about 1 MiB of lines each, never splitting a line: valid as
//! one stream to every reader of its codec, compressed on many cores, and
//! read with bounded memory. gzip ([`super::gzip`]) is the default because
//! every warehouse and engine reads gzip JSON (BigQuery and stock Spark
//! read no other); zstd ([`super::zstd`]) is opt-in, for lakes whose
//! readers take it (docs/staging.md). A part's codec is recorded in its
//! manifest and agrees with its name (`.ndjson.gz`, `.ndjson.zst`).

use std::fmt;
use std::io::{self, BufReader, Read};
use std::ops::RangeInclusive;
use std::str::FromStr;

use flate2::read::MultiGzDecoder;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{gzip, zstd};

/// The uncompressed size of one member: large enough that the member
/// overhead (18 bytes of gzip, a reset dictionary) costs under 0.1% ratio,
/// small enough to spread over cores and to bound a reader's memory.
pub const MEMBER_BYTES: usize = 1 << 20;

/// How a part is compressed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Codec {
    /// gzip members (`.ndjson.gz`), the default.
    #[default]
    Gzip,
    /// zstd frames (`.ndjson.zst`).
    Zstd,
}

impl Codec {
    /// Every codec.
    pub const ALL: [Codec; 2] = [Codec::Gzip, Codec::Zstd];

    /// The codec's name, as flags, pipeline files and manifests spell it.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Gzip => "gzip",
            Codec::Zstd => "zstd",
        }
    }

    /// The last extension of a part's name: `gz` or `zst`.
    pub fn extension(self) -> &'static str {
        match self {
            Codec::Gzip => "gz",
            Codec::Zstd => "zst",
        }
    }

    /// The levels the codec takes.
    pub fn levels(self) -> RangeInclusive<u32> {
        match self {
            Codec::Gzip => gzip::LEVELS,
            Codec::Zstd => zstd::LEVELS,
        }
    }

    /// The level used when none is given.
    pub fn default_level(self) -> u32 {
        match self {
            Codec::Gzip => gzip::DEFAULT_LEVEL,
            Codec::Zstd => zstd::DEFAULT_LEVEL,
        }
    }

    /// The codec a name's extension claims (`.gz`, `.zst`), if any.
    pub fn of_name(name: &str) -> Option<Codec> {
        let (_, ext) = name.rsplit_once('.')?;
        Codec::ALL.into_iter().find(|c| c.extension() == ext)
    }

    /// The codec whose magic bytes `head` starts with, if any.
    pub fn sniff(head: &[u8]) -> Option<Codec> {
        if gzip::is_gzip(head) {
            Some(Codec::Gzip)
        } else if zstd::is_zstd(head) {
            Some(Codec::Zstd)
        } else {
            None
        }
    }

    /// Whether this is gzip (the manifest leaves the default out).
    pub fn is_gzip(&self) -> bool {
        *self == Codec::Gzip
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A codec name that is none of [`Codec::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown codec {0:?} (use gzip or zstd)")]
pub struct UnknownCodec(pub String);

impl FromStr for Codec {
    type Err = UnknownCodec;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Codec::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| UnknownCodec(s.to_owned()))
    }
}

/// A level the codec does not take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "compression level {level} is not a {codec} level ({codec} takes {} to {})",
    codec.levels().start(),
    codec.levels().end()
)]
pub struct LevelOutOfRange {
    /// The codec.
    pub codec: Codec,
    /// The level asked for.
    pub level: u32,
}

/// A codec and a level it takes: how members are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compression {
    codec: Codec,
    level: u32,
}

impl Default for Compression {
    /// gzip at its default level.
    fn default() -> Self {
        Codec::Gzip.into()
    }
}

impl From<Codec> for Compression {
    /// The codec at its default level.
    fn from(codec: Codec) -> Self {
        Self {
            codec,
            level: codec.default_level(),
        }
    }
}

impl Compression {
    /// `codec` at `level`, when the codec takes that level.
    pub fn new(codec: Codec, level: u32) -> Result<Self, LevelOutOfRange> {
        if codec.levels().contains(&level) {
            Ok(Self { codec, level })
        } else {
            Err(LevelOutOfRange { codec, level })
        }
    }

    /// The codec.
    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// The level.
    pub fn level(&self) -> u32 {
        self.level
    }

    /// Compresses `data`, which is complete `\n`-terminated lines, into
    /// members of at most `max_member` uncompressed bytes, split only at
    /// line ends. A line longer than `max_member` gets a member of its own.
    pub fn compress_lines(&self, data: &[u8], max_member: usize) -> Vec<Member> {
        let mut members = Vec::new();
        let mut start = 0;
        while start < data.len() {
            let mut end = start;
            let mut records = 0u64;
            for nl in memchr::memchr_iter(b'\n', &data[start..]) {
                let line_end = start + nl + 1;
                if records > 0 && line_end - start > max_member {
                    break;
                }
                end = line_end;
                records += 1;
            }
            if records == 0 {
                // Unterminated trailing bytes: callers never pass them.
                end = data.len();
            }
            members.push(self.compress_member(&data[start..end], records));
            start = end;
        }
        members
    }

    /// Compresses `data` into one member holding `records` lines.
    pub fn compress_member(&self, data: &[u8], records: u64) -> Member {
        let bytes = match self.codec {
            Codec::Gzip => gzip::compress(data, self.level),
            Codec::Zstd => zstd::compress(data, self.level),
        };
        Member {
            codec: self.codec,
            sha256: Sha256::digest(&bytes).into(),
            bytes,
            uncompressed: data.len() as u64,
            records,
        }
    }
}

/// One compressed member and what it holds.
#[derive(Debug, Clone)]
pub struct Member {
    /// Its codec: a part holds members of one codec only.
    pub codec: Codec,
    /// The member's bytes (a gzip member or a zstd frame).
    pub bytes: Vec<u8>,
    /// Uncompressed bytes (lines including their `\n`).
    pub uncompressed: u64,
    /// Number of lines (records).
    pub records: u64,
    /// sha256 of `bytes`, computed where the member is compressed (on a
    /// worker) so the part's member index costs the serial writer nothing.
    pub sha256: [u8; 32],
}

/// A decompressing reader of one codec's stream of members.
pub enum Decoder<R: Read> {
    /// gzip members (boxed: flate2's state is five times zstd's handle).
    Gzip(Box<MultiGzDecoder<BufReader<R>>>),
    /// zstd frames.
    Zstd(zstd::Decoder<R>),
}

impl<R: Read> Decoder<R> {
    /// Reads `codec`'s stream of one or many members from `inner`.
    pub fn new(codec: Codec, inner: R) -> io::Result<Self> {
        Ok(match codec {
            Codec::Gzip => Decoder::Gzip(Box::new(gzip::decoder(inner))),
            Codec::Zstd => Decoder::Zstd(zstd::decoder(inner)?),
        })
    }
}

impl<R: Read> Read for Decoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoder::Gzip(d) => d.read(buf),
            Decoder::Zstd(d) => d.read(buf),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decompress(codec: Codec, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        Decoder::new(codec, bytes)
            .and_then(|mut d| d.read_to_end(&mut out))
            .unwrap_or_else(|e| panic!("{e}"));
        out
    }

    #[test]
    fn members_split_at_line_ends_and_concatenate_to_the_input() {
        let data: Vec<u8> = (0..1000)
            .flat_map(|i| format!("{{\"i\":{i}}}\n").into_bytes())
            .collect();
        for codec in Codec::ALL {
            let members = Compression::from(codec).compress_lines(&data, 100);
            assert!(members.len() > 10);
            let mut all = Vec::new();
            for m in &members {
                assert_eq!(m.codec, codec);
                assert_eq!(Codec::sniff(&m.bytes), Some(codec));
                assert!(m.uncompressed <= 100);
                let plain = decompress(codec, &m.bytes);
                assert_eq!(plain.last(), Some(&b'\n'));
                assert_eq!(plain.len() as u64, m.uncompressed);
                all.extend_from_slice(&m.bytes);
            }
            assert_eq!(members.iter().map(|m| m.records).sum::<u64>(), 1000);
            assert_eq!(decompress(codec, &all), data, "{codec}");
        }
    }

    #[test]
    fn a_line_longer_than_a_member_gets_its_own() {
        let data = b"{\"a\":\"xxxxxxxxxxxxxxxxxxxx\"}\n{}\n";
        let members = Compression::default().compress_lines(data, 5);
        assert_eq!(members.len(), 2);
        assert_eq!(members[0].records, 1);
    }

    #[test]
    fn every_level_of_each_codec_compresses_and_others_are_refused() {
        let data = b"{\"a\":1}\n{\"b\":2}\n";
        for codec in Codec::ALL {
            for level in codec.levels() {
                let c = Compression::new(codec, level).unwrap_or_else(|e| panic!("{e}"));
                let m = c.compress_member(data, 2);
                assert_eq!(decompress(codec, &m.bytes), data, "{codec} {level}");
            }
            for level in [0, codec.levels().end() + 1] {
                let e = Compression::new(codec, level).unwrap_err();
                assert_eq!(e, LevelOutOfRange { codec, level });
            }
        }
        assert_eq!(
            Compression::new(Codec::Gzip, 12).unwrap_err().to_string(),
            "compression level 12 is not a gzip level (gzip takes 1 to 9)"
        );
    }

    #[test]
    fn names_parse_and_extensions_name_the_codec() {
        assert_eq!("zstd".parse(), Ok(Codec::Zstd));
        assert_eq!("gzip".parse(), Ok(Codec::Gzip));
        assert_eq!("lz4".parse::<Codec>(), Err(UnknownCodec("lz4".into())));
        assert_eq!(Codec::of_name("a/part-0-r.ndjson.zst"), Some(Codec::Zstd));
        assert_eq!(Codec::of_name("a/part-0-r.ndjson.gz"), Some(Codec::Gzip));
        assert_eq!(Codec::of_name("a/part-0-r.ndjson"), None);
        assert_eq!(Compression::from(Codec::Zstd).level(), 3);
        assert_eq!(Compression::default().level(), 6);
    }

    #[test]
    fn a_truncated_zstd_stream_is_an_error_not_a_short_read() {
        let data: Vec<u8> = (0..2000)
            .flat_map(|i| format!("{{\"i\":{i}}}\n").into_bytes())
            .collect();
        let m = Compression::from(Codec::Zstd).compress_member(&data, 2000);
        let cut = &m.bytes[..m.bytes.len() - 5];
        let mut out = Vec::new();
        let e = Decoder::new(Codec::Zstd, cut)
            .and_then(|mut d| d.read_to_end(&mut out))
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{e}");
    }
}
