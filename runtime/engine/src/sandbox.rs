//! What a guest sees of the host: the per-store [`HostState`] with a WASI
//! context that grants nothing but an optional read-only `/assets`, fixed
//! clocks and random seeds, captured stdout/stderr, the memory limiter, and
//! a monotonic clock whose sleeps end at the call's deadline.
//!
//! This module owns the sandbox policy; it knows nothing of chunks, records
//! or the module cache.

use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use wasmtime::ResourceLimiter;
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::DynPollable;
use wasmtime_wasi::p2::bindings::clocks::monotonic_clock;
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};
use wasmtime_wasi::{
    FsPerms, HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView,
};

use crate::config::ByteSize;

/// Where the assets directory appears inside the guest.
pub(crate) const ASSETS_GUEST_PATH: &str = "/assets";

/// The wall clock every guest sees: 2000-01-01T00:00:00Z.
const FIXED_WALL_CLOCK: Duration = Duration::from_secs(946_684_800);

/// The seed `wasi:random/insecure-seed` returns (hash-map keys): fixed.
const FIXED_INSECURE_SEED: u128 = 0x5745_4952_5345_4544_5745_4952_5345_4544;

/// How much of each of stdout and stderr is kept per call; the rest is
/// dropped (and counted) so a chatty guest can't exhaust host memory.
const CAPTURE_BYTES_PER_CALL: usize = 64 * 1024;

/// The `T` of every `Store<T>`.
pub(crate) struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) stdout: CapturedOutput,
    pub(crate) stderr: CapturedOutput,
    pub(crate) deadline: CallDeadline,
    pub(crate) random: SeededRandom,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl HostState {
    /// A sandbox that grants nothing, except `assets` read-only at `/assets`.
    pub(crate) fn new(
        memory_bytes: u64,
        assets: Option<&Path>,
        random: SeededRandom,
        clock: ClockNotice,
    ) -> std::io::Result<HostState> {
        let stdout = CapturedOutput::default();
        let stderr = CapturedOutput::default();
        let mut wasi = WasiCtxBuilder::new();
        wasi.stdout(stdout.clone())
            .stderr(stderr.clone())
            .wall_clock(FixedWallClock(clock))
            .monotonic_clock(FixedMonotonicClock)
            .secure_random(random.clone())
            .insecure_random(random.clone())
            .insecure_random_seed(FIXED_INSECURE_SEED)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .socket_addr_check(|_, _| Box::pin(async { false }));
        if let Some(dir) = assets {
            wasi.preopened_dir(dir, ASSETS_GUEST_PATH, FsPerms::ReadOnly)
                .map_err(|e| std::io::Error::other(format!("{e:#}")))?;
        }
        Ok(HostState {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(memory_bytes),
            stdout,
            stderr,
            deadline: CallDeadline::default(),
            random,
        })
    }
}

/// The guest's `wasi:random` (secure and insecure alike): a deterministic
/// stream, SHA-256 in counter mode over a 32-byte seed, that the host reseeds
/// between calls ([`SeededRandom::reseed`]) so what a call draws depends on
/// the seed and not on what the instance ran before.
#[derive(Clone)]
pub(crate) struct SeededRandom {
    inner: Arc<Mutex<RandomStream>>,
}

struct RandomStream {
    seed: [u8; 32],
    counter: u64,
    block: [u8; 32],
    used: usize,
}

impl SeededRandom {
    pub(crate) fn new(seed: [u8; 32]) -> SeededRandom {
        SeededRandom {
            inner: Arc::new(Mutex::new(RandomStream::new(seed))),
        }
    }

    /// Restarts the stream from `seed`.
    pub(crate) fn reseed(&self, seed: [u8; 32]) {
        *self.inner.lock().unwrap_or_else(PoisonError::into_inner) = RandomStream::new(seed);
    }
}

impl RandomStream {
    fn new(seed: [u8; 32]) -> RandomStream {
        RandomStream {
            seed,
            counter: 0,
            block: [0; 32],
            used: 32,
        }
    }

