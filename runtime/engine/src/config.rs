//! Plain-Rust settings: [`EngineConfig`] for the one engine of a process and
//! [`Limits`] for each transform. Nothing here touches wasmtime.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// Settings of the process-wide [`Engine`](crate::Engine).
///
/// `EngineConfig::default()` caches compiled modules in [`default_cache_dir`].
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Where compiled modules are cached; `None` disables the disk cache and
    /// every load compiles.
    pub cache_dir: Option<PathBuf>,
    /// The per-user key that cache entries are tagged with (default
    /// [`default_cache_key_file`]); created (mode 0600) on first use. It must
    /// lie outside `cache_dir`; without one the cache is not used.
    pub cache_key_file: Option<PathBuf>,
    /// How many instances may be alive at once (default 256). With the pooling
    /// allocator this many slots are reserved up front (virtual memory only).
    pub max_instances: u32,
    /// The largest memory limit any transform may ask for (default 4 GiB, the
    /// most a 32-bit wasm memory can address).
    pub max_memory_bytes: u64,
    /// Use wasmtime's pooling allocator (default `true`): instantiation is
    /// faster. If the host refuses the reservation, the engine falls back to
    /// on-demand allocation and logs a warning.
    pub pooling: bool,
    /// The largest module file loaded (default 256 MiB; a componentize-py
    /// component is about 19 MB). Checked before compiling.
    pub max_module_bytes: u64,
    /// The largest function body, in bytes of code, of any core module in a
    /// component (default 4 MiB). Compile time and memory grow faster than
    /// linearly with a function's size; checked before compiling.
    pub max_function_bytes: u64,
    /// How often the ticker thread advances the epoch (default 10 ms): the
    /// granularity of [`Limits::cpu_time_per_call`].
    pub epoch_tick: Duration,
    /// The longest a module may take to compile (default 5 minutes; a
    /// 19 MB componentize-py component takes well under a minute). A
    /// compilation over it fails the load; Cranelift cannot be
    /// interrupted, so it finishes on its own thread and is dropped.
    pub compile_timeout: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            cache_dir: default_cache_dir(),
            cache_key_file: default_cache_key_file(),
            max_instances: 256,
            max_memory_bytes: 4 * GIB,
            pooling: true,
            max_module_bytes: 256 * MIB,
            max_function_bytes: 4 * MIB,
            epoch_tick: Duration::from_millis(10),
            compile_timeout: Duration::from_secs(300),
        }
    }
}

impl EngineConfig {
    /// Caches compiled modules in `dir` (created on first use).
    pub fn with_cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// Tags cache entries with the key in `file` (created on first use).
    pub fn with_cache_key_file(mut self, file: impl Into<PathBuf>) -> Self {
        self.cache_key_file = Some(file.into());
        self
    }

    /// Disables the disk cache: every load compiles.
    pub fn without_cache(mut self) -> Self {
        self.cache_dir = None;
        self
    }

    /// Sets how many instances may be alive at once.
    pub fn with_max_instances(mut self, count: u32) -> Self {
        self.max_instances = count;
        self
    }

    /// Sets the largest memory limit any transform may ask for.
    pub fn with_max_memory_bytes(mut self, bytes: u64) -> Self {
        self.max_memory_bytes = bytes;
        self
    }

    /// Turns the pooling allocator on or off.
    pub fn with_pooling(mut self, pooling: bool) -> Self {
        self.pooling = pooling;
        self
    }

    /// Sets the largest module file loaded.
    pub fn with_max_module_bytes(mut self, bytes: u64) -> Self {
        self.max_module_bytes = bytes;
        self
    }

    /// Sets the largest function body compiled.
    pub fn with_max_function_bytes(mut self, bytes: u64) -> Self {
        self.max_function_bytes = bytes;
        self
    }

    /// Sets the epoch tick (the granularity of the CPU-time limit).
    pub fn with_epoch_tick(mut self, tick: Duration) -> Self {
        self.epoch_tick = tick;
        self
    }

