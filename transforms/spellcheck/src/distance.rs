//! Damerau–Levenshtein distance, optimal string alignment (OSA) variant,
//! bounded by a maximum.
//!
//! A line-by-line port of symspellpy's `DamerauOsa` (itself from SoftWx.Match,
//! which the C# SymSpell uses), so that the distances the lookup compares
//! are the ones symspellpy computes: a common prefix and suffix are skipped,
//! and only a band of `max` cells either side of the diagonal is filled.
//! Works on `char`s, as Python indexes strings by code point. Knows nothing
//! of dictionaries or text.

/// The two rows of costs, kept between calls to save allocations.
#[derive(Debug, Default)]
pub struct DistanceBuffers {
    char_1_costs: Vec<usize>,
    prev_char_1_costs: Vec<usize>,
}

impl DistanceBuffers {
    /// Both rows, `len` long; the first filled by `first_row`.
    fn rows(
        &mut self,
        len: usize,
        first_row: impl Fn(usize) -> usize,
    ) -> (&mut [usize], &mut [usize]) {
        self.char_1_costs.clear();
        self.char_1_costs.extend((0..len).map(first_row));
        self.prev_char_1_costs.clear();
        self.prev_char_1_costs.resize(len, 0);
        (&mut self.char_1_costs, &mut self.prev_char_1_costs)
    }
}

/// The OSA distance between `a` and `b`, or `None` if it is over `max`.
pub fn osa(a: &[char], b: &[char], max: usize, buffers: &mut DistanceBuffers) -> Option<usize> {
    if max == 0 {
        return (a == b).then_some(0);
    }
    // The shorter string first: the inner loop runs over the longer one.
    let (s1, s2) = if a.len() > b.len() { (b, a) } else { (a, b) };
    if s2.len() - s1.len() > max {
        return None;
    }
    let (len_1, len_2, start) = skip_common_ends(s1, s2);
    if len_1 == 0 {
        return (len_2 <= max).then_some(len_2);
    }
    let s1 = &s1[start..start + len_1];
    let s2 = &s2[start..start + len_2];
    if max < len_2 {
        banded(s1, s2, max, buffers)
    } else {
        Some(full(s1, s2, buffers))
    }
}

/// Lengths of what is left of `s1` and `s2` (`s1` the shorter) once their
/// common suffix and then their common prefix are removed, and where it
/// starts.
fn skip_common_ends(s1: &[char], s2: &[char]) -> (usize, usize, usize) {
    let (mut len_1, mut len_2) = (s1.len(), s2.len());
    while len_1 != 0 && s1[len_1 - 1] == s2[len_2 - 1] {
        len_1 -= 1;
        len_2 -= 1;
    }
    let mut start = 0;
    while start != len_1 && s1[start] == s2[start] {
        start += 1;
    }
    (len_1 - start, len_2 - start, start)
}

/// The whole matrix, two rows at a time.
fn full(s1: &[char], s2: &[char], buffers: &mut DistanceBuffers) -> usize {
    let len_2 = s2.len();
    let (char_1_costs, prev_char_1_costs) = buffers.rows(len_2, |j| j + 1);
    let mut char_1 = ' ';
    let mut current_cost = 0;
    for (i, &c1) in s1.iter().enumerate() {
        let prev_char_1 = char_1;
        char_1 = c1;
        let mut char_2 = ' ';
        let mut left_char_cost = i;
        let mut above_char_cost = i;
        let mut next_trans_cost = 0;
        for j in 0..len_2 {
            let this_trans_cost = next_trans_cost;
            next_trans_cost = prev_char_1_costs[j];
            current_cost = left_char_cost;
            prev_char_1_costs[j] = current_cost;
            left_char_cost = char_1_costs[j];
            let prev_char_2 = char_2;
            char_2 = s2[j];
            if char_1 != char_2 {
                current_cost = current_cost.min(above_char_cost).min(left_char_cost) + 1;
                if i != 0
                    && j != 0
                    && char_1 == prev_char_2
                    && prev_char_1 == char_2
                    && this_trans_cost + 1 < current_cost
                {
                    current_cost = this_trans_cost + 1;
                }
            }
            char_1_costs[j] = current_cost;
            above_char_cost = current_cost;
        }
    }
    current_cost
}

