//! Compares flate2's two pure-Rust deflate backends, miniz_oxide (flate2's
//! default) and zlib-rs (what Weir ships), on the unit Weir compresses: one
//! gzip member of 1 MiB of NDJSON, on one thread.
//!
//! The codec crates are called directly rather than through flate2, because
//! one cargo build can hold only one flate2 backend. Both produce complete
//! gzip members (header, deflate stream, CRC-32 and length trailer), as
//! flate2's `GzEncoder` does: zlib-rs with its gzip wrapper (window bits 31),
//! miniz_oxide as raw deflate plus a crc32fast CRC, which is how flate2 frames
//! it. Inflate decodes the same input for both: the zlib-rs level-6 members,
//! i.e. what `weir stage` writes, and each run checks the round trip.
//!
//! Every figure is the median of `--runs` runs, interleaved so that noise
//! from other work on the machine spreads over all cells. Rates are given
//! per second of the thread's own CPU time (from `/proc/thread-self/schedstat`),
//! which other processes on a busy machine disturb far less than wall time,
//! and per wall second. This is a measurement, not a test: it asserts nothing
//! about speed.
//!
//! Usage: weir-bench DATAFILE [--mib N] [--runs N]

use std::process::ExitCode;
use std::time::Instant;

/// The uncompressed size of one member, as `weir_stage::batch::gzip::MEMBER_BYTES`.
const MEMBER_BYTES: usize = 1 << 20;

/// The 10-byte gzip header flate2 writes: no name, no time, unknown OS.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];

/// A deflate implementation under test.
#[derive(Clone, Copy)]
enum Backend {
    MinizOxide,
    ZlibRs,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::MinizOxide => "miniz_oxide 0.9 (flate2 default)",
            Backend::ZlibRs => "zlib-rs 0.6 (Weir)",
        }
    }

    /// One gzip member of `data` at `level`.
    fn gzip(self, data: &[u8], level: u8) -> Vec<u8> {
        match self {
            Backend::MinizOxide => {
                let deflated = miniz_oxide::deflate::compress_to_vec(data, level);
                let mut out = Vec::with_capacity(deflated.len() + 18);
                out.extend_from_slice(&GZIP_HEADER);
                out.extend_from_slice(&deflated);
                out.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
                out.extend_from_slice(&(data.len() as u32).to_le_bytes());
                out
            }
            Backend::ZlibRs => {
                let mut out = vec![0u8; zlib_rs::compress_bound(data.len()) + 18];
                let config = zlib_rs::DeflateConfig {
                    level: i32::from(level),
                    window_bits: 31, // 15 plus 16: a gzip wrapper
                    ..zlib_rs::DeflateConfig::default()
                };
                let (gz, rc) = zlib_rs::compress_slice(&mut out, data, config);
                assert_eq!(rc, zlib_rs::ReturnCode::Ok, "zlib-rs deflate failed");
                let len = gz.len();
                out.truncate(len);
                out
            }
        }
    }

    /// The contents of one gzip member of `size` uncompressed bytes, checked
    /// against its CRC.
    fn gunzip(self, member: &[u8], size: usize) -> Vec<u8> {
        match self {
            Backend::MinizOxide => {
                let body = &member[GZIP_HEADER.len()..member.len() - 8];
                let data = miniz_oxide::inflate::decompress_to_vec_with_limit(body, size)
                    .unwrap_or_else(|e| panic!("miniz_oxide inflate failed: {e:?}"));
                let crc = u32::from_le_bytes(
                    member[member.len() - 8..][..4]
                        .try_into()
                        .unwrap_or_default(),
                );
                assert_eq!(crc32fast::hash(&data), crc, "miniz_oxide: CRC mismatch");
                data
            }
            Backend::ZlibRs => {
                let mut out = vec![0u8; size];
                let config = zlib_rs::InflateConfig { window_bits: 31 };
                let (data, rc) = zlib_rs::decompress_slice(&mut out, member, config);
                assert_eq!(rc, zlib_rs::ReturnCode::Ok, "zlib-rs inflate failed");
                assert_eq!(data.len(), size, "zlib-rs: short member");
                out
            }
        }
    }
}

/// Nanoseconds this thread has run on a CPU, if the kernel tells.
fn thread_cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

/// Wall and CPU seconds of one cell's run.
#[derive(Clone, Copy)]
struct Timing {
    wall: f64,
    cpu: Option<f64>,
}

/// Times one cell's run of `work`.
fn time<T>(work: impl FnOnce() -> T) -> (T, Timing) {
    let cpu_start = thread_cpu_ns();
    let start = Instant::now();
    let out = work();
    let wall = start.elapsed().as_secs_f64();
    let cpu = match (cpu_start, thread_cpu_ns()) {
        (Some(a), Some(b)) => Some((b - a) as f64 / 1e9),
        _ => None,
    };
    (out, Timing { wall, cpu })
}

