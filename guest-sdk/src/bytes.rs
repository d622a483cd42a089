//! Fast byte searches: the first quote, backslash, control character or line
//! end in a run of text, found eight bytes at a time.
//!
//! The searches go eight bytes at a time with SWAR on `u64` (wasm32 has
//! 64-bit integers, but `str`'s searches go a 32-bit word at a time there).
//! The record scan, the minifier and the chunk loop's cutting into lines
//! ([`lines`]) all search with [`find`]. This module owns the bit tricks and
//! nothing else: it imports nothing of the crate and knows of JSON only which
//! bytes end a plain run inside a string ([`STRING_SPECIAL`]).

/// Bytes that end a plain run inside a JSON string: the quote, the
/// backslash, and control characters (which a string may not hold raw).
pub(crate) static STRING_SPECIAL: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// The lines of `text` as [`str::lines`] cuts them (at `\n`, a `\r` before
/// it dropped, no empty line after a final `\n`), found eight bytes at a
/// time: `str::lines` searches a 32-bit word at a time on wasm32.
pub(crate) fn lines(text: &str) -> impl Iterator<Item = &str> {
    let bytes = text.as_bytes();
    let mut at = 0;
    std::iter::from_fn(move || {
        if at >= bytes.len() {
            return None;
        }
        let Some(end) = find(bytes, at, |x| has(x, b'\n'), |b| b == b'\n') else {
            // The last line, without a line end: kept whole.
            let line = &text[at..];
            at = bytes.len();
            return Some(line);
        };
        let line = &text[at..end];
        at = end + 1;
        Some(line.strip_suffix('\r').unwrap_or(line))
    })
}

/// Eight bytes at a time (SWAR): no SIMD needed, and wasm has 64-bit words.
const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `x` that equals `b` is set, and no bit
/// below the first such byte (higher ones may be set spuriously, so only
/// the lowest counts).
pub(crate) fn has(x: u64, b: u8) -> u64 {
    let y = x ^ (ONES * u64::from(b));
    y.wrapping_sub(ONES) & !y & HIGHS
}

/// As [`has`], for the bytes below `n` (at most 128).
pub(crate) fn has_below(x: u64, n: u8) -> u64 {
    x.wrapping_sub(ONES * u64::from(n)) & !x & HIGHS
}

/// The first position from `from` whose byte is special: found eight bytes
/// at a time with `word` (see [`has`]), the rest one at a time with `byte`.
pub(crate) fn find(
    bytes: &[u8],
    from: usize,
    word: impl Fn(u64) -> u64,
    byte: impl Fn(u8) -> bool,
) -> Option<usize> {
    let mut i = from;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let mut eight = [0; 8];
        eight.copy_from_slice(chunk);
        let found = word(u64::from_le_bytes(eight));
        if found != 0 {
            return Some(i + found.trailing_zeros() as usize / 8);
        }
        i += 8;
    }
    bytes.get(i..)?.iter().position(|&b| byte(b)).map(|n| i + n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::XorShift;

    #[test]
    fn eight_at_a_time_finds_what_one_at_a_time_finds() {
        let mut rng = XorShift::new(0x8);
        let alphabet = b"ab \"\\\x01\x1f\x7f\xc3\xa9~ ";
        for _ in 0..20_000 {
            let bytes: Vec<u8> = (0..rng.below(40))
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect();
            let from = rng.below(bytes.len() + 1);
            let special = |b: u8| STRING_SPECIAL[usize::from(b)];
            let expected = bytes
                .get(from..)
                .and_then(|rest| rest.iter().position(|&b| special(b)).map(|n| from + n));
            let found = find(
                &bytes,
                from,
                |x| has(x, b'"') | has(x, b'\\') | has_below(x, 0x20),
                special,
            );
            assert_eq!(found, expected, "{bytes:?} from {from}");
        }
    }

    #[test]
    fn lines_are_cut_as_str_lines_cuts_them() {
        let mut rng = XorShift::new(0x11);
        let alphabet = ["a", "\n", "\r", "\r\n", "é", "{\"x\":1}", ""];
        for _ in 0..20_000 {
            let text: String = (0..rng.below(30))
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect();
            assert_eq!(
                lines(&text).collect::<Vec<_>>(),
                text.lines().collect::<Vec<_>>(),
                "{text:?}"
            );
        }
    }
}
