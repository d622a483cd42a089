//! Changing a record on its text when the scan is sure, and on the parsed
//! record when it is not: the patch-or-parse pattern every transform that
//! scans records follows, in one place.
//!
//! An [`Edit`] starts as a [`Patch`] on the scanned record, or as the parsed
//! [`Value`] when the scan is [`Unsure`](crate::Unsure). Each change is
//! given twice, as a patch and as a change to a `Value`
//! ([`Edit::change`]): the patch is tried while the record is only scanned,
//! and where it gives up (a field that is not a string, a key named twice)
//! the record is parsed and the change made to the `Value`, which also words
//! the errors. [`Edit::emit`] writes it either way, and both ways write the
//! same bytes. This module is on top of `record` and `patch`; nothing in
//! the crate imports it.

use serde_json::Value;

use crate::error::Error;
use crate::patch::Patch;
use crate::record::{Output, Record};

/// A record being changed: scanned with a patch, or parsed.
#[derive(Debug)]
pub struct Edit<'a> {
    record: Record<'a>,
    form: Form<'a>,
}

#[derive(Debug)]
enum Form<'a> {
    Patch(Patch<'a>),
    Parsed(Value),
}

impl<'a> Edit<'a> {
    /// Scans `record`, or parses it if the scan is unsure.
    ///
    /// # Errors
    ///
    /// The scan is unsure and the record does not parse: the parse's error.
    pub fn new(record: Record<'a>) -> Result<Edit<'a>, Error> {
        let form = match record.members() {
            Ok(members) => Form::Patch(Patch::new(members)),
            Err(_) => Form::Parsed(record.parse()?),
        };
        Ok(Edit { record, form })
    }

    /// The record being changed.
    pub fn record(&self) -> Record<'a> {
        self.record
    }

    /// The patch, while the record is only scanned: for reading fields
    /// ([`Patch::locate`]).
    pub fn patch(&self) -> Option<&Patch<'a>> {
        match &self.form {
            Form::Patch(patch) => Some(patch),
            Form::Parsed(_) => None,
        }
    }

    /// The record parsed, parsing it now (and dropping the patch) if it was
    /// only scanned.
    ///
    /// # Errors
    ///
    /// The record does not parse.
    pub fn parsed(&mut self) -> Result<&mut Value, Error> {
        if let Form::Patch(_) = self.form {
            self.form = Form::Parsed(self.record.parse()?);
        }
        match &mut self.form {
            Form::Parsed(value) => Ok(value),
            Form::Patch(_) => Err(Error::new("the record was not parsed")),
        }
    }

    /// Makes one change: with `on_patch` while the record is only scanned;
    /// if that gives up (`None`), whatever it changed is dropped, the record
    /// is parsed and `on_value` makes the change instead. Both must make the
    /// same change, so that the output does not depend on the path taken.
    ///
    /// # Errors
    ///
    /// The record does not parse, or `on_value` fails.
    pub fn change<R>(
        &mut self,
        on_patch: impl FnOnce(&mut Patch<'a>) -> Option<R>,
        on_value: impl FnOnce(&mut Value) -> Result<R, Error>,
    ) -> Result<R, Error> {
        if let Form::Patch(patch) = &mut self.form
            && let Some(result) = on_patch(patch)
        {
            return Ok(result);
        }
        on_value(self.parsed()?)
    }

    /// Writes the record: the patch with [`Output::emit_patched`], or the
    /// parsed record with [`Output::emit_from`].
    ///
    /// # Errors
    ///
    /// As [`Output::emit_from`].
    pub fn emit(self, output: &mut Output<'_>) -> Result<(), Error> {
        match self.form {
            Form::Patch(patch) => {
                output.emit_patched(patch);
                Ok(())
            }
            Form::Parsed(value) => output.emit_from(&value, self.record),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::FieldPath;
    use crate::testing::with_record;

    /// Uppercases `text` both ways, with the patch giving up on anything
    /// but a string.
    fn shout(line: &str) -> Result<(String, bool), String> {
        let text = FieldPath::try_from("text".to_owned()).unwrap_or_else(|e| panic!("{e}"));
        let mut patched = false;
        let mut error = None;
        let written = with_record(line, |record, output| {
            let result = Edit::new(record).and_then(|mut edit| {
                edit.change(
                    |patch| {
                        let found = patch.locate(&text).ok()??;
                        let upper = found.as_str()?.to_uppercase();
                        patch.replace(&found, &upper).ok()
                    },
                    |value| match text.find_text(value)? {
                        Some(found) => {
                            *found = found.to_uppercase();
                            Ok(())
                        }
                        None => Err(Error::new("no `text`")),
                    },
                )?;
                patched = edit.patch().is_some();
                edit.emit(output)
            });
            error = result.err();
            Some(())
        });
        match error {
            Some(error) => Err(error.into()),
            None => Ok((written.unwrap_or_default(), patched)),
        }
    }

    #[test]
    fn the_patch_is_taken_when_the_scan_is_sure_and_the_parse_otherwise() {
        assert_eq!(
            shout(r#"{"text": "abc", "n": 1E3}"#),
            Ok((format!("{}\n", r#"{"text":"ABC","n":1E3}"#), true))
        );
        // An escaped top-level key: the scan is unsure, the parse decides.
        assert_eq!(
            shout(r#"{"\u0074ext": "abc", "n": 1E3}"#),
            Ok((format!("{}\n", r#"{"text":"ABC","n":1E3}"#), false))
        );
        // The patch gives up; the parse words the error.
        assert_eq!(
            shout(r#"{"text": 7}"#),
            Err("field `text` is a number, not a string".to_owned())
        );
        assert_eq!(shout(r#"{"other": 7}"#), Err("no `text`".to_owned()));
        assert_eq!(
            shout(r#"{"text": "x""#),
            Err("EOF while parsing an object (column 12)".to_owned())
        );
    }
}