    fn fill(&mut self, out: &mut [u8]) {
        use sha2::Digest;
        for byte in out {
            if self.used == self.block.len() {
                let mut hasher = sha2::Sha256::new();
                hasher.update(self.seed);
                hasher.update(self.counter.to_le_bytes());
                self.block = hasher.finalize().into();
                self.counter += 1;
                self.used = 0;
            }
            *byte = self.block[self.used];
            self.used += 1;
        }
    }
}

impl rand_core::TryRng for SeededRandom {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut bytes = [0; 4];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u32::from_le_bytes(bytes))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut bytes = [0; 8];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u64::from_le_bytes(bytes))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .fill(dst);
        Ok(())
    }
}

/// The wall-clock deadline of the call running now, which a guest's sleep
/// never outlasts. wasmtime's epoch deadline stops wasm code but not a guest
/// blocked in a host call, so the sleeps check this one.
#[derive(Clone, Default)]
pub(crate) struct CallDeadline {
    inner: Arc<Mutex<DeadlineState>>,
}

#[derive(Default)]
struct DeadlineState {
    at: Option<Instant>,
    /// A sleep was cut short at `at`.
    overrun: bool,
}

impl CallDeadline {
    /// Starts the deadline of the next call: `limit` from now.
    pub(crate) fn arm(&self, limit: Duration) {
        let mut state = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        state.at = Instant::now().checked_add(limit);
        state.overrun = false;
    }

    /// Whether a sleep in this call was cut short at the deadline: the call
    /// then fails at the CPU-time limit even if the guest went on to return.
    pub(crate) fn overrun(&self) -> bool {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .overrun
    }

    fn at(&self) -> Option<Instant> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).at
    }

    fn mark_overrun(&self) {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .overrun = true;
    }
}

/// Replaces wasmtime-wasi's `wasi:clocks/monotonic-clock` in `linker` (which
/// must already hold it) with [`SandboxClock`].
pub(crate) fn link_sandbox_clock(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let linked = monotonic_clock::add_to_linker::<HostState, SandboxClockData>(linker, |state| {
        SandboxClock {
            table: &mut state.table,
            deadline: &state.deadline,
        }
    });
    linker.allow_shadowing(false);
    linked
}

struct SandboxClockData;

impl HasData for SandboxClockData {
    type Data<'a> = SandboxClock<'a>;
}

/// The guest's monotonic clock: it reads 0 forever ([`FixedMonotonicClock`]),
/// and a sleep on it (`subscribe-duration`, `subscribe-instant`, then `block`
/// or `poll`) takes real time, but never past the call's deadline.
struct SandboxClock<'a> {
    table: &'a mut ResourceTable,
    deadline: &'a CallDeadline,
}

impl SandboxClock<'_> {
    fn sleep(&mut self, nanos: u64) -> wasmtime::Result<Resource<DynPollable>> {
        let sleep = GuestSleep {
            wake: tokio::time::Instant::now().checked_add(Duration::from_nanos(nanos)),
            deadline: self.deadline.clone(),
            yielded: false,
        };
        let resource = self.table.push(sleep)?;
        wasmtime_wasi::p2::subscribe(self.table, resource)
    }
}

impl monotonic_clock::Host for SandboxClock<'_> {
    fn now(&mut self) -> wasmtime::Result<monotonic_clock::Instant> {
        Ok(FixedMonotonicClock.now())
    }

    fn resolution(&mut self) -> wasmtime::Result<monotonic_clock::Duration> {
        Ok(FixedMonotonicClock.resolution())
    }

    fn subscribe_instant(
        &mut self,
        when: monotonic_clock::Instant,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        self.sleep(when.saturating_sub(FixedMonotonicClock.now()))
    }

    fn subscribe_duration(
        &mut self,
        duration: monotonic_clock::Duration,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        self.sleep(duration)
    }
}