    /// Fails a load whose compilation takes longer than `timeout`.
    pub fn with_compile_timeout(mut self, timeout: Duration) -> Self {
        self.compile_timeout = timeout;
        self
    }
}

/// The default directory of the compiled-module cache:
/// `$WEIR_CACHE_DIR`, else `$XDG_CACHE_HOME/weir/modules`, else
/// `$HOME/.cache/weir/modules`; `None` if none of these is set.
///
/// Empty variables count as unset, and a relative `XDG_CACHE_HOME` is ignored
/// as the XDG spec says. Deleting the directory (`rm -rf`) is always safe.
pub fn default_cache_dir() -> Option<PathBuf> {
    cache_dir_from(|name| std::env::var_os(name))
}

fn cache_dir_from(env: impl Fn(&str) -> Option<std::ffi::OsString>) -> Option<PathBuf> {
    let var = |name: &str| env(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = var("WEIR_CACHE_DIR") {
        return Some(dir);
    }
    if let Some(xdg) = var("XDG_CACHE_HOME").filter(|p| p.is_absolute()) {
        return Some(xdg.join("weir").join("modules"));
    }
    var("HOME").map(|home| home.join(".cache").join("weir").join("modules"))
}

/// The default key file of the compiled-module cache, kept outside the cache:
/// `$XDG_CONFIG_HOME/weir/cache.key`, else `$HOME/.config/weir/cache.key`;
/// `None` if neither is set. Empty and relative values count as unset.
pub fn default_cache_key_file() -> Option<PathBuf> {
    cache_key_file_from(|name| std::env::var_os(name))
}

fn cache_key_file_from(env: impl Fn(&str) -> Option<std::ffi::OsString>) -> Option<PathBuf> {
    let var = |name: &str| env(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let config = var("XDG_CONFIG_HOME")
        .filter(|p| p.is_absolute())
        .or_else(|| var("HOME").map(|home| home.join(".config")))?;
    Some(config.join("weir").join("cache.key"))
}

/// What one transform may use. Every instance of the transform gets these.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Linear memory of one instance, all memories together (default 256 MiB).
    /// A record whose processing needs more fails with
    /// `memory limit of 256 MiB exceeded`.
    pub memory_bytes: u64,
    /// Wall-clock time of one call into the guest (default 5 s), measured with
    /// epoch ticks, so it is accurate to one tick and includes time the host
    /// spends on the guest's behalf. A record that takes longer fails with
    /// `CPU time limit of 5 s exceeded`.
    pub cpu_time_per_call: Duration,
    /// Output of one input record, all its lines together (default 16 MiB).
    pub max_record_output_bytes: u64,
    /// Output of one `process` call (default 64 MiB). A chunk over it is re-run
    /// record by record, and the re-run as a whole returns no more than this
    /// either: a record whose output does not fit in what is left fails.
    pub max_call_output_bytes: u64,
    /// Length of the reason a failed record (or a failed `init` or `finish`)
    /// is reported with (default 4 KiB). A longer reason is cut on a char
    /// boundary and ends `… (reason cut to N of its M bytes)`.
    pub max_failure_reason_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 256 * MIB,
            cpu_time_per_call: Duration::from_secs(5),
            max_record_output_bytes: 16 * MIB,
            max_call_output_bytes: 64 * MIB,
            max_failure_reason_bytes: 4 * KIB,
        }
    }
}

impl Limits {
    /// Sets the memory limit.
    pub fn with_memory_bytes(mut self, bytes: u64) -> Self {
        self.memory_bytes = bytes;
        self
    }

    /// Sets the time limit of one call.
    pub fn with_cpu_time_per_call(mut self, time: Duration) -> Self {
        self.cpu_time_per_call = time;
        self
    }

