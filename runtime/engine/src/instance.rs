//! Running a transform: [`Instance`] owns one store and one instance of a
//! [`Module`], arms the per-call deadline, drains the guest's stdout/stderr
//! into `tracing`, and isolates bad records.
//!
//! Isolation: when a `process` call traps, hits a limit, or returns a
//! malformed result, the chunk is re-run record by record on a fresh instance,
//! so only the offending records fail. Nothing here knows about batches,
//! files or quarantine; the caller decides what a failed record means.

use wasmtime::{Store, Trap};

use crate::config::{ByteSize, Seconds};
use crate::error::EngineError;
use crate::module::{Module, ModuleInner, Pre};
use crate::sandbox::{ClockNotice, HostState, MemoryLimitExceeded, SeededRandom};
use crate::stop::Stop;

/// What became of one input record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The record produced this many output lines (0: filtered out); they are
    /// the next lines of [`Processed::output`].
    Emitted(u32),
    /// The record was rejected, by the transform or by the engine (a trap or a
    /// limit); the reason says which.
    Failed(String),
}

/// The result of one chunk.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Processed {
    /// The output lines of every record, in input order, each ending in `\n`.
    pub output: String,
    /// Exactly one outcome per input record, in input order.
    pub outcomes: Vec<Outcome>,
}

/// The top-level fields a transform declared it reads and writes
/// (`fields` in `wit/weir.wit`): the host then passes it projections and
/// patches records with what it returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldSpec {
    /// The fields it is given, as keys read once unescaped.
    pub reads: Vec<String>,
    /// The fields it may set.
    pub writes: Vec<String>,
}

/// A running transform: one instance in its own store. Not shareable between
/// threads at once, but it can be moved to another thread.
pub struct Instance {
    module: Module,
    /// `None` only after starting a replacement failed; the next call tries
    /// again.
    live: Option<Live>,
    /// Set by [`Instance::seed_next_chunk`], taken by the next `process`.
    next_chunk_key: Option<u64>,
    /// Counts this instance's failed records; checked during isolation.
    stop: Stop,
    /// What the first live instance's `fields` answered; every replacement
    /// must answer the same.
    fields: Option<FieldSpec>,
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance")
            .field("module", &self.module)
            .finish()
    }
}

impl Module {
    /// Creates a fresh instance in its own sandbox and calls the transform's
    /// `init` with the configured JSON. An error from `init` (or a trap in it)
    /// is [`EngineError::Init`].
    pub fn instantiate(&self) -> Result<Instance, EngineError> {
        let live = Live::start(&self.inner, None)?;
        Ok(Instance {
            module: self.clone(),
            fields: live.fields.clone(),
            live: Some(live),
            next_chunk_key: None,
            stop: Stop::default(),
        })
    }
}

impl Instance {
    /// The module this is an instance of.
    pub fn module(&self) -> &Module {
        &self.module
    }

    /// The fields the transform declared after `init` (`None`: it takes
    /// whole records, as every `weir:transform@0.1.0` module does). With
    /// fields, [`Instance::process`] takes projections and returns patches;
    /// the caller makes the one and applies the other.
    pub fn fields(&self) -> Option<&FieldSpec> {
        self.fields.as_ref()
    }

    /// Makes the next [`Instance::process`] call's `wasi:random` values a
    /// function of the module's sha256 and `chunk_key` alone, whatever this
    /// instance ran before: the chunk call, and each record of a re-run
    /// record by record, start their random streams from seeds derived from
    /// them.
    ///
    /// For output that does not depend on which worker got which chunk, call
    /// it before every chunk with a key that does not depend on scheduling
    /// (the chunk's ordinal within the run), over chunk boundaries that do
    /// not either. Without it, an instance's random stream starts from the
    /// module's sha256 when it is created and runs on across calls.
    pub fn seed_next_chunk(&mut self, chunk_key: u64) {
        self.next_chunk_key = Some(chunk_key);
    }

    /// Shares `stop` with this instance: every record it fails from now on
    /// is counted there, and a chunk re-run record by record ends as soon
    /// as `stop` says so ([`EngineError::Stopped`]).
    pub fn stop_when(&mut self, stop: Stop) {
        self.stop = stop;
    }

