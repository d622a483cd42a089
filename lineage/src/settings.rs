//! Which transport events go to, decided in one place: the environment
//! (the variables the OpenLineage clients read) beats the pipeline file's
//! `[openlineage]` table, which beats the default: off.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::LineageError;

/// The default job namespace.
pub const DEFAULT_NAMESPACE: &str = "weir";
/// The default HTTP endpoint, as the OpenLineage clients have it.
pub const DEFAULT_ENDPOINT: &str = "api/v1/lineage";
/// The default HTTP timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// A pipeline file's `[openlineage]` table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineageFile {
    /// The job namespace.
    pub namespace: Option<String>,
    /// `true` sends nothing.
    pub disabled: Option<bool>,
    /// The transport.
    pub transport: Option<TransportFile>,
}

/// `[openlineage.transport]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransportFile {
    /// `http`, `file` or `console`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// The HTTP server.
    pub url: Option<String>,
    /// The HTTP path (default `api/v1/lineage`).
    pub endpoint: Option<String>,
    /// The HTTP timeout, e.g. `5s`.
    pub timeout: Option<String>,
    /// The file transport's file, relative to the pipeline file.
    pub log_file_path: Option<String>,
}

/// Where events go.
#[derive(Debug, Clone, PartialEq)]
pub enum TransportConfig {
    /// POST each event to `url`.
    Http {
        /// The endpoint's full URL.
        url: url::Url,
        /// Sent as `Authorization: Bearer KEY`.
        api_key: Option<String>,
        /// Each request's bound.
        timeout: Duration,
    },
    /// Append each event as a line to a file.
    File {
        /// The file.
        path: PathBuf,
    },
    /// Each event as a line on stderr.
    Console,
}

/// The resolved lineage settings.
#[derive(Debug, Clone, PartialEq)]
pub struct LineageSettings {
    /// The job namespace.
    pub namespace: String,
    /// The transport; `None` sends nothing.
    pub transport: Option<TransportConfig>,
}

impl LineageSettings {
    /// The settings from the process environment and the pipeline file's
    /// table (with the file's folder, for relative paths).
    pub fn from_env(file: Option<(&LineageFile, &Path)>) -> Result<Self, LineageError> {
        Self::resolve(&|k| std::env::var(k).ok().filter(|v| !v.is_empty()), file)
    }