/// One cell of the table.
#[derive(Clone, Copy)]
enum Operation {
    Gzip(u8),
    Gunzip,
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut path = None;
    let mut mib = 256usize;
    let mut runs = 3usize;
    while let Some(arg) = args.next() {
        let mut number = |flag: &str| -> usize {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{flag} needs a number"))
        };
        match arg.as_str() {
            "--mib" => mib = number("--mib"),
            "--runs" => runs = number("--runs").max(1),
            _ if path.is_none() => path = Some(arg),
            _ => {
                eprintln!("usage: weir-bench DATAFILE [--mib N] [--runs N]");
                return ExitCode::from(2);
            }
        }
    }
    let Some(path) = path else {
        eprintln!("usage: weir-bench DATAFILE [--mib N] [--runs N]");
        return ExitCode::from(2);
    };
    let mut data = match std::fs::read(&path) {
        Ok(data) => data,
        Err(e) => {
            eprintln!("weir-bench: reading {path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    data.truncate(mib * MEMBER_BYTES);
    let chunks: Vec<&[u8]> = data.chunks(MEMBER_BYTES).collect();
    let total = data.len() as f64;

    // The inflate input: what `weir stage` writes (zlib-rs, level 6).
    let reference: Vec<Vec<u8>> = chunks.iter().map(|c| Backend::ZlibRs.gzip(c, 6)).collect();

    let backends = [Backend::MinizOxide, Backend::ZlibRs];
    let operations = [Operation::Gzip(6), Operation::Gzip(1), Operation::Gunzip];
    // timings[backend][operation][run], and the compressed size per cell.
    let mut timings = vec![vec![Vec::with_capacity(runs); operations.len()]; backends.len()];
    let mut compressed = vec![vec![0usize; operations.len()]; backends.len()];
    for run in 0..runs {
        for (b, backend) in backends.iter().enumerate() {
            for (o, operation) in operations.iter().enumerate() {
                match *operation {
                    Operation::Gzip(level) => {
                        let (out, timing) = time(|| {
                            chunks
                                .iter()
                                .map(|c| backend.gzip(c, level))
                                .collect::<Vec<_>>()
                        });
                        timings[b][o].push(timing);
                        compressed[b][o] = out.iter().map(Vec::len).sum();
                        if run == 0 {
                            for (member, chunk) in out.iter().zip(&chunks) {
                                assert!(
                                    Backend::ZlibRs.gunzip(member, chunk.len()) == *chunk,
                                    "round trip"
                                );
                            }
                        }
                    }
                    Operation::Gunzip => {
                        let (bytes, timing) = time(|| {
                            reference
                                .iter()
                                .zip(&chunks)
                                .map(|(member, chunk)| backend.gunzip(member, chunk.len()).len())
                                .sum::<usize>()
                        });
                        timings[b][o].push(timing);
                        assert_eq!(bytes, data.len(), "inflated size");
                    }
                }
            }
        }
        eprintln!("weir-bench: run {} of {runs} done", run + 1);
    }

    let name = std::path::Path::new(&path)
        .file_name()
        .map_or(path.clone(), |n| n.to_string_lossy().into_owned());
    println!(
        "{} MB of {name} in {} members of 1 MiB, one thread, median of {runs} runs; MB = 10^6 uncompressed bytes.\n",
        (total / 1e6).round(),
        chunks.len()
    );
    type Clock = (&'static str, fn(&Timing) -> Option<f64>);
    let clocks: [Clock; 2] = [
        ("MB per CPU second of the thread", |t| t.cpu),
        ("MB per wall second", |t| Some(t.wall)),
    ];
    for (clock, seconds_of) in clocks {
        let seconds: Option<Vec<Vec<Vec<f64>>>> = timings
            .iter()
            .map(|ops| {
                ops.iter()
                    .map(|runs| runs.iter().map(seconds_of).collect())
                    .collect()
            })
            .collect();
        let Some(seconds) = seconds else {
            continue; // no per-thread CPU time on this system
        };
        println!("{clock}:\n");
        println!(
            "| backend | gzip -6 MB/s | ratio at 6 | gzip -1 MB/s | ratio at 1 | gunzip MB/s |"
        );
        println!("|---|---|---|---|---|---|");
        for (b, backend) in backends.iter().enumerate() {
            let rate = |o: usize| total / 1e6 / median(&seconds[b][o]);
            let ratio = |o: usize| total / compressed[b][o] as f64;
            println!(
                "| {} | {:.0} | {:.2} | {:.0} | {:.2} | {:.0} |",
                backend.name(),
                rate(0),
                ratio(0),
                rate(1),
                ratio(1),
                rate(2)
            );
        }
        println!();
    }
    ExitCode::SUCCESS
}

/// The median of a few timings.
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}
