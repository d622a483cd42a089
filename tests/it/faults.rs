//! Faults end to end: the real `weir` binary killed with SIGKILL at seeded
//! random moments, two writers racing on one interval, the S3 server stopped
//! in the middle of an upload, and hostile input. After every fault readers
//! see exactly the previous commit or the new one (never a mix), and a rerun
//! commits the right interval and deletes the leftovers.
//! docs/guarantees.md maps each promise to the test here that shows it.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use weir_tests::pg::Cluster;
use weir_tests::{Run, S3Server, Sandbox, guest};

const INTERVAL: &str = "2026-11-26T00:00:00+00:00";
const FOLDER: &str = "interval=20261126T000000Z";
/// The seed of every random choice here (kill moments, record contents).
const SEED: u64 = 0x5EED_FA17;
/// Kills that must land (process ended by SIGKILL) per scenario.
const KILLS: usize = 20;
/// Attempts per scenario before giving up on landing [`KILLS`] kills.
const MAX_ATTEMPTS: usize = 40;
/// Small parts, so an attempt writes many and a kill lands between them.
const BATCH: &str = "32KB";
/// Parts on the S3 server: larger, because s3s-fs slows down with every
/// object it has stored (it keeps a metadata file per object in one folder,
/// deleted or not), and the kill scenarios write thousands.
const S3_BATCH: &str = "256KB";
/// Records per writer's input (about 4 MB: over a hundred parts).
const RECORDS: usize = 20_000;
/// What makes `weir` stop between its last part and its manifest PUT.
const PAUSE_KNOB: &str = "WEIR_PAUSE_BEFORE_COMMIT_MS";
const SIGKILL: i32 = 9;

/// A seeded xorshift64* generator: the same seed gives the same moments.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn text(&mut self, len: usize) -> String {
        const SYMBOLS: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
        (0..len)
            .map(|_| SYMBOLS[(self.next() >> 58) as usize] as char)
            .collect()
    }
}

/// One writer's input: `n` records (with a `text` field for normalize) and
/// a malformed line every 1000, so quarantine parts are written (and
/// killed) too. Returns the NDJSON and the lines `weir cat` must return.
fn input(seed: u64, n: usize) -> (String, String) {
    let mut rng = Rng(seed);
    let (mut all, mut good) = (String::new(), String::new());
    for i in 0..n {
        if i % 1000 == 999 {
            all.push_str(&format!("not json {seed} {i}\n"));
            continue;
        }
        let line = format!(
            "{{\"id\":\"{seed}-{i:06}\",\"text\":\" Some  TEXT {} \",\"blob\":\"{}\"}}\n",
            rng.below(1000),
            rng.text(140)
        );
        all.push_str(&line);
        good.push_str(&line);
    }
    (all, good)
}

/// Where a stage lives: a local folder of the sandbox, or a prefix of the
/// bucket of a real S3 server.
struct Store<'a> {
    sb: &'a Sandbox,
    s3: Option<&'a S3Server>,
}

impl Store<'_> {
    /// The stage URL of `name`.
    fn url(&self, name: &str) -> String {
        match self.s3 {
            Some(s3) => s3.url(name),
            None => self.sb.join(name).to_string_lossy().into_owned(),
        }
    }

    /// The folder holding `name`'s objects, one file per object.
    fn dir(&self, name: &str) -> PathBuf {
        match self.s3 {
            Some(s3) => s3.bucket_dir().join(name),
            None => self.sb.join(name),
        }
    }

    /// Records per writer's input on this store (fewer on S3, for the
    /// same reason as [`S3_BATCH`]).
    fn records(&self) -> usize {
        if self.s3.is_some() {
            RECORDS / 2
        } else {
            RECORDS
        }
    }

    /// The batch cap for this store.
    fn batch(&self) -> &'static str {
        if self.s3.is_some() { S3_BATCH } else { BATCH }
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        self.s3.map(S3Server::env).unwrap_or_default()
    }

    fn weir(&self, args: &[&str]) -> Run {
        self.sb.weir_env(args, &self.env())
    }

    /// Every object of stage `name`, relative to it.
    fn objects(&self, name: &str) -> BTreeSet<String> {
        files_under(&self.dir(name))
    }

    /// The committed records of stage `name`, or `None` when the interval
    /// is not committed. A committed interval must also pass `weir verify`.
    fn committed(&self, name: &str) -> Option<String> {
        let url = self.url(name);
        let r = self.weir(&["cat", &url, "--interval", INTERVAL]);
        if r.code != 0 {
            assert!(
                r.code == 1 && r.stderr.contains("not committed"),
                "cat fails only with \"not committed\": exit {}\n{}",
                r.code,
                r.stderr
            );
            return None;
        }
        self.weir(&["verify", &url, "--interval", INTERVAL]).ok();
        Some(r.stdout)
    }

    /// The objects the committed manifest of `name` references, plus the
    /// manifest itself.
    fn referenced(&self, name: &str) -> BTreeSet<String> {
        let listing = self
            .weir(&["ls", &self.url(name), "--interval", INTERVAL, "--json"])
            .ok()
            .json();
        let mut out: BTreeSet<String> = listing["parts"]
            .as_array()
            .into_iter()
            .chain(listing["quarantine"]["parts"].as_array())
            .flatten()
            .map(|p| p["path"].as_str().unwrap_or_default().to_owned())
            .collect();
        out.insert(format!("{FOLDER}/_manifest.json"));
        out
    }
}

/// Files under `root`, relative to it, sorted.
fn files_under(root: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(r) = p.strip_prefix(root) {
                out.insert(r.to_string_lossy().into_owned());
            }
        }
    }
    out
}

/// When to kill an attempt.
#[derive(Debug, Clone, Copy)]
enum Moment {
    /// After this long (reading, uploading part N, committing, cleaning up:
    /// wherever the attempt has got to).
    After(Duration),
    /// With every part written and the manifest not yet (the test knob
    /// makes the attempt announce that moment and wait there).
    BeforeCommit,
}