    /// Runs one chunk. `input` must be `records` lines of NDJSON, each ending
    /// in `\n`.
    ///
    /// A record-level problem never makes this fail: a trap, a limit hit or a
    /// malformed result re-runs the chunk record by record on a fresh instance
    /// and reports each offending record as [`Outcome::Failed`], while the
    /// others keep their output. Because the instance is replaced, state the
    /// transform kept from earlier chunks is lost when that happens. Only a
    /// failure to re-create the instance (e.g. `init` now fails) or malformed
    /// `input` is an error.
    pub fn process(&mut self, input: &str, records: usize) -> Result<Processed, EngineError> {
        self.check_input(input, records)?;
        if records == 0 {
            return Ok(Processed::default());
        }
        let module = self.module.clone();
        let inner = &module.inner;
        let chunk_key = self.next_chunk_key.take();
        let reseed = |live: &mut Live, call: u64| {
            if let Some(key) = chunk_key {
                live.reseed(random_seed(inner, b"chunk", key, call));
            }
        };
        let live = self.live()?;
        reseed(live, 0);
        let failure = match live.process(inner, input) {
            Ok(raw) => match check_result(inner, raw, records) {
                Ok(processed) => {
                    self.stop.add_failures(failed_in(&processed));
                    return Ok(processed);
                }
                Err(malformed) => malformed,
            },
            Err(trapped) => trapped,
        };
        tracing::warn!(
            transform = %inner.name,
            records,
            reason = %failure,
            "chunk failed; re-running it record by record on a fresh instance"
        );
        self.restart()?;
        if records == 1 {
            // Nothing to isolate: re-running the record alone would only
            // repeat the failure (and, for a loop, the wait).
            self.stop.add_failures(1);
            return Ok(Processed {
                output: String::new(),
                outcomes: vec![Outcome::Failed(failure)],
            });
        }
        let call_limit = inner.limits.max_call_output_bytes;
        let mut processed = Processed {
            output: String::new(),
            outcomes: Vec::with_capacity(records),
        };
        for (record, line) in (1..).zip(input.split_inclusive('\n')) {
            if let Some(reason) = self.stop.reason() {
                return Err(EngineError::Stopped {
                    transform: inner.name.clone(),
                    reason,
                });
            }
            let live = self.live()?;
            reseed(live, record);
            let result = match live.process(inner, line) {
                Ok(raw) => check_result(inner, raw, 1),
                Err(reason) => Err(reason),
            };
            match result {
                // The per-call limit holds for the re-run as a whole: the
                // records re-run one by one return no more than the chunk
                // could have.
                Ok(one) if (processed.output.len() + one.output.len()) as u64 > call_limit => {
                    self.stop.add_failures(1);
                    processed.outcomes.push(Outcome::Failed(format!(
                        "output of {} bytes does not fit in what is left of the per-call limit \
                         of {call_limit} bytes (the chunk was re-run record by record, and the \
                         records before this one returned {} bytes)",
                        one.output.len(),
                        processed.output.len()
                    )));
                }
                Ok(one) => {
                    self.stop.add_failures(failed_in(&one));
                    processed.output.push_str(&one.output);
                    processed.outcomes.extend(one.outcomes);
                }
                Err(reason) => {
                    self.stop.add_failures(1);
                    processed.outcomes.push(Outcome::Failed(reason));
                    self.restart()?;
                }
            }
        }
        Ok(processed)
    }

    /// The live instance, started afresh if the last restart failed.
    fn live(&mut self) -> Result<&mut Live, EngineError> {
        let live = match self.live.take() {
            Some(live) => live,
            None => Live::start(&self.module.inner, Some(&self.fields))?,
        };
        Ok(self.live.insert(live))
    }

    /// Replaces the live instance with a fresh one. The failed one is dropped
    /// first, so its slot in the instance pool is free again: isolation needs
    /// no spare slot, and an engine whose every slot is taken still isolates.
    fn restart(&mut self) -> Result<(), EngineError> {
        self.live = None;
        self.live = Some(Live::start(&self.module.inner, Some(&self.fields))?);
        Ok(())
    }

