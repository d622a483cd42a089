//! A deliberately hostile Weir transform, built only for the engine's tests.
//!
//! It is written directly against `wit/0.1.0/weir.wit` (not through the guest SDK) so
//! that it can misbehave in ways a well-formed SDK transform never would. The
//! init config `{"mode": "..."}` selects one misbehaviour; it is triggered only
//! by records whose JSON contains `"trigger": true`. Every other record passes
//! through unchanged (`emitted(1)` with the same line), so the tests can check
//! that the neighbours of a bad record survive.
//!
//! Modes that attack the host (`loop`, `memory`, `panic`, `huge_output`,
//! `malformed`) must be stopped by the engine. Modes that only probe the sandbox
//! (`read_passwd`, `list_root`, `env`, `socket`, `write_assets`,
//! `escape_assets`, `clock`, `log`) emit one record `{"mode": ..., "result": ...}`
//! describing what they saw, so the tests can assert that nothing leaked.
//! `sleep` sleeps 10 s and `sleep_forever` forever through WASI's monotonic
//! clock; `large_output` emits a line of `"bytes"` bytes (a config field) and
//! `long_reason` fails with a reason of `"bytes"` bytes; `random`
//! emits a `wasi:random` value. `init_fail` makes
//! `init` return an error. With `"finish": true` in the config, `finish`
//! emits `{"mode": ..., "records_seen": N}`, a count of what this instance
//! saw (which depends on scheduling when several workers run); otherwise
//! it emits nothing, like every shipped transform.

use std::cell::RefCell;
use std::hash::{BuildHasher, Hasher};
use std::io::Write;

use serde_json::{Value, json};

/// The bindings generated from `wit/0.1.0/weir.wit`. Their exports are `unsafe`
/// glue by nature; this module is the only place unsafe code is allowed.
#[allow(unsafe_code, missing_docs)]
mod bindings {
    // The previous contract, which the engine still runs: every engine
    // test of this guest is also a test that 0.1.0 modules load and run.
    wit_bindgen::generate!({ path: "../../../wit/0.1.0", world: "transform" });

    use super::Hostile;
    export!(Hostile);
}

use bindings::{Guest, Outcome, Processed};

/// What one trigger record makes the guest do.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Pass,
    Loop,
    Memory,
    Panic,
    HugeOutput,
    Malformed,
    ReadPasswd,
    ListRoot,
    Env,
    Socket,
    WriteAssets,
    EscapeAssets,
    Clock,
    Log,
    Sleep,
    SleepForever,
    LargeOutput,
    LongReason,
    Random,
}