/// One sleep of the guest: ready at `wake` (`None`: never) or at the call's
/// deadline, whichever comes first; the latter marks the call overrun.
struct GuestSleep {
    wake: Option<tokio::time::Instant>,
    deadline: CallDeadline,
    yielded: bool,
}

#[wasmtime_wasi::async_trait]
impl Pollable for GuestSleep {
    async fn ready(&mut self) {
        let now = tokio::time::Instant::now();
        if self.wake.is_some_and(|wake| wake <= now) {
            // As wasmtime-wasi does: a zero-length sleep yields once, so a
            // guest polling in a loop cannot starve the runtime.
            if !self.yielded {
                self.yielded = true;
                tokio::task::yield_now().await;
            }
            return;
        }
        let call_end = self.deadline.at().map(tokio::time::Instant::from_std);
        match (self.wake, call_end) {
            (Some(wake), Some(end)) if wake <= end => tokio::time::sleep_until(wake).await,
            (Some(wake), None) => tokio::time::sleep_until(wake).await,
            (_, Some(end)) => {
                tokio::time::sleep_until(end).await;
                self.deadline.mark_overrun();
            }
            (None, None) => std::future::pending().await,
        }
    }
}

/// The guest's memory went over [`crate::Limits::memory_bytes`].
#[derive(Debug, thiserror::Error)]
#[error("memory limit of {} exceeded", ByteSize(*limit))]
pub(crate) struct MemoryLimitExceeded {
    pub(crate) limit: u64,
}

/// Enforces the memory limit over all memories of a store. Growing past it
/// traps with [`MemoryLimitExceeded`] rather than failing `memory.grow`, so the
/// reason survives (a Rust guest would abort with a bare `unreachable`).
pub(crate) struct MemoryLimiter {
    limit: u64,
    used: u64,
}

/// Tables get a generous fixed cap: they hold function references, not data.
const MAX_TABLE_ELEMENTS: usize = 1_000_000;

impl MemoryLimiter {
    fn new(limit: u64) -> MemoryLimiter {
        MemoryLimiter { limit, used: 0 }
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let grown = self.used.saturating_sub(current as u64) + desired as u64;
        if grown > self.limit {
            return Err(wasmtime::Error::new(MemoryLimitExceeded {
                limit: self.limit,
            }));
        }
        self.used = grown;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

/// The guest's wall clock: 2000-01-01T00:00:00Z forever. The first read
/// of a module's guests is logged ([`ClockNotice`]).
struct FixedWallClock(ClockNotice);

impl HostWallClock for FixedWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn now(&self) -> Duration {
        self.0.read();
        FIXED_WALL_CLOCK
    }
}

/// Says once per module (by sha256) and process, at the first read of the
/// wall clock by any of its instances, that guests see a frozen clock and
/// seeded random numbers: an author who calls `datetime.now()` otherwise
/// finds 2000-01-01 in the output with no word why.
#[derive(Clone)]
pub(crate) struct ClockNotice {
    transform: Arc<str>,
    sha256: Arc<str>,
}

impl ClockNotice {
    pub(crate) fn new(transform: &str, sha256: &str) -> ClockNotice {
        ClockNotice {
            transform: transform.into(),
            sha256: sha256.into(),
        }
    }

    /// Whether the notice is new for this module (and so was logged).
    fn read(&self) -> bool {
        static TOLD: Mutex<Vec<Arc<str>>> = Mutex::new(Vec::new());
        let mut told = TOLD.lock().unwrap_or_else(PoisonError::into_inner);
        if told.contains(&self.sha256) {
            return false;
        }
        told.push(Arc::clone(&self.sha256));
        tracing::warn!(
            transform = %self.transform,
            "the transform read the clock: guests see a frozen clock (2000-01-01T00:00:00Z, \
             and a monotonic clock that reads 0) and seeded random numbers, so the same input \
             and config give the same output whenever and wherever it runs"
        );
        true
    }
}

/// A monotonic clock that never advances: guests cannot time the host.
struct FixedMonotonicClock;

impl HostMonotonicClock for FixedMonotonicClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }

    fn now(&self) -> u64 {
        0
    }
}

