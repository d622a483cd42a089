//! Refusing NaN and infinity in what a transform writes.
//!
//! JSON has no NaN or infinity, and serde_json writes either as `null`, so
//! a transform computing `0.0 / 0.0` into a field would change the record
//! silently. Owns the check that fails such a record instead, naming the
//! value's path (as the Python SDK does), before it is written. The check
//! walks the value with a serializer that writes nothing; callers run it
//! only when the JSON written holds a `null` (a NaN always becomes one),
//! so records without one pay a byte search.

use std::fmt;

use serde::Serialize;
use serde::ser;

use crate::error::Error;

/// Fails when `value`, whose JSON text is `json`, holds a NaN or an
/// infinity, naming its path; free unless `json` holds `null`.
pub(crate) fn check_written<T: Serialize + ?Sized>(value: &T, json: &[u8]) -> Result<(), Error> {
    if json.windows(4).any(|w| w == b"null") {
        check(value)
    } else {
        Ok(())
    }
}

/// Fails when `value` holds a NaN or an infinity, naming its path;
/// `value_json` is what serde_json made of it (checked only if it holds a
/// null).
pub(crate) fn check_value<T: Serialize + ?Sized>(
    value: &T,
    value_json: &serde_json::Value,
) -> Result<(), Error> {
    if has_null(value_json) {
        check(value)
    } else {
        Ok(())
    }
}

fn has_null(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Null => true,
        serde_json::Value::Array(a) => a.iter().any(has_null),
        serde_json::Value::Object(o) => o.values().any(has_null),
        _ => false,
    }
}

/// Fails when `value` holds a NaN or an infinity, naming its path.
pub(crate) fn check<T: Serialize + ?Sized>(value: &T) -> Result<(), Error> {
    let mut walk = Walk { path: Vec::new() };
    value
        .serialize(&mut walk)
        .map_err(|NonFinite(message)| Error::new(message))
}

/// Where the walk is: member names and array indices.
struct Walk {
    path: Vec<String>,
}

impl Walk {
    fn float(&self, v: f64) -> Result<(), NonFinite> {
        if v.is_finite() {
            return Ok(());
        }
        let what = if v.is_nan() { "NaN" } else { "an infinity" };
        let path = if self.path.is_empty() {
            "the output".to_owned()
        } else {
            format!("`{}`", self.path.join("."))
        };
        Err(NonFinite(format!(
            "{path} is {what}, which JSON cannot hold (serde_json would write null): \
             write a string or null yourself, or leave the record out"
        )))
    }

    fn within<T: Serialize + ?Sized>(&mut self, step: String, value: &T) -> Result<(), NonFinite> {
        self.path.push(step);
        let r = value.serialize(&mut *self);
        self.path.pop();
        r
    }
}

#[derive(Debug)]
struct NonFinite(String);

impl fmt::Display for NonFinite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NonFinite {}

impl ser::Error for NonFinite {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        NonFinite(msg.to_string())
    }
}

/// A compound value being walked; `index` counts a sequence's elements,
/// `key` holds a map's pending key.
struct Compound<'w> {
    walk: &'w mut Walk,
    index: usize,
    key: String,
}

macro_rules! ok {
    ($($name:ident: $ty:ty),* $(,)?) => {
        $(fn $name(self, _: $ty) -> Result<(), NonFinite> { Ok(()) })*
    };
}

impl<'w> ser::Serializer for &'w mut Walk {
    type Ok = ();
    type Error = NonFinite;
    type SerializeSeq = Compound<'w>;
    type SerializeTuple = Compound<'w>;
    type SerializeTupleStruct = Compound<'w>;
    type SerializeTupleVariant = Compound<'w>;
    type SerializeMap = Compound<'w>;
    type SerializeStruct = Compound<'w>;
    type SerializeStructVariant = Compound<'w>;

    ok!(serialize_bool: bool, serialize_i8: i8, serialize_i16: i16, serialize_i32: i32,
        serialize_i64: i64, serialize_i128: i128, serialize_u8: u8, serialize_u16: u16,
        serialize_u32: u32, serialize_u64: u64, serialize_u128: u128, serialize_char: char,
        serialize_str: &str, serialize_bytes: &[u8], serialize_unit_struct: &'static str);

    fn serialize_f32(self, v: f32) -> Result<(), NonFinite> {
        self.float(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<(), NonFinite> {
        self.float(v)
    }
    fn serialize_none(self) -> Result<(), NonFinite> {
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), NonFinite> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), NonFinite> {
        Ok(())
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
    ) -> Result<(), NonFinite> {
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), NonFinite> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), NonFinite> {
        self.within(variant.to_owned(), value)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Compound<'w>, NonFinite> {
        Ok(self.compound())
    }
    fn serialize_tuple(self, _: usize) -> Result<Compound<'w>, NonFinite> {
        Ok(self.compound())
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Compound<'w>, NonFinite> {
        Ok(self.compound())
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Compound<'w>, NonFinite> {
        self.path.push(variant.to_owned());
        Ok(self.compound())
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Compound<'w>, NonFinite> {
        Ok(self.compound())
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Compound<'w>, NonFinite> {
        Ok(self.compound())
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Compound<'w>, NonFinite> {
        self.path.push(variant.to_owned());
        Ok(self.compound())
    }
}