    /// Calls the transform's `finish` and returns its extra NDJSON output
    /// (usually empty). Call it once, after the last chunk.
    pub fn finish(&mut self) -> Result<String, EngineError> {
        let module = self.module.clone();
        let inner = &module.inner;
        let finish_error = |message: String| EngineError::Finish {
            transform: inner.name.clone(),
            message,
        };
        let live = self.live()?;
        live.reseed(random_seed(inner, b"finish", 0, 0));
        let output = live.finish(inner).map_err(finish_error)?;
        let limit = inner.limits.max_call_output_bytes;
        if output.len() as u64 > limit {
            return Err(finish_error(format!(
                "output of {} bytes exceeds the per-call limit of {limit} bytes",
                output.len()
            )));
        }
        if !output.is_empty() && !output.ends_with('\n') {
            return Err(finish_error(
                "output does not end with a newline".to_owned(),
            ));
        }
        Ok(output)
    }

    fn check_input(&self, input: &str, records: usize) -> Result<(), EngineError> {
        let lines = count_lines(input);
        let message = if !input.is_empty() && !input.ends_with('\n') {
            "the last line does not end with a newline".to_owned()
        } else if lines != records {
            format!("expected {records} records but the input has {lines} lines")
        } else {
            return Ok(());
        };
        Err(EngineError::Input {
            transform: self.module.inner.name.clone(),
            message,
        })
    }
}

/// One store with one live instance in it.
struct Live {
    store: Store<HostState>,
    bindings: Bindings,
    /// What its `fields` answered after `init`.
    fields: Option<FieldSpec>,
}

/// An instance's exports, by the contract version it implements.
enum Bindings {
    Current(crate::bindings::Transform),
    V1(crate::bindings_v1::Transform),
}

impl Live {
    /// New store, new sandbox, new instance, `init` called, then `fields`
    /// (for a 0.2.0 module), whose answer must be `expected` if given (an
    /// instance replacing another).
    fn start(
        module: &ModuleInner,
        expected: Option<&Option<FieldSpec>>,
    ) -> Result<Live, EngineError> {
        let instantiate_error = |message: String| EngineError::Instantiate {
            transform: module.name.clone(),
            message,
        };
        let random = SeededRandom::new(random_seed(module, b"init", 0, 0));
        let clock = ClockNotice::new(&module.name, &module.sha256);
        let state = HostState::new(
            module.limits.memory_bytes,
            module.assets.as_deref(),
            random,
            clock,
        )
        .map_err(|source| EngineError::Assets {
            transform: module.name.clone(),
            path: module.assets.clone().unwrap_or_default(),
            source,
        })?;
        let mut store = Store::new(&module.engine.inner.wasmtime, state);
        store.limiter(|state| &mut state.limiter);
        store.epoch_deadline_trap();
        arm_deadline(&mut store, module);
        let bindings = match &module.pre {
            Pre::Current(pre) => pre.instantiate(&mut store).map(Bindings::Current),
            Pre::V1(pre) => pre.instantiate(&mut store).map(Bindings::V1),
        };
        let bindings = match bindings {
            Ok(bindings) => bindings,
            Err(e) => {
                let stderr = drain_guest_output(&mut store, &module.name);
                return Err(instantiate_error(describe_failure(&e, module, &stderr)));
            }
        };
        let mut live = Live {
            store,
            bindings,
            fields: None,
        };
        arm_deadline(&mut live.store, module);
        let config = module.config_json.as_str();
        let result = match &live.bindings {
            Bindings::Current(b) => b.call_init(&mut live.store, config),
            Bindings::V1(b) => b.call_init(&mut live.store, config),
        };
        let result = overrun_is_a_trap(&live.store, result);
        let stderr = drain_guest_output(&mut live.store, &module.name);
        let init_error = |message| EngineError::Init {
            transform: module.name.clone(),
            message,
        };
        match result {
            Ok(Ok(())) => {}
            Ok(Err(message)) => return Err(init_error(cap_reason(message, &module.limits))),
            Err(e) => return Err(init_error(describe_failure(&e, module, &stderr))),
        }
        if let Bindings::Current(b) = &live.bindings {
            arm_deadline(&mut live.store, module);
            let result = b.call_fields(&mut live.store);
            let result = overrun_is_a_trap(&live.store, result);
            let stderr = drain_guest_output(&mut live.store, &module.name);
            live.fields = result
                .map_err(|e| {
                    init_error(format!("fields: {}", describe_failure(&e, module, &stderr)))
                })?
                .map(|spec| FieldSpec {
                    reads: spec.reads,
                    writes: spec.writes,
                });
        }
        if let Some(expected) = expected
            && *expected != live.fields
        {
            return Err(init_error(format!(
                "a fresh instance declared other fields ({:?}) than the first ({:?}); `fields` \
                 must answer the same for every instance",
                live.fields, expected
            )));
        }
        Ok(live)
    }