/// A guest stdout or stderr kept in memory until the host drains it after a
/// call. Writes never fail; bytes past [`CAPTURE_BYTES_PER_CALL`] are dropped
/// and counted.
#[derive(Clone, Default)]
pub(crate) struct CapturedOutput {
    inner: Arc<Mutex<Captured>>,
}

#[derive(Default)]
struct Captured {
    kept: Vec<u8>,
    dropped: u64,
}

impl CapturedOutput {
    /// Takes what was written since the last drain: the text kept and how many
    /// bytes were dropped.
    pub(crate) fn drain(&self) -> (String, u64) {
        let mut captured = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let kept = std::mem::take(&mut captured.kept);
        let dropped = std::mem::take(&mut captured.dropped);
        (String::from_utf8_lossy(&kept).into_owned(), dropped)
    }

    fn append(&self, bytes: &[u8]) {
        let mut captured = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let room = CAPTURE_BYTES_PER_CALL.saturating_sub(captured.kept.len());
        let kept = bytes.len().min(room);
        captured.kept.extend_from_slice(&bytes[..kept]);
        captured.dropped += (bytes.len() - kept) as u64;
    }
}

impl IsTerminal for CapturedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CapturedOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CapturedOutput {
    async fn ready(&mut self) {}
}

impl OutputStream for CapturedOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.append(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(CAPTURE_BYTES_PER_CALL)
    }
}

impl tokio::io::AsyncWrite for CapturedOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.append(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_random_repeats_per_seed_and_differs_between_seeds() {
        use rand_core::TryRng;
        let draw = |random: &mut SeededRandom| {
            (0..1000)
                .map(|_| random.try_next_u64().unwrap_or_default())
                .collect::<Vec<_>>()
        };
        let mut random = SeededRandom::new([1; 32]);
        let first = draw(&mut random);
        let distinct: std::collections::HashSet<_> = first.iter().collect();
        assert_eq!(distinct.len(), 1000);
        random.reseed([1; 32]);
        assert_eq!(draw(&mut random), first);
        random.reseed([2; 32]);
        assert_ne!(draw(&mut random), first);
    }

    #[test]
    fn clock_notice_is_told_once_per_module() {
        let first = ClockNotice::new("a", "sha-of-a-clock-notice-test");
        let again = ClockNotice::new("a", "sha-of-a-clock-notice-test");
        let other = ClockNotice::new("b", "sha-of-b-clock-notice-test");
        assert!(first.read());
        assert!(!first.read());
        assert!(!again.read());
        assert!(other.read());
        assert_eq!(FixedWallClock(again).now(), FIXED_WALL_CLOCK);
    }

    #[test]
    fn captured_output_keeps_a_bounded_prefix_and_counts_the_rest() {
        let out = CapturedOutput::default();
        out.append(&vec![b'a'; CAPTURE_BYTES_PER_CALL - 1]);
        out.append(b"bcd");
        let (kept, dropped) = out.drain();
        assert_eq!(kept.len(), CAPTURE_BYTES_PER_CALL);
        assert!(kept.ends_with("ab"));
        assert_eq!(dropped, 2);
        assert_eq!(out.drain(), (String::new(), 0));
    }

    #[test]
    fn limiter_refuses_growth_past_the_limit_across_memories() {
        let mut limiter = MemoryLimiter::new(100);
        assert!(limiter.memory_growing(0, 60, None).unwrap_or(false));
        let err = limiter.memory_growing(0, 50, None).err();
        let err = err
            .as_ref()
            .and_then(|e| e.downcast_ref::<MemoryLimitExceeded>());
        assert_eq!(
            err.map(|e| e.to_string()).as_deref(),
            Some("memory limit of 100 bytes exceeded")
        );
        assert!(limiter.memory_growing(60, 100, None).unwrap_or(false));
    }
}
