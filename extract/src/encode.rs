//! Values in PostgreSQL's binary format written as exact JSON, one type at
//! a time (the table in docs/extract.md). Owns the choice of which types are
//! read natively and which are read as their text form; knows nothing of
//! connections or paging.

use base64::Engine as _;
use chrono::{NaiveDate, NaiveDateTime, TimeDelta};
use fallible_iterator::FallibleIterator as _;
use postgres_protocol::types as wire;
use tokio_postgres::types::{Kind, Type};

/// How one column's binary values become JSON.
#[derive(Clone, Debug)]
pub enum Codec {
    /// `true` / `false`.
    Bool,
    /// int2, int4, int8: integers.
    Int(u8),
    /// oid: an unsigned integer.
    Oid,
    /// float4 (`4`) or float8 (`8`).
    Float(u8),
    /// numeric: every digit, `NaN`/`Infinity` as strings.
    Numeric,
    /// Text-like types, enums and values cast to text: JSON strings.
    Text,
    /// json: embedded, whitespace removed.
    Json,
    /// jsonb: a version byte, then embedded like json.
    Jsonb,
    /// bytea: base64.
    Bytea,
    /// uuid: hyphenated lowercase.
    Uuid,
    /// inet / cidr.
    Inet,
    /// timestamp or timestamptz: RFC 3339 UTC.
    Timestamp,
    /// date.
    Date,
    /// time.
    Time,
    /// timetz.
    TimeTz,
    /// interval: ISO 8601 duration.
    Interval,
    /// An array of the inner codec.
    Array(Box<Codec>),
}

impl Codec {
    /// The codec for a type, or `None` when the type is read as its text form.
    pub fn for_type(ty: &Type) -> Option<Codec> {
        Some(match *ty {
            Type::BOOL => Codec::Bool,
            Type::INT2 => Codec::Int(2),
            Type::INT4 => Codec::Int(4),
            Type::INT8 => Codec::Int(8),
            Type::OID => Codec::Oid,
            Type::FLOAT4 => Codec::Float(4),
            Type::FLOAT8 => Codec::Float(8),
            Type::NUMERIC => Codec::Numeric,
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::CHAR | Type::UNKNOWN => {
                Codec::Text
            }
            Type::JSON => Codec::Json,
            Type::JSONB => Codec::Jsonb,
            Type::BYTEA => Codec::Bytea,
            Type::UUID => Codec::Uuid,
            Type::INET | Type::CIDR => Codec::Inet,
            Type::TIMESTAMP | Type::TIMESTAMPTZ => Codec::Timestamp,
            Type::DATE => Codec::Date,
            Type::TIME => Codec::Time,
            Type::TIMETZ => Codec::TimeTz,
            Type::INTERVAL => Codec::Interval,
            _ => match ty.kind() {
                Kind::Enum(_) => Codec::Text,
                Kind::Domain(base) => Codec::for_type(base)?,
                Kind::Array(elem) => Codec::Array(Box::new(Codec::for_type(elem)?)),
                _ => return None,
            },
        })
    }

