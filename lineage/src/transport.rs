//! Sending an event: HTTP (POST, bounded by a timeout), a file (one line
//! appended per event) or the console (a line on stderr).

use std::io::Write;
use std::path::PathBuf;

use crate::error::LineageError;
use crate::settings::TransportConfig;

/// An open transport.
#[derive(Debug)]
pub enum Transport {
    /// POST to a server.
    Http {
        /// The client, with the timeout.
        client: reqwest::Client,
        /// The endpoint.
        url: url::Url,
        /// The bearer token.
        api_key: Option<String>,
    },
    /// Lines appended to a file.
    File(PathBuf),
    /// Lines on stderr.
    Console,
}

impl Transport {
    /// Opens the transport `config` names.
    pub fn open(config: &TransportConfig) -> Result<Self, LineageError> {
        Ok(match config {
            TransportConfig::Http {
                url,
                api_key,
                timeout,
            } => {
                let client = reqwest::Client::builder()
                    .timeout(*timeout)
                    .connect_timeout(*timeout)
                    .user_agent(concat!("weir/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|e| LineageError::InvalidSetting {
                        setting: "OPENLINEAGE_URL".into(),
                        reason: format!("cannot make an HTTP client: {e}"),
                    })?;
                Self::Http {
                    client,
                    url: url.clone(),
                    api_key: api_key.clone(),
                }
            }
            TransportConfig::File { path } => Self::File(path.clone()),
            TransportConfig::Console => Self::Console,
        })
    }

    /// Where events go, for messages (never the API key).
    pub fn target(&self) -> String {
        match self {
            Self::Http { url, .. } => url.to_string(),
            Self::File(p) => p.display().to_string(),
            Self::Console => "stderr".into(),
        }
    }

    /// Sends one event (`body`, one line of JSON).
    pub async fn send(&self, event: &'static str, body: String) -> Result<(), LineageError> {
        let not_sent = |reason: String| LineageError::NotSent {
            event,
            target: self.target(),
            reason,
        };
        match self {
            Self::Http {
                client,
                url,
                api_key,
            } => {
                let mut req = client
                    .post(url.clone())
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body);
                if let Some(key) = api_key {
                    req = req.bearer_auth(key);
                }
                let resp = req.send().await.map_err(|e| not_sent(error_chain(&e)))?;
                let status = resp.status();
                if !status.is_success() {
                    return Err(not_sent(format!("the server answered {status}")));
                }
                Ok(())
            }
            Self::File(path) => {
                let mut line = body.into_bytes();
                line.push(b'\n');
                // One write of the whole line to a file opened for appending:
                // two commands appending at once do not interleave lines.
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .and_then(|mut f| f.write_all(&line))
                    .map_err(|e| not_sent(e.to_string()))
            }
            Self::Console => {
                let mut err = std::io::stderr().lock();
                writeln!(err, "{body}").map_err(|e| not_sent(e.to_string()))
            }
        }
    }
}

/// `e` and its sources, `a: b: c` (reqwest's own message names no cause).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    weir_stage::error_chain(e)
}