impl Mode {
    fn parse(name: &str) -> Option<Mode> {
        Some(match name {
            "pass" => Mode::Pass,
            "loop" => Mode::Loop,
            "memory" => Mode::Memory,
            "panic" => Mode::Panic,
            "huge_output" => Mode::HugeOutput,
            "malformed" => Mode::Malformed,
            "read_passwd" => Mode::ReadPasswd,
            "list_root" => Mode::ListRoot,
            "env" => Mode::Env,
            "socket" => Mode::Socket,
            "write_assets" => Mode::WriteAssets,
            "escape_assets" => Mode::EscapeAssets,
            "clock" => Mode::Clock,
            "log" => Mode::Log,
            "sleep" => Mode::Sleep,
            "sleep_forever" => Mode::SleepForever,
            "large_output" => Mode::LargeOutput,
            "long_reason" => Mode::LongReason,
            "random" => Mode::Random,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Mode::Pass => "pass",
            Mode::Loop => "loop",
            Mode::Memory => "memory",
            Mode::Panic => "panic",
            Mode::HugeOutput => "huge_output",
            Mode::Malformed => "malformed",
            Mode::ReadPasswd => "read_passwd",
            Mode::ListRoot => "list_root",
            Mode::Env => "env",
            Mode::Socket => "socket",
            Mode::WriteAssets => "write_assets",
            Mode::EscapeAssets => "escape_assets",
            Mode::Clock => "clock",
            Mode::Log => "log",
            Mode::Sleep => "sleep",
            Mode::SleepForever => "sleep_forever",
            Mode::LargeOutput => "large_output",
            Mode::LongReason => "long_reason",
            Mode::Random => "random",
        }
    }
}

/// Size of the line `huge_output` emits: 100 MiB of padding.
const HUGE_OUTPUT_BYTES: usize = 100 << 20;

struct State {
    mode: Mode,
    records_seen: u64,
    /// `"bytes"` from the config: the size `large_output` and `long_reason`
    /// produce.
    bytes: usize,
    /// `"finish"` from the config: `finish` emits a summary record.
    summary: bool,
}

thread_local! {
    static STATE: RefCell<State> = const {
        RefCell::new(State { mode: Mode::Pass, records_seen: 0, bytes: 0, summary: false })
    };
}

struct Hostile;

impl Guest for Hostile {
    fn init(config: String) -> Result<(), String> {
        let config: Value =
            serde_json::from_str(&config).map_err(|e| format!("bad config: {e}"))?;
        let name = config.get("mode").and_then(Value::as_str).unwrap_or("pass");
        if name == "init_fail" {
            return Err("bad config: mode init_fail refuses to start".to_owned());
        }
        let mode = Mode::parse(name).ok_or_else(|| format!("bad config: unknown mode {name:?}"))?;
        let bytes = config.get("bytes").and_then(Value::as_u64).unwrap_or(0) as usize;
        let summary = config
            .get("finish")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        STATE.with(|s| {
            let mut s = s.borrow_mut();
            s.mode = mode;
            s.bytes = bytes;
            s.summary = summary;
        });
        Ok(())
    }

    fn process(input: String) -> Processed {
        let mode = STATE.with(|s| s.borrow().mode);
        let mut output = String::with_capacity(input.len());
        let mut outcomes = Vec::new();
        for line in input.split_inclusive('\n') {
            STATE.with(|s| s.borrow_mut().records_seen += 1);
            if is_trigger(line) {
                outcomes.push(misbehave(mode, &mut output));
            } else {
                output.push_str(line);
                outcomes.push(Outcome::Emitted(1));
            }
        }
        Processed { output, outcomes }
    }