    /// Restarts the guest's random stream from `seed`.
    fn reseed(&mut self, seed: [u8; 32]) {
        self.store.data().random.reseed(seed);
    }

    /// One `process` call; `Err` is the reason it failed.
    fn process(&mut self, module: &ModuleInner, input: &str) -> Result<Processed, String> {
        arm_deadline(&mut self.store, module);
        let result = match &self.bindings {
            Bindings::Current(b) => b.call_process(&mut self.store, input).map(|p| {
                use crate::bindings::weir::transform::types::Outcome as O;
                let outcomes = p.outcomes.into_iter().map(|o| match o {
                    O::Emitted(n) => Outcome::Emitted(n),
                    O::Failed(reason) => Outcome::Failed(reason),
                });
                Processed {
                    output: p.output,
                    outcomes: outcomes.collect(),
                }
            }),
            Bindings::V1(b) => b.call_process(&mut self.store, input).map(|p| {
                use crate::bindings_v1::weir::transform::types::Outcome as O;
                let outcomes = p.outcomes.into_iter().map(|o| match o {
                    O::Emitted(n) => Outcome::Emitted(n),
                    O::Failed(reason) => Outcome::Failed(reason),
                });
                Processed {
                    output: p.output,
                    outcomes: outcomes.collect(),
                }
            }),
        };
        let result = overrun_is_a_trap(&self.store, result);
        let stderr = drain_guest_output(&mut self.store, &module.name);
        result.map_err(|e| describe_failure(&e, module, &stderr))
    }

    /// One `finish` call; `Err` is the transform's message or the trap.
    fn finish(&mut self, module: &ModuleInner) -> Result<String, String> {
        arm_deadline(&mut self.store, module);
        let result = match &self.bindings {
            Bindings::Current(b) => b.call_finish(&mut self.store),
            Bindings::V1(b) => b.call_finish(&mut self.store),
        };
        let result = overrun_is_a_trap(&self.store, result);
        let stderr = drain_guest_output(&mut self.store, &module.name);
        match result {
            Ok(result) => result.map_err(|message| cap_reason(message, &module.limits)),
            Err(e) => Err(describe_failure(&e, module, &stderr)),
        }
    }
}

/// The seed of a random stream: the module's sha256, what the stream is for
/// (`init`, `chunk`, `finish`), the caller's chunk key and which call of the
/// chunk (0: the whole chunk, `n`: record `n` alone in a re-run).
fn random_seed(module: &ModuleInner, purpose: &[u8], key: u64, call: u64) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(b"weir wasi:random seed v1\0");
    hasher.update(module.sha256.as_bytes());
    hasher.update([0]);
    hasher.update(purpose);
    hasher.update([0]);
    hasher.update(key.to_le_bytes());
    hasher.update(call.to_le_bytes());
    hasher.finalize().into()
}

/// A call that returned after one of its sleeps was cut short at the deadline
/// fails as if the epoch deadline had interrupted it.
fn overrun_is_a_trap<R>(
    store: &Store<HostState>,
    result: wasmtime::Result<R>,
) -> wasmtime::Result<R> {
    match result {
        Ok(_) if store.data().deadline.overrun() => Err(wasmtime::Error::new(Trap::Interrupt)),
        other => other,
    }
}