    /// Appends the JSON for one non-NULL value; `Err` says why it cannot be
    /// represented (the caller adds table, column and key).
    pub fn write(&self, raw: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        let short = || format!("{} bytes is too short for this type", raw.len());
        match self {
            Codec::Bool => out.extend_from_slice(if raw.first() == Some(&1) {
                b"true"
            } else {
                b"false"
            }),
            Codec::Int(2) => push_display(out, wire::int2_from_sql(raw).map_err(|_| short())?),
            Codec::Int(4) => push_display(out, wire::int4_from_sql(raw).map_err(|_| short())?),
            Codec::Int(_) => push_display(out, wire::int8_from_sql(raw).map_err(|_| short())?),
            Codec::Oid => push_display(out, wire::oid_from_sql(raw).map_err(|_| short())?),
            Codec::Float(4) => {
                let v = wire::float4_from_sql(raw).map_err(|_| short())?;
                write_float(out, v.is_nan(), v.is_infinite(), v < 0.0, || {
                    ryu::Buffer::new().format_finite(v).to_string()
                })
            }
            Codec::Float(_) => {
                let v = wire::float8_from_sql(raw).map_err(|_| short())?;
                write_float(out, v.is_nan(), v.is_infinite(), v < 0.0, || {
                    ryu::Buffer::new().format_finite(v).to_string()
                })
            }
            Codec::Numeric => write_numeric(raw, out)?,
            Codec::Text => write_str(
                out,
                std::str::from_utf8(raw).map_err(|_| "text that is not valid UTF-8".to_string())?,
            ),
            Codec::Json => write_json(raw, out)?,
            Codec::Jsonb => match raw.split_first() {
                Some((1, rest)) => write_json(rest, out)?,
                _ => return Err("jsonb of an unknown binary version".into()),
            },
            Codec::Bytea => write_str(out, &base64::engine::general_purpose::STANDARD.encode(raw)),
            Codec::Uuid => {
                let b: [u8; 16] = raw.try_into().map_err(|_| short())?;
                let h = hex::encode(b);
                write_str(
                    out,
                    &format!(
                        "{}-{}-{}-{}-{}",
                        &h[0..8],
                        &h[8..12],
                        &h[12..16],
                        &h[16..20],
                        &h[20..]
                    ),
                );
            }
            Codec::Inet => {
                let inet = wire::inet_from_sql(raw).map_err(|e| e.to_string())?;
                let full = if inet.addr().is_ipv4() { 32 } else { 128 };
                let is_cidr = raw.get(2) == Some(&1);
                let text = if is_cidr || inet.netmask() != full {
                    format!("{}/{}", inet.addr(), inet.netmask())
                } else {
                    inet.addr().to_string()
                };
                write_str(out, &text);
            }
            Codec::Timestamp => {
                let us = wire::timestamp_from_sql(raw).map_err(|_| short())?;
                match us {
                    i64::MAX => write_str(out, "infinity"),
                    i64::MIN => write_str(out, "-infinity"),
                    us => write_str(out, &timestamp_text(us)?),
                }
            }
            Codec::Date => match wire::date_from_sql(raw).map_err(|_| short())? {
                i32::MAX => write_str(out, "infinity"),
                i32::MIN => write_str(out, "-infinity"),
                days => {
                    let d = epoch()
                        .date()
                        .checked_add_signed(TimeDelta::days(days.into()))
                        .filter(|d| (1..=9999).contains(&chrono::Datelike::year(d)))
                        .ok_or("date outside years 1 to 9999 (RFC 3339)")?;
                    write_str(out, &d.format("%Y-%m-%d").to_string());
                }
            },
            Codec::Time => {
                let us = wire::time_from_sql(raw).map_err(|_| short())?;
                write_str(out, &time_text(us));
            }
            Codec::TimeTz => {
                if raw.len() != 12 {
                    return Err(short());
                }
                let us = i64::from_be_bytes(raw[..8].try_into().map_err(|_| short())?);
                let west = i32::from_be_bytes(raw[8..].try_into().map_err(|_| short())?);
                let east = -west;
                let (sign, abs) = if east < 0 { ('-', -east) } else { ('+', east) };
                let mut t = format!(
                    "{}{sign}{:02}:{:02}",
                    time_text(us),
                    abs / 3600,
                    abs % 3600 / 60
                );
                if abs % 60 != 0 {
                    t.push_str(&format!(":{:02}", abs % 60));
                }
                write_str(out, &t);
            }
            Codec::Interval => {
                if raw.len() != 16 {
                    return Err(short());
                }
                let us = i64::from_be_bytes(raw[..8].try_into().map_err(|_| short())?);
                let days = i32::from_be_bytes(raw[8..12].try_into().map_err(|_| short())?);
                let months = i32::from_be_bytes(raw[12..].try_into().map_err(|_| short())?);
                write_str(out, &interval_text(us, days, months));
            }
            Codec::Array(elem) => {
                let array = wire::array_from_sql(raw).map_err(|e| e.to_string())?;
                let dims: Vec<usize> = array
                    .dimensions()
                    .map(|d| Ok(usize::try_from(d.len).unwrap_or(0)))
                    .collect()
                    .map_err(|e: Box<dyn std::error::Error + Sync + Send>| e.to_string())?;
                let values: Vec<Option<&[u8]>> = array
                    .values()
                    .collect()
                    .map_err(|e: Box<dyn std::error::Error + Sync + Send>| e.to_string())?;
                let mut next = values.into_iter();
                write_array(elem, &dims, &mut next, out)?;
            }
        }
        Ok(())
    }
}

