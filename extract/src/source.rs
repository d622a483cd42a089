//! A PostgreSQL source: its `postgres://` URL parsed into connection
//! settings, the password resolved (URL, `PGPASSWORD`, `PGPASSFILE`) and
//! kept out of every message, `Debug` form and summary. Owns connecting;
//! knows nothing of tables, pages or types.

use crate::error::ExtractError;
use crate::tls::{self, MakeRustls, Verify};
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
    /// The root certificate file the server's certificate is checked
    /// against, when there is one.
    sslrootcert: Option<PathBuf>,
    /// The TLS connector, unless `sslmode=disable`.
    tls: Option<MakeRustls>,
    connect_timeout: Duration,
    statement_timeout: Option<Duration>,
}

/// libpq's `sslmode` (`allow` is read as `prefer`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
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
            .field("sslrootcert", &self.sslrootcert)
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
            sslrootcert: None,
            tls: None,
            connect_timeout: Duration::from_secs(10),
            statement_timeout: None,
        };
        for (k, v) in parsed.query_pairs() {
            match &*k {
                "sslmode" => {
                    source.sslmode = match &*v {
                        "disable" => SslMode::Disable,
                        "allow" | "prefer" => SslMode::Prefer,
                        "require" => SslMode::Require,
                        "verify-ca" => SslMode::VerifyCa,
                        "verify-full" => SslMode::VerifyFull,
                        other => {
                            return Err(bad(format!(
                                "unknown sslmode {other:?} (disable, allow, prefer, require, verify-ca or verify-full)"
                            )));
                        }
                    }
                }
                "sslrootcert" => {
                    if v == "system" {
                        return Err(bad(
                            "sslrootcert=system is not supported: give the CA's certificate file"
                                .into(),
                        ));
                    }
                    source.sslrootcert = Some(PathBuf::from(&*v));
                }
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
        source.tls = source.tls_connector()?;
        if source.password.is_none() {
            source.password = std::env::var("PGPASSWORD")
                .ok()
                .or_else(|| source.passfile_entry());
        }
        Ok(source)
    }

    /// The TLS connector `sslmode` and `sslrootcert` call for, as libpq
    /// reads them: a root certificate file (`sslrootcert`, or
    /// `~/.postgresql/root.crt` if it exists) makes every mode that uses
    /// TLS check the chain; `verify-ca` and `verify-full` need one.
    fn tls_connector(&mut self) -> Result<Option<MakeRustls>, ExtractError> {
        if self.sslmode == SslMode::Disable {
            return Ok(None);
        }
        let bad = |m: String| ExtractError::SourceUrl(m);
        if self.sslrootcert.is_none() {
            self.sslrootcert = tls::default_root_file().filter(|p| p.is_file());
        }
        let roots = match &self.sslrootcert {
            Some(path) => Some(tls::load_roots(path).map_err(bad)?),
            None => None,
        };
        let verify = match (self.sslmode, &roots) {
            (SslMode::VerifyFull, _) => Verify::Full,
            (_, Some(_)) => Verify::Ca,
            (SslMode::VerifyCa, None) => Verify::Ca,
            _ => Verify::Nothing,
        };
        if verify != Verify::Nothing && roots.is_none() {
            return Err(bad(format!(
                "sslmode {} needs a root certificate: give sslrootcert=FILE (or put it in ~/.postgresql/root.crt)",
                if self.sslmode == SslMode::VerifyFull {
                    "verify-full"
                } else {
                    "verify-ca"
                }
            )));
        }
        MakeRustls::new(verify, roots).map(Some).map_err(bad)
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
            .ssl_mode(match self.sslmode {
                SslMode::Disable => tokio_postgres::config::SslMode::Disable,
                SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
                _ => tokio_postgres::config::SslMode::Require,
            });
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
        let client = match &self.tls {
            None => {
                let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
                tokio::spawn(drive(connection));
                client
            }
            Some(tls) => {
                let (client, connection) = config.connect(tls.clone()).await?;
                tokio::spawn(drive(connection));
                client
            }
        };
        Ok(client)
    }
}

/// Runs a connection until it ends.
async fn drive<S, T>(connection: tokio_postgres::Connection<S, T>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    if let Err(e) = connection.await {
        tracing::debug!("extract connection ended: {e}");
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
    fn verification_without_a_root_certificate_is_refused_naming_the_mode() {
        for mode in ["verify-ca", "verify-full"] {
            let e = Source::from_url(&format!("postgres://u@h/db?sslmode={mode}")).unwrap_err();
            assert!(
                e.to_string()
                    .contains(&format!("sslmode {mode} needs a root certificate")),
                "{e}"
            );
        }
        let e =
            Source::from_url("postgres://u@h/db?sslmode=require&sslrootcert=/nonexistent/ca.pem")
                .unwrap_err();
        assert!(
            e.to_string().contains("sslrootcert /nonexistent/ca.pem: "),
            "{e}"
        );
    }

    #[test]
    fn unknown_sslmode_is_refused_naming_it() {
        let e = Source::from_url("postgres://u@h/db?sslmode=maybe").unwrap_err();
        assert!(e.to_string().contains("\"maybe\""), "{e}");
    }
}