/// Arms the CPU-time deadline for the next call: the call traps once the
/// epoch ticker has advanced this many ticks (wall-clock time), and no sleep
/// of the guest's lasts past the same time.
fn arm_deadline(store: &mut Store<HostState>, module: &ModuleInner) {
    store.data().deadline.arm(module.limits.cpu_time_per_call);
    let tick = module.engine.inner.config.epoch_tick.as_nanos().max(1);
    let ticks = module.limits.cpu_time_per_call.as_nanos().div_ceil(tick);
    store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX).max(1));
}

/// Checks a `process` result against the contract and the output limits, and
/// fails records whose own output is over the per-record limit. `Err` is why
/// the whole result is unusable.
fn check_result(module: &ModuleInner, raw: Processed, records: usize) -> Result<Processed, String> {
    let limits = &module.limits;
    let bytes = raw.output.len() as u64;
    if bytes > limits.max_call_output_bytes {
        return Err(if records == 1 && bytes > limits.max_record_output_bytes {
            record_too_large(bytes, limits.max_record_output_bytes)
        } else {
            format!(
                "output of {bytes} bytes exceeds the per-call limit of {} bytes",
                limits.max_call_output_bytes
            )
        });
    }
    if raw.outcomes.len() != records {
        return Err(format!(
            "malformed result: {} outcomes for {records} records",
            raw.outcomes.len()
        ));
    }
    if !raw.output.is_empty() && !raw.output.ends_with('\n') {
        return Err("malformed result: output does not end with a newline".to_owned());
    }
    let lines = count_lines(&raw.output);
    let emitted: u64 = raw
        .outcomes
        .iter()
        .map(|o| match o {
            Outcome::Emitted(n) => u64::from(*n),
            Outcome::Failed(_) => 0,
        })
        .sum();
    if emitted != lines as u64 {
        return Err(format!(
            "malformed result: outcomes claim {emitted} output lines but the output has {lines}"
        ));
    }

    // Per-record sizes; the output is rebuilt only if some record is dropped.
    let mut line_iter = raw.output.split_inclusive('\n');
    let mut outcomes = Vec::with_capacity(records);
    let mut kept: Option<String> = None;
    let mut offset = 0usize;
    for outcome in raw.outcomes {
        match outcome {
            Outcome::Failed(reason) => {
                outcomes.push(Outcome::Failed(cap_reason(reason, limits)));
            }
            Outcome::Emitted(n) => {
                let start = offset;
                for _ in 0..n {
                    offset += line_iter.next().map_or(0, str::len);
                }
                let record_bytes = (offset - start) as u64;
                if record_bytes > limits.max_record_output_bytes {
                    kept.get_or_insert_with(|| raw.output[..start].to_owned());
                    outcomes.push(Outcome::Failed(record_too_large(
                        record_bytes,
                        limits.max_record_output_bytes,
                    )));
                } else {
                    if let Some(kept) = kept.as_mut() {
                        kept.push_str(&raw.output[start..offset]);
                    }
                    outcomes.push(Outcome::Emitted(n));
                }
            }
        }
    }
    Ok(Processed {
        output: kept.unwrap_or(raw.output),
        outcomes,
    })
}

/// How many records of `processed` failed.
fn failed_in(processed: &Processed) -> u64 {
    processed
        .outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Failed(_)))
        .count() as u64
}

fn record_too_large(bytes: u64, limit: u64) -> String {
    format!("output of {bytes} bytes exceeds the per-record limit of {limit} bytes")
}

/// Line ends in `text`, found with memchr's SIMD search: a byte loop here
/// cost about 2% of a whole run.
fn count_lines(text: &str) -> usize {
    memchr::memchr_iter(b'\n', text.as_bytes()).count()
}