impl Walk {
    fn compound(&mut self) -> Compound<'_> {
        Compound {
            walk: self,
            index: 0,
            key: String::new(),
        }
    }
}

impl Compound<'_> {
    fn close(self, variant: bool) -> Result<(), NonFinite> {
        if variant {
            self.walk.path.pop();
        }
        Ok(())
    }

    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), NonFinite> {
        let step = self.index.to_string();
        self.index += 1;
        self.walk.within(step, value)
    }
}

/// The compound values whose members are positional (each an element) or
/// named (each a field); a variant's name is on the path until its end.
macro_rules! compounds {
    (positional: $($p:ident::$pm:ident => $pv:literal),*; named: $($n:ident => $nv:literal),*) => {
        $(impl ser::$p for Compound<'_> {
            type Ok = ();
            type Error = NonFinite;
            fn $pm<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), NonFinite> {
                self.element(value)
            }
            fn end(self) -> Result<(), NonFinite> {
                self.close($pv)
            }
        })*
        $(impl ser::$n for Compound<'_> {
            type Ok = ();
            type Error = NonFinite;
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), NonFinite> {
                self.walk.within(key.to_owned(), value)
            }
            fn end(self) -> Result<(), NonFinite> {
                self.close($nv)
            }
        })*
    };
}

compounds!(
    positional:
        SerializeSeq::serialize_element => false,
        SerializeTuple::serialize_element => false,
        SerializeTupleStruct::serialize_field => false,
        SerializeTupleVariant::serialize_field => true;
    named:
        SerializeStruct => false,
        SerializeStructVariant => true
);

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = NonFinite;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), NonFinite> {
        // The rare walk can afford serde_json's own view of the key.
        self.key = match serde_json::to_value(key) {
            Ok(serde_json::Value::String(k)) => k,
            Ok(other) => other.to_string(),
            Err(_) => "?".into(),
        };
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), NonFinite> {
        let key = std::mem::take(&mut self.key);
        self.walk.within(key, value)
    }
    fn end(self) -> Result<(), NonFinite> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Serialize;

    use super::*;

    #[derive(Serialize)]
    struct Scores {
        label: String,
        score: f64,
        parts: Vec<f32>,
        by_name: BTreeMap<String, f64>,
        maybe: Option<f64>,
    }

    fn scores() -> Scores {
        Scores {
            label: "a".into(),
            score: 0.5,
            parts: vec![1.0, 2.0],
            by_name: BTreeMap::from([("x".into(), 1.0)]),
            maybe: None,
        }
    }

    #[test]
    fn finite_values_pass_and_each_non_finite_one_is_named_by_its_path() {
        assert!(check(&scores()).is_ok());
        let mut s = scores();
        s.score = f64::NAN;
        let e = check(&s).unwrap_err().to_string();
        assert!(e.starts_with("`score` is NaN"), "{e}");
        let mut s = scores();
        s.parts[1] = f32::INFINITY;
        let e = check(&s).unwrap_err().to_string();
        assert!(e.starts_with("`parts.1` is an infinity"), "{e}");
        let mut s = scores();
        s.by_name.insert("y".into(), f64::NEG_INFINITY);
        let e = check(&s).unwrap_err().to_string();
        assert!(e.starts_with("`by_name.y` is an infinity"), "{e}");
        let mut s = scores();
        s.maybe = Some(f64::NAN);
        let e = check(&s).unwrap_err().to_string();
        assert!(e.starts_with("`maybe` is NaN"), "{e}");
        assert!(
            check(&f64::NAN)
                .unwrap_err()
                .to_string()
                .starts_with("the output is NaN")
        );
    }

    #[test]
    fn the_check_runs_only_where_serde_json_wrote_a_null() {
        let mut s = scores();
        s.score = f64::NAN;
        let json = serde_json::to_vec(&s).unwrap_or_default();
        assert!(check_written(&s, &json).is_err());
        // A NaN always becomes a null, so JSON without one needs no walk.
        assert!(check_written(&s, br#"{"label":"a"}"#).is_ok());
        let value = serde_json::to_value(&s).unwrap_or_default();
        assert_eq!(value["score"], serde_json::Value::Null);
        assert!(check_value(&s, &value).is_err());
        let fine = scores();
        let value = serde_json::to_value(&fine).unwrap_or_default();
        assert!(check_value(&fine, &value).is_ok());
    }
}