fn write_array<'a>(
    elem: &Codec,
    dims: &[usize],
    values: &mut impl Iterator<Item = Option<&'a [u8]>>,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    out.push(b'[');
    let Some((&n, inner)) = dims.split_first() else {
        out.push(b']');
        return Ok(());
    };
    for i in 0..n {
        if i > 0 {
            out.push(b',');
        }
        if inner.is_empty() {
            match values
                .next()
                .ok_or("array has fewer elements than its dimensions")?
            {
                None => out.extend_from_slice(b"null"),
                Some(v) => elem.write(v, out)?,
            }
        } else {
            write_array(elem, inner, values, out)?;
        }
    }
    out.push(b']');
    Ok(())
}

fn push_display(out: &mut Vec<u8>, v: impl std::fmt::Display) {
    out.extend_from_slice(v.to_string().as_bytes());
}

fn write_float(
    out: &mut Vec<u8>,
    nan: bool,
    inf: bool,
    neg: bool,
    finite: impl FnOnce() -> String,
) {
    match (nan, inf) {
        (true, _) => write_str(out, "NaN"),
        (_, true) => write_str(out, if neg { "-Infinity" } else { "Infinity" }),
        _ => out.extend_from_slice(finite().as_bytes()),
    }
}

/// A JSON string, escaped as JSON requires.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    // serde_json escapes `"`, `\` and control characters; writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

fn write_numeric(raw: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    let word = |i: usize| -> Result<u16, String> {
        raw.get(i..i + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
            .ok_or_else(|| "truncated numeric".to_string())
    };
    let ndigits = word(0)? as usize;
    let weight = word(2)? as i16 as i32;
    let sign = word(4)?;
    let dscale = word(6)? as usize;
    match sign {
        0xC000 => {
            write_str(out, "NaN");
            return Ok(());
        }
        0xD000 => {
            write_str(out, "Infinity");
            return Ok(());
        }
        0xF000 => {
            write_str(out, "-Infinity");
            return Ok(());
        }
        _ => {}
    }
    let digits = (0..ndigits)
        .map(|i| word(8 + 2 * i))
        .collect::<Result<Vec<u16>, _>>()?;
    let digit = |i: i32| -> u16 {
        usize::try_from(i)
            .ok()
            .and_then(|i| digits.get(i))
            .copied()
            .unwrap_or(0)
    };
    let mut text = String::new();
    if sign == 0x4000 {
        text.push('-');
    }
    if weight < 0 {
        text.push('0');
    } else {
        for d in 0..=weight {
            if d == 0 {
                text.push_str(&digit(0).to_string());
            } else {
                text.push_str(&format!("{:04}", digit(d)));
            }
        }
    }
    if dscale > 0 {
        text.push('.');
        let mut frac = String::new();
        let mut d = weight + 1;
        while frac.len() < dscale {
            frac.push_str(&format!("{:04}", digit(d)));
            d += 1;
        }
        frac.truncate(dscale);
        text.push_str(&frac);
    }
    if text.parse::<f64>().map(f64::is_infinite).unwrap_or(true) {
        return Err(format!(
            "numeric of {} digits is beyond a double's range, which no reader can load",
            text.len()
        ));
    }
    out.extend_from_slice(text.as_bytes());
    Ok(())
}

/// Removes whitespace outside strings, then checks the result is one JSON value.
fn write_json(raw: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    let start = out.len();
    let mut in_string = false;
    let mut escaped = false;
    for &b in raw {
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            if b == b'"' {
                in_string = true;
            }
            out.push(b);
        }
    }
    serde_json::from_slice::<UniqueKeys>(&out[start..])
        .map(|_| ())
        .map_err(|e| format!("json that is not valid JSON: {e}"))
}

/// A JSON value checked, without being kept, for objects that name a key
/// twice (after unescaping: `"a"` and `"\u0061"` are one key). PostgreSQL's
/// `json` keeps such input as written; most readers keep one of the two
/// values (pandas and DuckDB the last, some the first), so the record
/// would not mean one thing.
struct UniqueKeys;

impl<'de> serde::Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UniqueKeys)
    }
}

impl<'de> serde::de::Visitor<'de> for UniqueKeys {
    type Value = UniqueKeys;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_unit<E>(self) -> Result<Self, E> {
        Ok(self)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self, A::Error> {
        while seq.next_element::<UniqueKeys>()?.is_some() {}
        Ok(self)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self, A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            map.next_value::<UniqueKeys>()?;
            if let Some(key) = seen.replace(key) {
                return Err(serde::de::Error::custom(format!(
                    "the key {key:?} twice in one object"
                )));
            }
        }
        Ok(self)
    }
}