/// Starts `weir ARGS` and kills it with SIGKILL at `moment`. Returns
/// whether the kill ended it (false: it finished, successfully, first).
fn kill_at(store: &Store, args: &[&str], moment: Moment) -> bool {
    let mut env = store.env();
    if let Moment::BeforeCommit = moment {
        env.push((PAUSE_KNOB, "600000".into()));
    }
    let mut child = store.sb.spawn_weir(args, &env);
    match moment {
        Moment::After(delay) => {
            let start = Instant::now();
            while start.elapsed() < delay {
                if child.try_wait().ok().flatten().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        Moment::BeforeCommit => {
            let stderr = child.stderr.take().unwrap_or_else(|| panic!("stderr"));
            let announced = BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
                .any(|l| l.contains("all parts written"));
            assert!(announced, "weir ended without reaching the commit");
        }
    }
    let _ = child.kill();
    let status_run = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("waiting for weir: {e}"));
    if status_run.status.signal() == Some(SIGKILL) {
        return true;
    }
    assert!(
        status_run.status.success(),
        "an attempt that was not killed must succeed: {:?}\n{}",
        status_run.status,
        String::from_utf8_lossy(&status_run.stderr)
    );
    false
}

/// What a kill scenario did.
#[derive(Debug, Default)]
struct Tally {
    attempts: usize,
    /// Attempts ended by SIGKILL.
    kills: usize,
    /// Of those, killed between the last part and the manifest.
    before_commit: usize,
    /// Killed after the manifest PUT (during cleanup): the new commit shows.
    after_commit: usize,
    /// Kills that left objects no manifest references.
    left_leftovers: usize,
    /// Kills that stranded object_store's local in-progress upload files
    /// (`PART#N`), which the rerun's cleanup must remove.
    stranded_uploads: usize,
}

/// Splits off object_store's in-progress upload files of a local store
/// (`PATH#N`, renamed to `PATH` when the upload completes). A killed
/// attempt strands them; object_store's listing hides them, so readers
/// never see them and cleanup looks for them on disk.
fn split_staging_files(objects: BTreeSet<String>) -> (BTreeSet<String>, BTreeSet<String>) {
    objects.into_iter().partition(|o| {
        !o.rsplit_once('#')
            .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// Writers 0 and 1 take turns on one interval of `stage`; each attempt is
/// killed at a seeded random moment, then readers must see exactly the
/// previous commit (or nothing, before the first) or, when the kill came
/// after the manifest PUT, the new one; then a rerun with `--orphan-grace
/// 0s` commits the writer's records and leaves exactly the manifest's
/// objects. `command(k, grace)` is writer k's command line; `expected[k]`
/// what `weir cat` prints after writer k commits.
fn survive_kills(
    store: &Store,
    stage: &str,
    command: &dyn Fn(usize, &str) -> Vec<String>,
    expected: &[String; 2],
    seed: u64,
) -> Tally {
    let mut rng = Rng(seed);
    let mut tally = Tally::default();
    let mut current: Option<usize> = None;
    // How long an uninterrupted attempt takes, measured on every rerun;
    // kill delays are spread over it.
    let mut duration = Duration::from_millis(500);
    while tally.kills < KILLS {
        assert!(
            tally.attempts < MAX_ATTEMPTS,
            "only {} of {} attempts were killed before finishing: {tally:?}",
            tally.kills,
            tally.attempts
        );
        let k = tally.attempts % 2;
        let moment = if tally.attempts % 5 == 0 {
            Moment::BeforeCommit
        } else {
            Moment::After(Duration::from_millis(
                rng.below(duration.as_millis() as u64 + 1),
            ))
        };
        let what = format!(
            "attempt {} (writer {k}, {moment:?}, seed {seed:#x})",
            tally.attempts
        );
        tally.attempts += 1;
        let args = command(k, "1h");
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let killed = kill_at(store, &args, moment);
        let seen = store.committed(stage);
        let seen_writer = seen.as_ref().map(|s| {
            expected
                .iter()
                .position(|e| e == s)
                .unwrap_or_else(|| panic!("{what}: readers see neither writer's records exactly"))
        });
        if killed {
            tally.kills += 1;
            if seen_writer == current {
                if let Moment::BeforeCommit = moment {
                    tally.before_commit += 1;
                }
            } else {
                assert!(
                    matches!(moment, Moment::After(_)) && seen_writer == Some(k),
                    "{what}: readers see {seen_writer:?}, not the previous commit {current:?}"
                );
                tally.after_commit += 1;
            }
            if store.objects(stage).len()
                > seen.as_ref().map_or(0, |_| store.referenced(stage).len())
            {
                tally.left_leftovers += 1;
            }
            if !split_staging_files(store.objects(stage)).1.is_empty() {
                tally.stranded_uploads += 1;
            }
        } else {
            assert_eq!(
                seen_writer,
                Some(k),
                "{what}: a finished attempt is committed"
            );
        }
        let args = command(k, "0s");
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let start = Instant::now();
        store.weir(&args).ok();
        duration = start.elapsed();
        assert_eq!(
            store.committed(stage).as_ref(),
            Some(&expected[k]),
            "{what}: the rerun commits writer {k}'s records"
        );
        let (objects, stranded) = split_staging_files(store.objects(stage));
        assert_eq!(
            objects,
            store.referenced(stage),
            "{what}: after the rerun the stage holds exactly its manifest's objects"
        );
        assert!(
            stranded.is_empty(),
            "{what}: the rerun left stranded upload files: {stranded:?}"
        );
        current = Some(k);
    }
    eprintln!("kills on {stage}: {tally:?}");
    tally
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
}

/// `weir stage` killed at random moments, on `store`.
fn stage_survives_kills(store: &Store) {
    let inputs = [
        input(SEED, store.records()),
        input(SEED + 1, store.records()),
    ];
    for (k, (all, _)) in inputs.iter().enumerate() {
        store.sb.write(&format!("in-{k}.ndjson"), all);
    }
    let url = store.url("raw");
    let command = |k: usize, grace: &str| {
        strings(&[
            "stage",
            &url,
            "--interval",
            INTERVAL,
            "--max-batch-bytes",
            store.batch(),
            "--max-rejected",
            "100",
            "--orphan-grace",
            grace,
            &format!("in-{k}.ndjson"),
        ])
    };
    let expected = [inputs[0].1.clone(), inputs[1].1.clone()];
    let t = survive_kills(store, "raw", &command, &expected, SEED);
    assert!(t.before_commit > 0, "{t:?}");
}

/// `weir run` killed at random moments, on `store`.
fn run_survives_kills(store: &Store) {
    let module = guest("normalize");
    let module = module.to_string_lossy().into_owned();
    for k in 0..2 {
        let (all, _) = input(SEED + 10 + k as u64, store.records());
        store.sb.write(&format!("in-{k}.ndjson"), all);
        store
            .weir(&[
                "stage",
                &store.url(&format!("raw-{k}")),
                "--interval",
                INTERVAL,
                "--max-batch-bytes",
                store.batch(),
                "--max-rejected",
                "100",
                &format!("in-{k}.ndjson"),
            ])
            .ok();
    }
    let command = |k: usize, output: &str, grace: &str| {
        strings(&[
            "run",
            "--input",
            &store.url(&format!("raw-{k}")),
            "--output",
            &store.url(output),
            "--interval",
            INTERVAL,
            "--transform",
            &module,
            "--config",
            r#"{"fields":["text"]}"#,
            "--max-batch-bytes",
            store.batch(),
            "--orphan-grace",
            grace,
        ])
    };
    // What each writer commits, from an uninterrupted run.
    let expected = [0, 1].map(|k| {
        let reference = format!("reference-{k}");
        let args = command(k, &reference, "1h");
        store
            .weir(&args.iter().map(String::as_str).collect::<Vec<_>>())
            .ok();
        store
            .committed(&reference)
            .unwrap_or_else(|| panic!("reference run {k} committed nothing"))
    });
    let t = survive_kills(
        store,
        "clean",
        &|k, grace| command(k, "clean", grace),
        &expected,
        SEED + 1,
    );
    assert!(t.before_commit > 0, "{t:?}");
}

#[test]
fn stage_killed_at_random_moments_on_local_store_loses_and_mixes_nothing() {
    let sb = Sandbox::new();
    stage_survives_kills(&Store { sb: &sb, s3: None });
}

#[test]
fn stage_killed_at_random_moments_on_s3_loses_and_mixes_nothing() {
    let sb = Sandbox::new();
    let s3 = S3Server::start();
    stage_survives_kills(&Store {
        sb: &sb,
        s3: Some(&s3),
    });
}

#[test]
fn run_killed_at_random_moments_on_local_store_loses_and_mixes_nothing() {
    let sb = Sandbox::new();
    run_survives_kills(&Store { sb: &sb, s3: None });
}

#[test]
fn run_killed_at_random_moments_on_s3_loses_and_mixes_nothing() {
    let sb = Sandbox::new();
    let s3 = S3Server::start();
    run_survives_kills(&Store {
        sb: &sb,
        s3: Some(&s3),
    });
}

/// `weir extract` killed at random moments, on `store`: writer 0 extracts
/// a table of the shared cluster's standby, writer 1 a query over it with
/// other rows and bodies, both paged 200 rows at a time into small parts.
/// First, one attempt is killed once its log shows it has written a part
/// (mid-extract): nothing is committed, and a rerun commits the whole
/// interval, every row once.
fn extract_survives_kills(store: &Store, table: &str) {
    let cluster = Cluster::shared();
    cluster.primary_exec(&format!(
        "CREATE TABLE {table} (id int PRIMARY KEY, body text, n numeric);
         INSERT INTO {table} SELECT i, repeat(md5(i::text), 4), i / 7.0
           FROM generate_series(1, {}) i;",
        store.records() / 2
    ));
    let url = cluster.standby_url();
    let query = format!("SELECT id, upper(body) AS body, n FROM {table} WHERE id % 3 <> 0");
    let command = |k: usize, output: &str, grace: &str| {
        let mut args = strings(&["extract", "--source", &url]);
        if k == 0 {
            args.extend(strings(&["--table", table]));
        } else {
            args.extend(strings(&["--query", &query]));
        }
        args.extend(strings(&[
            "--key",
            "id",
            "--output",
            &store.url(output),
            "--interval",
            INTERVAL,
            "--page-rows",
            "200",
            "--max-batch-bytes",
            store.batch(),
            "--orphan-grace",
            grace,
        ]));
        args
    };
    let expected = [0, 1].map(|k| {
        let reference = format!("reference-{k}");
        let args = command(k, &reference, "1h");
        store
            .weir(&args.iter().map(String::as_str).collect::<Vec<_>>())
            .ok();
        store
            .committed(&reference)
            .unwrap_or_else(|| panic!("reference extract {k} committed nothing"))
    });
    assert!(expected[0].lines().count() > expected[1].lines().count());

    // Killed mid-extract, once a part is written: after the third page of
    // about 38 KB (the 12th on S3, whose parts are 256 KB).
    let kill_after = if store.s3.is_some() { 12 } else { 3 };
    let mut args = command(0, "first", "0s");
    args.insert(0, "-v".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = store.sb.spawn_weir(&args, &store.env());
    let stderr = child.stderr.take().unwrap_or_else(|| panic!("stderr"));
    let reached = BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
        .any(|l| l.contains(&format!(": page {kill_after}: ")));
    assert!(reached, "weir extract ended before page {kill_after}");
    let _ = child.kill();
    let status = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("waiting for weir: {e}"))
        .status;
    assert_eq!(status.signal(), Some(SIGKILL), "{status:?}");
    assert!(
        !store.objects("first").is_empty(),
        "the killed extract wrote no part: the kill came too early to test anything"
    );
    assert_eq!(store.committed("first"), None, "a killed extract committed");
    let rerun = command(0, "first", "0s");
    store
        .weir(&rerun.iter().map(String::as_str).collect::<Vec<_>>())
        .ok();
    assert_eq!(store.committed("first").as_ref(), Some(&expected[0]));

    let t = survive_kills(
        store,
        "raw",
        &|k, grace| command(k, "raw", grace),
        &expected,
        SEED + 2,
    );
    assert!(t.before_commit > 0, "{t:?}");
    assert!(
        t.kills > t.before_commit + t.after_commit,
        "no kill landed while the extract read: {t:?}"
    );
}

#[test]
fn extract_killed_at_random_moments_on_local_store_loses_and_mixes_nothing() {
    let sb = Sandbox::new();
    extract_survives_kills(&Store { sb: &sb, s3: None }, "killed_extract_local");
}

#[test]
fn extract_killed_at_random_moments_on_s3_loses_and_mixes_nothing() {
    let sb = Sandbox::new();
    let s3 = S3Server::start();
    extract_survives_kills(
        &Store {
            sb: &sb,
            s3: Some(&s3),
        },
        "killed_extract_s3",
    );
}

/// A `weir replay` that pauses just before its commit while a rerun of the
/// interval commits: the replay must find its base superseded, commit
/// nothing and delete what it wrote; readers see the rerun's commit whole.
fn replay_during_a_rerun_commits_nothing(store: &Store) {
    let module = guest("normalize");
    let module = module.to_string_lossy().into_owned();
    // Every fourth record's text is a number: normalize fails it.
    let records: String = (0..40)
        .map(|i| match i % 4 {
            1 => format!("{{\"id\":{i},\"text\":{i}}}\n"),
            _ => format!("{{\"id\":{i},\"text\":\" T{i} \"}}\n"),
        })
        .collect();
    store.sb.write("in.ndjson", records);
    let (raw, out) = (store.url("raw"), store.url("out"));
    store
        .weir(&["stage", &raw, "--interval", INTERVAL, "in.ndjson"])
        .ok();
    let run = [
        "run",
        "--input",
        &raw,
        "--output",
        &out,
        "--interval",
        INTERVAL,
        "--transform",
        &module,
        "--config",
        r#"{"fields":["text"]}"#,
        "--max-rejected",
        "10",
    ];
    store.weir(&run).ok();

    // The replay (a config that recovers the failed records) reads the
    // commit, writes its parts and stops before its manifest PUT.
    let mut env = store.env();
    env.push((PAUSE_KNOB, "15000".into()));
    let replay = [
        "replay",
        &out,
        "--interval",
        INTERVAL,
        "--transform",
        &module,
        "--config",
        r#"{"fields":["missing"]}"#,
    ];
    let mut child = store.sb.spawn_weir(&replay, &env);
    let stderr = child.stderr.take().unwrap_or_else(|| panic!("stderr"));
    let (paused, paused_rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("all parts written") {
                let _ = paused.send(());
            }
            text.push_str(&line);
            text.push('\n');
        }
        text
    });
    paused_rx
        .recv_timeout(Duration::from_secs(120))
        .unwrap_or_else(|_| panic!("the replay never reached its commit"));

    // Meanwhile a rerun commits, deleting the parts the replay's base lists.
    store.weir(&run).ok();
    let rerun = store
        .weir(&["ls", &out, "--interval", INTERVAL, "--json"])
        .ok()
        .json();

    let status = child
        .wait()
        .unwrap_or_else(|e| panic!("waiting for replay: {e}"));
    let stderr = reader.join().unwrap_or_default();
    assert_eq!(status.code(), Some(1), "the replay must fail:\n{stderr}");
    assert!(
        stderr.contains("was committed again while this attempt ran"),
        "{stderr}"
    );
    // The rerun's commit stands, whole and readable.
    let now = store
        .weir(&["ls", &out, "--interval", INTERVAL, "--json"])
        .ok()
        .json();
    assert_eq!(now, rerun);
    let seen = store
        .committed("out")
        .unwrap_or_else(|| panic!("nothing committed"));
    assert_eq!(seen.lines().count(), 30);
    // Nothing of the replay's attempt is left: every object is the commit's.
    let (objects, _) = split_staging_files(store.objects("out"));
    assert_eq!(objects, store.referenced("out"));
}

#[test]
fn a_replay_superseded_by_a_rerun_on_a_local_store_commits_nothing() {
    let sb = Sandbox::new();
    replay_during_a_rerun_commits_nothing(&Store { sb: &sb, s3: None });
}

#[test]
fn a_replay_superseded_by_a_rerun_on_s3_commits_nothing() {
    let sb = Sandbox::new();
    let s3 = S3Server::start();
    replay_during_a_rerun_commits_nothing(&Store {
        sb: &sb,
        s3: Some(&s3),
    });
}

/// Starts `weir ARGS` without waiting.
fn spawn(store: &Store, args: &[String]) -> std::process::Child {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    store.sb.spawn_weir(&args, &store.env())
}

#[test]
fn two_stages_of_one_interval_at_once_end_as_one_whole_commit() {
    let sb = Sandbox::new();
    let store = Store { sb: &sb, s3: None };
    let url = store.url("raw");
    let command = |file: &str| {
        strings(&[
            "stage",
            &url,
            "--interval",
            INTERVAL,
            "--max-batch-bytes",
            BATCH,
            "--max-rejected",
            "100",
            file,
        ])
    };
    for round in 0..4u64 {
        let a = input(SEED + 100 + 2 * round, RECORDS / 2);
        let b = input(SEED + 101 + 2 * round, RECORDS / 2);
        sb.write("a.ndjson", &a.0);
        sb.write("b.ndjson", &b.0);
        let writers = [
            spawn(&store, &command("a.ndjson")),
            spawn(&store, &command("b.ndjson")),
        ];
        for w in writers {
            Run::wait(w).ok();
        }
        let seen = store
            .committed("raw")
            .unwrap_or_else(|| panic!("round {round}: nothing committed"));
        assert!(
            seen == a.1 || seen == b.1,
            "round {round}: readers see a mix of the two writers ({} bytes)",
            seen.len()
        );
        let (objects, _) = split_staging_files(store.objects("raw"));
        let referenced = store.referenced("raw");
        assert!(
            referenced.is_subset(&objects),
            "round {round}: a part the manifest lists is gone: {:?}",
            referenced.difference(&objects).collect::<Vec<_>>()
        );
    }
}

/// Stops `s3` once `weir stage` of a big input has written a few parts;
/// weir must give up quickly (`--retries 2 --retry-timeout 5s`), naming
/// the stage and the operation, and commit nothing; after a restart a
/// rerun commits what an uninterrupted run does.
#[test]
fn s3_outage_mid_stage_fails_clearly_commits_nothing_and_a_rerun_recovers() {
    let sb = Sandbox::new();
    let mut s3 = S3Server::start();
    let inputs = [
        input(SEED + 200, 2 * RECORDS),
        input(SEED + 201, 2 * RECORDS),
    ];
    for (k, (all, _)) in inputs.iter().enumerate() {
        sb.write(&format!("in-{k}.ndjson"), all);
    }
    let url = s3.url("lake/raw");
    let command = |k: usize| {
        strings(&[
            "stage",
            &url,
            "--interval",
            INTERVAL,
            "--max-batch-bytes",
            "128KB",
            "--max-rejected",
            "100",
            "--retries",
            "2",
            "--retry-timeout",
            "5s",
            "--orphan-grace",
            "0s",
            &format!("in-{k}.ndjson"),
        ])
    };
    let folder = s3.bucket_dir().join("lake/raw").join(FOLDER);
    let manifest = folder.join("_manifest.json");
    let mut previous: Option<String> = None;
    for (k, (_, good)) in inputs.iter().enumerate() {
        let before = std::fs::read(&manifest).ok();
        let child = spawn(
            &Store {
                sb: &sb,
                s3: Some(&s3),
            },
            &command(k),
        );
        // Wait for a few of this attempt's parts, then pull the plug.
        let deadline = Instant::now() + Duration::from_secs(60);
        let written = |s3: &S3Server| {
            files_under(&s3.bucket_dir().join("lake/raw").join(FOLDER))
                .iter()
                .filter(|f| f.starts_with("part-"))
                .count()
        };
        let already = written(&s3);
        while written(&s3) < already + 10 {
            assert!(Instant::now() < deadline, "weir wrote no parts in 60 s");
            std::thread::sleep(Duration::from_millis(5));
        }
        s3.stop();
        let stopped = Instant::now();
        let r = Run::wait(child).expect_code(1);
        let gave_up = stopped.elapsed();
        assert!(
            r.stderr.contains(&url) && r.stderr.contains("writing"),
            "the error names the stage and the operation:\n{}",
            r.stderr
        );
        assert!(
            gave_up < Duration::from_secs(30),
            "gave up after {gave_up:?}"
        );
        assert_eq!(
            std::fs::read(&manifest).ok(),
            before,
            "outage {k}: the manifest is untouched"
        );
        s3.restart();
        let store = Store {
            sb: &sb,
            s3: Some(&s3),
        };
        assert_eq!(
            store.committed("lake/raw"),
            previous,
            "outage {k}: nothing new committed"
        );
        store
            .weir(&command(k).iter().map(String::as_str).collect::<Vec<_>>())
            .ok();
        assert_eq!(
            store.committed("lake/raw").as_ref(),
            Some(good),
            "outage {k}: rerun"
        );
        let (objects, _) = split_staging_files(store.objects("lake/raw"));
        assert_eq!(
            objects,
            store.referenced("lake/raw"),
            "outage {k}: leftovers deleted"
        );
        previous = Some(good.clone());
        eprintln!("outage {k}: weir gave up {gave_up:?} after the server stopped");
    }
}

/// `weir run` of `module` with normalize's config over `raw` into `output`,
/// then `extra`.
fn run_args<'a>(module: &'a str, output: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "run",
        "--input",
        "raw",
        "--output",
        output,
        "--interval",
        INTERVAL,
        "--transform",
        module,
        "--config",
        r#"{"fields":["text"]}"#,
    ];
    args.extend_from_slice(extra);
    args
}