    fn finish() -> Result<String, String> {
        let (mode, seen, summary) = STATE.with(|s| {
            let s = s.borrow();
            (s.mode, s.records_seen, s.summary)
        });
        if !summary {
            return Ok(String::new());
        }
        Ok(format!(
            "{}\n",
            json!({"mode": mode.name(), "records_seen": seen})
        ))
    }
}

fn is_trigger(line: &str) -> bool {
    serde_json::from_str::<Value>(line)
        .ok()
        .and_then(|v| v.get("trigger").and_then(Value::as_bool))
        .unwrap_or(false)
}

/// Does what `mode` says to one trigger record, appending its output lines.
fn misbehave(mode: Mode, output: &mut String) -> Outcome {
    let bytes = STATE.with(|s| s.borrow().bytes);
    let result = match mode {
        Mode::Pass => json!("pass"),
        Mode::Loop => {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        Mode::Memory => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(std::hint::black_box(vec![1u8; 1 << 20]));
            }
        }
        Mode::Panic => panic!("hostile guest panics on purpose"),
        Mode::HugeOutput => {
            // Built in place: a copy would need twice the memory.
            output.reserve(HUGE_OUTPUT_BYTES + 16);
            output.push_str("{\"pad\":\"");
            let mebibyte = "x".repeat(1 << 20);
            for _ in 0..HUGE_OUTPUT_BYTES >> 20 {
                output.push_str(&mebibyte);
            }
            output.push_str("\"}\n");
            return Outcome::Emitted(1);
        }
        Mode::Malformed => {
            // Claims two records but writes one line.
            output.push_str("{\"malformed\":true}\n");
            return Outcome::Emitted(2);
        }
        Mode::ReadPasswd => json!(attempt(std::fs::read_to_string("/etc/passwd"))),
        Mode::ListRoot => json!(attempt(std::fs::read_dir("/").and_then(|entries| {
            entries
                .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect::<Result<Vec<_>, _>>()
        }))),
        Mode::Env => json!({
            "vars": std::env::vars().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
            "args": std::env::args().collect::<Vec<_>>(),
            "cwd": attempt(std::env::current_dir().map(|p| p.display().to_string())),
        }),
        Mode::Socket => {
            use std::net::ToSocketAddrs;
            json!({
                "connect": attempt(std::net::TcpStream::connect("127.0.0.1:80").map(|_| "connected")),
                "lookup": attempt(("localhost", 80).to_socket_addrs().map(|a| a.count())),
                "bind": attempt(std::net::TcpListener::bind("127.0.0.1:0").map(|_| "bound")),
            })
        }
        Mode::WriteAssets => json!({
            "inside": attempt(std::fs::write("/assets/written.txt", "hostile")),
            "outside": attempt(std::fs::write("/assets/../written.txt", "hostile")),
            "root": attempt(std::fs::write("/written.txt", "hostile")),
        }),
        Mode::EscapeAssets => json!({
            "inside": attempt(std::fs::read_to_string("/assets/hello.txt")),
            "dotdot": attempt(std::fs::read_to_string("/assets/../etc/passwd")),
            "dotdot_secret": attempt(std::fs::read_to_string("/assets/../secret.txt")),
            "relative_link": attempt(std::fs::read_to_string("/assets/relative_link")),
            "absolute_link": attempt(std::fs::read_to_string("/assets/absolute_link")),
        }),
        Mode::Clock => {
            let wall = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos().to_string())
                .unwrap_or_else(|e| format!("error: {e}"));
            let start = std::time::Instant::now();
            let elapsed = start.elapsed().as_nanos().to_string();
            // `RandomState` seeds itself from wasi:random.
            let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
            hasher.write_u64(42);
            json!({"wall_nanos": wall, "elapsed_nanos": elapsed, "random": hasher.finish().to_string()})
        }
        Mode::Sleep => {
            std::thread::sleep(std::time::Duration::from_secs(10));
            json!("slept 10 s")
        }
        Mode::SleepForever => {
            std::thread::sleep(std::time::Duration::MAX);
            json!("woke up")
        }
        Mode::LargeOutput => {
            // One line of `bytes` bytes: `{"pad":"xxx…"}\n`.
            let pad = bytes.saturating_sub(11);
            output.push_str("{\"pad\":\"");
            output.extend(std::iter::repeat_n('x', pad));
            output.push_str("\"}\n");
            return Outcome::Emitted(1);
        }
        Mode::LongReason => {
            // `bytes` bytes of 3-byte chars, so a cut may land inside one.
            return Outcome::Failed("€".repeat(bytes / 3));
        }
        Mode::Random => json!(attempt(getrandom::u64().map(|v| v.to_string()))),
        Mode::Log => {
            let out = writeln!(std::io::stdout(), "hostile says hello on stdout");
            let err = writeln!(
                std::io::stderr(),
                "hostile says hello on stderr\nsecond line"
            );
            json!({"stdout": attempt(out), "stderr": attempt(err)})
        }
    };
    output.push_str(&json!({"mode": mode.name(), "result": result}).to_string());
    output.push('\n');
    Outcome::Emitted(1)
}

/// `"ok: <value>"` or `"error: <message>"`, so a test can see what happened.
fn attempt<T: std::fmt::Debug, E: std::fmt::Display>(result: Result<T, E>) -> String {
    match result {
        Ok(value) => format!("ok: {value:?}"),
        Err(e) => format!("error: {e}"),
    }
}
