//! A PostgreSQL source: its `postgres://` URL parsed into connection
//! settings, the password resolved (URL, `PGPASSWORD`, `PGPASSFILE`) and
//! kept out of every message, `Debug` form and summary. Owns connecting;
//! knows nothing of tables, pages or types.

use crate::error::ExtractError;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

/// Where to read from: host, port, database, user, and a password that is
/// never shown (see the `Debug` impl).
#[derive(Clone)]
pub struct Source {
    host: String,
    port: u16,
    database: String,
    user: String,
    password: Option<String>,
    sslmode: SslMode,
    connect_timeout: Duration,
    statement_timeout: Option<Duration>,
}

/// libpq's `sslmode`, as far as this reader supports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SslMode {
    Disable,
    Prefer,
}

/// The part of a source that may be printed and recorded: no password.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SourceInfo {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Database name.
    pub database: String,
    /// Role name.
    pub user: String,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &self.database)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("sslmode", &self.sslmode)
            .finish()
    }
}

impl Source {
    /// Parses `postgres://user[:password]@host[:port]/db[?sslmode=..&sslrootcert=..]`.
    /// Without a password in the URL, `PGPASSWORD`, then the `PGPASSFILE`
    /// (default `~/.pgpass`) entry matching host, port, database and user.
    pub fn from_url(url: &str) -> Result<Source, ExtractError> {
        let bad = |m: String| ExtractError::SourceUrl(m);
        let parsed = url::Url::parse(url).map_err(|e| bad(format!("not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "postgres" | "postgresql") {
            return Err(bad(format!(
                "scheme {:?} is not postgres:// or postgresql://",
                parsed.scheme()
            )));
        }
        let decode = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        let host = parsed
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| bad("no host".into()))?
            .trim_matches(['[', ']'])
            .to_string();
        let port = parsed.port().unwrap_or(5432);
        let user = match parsed.username() {
            "" => std::env::var("PGUSER")
                .map_err(|_| bad("no user (and PGUSER is not set)".into()))?,
            u => decode(u),
        };
        let database = match parsed.path().trim_start_matches('/') {
            "" => user.clone(),
            d => decode(d),
        };
        let mut source = Source {
            host,
            port,
            database,
            user,
            password: parsed.password().map(decode),
            sslmode: SslMode::Prefer,
            connect_timeout: Duration::from_secs(10),
            statement_timeout: None,
        };
        for (k, v) in parsed.query_pairs() {
            match &*k {
                "sslmode" => {
                    source.sslmode = match &*v {
                        "disable" | "allow" | "prefer" => SslMode::Disable,
                        "require" | "verify-ca" | "verify-full" => {
                            return Err(bad(format!(
                                "sslmode {v:?} is not supported yet by this reader (TLS is pending; use disable or prefer)"
                            )));
                        }
                        other => return Err(bad(format!("unknown sslmode {other:?}"))),
                    }
                }
                "sslrootcert" => {}
                "connect_timeout" => {
                    let secs: u64 = v.parse().map_err(|_| {
                        bad(format!("connect_timeout {v:?} is not a number of seconds"))
                    })?;
                    source.connect_timeout = Duration::from_secs(secs.max(1));
                }
                "application_name" => {}
                other => return Err(bad(format!("unknown option {other:?}"))),
            }
        }
        if source.sslmode == SslMode::Prefer {
            source.sslmode = SslMode::Disable;
        }
        if source.password.is_none() {
            source.password = std::env::var("PGPASSWORD")
                .ok()
                .or_else(|| source.passfile_entry());
        }
        Ok(source)
    }

    /// Bounds each page statement (`statement_timeout`); none by default.
    pub fn with_statement_timeout(mut self, timeout: Option<Duration>) -> Source {
        self.statement_timeout = timeout;
        self
    }

    /// What may be printed and recorded about this source.
    pub fn info(&self) -> SourceInfo {
        SourceInfo {
            host: self.host.clone(),
            port: self.port,
            database: self.database.clone(),
            user: self.user.clone(),
        }
    }

    /// `host:port/db as user`, for messages.
    pub fn endpoint(&self) -> String {
        format!(
            "{}:{}/{} as {}",
            self.host, self.port, self.database, self.user
        )
    }

    /// The matching line of the password file: `host:port:db:user:password`,
    /// `*` matching anything, `\:` and `\\` escaped.
    fn passfile_entry(&self) -> Option<String> {
        let path = std::env::var_os("PGPASSFILE")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pgpass")))?;
        let text = std::fs::read_to_string(path).ok()?;
        let port = self.port.to_string();
        let wanted = [&self.host, &port, &self.database, &self.user];
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .find_map(|line| {
                let fields = split_passfile_line(line);
                (fields.len() == 5
                    && fields[..4]
                        .iter()
                        .zip(wanted)
                        .all(|(f, w)| f == "*" || f == w))
                .then(|| fields[4].clone())
            })
    }

    /// Opens a session: read only, UTC, ISO styles, `application_name =
    /// weir-extract`, and the statement timeout if set. The connection task
    /// runs on the current tokio runtime.
    pub(crate) async fn connect(&self) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
        let mut config = tokio_postgres::Config::new();
        config
            .host(&self.host)
            .port(self.port)
            .dbname(&self.database)
            .user(&self.user)
            .application_name("weir-extract")
            .connect_timeout(self.connect_timeout)
            .ssl_mode(tokio_postgres::config::SslMode::Disable);
        if let Some(p) = &self.password {
            config.password(p);
        }
        let mut options = String::from(
            "-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=iso_8601 -c extra_float_digits=3 \
             -c default_transaction_read_only=on",
        );
        if let Some(t) = self.statement_timeout {
            options.push_str(&format!(" -c statement_timeout={}", t.as_millis().max(1)));
        }
        config.options(&options);
        debug_assert!(self.sslmode == SslMode::Disable);
        let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("extract connection ended: {e}");
            }
        });
        Ok(client)
    }
}

fn split_passfile_line(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next()
                    && let Some(f) = fields.last_mut()
                {
                    f.push(n);
                }
            }
            ':' => fields.push(String::new()),
            c => {
                if let Some(f) = fields.last_mut() {
                    f.push(c);
                }
            }
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_from_url_never_shows_in_debug_or_info() {
        let s = Source::from_url("postgres://reader:s%3Acret@db.example:6543/app").unwrap();
        let shown = format!("{s:?} {:?} {}", s.info(), s.endpoint());
        assert!(!shown.contains("s:cret"), "{shown}");
        assert!(shown.contains("<redacted>"));
        assert_eq!(s.password.as_deref(), Some("s:cret"));
        assert_eq!((s.port, s.database.as_str()), (6543, "app"));
    }

    #[test]
    fn passfile_line_splits_escapes() {
        assert_eq!(
            split_passfile_line(r"h:5432:*:u:pa\:ss\\"),
            ["h", "5432", "*", "u", r"pa:ss\"]
        );
    }

    #[test]
    fn unknown_sslmode_is_refused_naming_it() {
        let e = Source::from_url("postgres://u@h/db?sslmode=maybe").unwrap_err();
        assert!(e.to_string().contains("\"maybe\""), "{e}");
    }
}