/// `reason` cut to [`Limits::max_failure_reason_bytes`](crate::Limits) on a
/// char boundary, followed by its full length, if it is longer: a guest's
/// reason goes into quarantine entries and log lines.
pub(crate) fn cap_reason(mut reason: String, limits: &crate::Limits) -> String {
    let limit = usize::try_from(limits.max_failure_reason_bytes).unwrap_or(usize::MAX);
    if reason.len() <= limit {
        return reason;
    }
    let full = reason.len();
    let cut = (0..=limit)
        .rev()
        .find(|&i| reason.is_char_boundary(i))
        .unwrap_or(0);
    reason.truncate(cut);
    reason.push_str(&format!("… (reason cut to {cut} of its {full} bytes)"));
    reason
}

/// Turns a failed call into the reason a record fails with: the limit that
/// was hit, or the trap plus the guest's panic message if it printed one.
fn describe_failure(error: &wasmtime::Error, module: &ModuleInner, stderr: &str) -> String {
    cap_reason(
        describe_failure_whole(error, module, stderr),
        &module.limits,
    )
}

fn describe_failure_whole(error: &wasmtime::Error, module: &ModuleInner, stderr: &str) -> String {
    if let Some(exceeded) = error.downcast_ref::<MemoryLimitExceeded>() {
        return exceeded.to_string();
    }
    let trap = error.downcast_ref::<Trap>();
    if trap == Some(&Trap::Interrupt) {
        return format!(
            "CPU time limit of {} exceeded",
            Seconds(module.limits.cpu_time_per_call)
        );
    }
    let message = match trap {
        Some(trap) => trap.to_string(),
        None => format!("{:#}", error.root_cause()),
    };
    match panic_message(stderr) {
        Some(panic) => format!("{message}: guest {panic}"),
        None => message,
    }
}

/// The last Rust panic message in a guest's stderr:
/// `panicked at src/lib.rs:1:2: the message`.
fn panic_message(stderr: &str) -> Option<String> {
    let start = stderr.rfind("panicked at ")?;
    let text: Vec<&str> = stderr[start..]
        .lines()
        .take_while(|line| !line.starts_with("note: "))
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    Some(text.join(" "))
}

/// Sends what the guest wrote to stdout/stderr during the last call to
/// `tracing` (target `weir::guest`), one event per line, and returns the
/// stderr text.
fn drain_guest_output(store: &mut Store<HostState>, transform: &str) -> String {
    let state = store.data();
    let (stdout, stdout_dropped) = state.stdout.drain();
    let (stderr, stderr_dropped) = state.stderr.drain();
    for line in stdout.lines() {
        tracing::info!(target: "weir::guest", transform, stream = "stdout", "{line}");
    }
    for line in stderr.lines() {
        tracing::warn!(target: "weir::guest", transform, stream = "stderr", "{line}");
    }
    for (stream, dropped) in [("stdout", stdout_dropped), ("stderr", stderr_dropped)] {
        if dropped > 0 {
            tracing::warn!(
                target: "weir::guest",
                transform,
                stream,
                "{} of guest output dropped in one call",
                ByteSize(dropped)
            );
        }
    }
    stderr
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_message_is_taken_from_rust_panic_output() {
        let stderr = "log line\n\nthread '<unnamed>' panicked at src/lib.rs:10:5:\nboom\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        assert_eq!(
            panic_message(stderr).as_deref(),
            Some("panicked at src/lib.rs:10:5: boom")
        );
        assert_eq!(panic_message("just logging\n"), None);
    }

    #[test]
    fn long_reasons_are_cut_on_a_char_boundary_with_their_length() {
        let limits = crate::Limits::default().with_max_failure_reason_bytes(10);
        assert_eq!(cap_reason("short".to_owned(), &limits), "short");
        // '€' is 3 bytes: 10 bytes end inside the fourth one.
        let capped = cap_reason("€".repeat(100), &limits);
        assert_eq!(capped, "€€€… (reason cut to 9 of its 300 bytes)");
    }

    #[test]
    fn instances_can_move_between_threads_and_modules_be_shared() {
        fn assert_send<T: Send>() {}
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send::<Instance>();
        assert_send_sync::<Module>();
        assert_send_sync::<crate::Engine>();
        assert_send_sync::<EngineError>();
    }
}