/// Runs `weir ARGS` in `sb` under `/usr/bin/time`; returns the run and its
/// peak resident set size in bytes.
fn with_peak_rss(sb: &Sandbox, args: &[&str]) -> (Run, u64) {
    let report = sb.join("peak-rss");
    let bin = weir_tests::weir_bin();
    let child = std::process::Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&report)
        .arg(bin)
        .args(args)
        .current_dir(sb.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("/usr/bin/time (apt-get install time): {e}"));
    let run = Run::wait(child);
    let kib: u64 = std::fs::read_to_string(&report)
        .unwrap_or_default()
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak RSS from /usr/bin/time"));
    (run, kib * 1024)
}

/// The most memory `weir` may use on the hostile inputs below.
const RSS_BOUND: u64 = 200 * 1024 * 1024;

/// Checks `input_records = records + quarantined + blank_lines`.
fn assert_counts_reconcile(totals: &serde_json::Value) {
    let n = |k: &str| {
        totals[k]
            .as_u64()
            .unwrap_or_else(|| panic!("no {k} in {totals}"))
    };
    assert_eq!(
        n("input_records"),
        n("records") + n("quarantined") + n("blank_lines"),
        "{totals}"
    );
}

#[test]
fn a_600_mb_line_is_quarantined_with_its_location_in_bounded_memory() {
    use std::io::Write;
    const LINE: u64 = 600 * 1024 * 1024;
    let sb = Sandbox::new();
    let path = sb.join("huge.ndjson");
    {
        let mut f =
            std::io::BufWriter::new(std::fs::File::create(&path).unwrap_or_else(|e| panic!("{e}")));
        let chunk = vec![b'a'; 1 << 20];
        let mut write = |b: &[u8]| f.write_all(b).unwrap_or_else(|e| panic!("{e}"));
        write(b"{\"before\":1}\n{\"x\":\"");
        for _ in 0..(LINE - 8) / (1 << 20) {
            write(&chunk);
        }
        write(&vec![b'a'; ((LINE - 8) % (1 << 20)) as usize]);
        write(b"\"}\n{\"after\":2}\n");
        f.flush().unwrap_or_else(|e| panic!("{e}"));
    }
    let (run, rss) = with_peak_rss(
        &sb,
        &[
            "stage",
            "raw",
            "--interval",
            INTERVAL,
            "--max-rejected",
            "1",
            "--json",
            "huge.ndjson",
        ],
    );
    let summary = run.ok().json();
    std::fs::remove_file(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(rss < RSS_BOUND, "peak RSS {} MiB", rss >> 20);
    let totals = &summary["totals"];
    assert_counts_reconcile(totals);
    assert_eq!(
        (totals["records"].as_u64(), totals["quarantined"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(
        sb.weir(&["cat", "raw", "--interval", INTERVAL]).ok().stdout,
        "{\"before\":1}\n{\"after\":2}\n"
    );
    let q = sb
        .weir(&["cat", "raw", "--interval", INTERVAL, "--quarantine"])
        .ok();
    let entry: serde_json::Value =
        serde_json::from_str(q.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {}", q.stdout));
    assert_eq!(entry["object"], "huge.ndjson");
    assert_eq!(entry["line"], 2);
    assert_eq!(entry["record_bytes"], LINE);
    assert!(
        entry["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("longer than the limit"),
        "{entry}"
    );
    eprintln!("600 MB line: peak RSS {} MiB", rss >> 20);
}

/// Replaces the only part of the committed interval of stage `stage` with
/// the gzip of what `write` writes (`records` lines), and updates the
/// manifest to match, as a writer with a larger line limit, or another tool,
/// would have committed it. Returns the part's path within the stage.
fn recommit_only_part(
    sb: &Sandbox,
    stage: &str,
    records: u64,
    write: impl FnOnce(&mut dyn std::io::Write),
) -> String {
    use std::io::Write;
    struct Counting<W>(W, u64);
    impl<W: Write> Write for Counting<W> {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            let n = self.0.write(b)?;
            self.1 += n as u64;
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            self.0.flush()
        }
    }
    let manifest_path = sb.join(&format!("{stage}/{FOLDER}/_manifest.json"));
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).unwrap_or_else(|e| panic!("{e}")))
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        manifest["parts"].as_array().map(Vec::len),
        Some(1),
        "{manifest}"
    );
    let part = manifest["parts"][0]["path"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut plain = Counting(
        flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()),
        0,
    );
    write(&mut plain);
    let uncompressed = plain.1;
    let gz = plain.0.finish().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(sb.join(&format!("{stage}/{part}")), &gz).unwrap_or_else(|e| panic!("{e}"));
    let compressed = gz.len() as u64;
    for (object, key, value) in [
        ("part", "records", serde_json::json!(records)),
        (
            "part",
            "uncompressed_bytes",
            serde_json::json!(uncompressed),
        ),
        ("part", "compressed_bytes", serde_json::json!(compressed)),
        ("part", "sha256", serde_json::json!(weir_tests::sha256(&gz))),
        ("totals", "records", serde_json::json!(records)),
        ("totals", "input_records", serde_json::json!(records)),
        (
            "totals",
            "uncompressed_bytes",
            serde_json::json!(uncompressed),
        ),
        ("totals", "compressed_bytes", serde_json::json!(compressed)),
    ] {
        match object {
            "part" => manifest["parts"][0][key] = value,
            _ => manifest["totals"][key] = value,
        }
    }
    // Written as one stream, as another tool would: no member index.
    manifest["parts"][0]
        .as_object_mut()
        .map(|p| p.remove("members"));
    std::fs::write(&manifest_path, manifest.to_string()).unwrap_or_else(|e| panic!("{e}"));
    part
}

/// A part committed with a 600 MB line (by a writer with a larger
/// `--max-line-bytes`, or another tool) and read by `weir run`: the line is
/// quarantined as too long with the part and its line, never held whole,
/// the error budget applies to it, and the counts reconcile. `weir verify`
/// streams the same part in bounded memory too.
#[test]
fn a_600_mb_line_in_a_committed_part_is_quarantined_by_weir_run_in_bounded_memory() {
    const LINE: u64 = 600 * 1024 * 1024;
    let sb = Sandbox::new();
    let module = guest("normalize");
    let module = module.to_string_lossy().into_owned();
    sb.write(
        "in.ndjson",
        "{\"text\":\" One \"}\n{}\n{\"text\":\" THREE \"}\n",
    );
    sb.weir(&["stage", "raw", "--interval", INTERVAL, "in.ndjson"])
        .ok();
    let part = recommit_only_part(&sb, "raw", 3, |w| {
        let mut write = |b: &[u8]| w.write_all(b).unwrap_or_else(|e| panic!("{e}"));
        write(b"{\"text\":\" One \"}\n{\"x\":\"");
        let chunk = vec![b'a'; 1 << 20];
        for _ in 0..(LINE - 8) / (1 << 20) {
            write(&chunk);
        }
        write(&chunk[..((LINE - 8) % (1 << 20)) as usize]);
        write(b"\"}\n{\"text\":\" THREE \"}\n");
    });
    let (verified, rss_verify) = with_peak_rss(&sb, &["verify", "raw", "--interval", INTERVAL]);
    verified.ok();
    assert!(
        rss_verify < RSS_BOUND,
        "weir verify: peak RSS {} MiB",
        rss_verify >> 20
    );
    let run = |extra: &[&str]| {
        let mut args = run_args(&module, "clean", &["--json"]);
        args.extend_from_slice(extra);
        with_peak_rss(&sb, &args)
    };
    // Over the default budget of 0: nothing committed, the line named.
    let (refused, _) = run(&[]);
    let refused = refused.expect_code(3);
    assert!(
        refused.stderr.contains(&format!(
            "{part}:2: line of {LINE} bytes is longer than the limit"
        )),
        "{}",
        refused.stderr
    );
    assert!(!sb.join(&format!("clean/{FOLDER}/_manifest.json")).exists());

    let (done, rss) = run(&["--max-rejected", "1"]);
    let summary = done.ok().json();
    assert!(rss < RSS_BOUND, "weir run: peak RSS {} MiB", rss >> 20);
    let totals = &summary["totals"];
    assert_counts_reconcile(totals);
    assert_eq!(
        (
            totals["input_records"].as_u64(),
            totals["records"].as_u64(),
            totals["quarantined"].as_u64(),
            totals["filtered"].as_u64()
        ),
        (Some(3), Some(2), Some(1), Some(0)),
        "{summary}"
    );
    assert_eq!(summary["transforms"][0]["records_in"], 2, "{summary}");
    assert_eq!(
        sb.weir(&["cat", "clean", "--interval", INTERVAL])
            .ok()
            .stdout,
        "{\"text\":\"one\"}\n{\"text\":\"three\"}\n"
    );
    let q = sb
        .weir(&["cat", "clean", "--interval", INTERVAL, "--quarantine"])
        .ok();
    let entry: serde_json::Value =
        serde_json::from_str(q.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {}", q.stdout));
    assert_eq!(entry["object"], part.as_str());
    assert_eq!(entry["line"], 2);
    assert_eq!(entry["record_bytes"], LINE);
    assert_eq!(entry["record_escaped"].as_str().map(str::len), Some(1024));
    assert!(
        entry["input_stage"]
            .as_str()
            .is_some_and(|s| s.ends_with("/raw")),
        "{entry}"
    );
    assert!(
        entry["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("longer than the limit of 67108864 bytes (--max-line-bytes)"),
        "{entry}"
    );
    eprintln!(
        "600 MB line in a part: weir run peak RSS {} MiB, weir verify {} MiB",
        rss >> 20,
        rss_verify >> 20
    );
}

#[test]
fn a_gzip_bomb_of_1_gb_stages_in_bounded_memory_in_parts_under_the_cap() {
    use std::io::Write;
    const RECORD: &[u8] = b"{\"id\":\"bomb\",\"text\":\"the same record, over and over\"}\n";
    const COPIES: u64 = (1 << 30) / RECORD.len() as u64;
    const CAP: u64 = 64_000_000;
    let sb = Sandbox::new();
    {
        let f = std::fs::File::create(sb.join("bomb.ndjson.gz")).unwrap_or_else(|e| panic!("{e}"));
        let mut gz = flate2::write::GzEncoder::new(f, flate2::Compression::best());
        let block: Vec<u8> = RECORD.repeat(1 << 14);
        for _ in 0..COPIES >> 14 {
            gz.write_all(&block).unwrap_or_else(|e| panic!("{e}"));
        }
        gz.write_all(&RECORD.repeat((COPIES % (1 << 14)) as usize))
            .unwrap_or_else(|e| panic!("{e}"));
        gz.finish().unwrap_or_else(|e| panic!("{e}"));
    }
    let gz_bytes = std::fs::metadata(sb.join("bomb.ndjson.gz")).map_or(0, |m| m.len());
    assert!(gz_bytes < 4 << 20, "the bomb is small: {gz_bytes} bytes");
    let (run, rss) = with_peak_rss(
        &sb,
        &[
            "stage",
            "raw",
            "--interval",
            INTERVAL,
            "--max-batch-bytes",
            "64MB",
            "--compression-level",
            "1",
            "--json",
            "bomb.ndjson.gz",
        ],
    );
    let totals = run.ok().json()["totals"].clone();
    assert!(rss < RSS_BOUND, "peak RSS {} MiB", rss >> 20);
    assert_counts_reconcile(&totals);
    assert_eq!(totals["records"].as_u64(), Some(COPIES));
    let listing = sb
        .weir(&["ls", "raw", "--interval", INTERVAL, "--json"])
        .ok()
        .json();
    let parts = listing["parts"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        parts.len() as u64,
        (COPIES * RECORD.len() as u64)
            .div_ceil(CAP - CAP % RECORD.len() as u64)
            .max(1)
    );
    for p in &parts {
        assert!(
            p["uncompressed_bytes"].as_u64().unwrap_or(u64::MAX) <= CAP,
            "{p}"
        );
    }
    eprintln!(
        "gzip bomb: {gz_bytes} bytes → {} parts, peak RSS {} MiB",
        parts.len(),
        rss >> 20
    );
}

#[test]
fn a_part_tampered_after_commit_fails_weir_run_naming_it_and_commits_nothing() {
    let sb = Sandbox::new();
    let module = guest("normalize");
    let (all, _) = input(SEED + 300, 4000);
    sb.write("in.ndjson", &all);
    sb.weir(&[
        "stage",
        "raw",
        "--interval",
        INTERVAL,
        "--max-batch-bytes",
        BATCH,
        "--max-rejected",
        "10",
        "in.ndjson",
    ])
    .ok();
    let listing = sb
        .weir(&["ls", "raw", "--interval", INTERVAL, "--json"])
        .ok()
        .json();
    let parts = listing["parts"].as_array().cloned().unwrap_or_default();
    assert!(parts.len() > 3, "{listing}");
    let run = |output: &str| sb.weir(&run_args(module.to_str().unwrap_or_default(), output, &[]));
    // Recompressed (valid gzip, same records, other bytes), a flipped byte
    // or truncated: the member index's size and sha256 checks say so, before
    // a byte is inflated (the part read member by member). Each error names
    // the part.
    let victim = parts[2]["path"].as_str().unwrap_or_default().to_owned();
    let file = sb.join(&format!("raw/{victim}"));
    let original = std::fs::read(&file).unwrap_or_else(|e| panic!("{e}"));
    let mut flipped = original.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x20;
    let recompressed = {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&weir_tests::gunzip(&file))
            .unwrap_or_else(|e| panic!("{e}"));
        e.finish().unwrap_or_else(|e| panic!("{e}"))
    };
    let truncated = original[..original.len() - 7].to_vec();
    for (name, tamper, detail) in [
        ("recompressed", recompressed, "its manifest lists"),
        ("flipped", flipped, "its manifest lists"),
        ("truncated", truncated, "its manifest lists"),
    ] {
        std::fs::write(&file, &tamper).unwrap_or_else(|e| panic!("{e}"));
        let r = run("clean").expect_code(1);
        assert!(
            r.stderr.contains(&victim) && r.stderr.contains(detail),
            "{name}: {}",
            r.stderr
        );
        let c = sb
            .weir(&["cat", "clean", "--interval", INTERVAL])
            .expect_code(1);
        assert!(c.stderr.contains("not committed"), "{name}: {}", c.stderr);
        let v = sb
            .weir(&["verify", "raw", "--interval", INTERVAL])
            .expect_code(4);
        assert!(v.stdout.contains(&victim), "{name}: {v:?}");
        eprintln!("tampered ({name}): {}", r.stderr.trim());
    }
    std::fs::write(&file, &original).unwrap_or_else(|e| panic!("{e}"));
    run("clean").ok();
}

/// Records staging refuses, in a part another tool committed (its manifest
/// matching): `weir run` quarantines each with the part and its line before
/// any transform sees it, commits the rest, and the counts reconcile. A part
/// that is not UTF-8 fails the run naming the part and line.
#[test]
fn invalid_records_in_a_committed_part_are_quarantined_by_weir_run() {
    let sb = Sandbox::new();
    let module = guest("normalize");
    let module = module.to_string_lossy().into_owned();
    sb.write("in.ndjson", "{\"text\":\" One \"}\n");
    sb.weir(&["stage", "raw", "--interval", INTERVAL, "in.ndjson"])
        .ok();
    let deep = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
    let lines: Vec<(&str, Option<&str>)> = vec![
        ("{\"text\":\" One \"}", None),
        ("[1,2]", Some("a JSON array where an object belongs")),
        ("42", Some("a JSON number where an object belongs")),
        ("{\"text\":\"a\",\"text\":\"b\"}", Some("duplicate key")),
        (deep.as_str(), Some("recursion limit")),
        ("{\"n\":NaN}", Some("invalid record in a committed part")),
        (
            "{\"n\":Infinity}",
            Some("invalid record in a committed part"),
        ),
        ("{\"text\":\" Eight \"}", None),
    ];
    let part = recommit_only_part(&sb, "raw", lines.len() as u64, |w| {
        for (line, _) in &lines {
            w.write_all(line.as_bytes())
                .unwrap_or_else(|e| panic!("{e}"));
            w.write_all(b"\n").unwrap_or_else(|e| panic!("{e}"));
        }
    });
    // Committed by an extractor of the team's, not by Weir.
    let manifest_path = sb.join(&format!("raw/{FOLDER}/_manifest.json"));
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).unwrap_or_else(|e| panic!("{e}")))
            .unwrap_or_else(|e| panic!("{e}"));
    manifest["producer"]["name"] = "tickets-extractor".into();
    std::fs::write(&manifest_path, manifest.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let run = |extra: &[&str]| sb.weir(&run_args(&module, "clean", extra));
    run(&["--max-rejected", "6"]).ok();
    let out = sb
        .weir(&["cat", "clean", "--interval", INTERVAL])
        .ok()
        .stdout;
    assert_eq!(out, "{\"text\":\"one\"}\n{\"text\":\"eight\"}\n");
    let q = sb
        .weir(&["cat", "clean", "--interval", INTERVAL, "--quarantine"])
        .ok()
        .stdout;
    let entries: Vec<serde_json::Value> = q
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let expected: Vec<(u64, &str)> = lines
        .iter()
        .enumerate()
        .filter_map(|(i, (_, why))| why.map(|w| (i as u64 + 1, w)))
        .collect();
    assert_eq!(entries.len(), expected.len(), "{q}");
    for (e, (line, why)) in entries.iter().zip(&expected) {
        assert_eq!(e["object"], part.as_str(), "{e}");
        assert_eq!(e["line"], *line, "{e}");
        let reason = e["reason"].as_str().unwrap_or_default();
        assert!(reason.contains(why), "line {line}: {reason}");
        assert!(e.get("transform").is_none_or(|t| t.is_null()), "{e}");
    }
    let m: serde_json::Value = serde_json::from_slice(
        &std::fs::read(sb.join(&format!("clean/{FOLDER}/_manifest.json")))
            .unwrap_or_else(|e| panic!("{e}")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_counts_reconcile(&m["totals"]);
    // The transform saw only the valid records.
    assert_eq!(m["producer"]["transforms"][0]["records_in"], 2);
    // Over the budget, nothing is committed.
    sb.weir(&run_args(&module, "strict", &[])).expect_code(3);

    // Not UTF-8: the run fails naming the part and line; nothing committed.
    recommit_only_part(&sb, "raw", 2, |w| {
        w.write_all(b"{\"text\":\"ok\"}\n{\"text\":\"\xff\"}\n")
            .unwrap_or_else(|e| panic!("{e}"));
    });
    let r = run(&["--max-rejected", "6"]).expect_code(1);
    assert!(r.stderr.contains(&format!("{part}:2")), "{}", r.stderr);
    assert!(r.stderr.contains("invalid UTF-8"), "{}", r.stderr);
}