fn epoch() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2000, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default()
}

fn fraction(us: u32) -> String {
    if us == 0 {
        return String::new();
    }
    let f = format!(".{us:06}");
    f.trim_end_matches('0').to_string()
}

fn timestamp_text(us: i64) -> Result<String, String> {
    let t = epoch()
        .checked_add_signed(TimeDelta::microseconds(us))
        .filter(|t| (1..=9999).contains(&chrono::Datelike::year(t)))
        .ok_or("timestamp outside years 1 to 9999 (RFC 3339)")?;
    let sub = chrono::Timelike::nanosecond(&t) / 1000;
    Ok(format!(
        "{}{}Z",
        t.format("%Y-%m-%dT%H:%M:%S"),
        fraction(sub)
    ))
}

fn time_text(us: i64) -> String {
    let secs = us / 1_000_000;
    format!(
        "{:02}:{:02}:{:02}{}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60,
        fraction((us % 1_000_000) as u32)
    )
}

/// PostgreSQL's `IntervalStyle = iso_8601` output.
fn interval_text(us: i64, days: i32, months: i32) -> String {
    if (us, days, months) == (i64::MAX, i32::MAX, i32::MAX) {
        return "infinity".into();
    }
    if (us, days, months) == (i64::MIN, i32::MIN, i32::MIN) {
        return "-infinity".into();
    }
    let (year, mon) = (months / 12, months % 12);
    let hour = us / 3_600_000_000;
    let min = us % 3_600_000_000 / 60_000_000;
    let sec = us % 60_000_000 / 1_000_000;
    let fsec = us % 1_000_000;
    if (year, mon, days, hour, min, sec, fsec) == (0, 0, 0, 0, 0, 0, 0) {
        return "PT0S".into();
    }
    let mut s = String::from("P");
    let part = |s: &mut String, v: i64, unit: char| {
        if v != 0 {
            s.push_str(&format!("{v}{unit}"));
        }
    };
    part(&mut s, year.into(), 'Y');
    part(&mut s, mon.into(), 'M');
    part(&mut s, days.into(), 'D');
    if hour != 0 || min != 0 || sec != 0 || fsec != 0 {
        s.push('T');
    }
    part(&mut s, hour, 'H');
    part(&mut s, min, 'M');
    if sec != 0 || fsec != 0 {
        if sec < 0 || fsec < 0 {
            s.push('-');
        }
        s.push_str(&format!(
            "{}{}S",
            sec.abs(),
            fraction(fsec.unsigned_abs() as u32)
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_matches_postgres_iso_8601_style() {
        assert_eq!(interval_text(0, 0, 0), "PT0S");
        assert_eq!(
            interval_text(4 * 3_600_000_000 + 5 * 60_000_000 + 6_500_000, 3, 14),
            "P1Y2M3DT4H5M6.5S"
        );
        assert_eq!(interval_text(-1_500_000, -1, 0), "P-1DT-1.5S");
    }

    #[test]
    fn json_with_a_key_twice_in_one_object_is_refused_at_any_depth() {
        let refused = |raw: &[u8]| {
            let mut out = Vec::new();
            write_json(raw, &mut out).expect_err("refused")
        };
        assert!(refused(br#"{"a":1,"a":2}"#).contains("the key \"a\" twice"));
        assert!(refused(br#"[{"x":{"b":[1],"c":0,"b":null}}]"#).contains("\"b\""));
        // One key, spelled two ways.
        assert!(refused(br#"{"a":1,"\u0061":2}"#).contains("\"a\""));
        assert!(refused(b"{\"a\":1").contains("not valid JSON"));
        let mut out = Vec::new();
        write_json(br#"{"a":{"a":1},"b":[{"a":2},{"a":3}],"n":1.50}"#, &mut out).unwrap();
        assert_eq!(out, br#"{"a":{"a":1},"b":[{"a":2},{"a":3}],"n":1.50}"#);
    }

    #[test]
    fn json_whitespace_outside_strings_is_removed() {
        let mut out = Vec::new();
        write_json(b"{\"a b\" :\n [1, 2]}", &mut out).unwrap();
        assert_eq!(out, b"{\"a b\":[1,2]}");
    }
}