    /// The settings from `env` (a variable's value, if set) and the file:
    /// each setting from the environment if it gives it, else the file's,
    /// else the default.
    pub fn resolve(
        env: &dyn Fn(&str) -> Option<String>,
        file: Option<(&LineageFile, &Path)>,
    ) -> Result<Self, LineageError> {
        let (table, dir) = match file {
            Some((t, d)) => (Some(t), Some(d)),
            None => (None, None),
        };
        let from_file = table.and_then(|t| t.transport.clone()).unwrap_or_default();
        let namespace = env("OPENLINEAGE_NAMESPACE")
            .or_else(|| table.and_then(|t| t.namespace.clone()))
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
        let disabled = match env("OPENLINEAGE_DISABLED") {
            Some(v) => v.eq_ignore_ascii_case("true") || v == "1",
            None => table.and_then(|t| t.disabled).unwrap_or(false),
        };
        if disabled {
            return Ok(Self {
                namespace,
                transport: None,
            });
        }
        let url = env("OPENLINEAGE__TRANSPORT__URL")
            .or_else(|| env("OPENLINEAGE_URL"))
            .or(from_file.url.clone());
        let kind = env("OPENLINEAGE__TRANSPORT__TYPE")
            .or_else(|| env("OPENLINEAGE_URL").map(|_| "http".to_owned()))
            .or(from_file.kind.clone())
            .or_else(|| url.as_ref().map(|_| "http".to_owned()));
        let invalid = |setting: &str, reason: String| LineageError::InvalidSetting {
            setting: setting.to_owned(),
            reason,
        };
        let transport = match kind.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None => None,
            Some("console") => Some(TransportConfig::Console),
            Some("file") => {
                let path = env("OPENLINEAGE__TRANSPORT__LOG_FILE_PATH")
                    .map(PathBuf::from)
                    .or_else(|| {
                        from_file.log_file_path.as_ref().map(|p| match dir {
                            Some(d) => d.join(p),
                            None => PathBuf::from(p),
                        })
                    })
                    .ok_or_else(|| {
                        invalid(
                            "OPENLINEAGE__TRANSPORT__LOG_FILE_PATH",
                            "the file transport needs the file to append events to".into(),
                        )
                    })?;
                Some(TransportConfig::File { path })
            }
            Some("http") => {
                let base = url.ok_or_else(|| {
                    invalid(
                        "OPENLINEAGE_URL",
                        "the http transport needs the server's URL".into(),
                    )
                })?;
                let endpoint = env("OPENLINEAGE__TRANSPORT__ENDPOINT")
                    .or_else(|| env("OPENLINEAGE_ENDPOINT"))
                    .or(from_file.endpoint.clone())
                    .unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned());
                let joined = format!(
                    "{}/{}",
                    base.trim_end_matches('/'),
                    endpoint.trim_start_matches('/')
                );
                let url = url::Url::parse(&joined).map_err(|e| {
                    invalid("OPENLINEAGE_URL", format!("{joined:?} is not a URL: {e}"))
                })?;
                if !matches!(url.scheme(), "http" | "https") {
                    return Err(invalid(
                        "OPENLINEAGE_URL",
                        format!("{joined:?} is not an http:// or https:// URL"),
                    ));
                }
                let timeout = match env("OPENLINEAGE__TRANSPORT__TIMEOUT") {
                    Some(s) => s
                        .parse::<f64>()
                        .ok()
                        .filter(|t| t.is_finite() && *t > 0.0)
                        .map(Duration::from_secs_f64)
                        .ok_or_else(|| {
                            invalid(
                                "OPENLINEAGE__TRANSPORT__TIMEOUT",
                                format!("{s:?} is not a number of seconds"),
                            )
                        })?,
                    None => match &from_file.timeout {
                        Some(t) => humantime::parse_duration(t).map_err(|e| {
                            invalid("[openlineage.transport] timeout", format!("{t:?}: {e}"))
                        })?,
                        None => DEFAULT_TIMEOUT,
                    },
                };
                let api_key = env("OPENLINEAGE__TRANSPORT__AUTH__API_KEY")
                    .or_else(|| env("OPENLINEAGE__TRANSPORT__AUTH__APIKEY"))
                    .or_else(|| env("OPENLINEAGE_API_KEY"));
                Some(TransportConfig::Http {
                    url,
                    api_key,
                    timeout,
                })
            }
            Some(other) => {
                return Err(invalid(
                    "OPENLINEAGE__TRANSPORT__TYPE",
                    format!("{other:?} is not a transport Weir has (http, file, console)"),
                ));
            }
        };
        Ok(Self {
            namespace,
            transport,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(
        vars: &[(&str, &str)],
        file: Option<&LineageFile>,
    ) -> Result<LineageSettings, LineageError> {
        let env = |k: &str| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        };
        LineageSettings::resolve(&env, file.map(|f| (f, Path::new("/pipelines"))))
    }

    fn ok(vars: &[(&str, &str)], file: Option<&LineageFile>) -> LineageSettings {
        resolve(vars, file).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn off_unless_a_transport_is_configured() {
        let s = ok(&[], None);
        assert_eq!(s.transport, None);
        assert_eq!(s.namespace, "weir");
    }

    #[test]
    fn openlineage_url_is_http_with_the_default_endpoint_and_the_api_key() {
        let s = ok(
            &[
                ("OPENLINEAGE_URL", "http://marquez:5000/"),
                ("OPENLINEAGE_API_KEY", "k"),
                ("OPENLINEAGE_NAMESPACE", "lake"),
            ],
            None,
        );
        assert_eq!(s.namespace, "lake");
        let Some(TransportConfig::Http {
            url,
            api_key,
            timeout,
        }) = s.transport
        else {
            panic!("{:?}", s.transport)
        };
        assert_eq!(url.as_str(), "http://marquez:5000/api/v1/lineage");
        assert_eq!(api_key.as_deref(), Some("k"));
        assert_eq!(timeout, DEFAULT_TIMEOUT);
        let s = ok(
            &[
                ("OPENLINEAGE_URL", "http://m"),
                ("OPENLINEAGE_ENDPOINT", "/x/y"),
            ],
            None,
        );
        assert!(
            matches!(s.transport, Some(TransportConfig::Http { url, .. }) if url.as_str() == "http://m/x/y")
        );
    }

    #[test]
    fn the_environment_beats_the_file_and_disabled_beats_everything() {
        let file = LineageFile {
            namespace: Some("from-file".into()),
            disabled: None,
            transport: Some(TransportFile {
                kind: Some("file".into()),
                log_file_path: Some("events.ndjson".into()),
                ..TransportFile::default()
            }),
        };
        let s = ok(&[], Some(&file));
        assert_eq!(s.namespace, "from-file");
        assert_eq!(
            s.transport,
            Some(TransportConfig::File {
                path: PathBuf::from("/pipelines/events.ndjson")
            })
        );
        let s = ok(&[("OPENLINEAGE__TRANSPORT__TYPE", "console")], Some(&file));
        assert_eq!(s.transport, Some(TransportConfig::Console));
        let s = ok(&[("OPENLINEAGE_URL", "http://m")], Some(&file));
        assert!(matches!(s.transport, Some(TransportConfig::Http { .. })));
        let s = ok(
            &[
                ("OPENLINEAGE_DISABLED", "true"),
                ("OPENLINEAGE_URL", "http://m"),
            ],
            Some(&file),
        );
        assert_eq!(s.transport, None);
    }

    #[test]
    fn unusable_settings_name_the_variable() {
        for (vars, says) in [
            (
                vec![("OPENLINEAGE__TRANSPORT__TYPE", "kafka")],
                "OPENLINEAGE__TRANSPORT__TYPE",
            ),
            (
                vec![("OPENLINEAGE__TRANSPORT__TYPE", "file")],
                "LOG_FILE_PATH",
            ),
            (
                vec![("OPENLINEAGE__TRANSPORT__TYPE", "http")],
                "OPENLINEAGE_URL",
            ),
            (vec![("OPENLINEAGE_URL", "ftp://x")], "http://"),
            (
                vec![
                    ("OPENLINEAGE_URL", "http://x"),
                    ("OPENLINEAGE__TRANSPORT__TIMEOUT", "soon"),
                ],
                "TIMEOUT",
            ),
        ] {
            let e = resolve(&vars, None).err().map(|e| e.to_string());
            assert!(
                e.as_deref().is_some_and(|e| e.contains(says)),
                "{vars:?}: {e:?}"
            );
        }
    }
}