    /// Sets the output limit of one record.
    pub fn with_max_record_output_bytes(mut self, bytes: u64) -> Self {
        self.max_record_output_bytes = bytes;
        self
    }

    /// Sets the output limit of one call.
    pub fn with_max_call_output_bytes(mut self, bytes: u64) -> Self {
        self.max_call_output_bytes = bytes;
        self
    }

    /// Sets the length at which a failure reason is cut.
    pub fn with_max_failure_reason_bytes(mut self, bytes: u64) -> Self {
        self.max_failure_reason_bytes = bytes;
        self
    }
}

/// Formats a byte count the way limit messages show it: `256 MiB`, `1 GiB`,
/// `1000 bytes`.
pub(crate) struct ByteSize(pub u64);

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        match n {
            0 => write!(f, "0 bytes"),
            _ if n.is_multiple_of(GIB) => write!(f, "{} GiB", n / GIB),
            _ if n.is_multiple_of(MIB) => write!(f, "{} MiB", n / MIB),
            _ if n.is_multiple_of(KIB) => write!(f, "{} KiB", n / KIB),
            _ => write!(f, "{n} bytes"),
        }
    }
}

/// Formats a duration the way limit messages show it: `5 s`, `250 ms`.
pub(crate) struct Seconds(pub Duration);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d.subsec_nanos() == 0 {
            write!(f, "{} s", d.as_secs())
        } else if d.subsec_nanos().is_multiple_of(1_000_000) {
            write!(f, "{} ms", d.as_millis())
        } else {
            write!(f, "{:?}", d)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes_read_like_limits() {
        assert_eq!(ByteSize(256 * MIB).to_string(), "256 MiB");
        assert_eq!(ByteSize(4 * GIB).to_string(), "4 GiB");
        assert_eq!(ByteSize(1536 * MIB).to_string(), "1536 MiB");
        assert_eq!(ByteSize(1000).to_string(), "1000 bytes");
    }

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<std::ffi::OsString> + 'a {
        move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.into())
    }

    #[test]
    fn cache_dir_prefers_weir_then_xdg_then_home() {
        let all = [
            ("WEIR_CACHE_DIR", "/w"),
            ("XDG_CACHE_HOME", "/x"),
            ("HOME", "/h"),
        ];
        assert_eq!(cache_dir_from(env(&all)), Some(PathBuf::from("/w")));
        assert_eq!(
            cache_dir_from(env(&all[1..])),
            Some(PathBuf::from("/x/weir/modules"))
        );
        assert_eq!(
            cache_dir_from(env(&all[2..])),
            Some(PathBuf::from("/h/.cache/weir/modules"))
        );
        assert_eq!(cache_dir_from(env(&[])), None);
    }

    #[test]
    fn cache_dir_ignores_empty_and_relative_values() {
        let vars = [
            ("WEIR_CACHE_DIR", ""),
            ("XDG_CACHE_HOME", "rel"),
            ("HOME", "/h"),
        ];
        assert_eq!(
            cache_dir_from(env(&vars)),
            Some(PathBuf::from("/h/.cache/weir/modules"))
        );
    }

    #[test]
    fn cache_key_prefers_xdg_config_then_home() {
        let vars = [("XDG_CONFIG_HOME", "/x"), ("HOME", "/h")];
        assert_eq!(
            cache_key_file_from(env(&vars)),
            Some(PathBuf::from("/x/weir/cache.key"))
        );
        assert_eq!(
            cache_key_file_from(env(&[("XDG_CONFIG_HOME", "rel"), ("HOME", "/h")])),
            Some(PathBuf::from("/h/.config/weir/cache.key"))
        );
        assert_eq!(cache_key_file_from(env(&[])), None);
    }

    #[test]
    fn durations_read_like_limits() {
        assert_eq!(Seconds(Duration::from_secs(5)).to_string(), "5 s");
        assert_eq!(Seconds(Duration::from_millis(250)).to_string(), "250 ms");
    }
}
