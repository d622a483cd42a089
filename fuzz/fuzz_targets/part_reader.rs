//! The part reader: gzip and zstd decoding, line framing and the record check over
//! arbitrary bytes, as `weir stage` reads inputs and `weir run` reads parts.
//! Never panics; errors are values. The first byte picks the line limit,
//! so over-long lines are exercised too.

#![no_main]

use std::io::{BufRead, BufReader};

use libfuzzer_sys::fuzz_target;
use weir_stage::batch::codec::{Codec, Decoder};
use weir_stage::batch::lines::{LineKind, LineReader, TOO_LONG_PREFIX};
use weir_stage::batch::record::check_record;

/// Stops reading a decompression bomb: the framing is the same past this point.
const MAX_DECOMPRESSED: u64 = 64 << 20;

fuzz_target!(|data: &[u8]| {
    let Some((&limit, body)) = data.split_first() else {
        return;
    };
    let max_line = usize::from(limit) * 8 + 1;
    // Tiny buffers make lines span many reads.
    let input: Box<dyn BufRead> = match Codec::sniff(body) {
        Some(codec) => match Decoder::new(codec, body) {
            Ok(d) => Box::new(BufReader::with_capacity(13, d)),
            Err(_) => return,
        },
        None => Box::new(BufReader::with_capacity(7, body)),
    };
    let mut lines = LineReader::new(input, max_line);
    let mut out = Vec::new();
    let (mut number, mut seen) = (0u64, 0u64);
    loop {
        out.clear();
        let event = match lines.next_into(&mut out) {
            Ok(Some(event)) => event,
            Ok(None) | Err(_) => break,
        };
        number += 1;
        assert_eq!(event.number, number, "lines are numbered from 1, in order");
        match event.kind {
            LineKind::Content => {
                assert!(out.len() <= max_line, "a line over the limit was kept");
                assert!(!out.contains(&b'\n'), "a line holds a line end");
                seen += out.len() as u64;
                let _ = check_record(&out);
            }
            LineKind::Blank => assert!(out.is_empty()),
            LineKind::TooLong { len, prefix } => {
                assert!(len > max_line as u64, "a short line reported too long");
                assert!(prefix.len() <= TOO_LONG_PREFIX);
                assert!(out.is_empty(), "an over-long line was appended");
                seen += len;
            }
        }
        if seen > MAX_DECOMPRESSED {
            break;
        }
    }
});