/// Only the cells within `max` of the diagonal; gives up as soon as the
/// diagonal's cost exceeds `max`.
fn banded(s1: &[char], s2: &[char], max: usize, buffers: &mut DistanceBuffers) -> Option<usize> {
    let (len_1, len_2) = (s1.len(), s2.len());
    let (char_1_costs, prev_char_1_costs) =
        buffers.rows(len_2, |j| if j < max { j + 1 } else { max + 1 });
    let len_diff = len_2 - len_1;
    // max >= len_diff was checked by the caller.
    let j_start_offset = max - len_diff;
    let mut j_start = 0;
    let mut j_end = max;
    let mut char_1 = ' ';
    let mut current_cost = 0;
    for (i, &c1) in s1.iter().enumerate() {
        let prev_char_1 = char_1;
        char_1 = c1;
        let mut char_2 = ' ';
        let mut left_char_cost = i;
        let mut above_char_cost = i;
        let mut next_trans_cost = 0;
        if i > j_start_offset {
            j_start += 1;
        }
        if j_end < len_2 {
            j_end += 1;
        }
        for j in j_start..j_end {
            let this_trans_cost = next_trans_cost;
            next_trans_cost = prev_char_1_costs[j];
            current_cost = left_char_cost;
            prev_char_1_costs[j] = current_cost;
            left_char_cost = char_1_costs[j];
            let prev_char_2 = char_2;
            char_2 = s2[j];
            if char_1 != char_2 {
                current_cost = current_cost.min(above_char_cost).min(left_char_cost) + 1;
                if i != 0
                    && j != 0
                    && char_1 == prev_char_2
                    && prev_char_1 == char_2
                    && this_trans_cost + 1 < current_cost
                {
                    current_cost = this_trans_cost + 1;
                }
            }
            char_1_costs[j] = current_cost;
            above_char_cost = current_cost;
        }
        if char_1_costs[i + len_diff] > max {
            return None;
        }
    }
    (current_cost <= max).then_some(current_cost)
}

#[cfg(test)]
mod tests {
    use super::{DistanceBuffers, osa};

    fn d(a: &str, b: &str, max: usize) -> Option<usize> {
        let a: Vec<char> = a.chars().collect();
        let b: Vec<char> = b.chars().collect();
        osa(&a, &b, max, &mut DistanceBuffers::default())
    }

    #[test]
    fn counts_each_kind_of_edit_once() {
        assert_eq!(d("spelling", "spelling", 2), Some(0));
        assert_eq!(d("speling", "spelling", 2), Some(1));
        assert_eq!(d("spellling", "spelling", 2), Some(1));
        assert_eq!(d("spelxing", "spelling", 2), Some(1));
        assert_eq!(d("sepllign", "spelling", 2), Some(2));
        assert_eq!(d("ab", "ba", 2), Some(1));
    }

    #[test]
    fn osa_does_not_edit_a_substring_twice() {
        // True Damerau-Levenshtein gives 2 (ca -> ac -> abc); OSA gives 3.
        assert_eq!(d("ca", "abc", 3), Some(3));
    }

    #[test]
    fn distances_over_max_are_none() {
        assert_eq!(d("kitten", "sitting", 2), None);
        assert_eq!(d("kitten", "sitting", 3), Some(3));
        assert_eq!(d("a", "abcd", 2), None);
        assert_eq!(d("same", "same", 0), Some(0));
        assert_eq!(d("same", "sane", 0), None);
    }

    #[test]
    fn works_on_code_points() {
        assert_eq!(d("café", "cafe", 1), Some(1));
        assert_eq!(d("naïve", "naive", 1), Some(1));
    }
}
