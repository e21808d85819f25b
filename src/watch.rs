//! [`PolicyWatcher`] (feature `watch`): reload a [`Cors`] handle when its policy file changes,
//! or when asked to (SIGHUP), without ever blocking the caller or serving a half-written file.
//!
//! The watcher follows how files really change in deployments:
//! - **editors' atomic renames** (write `policy.toml.tmp`, rename over `policy.toml`) and
//!   **deletes followed by re-creation**: it watches the file's directory, not the file's inode;
//! - **Kubernetes ConfigMap volumes** (`policy.toml -> ..data/policy.toml`, with `..data`
//!   switched to a new timestamped directory): the symlink swap is an event in the same
//!   directory, and the file is read through its links every time;
//! - filesystems whose change notifications are unreliable, and machines whose inotify
//!   instances are used up: the file is also polled (every second by default), and when the
//!   operating system refuses a watch the watcher says so and polls alone.
//!
//! What it guarantees:
//! - **A change is loaded only once the file has stopped changing**: after the last change
//!   notification, the watcher waits for a quiet `debounce` window, reads the file, waits
//!   another window and reads it again; only two identical reads are loaded. A writer that
//!   rewrites the file in place in several steps, pausing less than `debounce` between them,
//!   is never loaded half-written. Atomic renames are the supported way to change a file.
//! - **Reloads never block the caller**: they run on a reload thread of their own (kept, and
//!   replaced only after a reload was abandoned). At most one runs at a time; requests that
//!   arrive meanwhile are coalesced into one more reload after it. Opening or reading the file
//!   (the watcher's own reads among them) is not a change.
//! - **A reload has a time limit** (`reload_timeout`): one that runs past it (a file on a hung
//!   network mount, a policy that takes too long to compile) is abandoned, its result is
//!   discarded even if it finishes later, and the outcome is `timeout`. An abandoned reload
//!   keeps its thread until it ends (a thread cannot be killed); at most two reload threads
//!   ever exist, the one running and one abandoned.
//! - **Only regular files are read**, without blocking on a FIFO or a device, up to
//!   [`MAX_POLICY_FILE_BYTES`].
//! - **A panic while reloading is contained**: logged, outcome `error`, and the generation
//!   serving keeps serving. (A stack overflow cannot be caught; the parsers bound nesting
//!   depth so that none happens, and reload threads get the main thread's 8 MiB stack so that
//!   a file that loads at start also loads on reload.)
//! - **The first look compares policies, not bytes**: the watcher does not know which bytes
//!   the serving policy was built from, so its first look at the file builds the file's policy
//!   and reloads it, which changes nothing when it equals the serving one. A change that
//!   landed between the caller's `load_policy` and `spawn` is picked up.
//! - Every reload is logged through `tracing` with its generation number and outcome
//!   (`ok`, `invalid`, `error`, `timeout`); a file that fails is logged once, with every
//!   problem, and the generation serving keeps serving.
//!
//! # Example
//! ```no_run
//! use std::sync::Arc;
//! use corsgate::{file::load_policy, watch::PolicyWatcher, Cors};
//!
//! let cors = Arc::new(Cors::new(load_policy("policy.toml", None)?));
//! let watcher = PolicyWatcher::spawn(cors.clone(), "policy.toml", None)?;
//! // … serve with `cors`; on SIGHUP: watcher.request_reload();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use notify::{RecommendedWatcher, RecursiveMode, Watcher};

use crate::engine::Cors;
use crate::error::PolicyError;
use crate::file::read::{io_error, policy_text};
use crate::file::{read_regular_file, Format, PolicyFile, MAX_POLICY_FILE_BYTES};

/// Timing of a [`PolicyWatcher`]. Start from [`WatchOptions::default`] and change what you
/// need (fields or the `with_*` methods): more options may come.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct WatchOptions {
    /// The quiet time a file must keep before it is loaded: after the last change event, and
    /// between the two identical reads that precede a load.
    pub debounce: Duration,
    /// How often the file is read anyway, in case a change notification was missed (and the
    /// only way changes are noticed when the operating system refuses a watch).
    pub poll_interval: Duration,
    /// The longest one reload may take (reading, parsing, validating, compiling); past it the
    /// reload is abandoned and its result discarded.
    pub reload_timeout: Duration,
    /// `false`: no watching and no polling, not even a watch handle from the operating
    /// system; reload only when asked ([`PolicyWatcher::request_reload`],
    /// [`PolicyWatcher::reload_now`]), as `corsgate serve --no-watch` does on SIGHUP.
    pub watch: bool,
}

impl WatchOptions {
    /// With this quiet time before a load.
    #[must_use]
    pub fn with_debounce(mut self, debounce: Duration) -> WatchOptions {
        self.debounce = debounce;
        self
    }

    /// With this interval between reads that catch a missed notification.
    #[must_use]
    pub fn with_poll_interval(mut self, poll_interval: Duration) -> WatchOptions {
        self.poll_interval = poll_interval;
        self
    }

    /// With this bound on one reload.
    #[must_use]
    pub fn with_reload_timeout(mut self, reload_timeout: Duration) -> WatchOptions {
        self.reload_timeout = reload_timeout;
        self
    }

    /// Watching and polling on (`true`) or off (reload only when asked).
    #[must_use]
    pub fn with_watch(mut self, watch: bool) -> WatchOptions {
        self.watch = watch;
        self
    }
}

impl Default for WatchOptions {
    fn default() -> WatchOptions {
        WatchOptions {
            debounce: Duration::from_millis(100),
            poll_interval: Duration::from_secs(1),
            reload_timeout: Duration::from_secs(30),
            watch: true,
        }
    }
}

/// What a reload attempt did.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum ReloadOutcome {
    /// A new generation is serving.
    Reloaded {
        /// Its number.
        generation: u64,
    },
    /// The file's policy is the one already serving.
    Unchanged {
        /// The generation serving.
        generation: u64,
    },
    /// The file failed to parse or validate; the previous generation keeps serving.
    Failed {
        /// The generation still serving.
        generation: u64,
        /// Every problem.
        error: PolicyError,
    },
    /// The file could not be read (deleted, not yet re-created, not a regular file, over the
    /// size cap); the previous generation keeps serving.
    Unreadable {
        /// The generation still serving.
        generation: u64,
        /// Why.
        error: String,
    },
    /// The reload ran past its time limit and was abandoned; whatever it produces later is
    /// discarded, and the previous generation keeps serving.
    TimedOut {
        /// The generation still serving.
        generation: u64,
        /// The limit it ran past.
        limit: Duration,
    },
    /// The reload panicked; the panic was contained and the previous generation keeps
    /// serving.
    Panicked {
        /// The generation still serving.
        generation: u64,
        /// The panic's message.
        message: String,
    },
}

impl ReloadOutcome {
    /// The outcome's label, as logged and counted: `ok` (reloaded or unchanged), `invalid`
    /// (the policy failed to parse or validate), `error` (unreadable, or a panic) or
    /// `timeout`.
    pub fn label(&self) -> &'static str {
        match self {
            ReloadOutcome::Reloaded { .. } | ReloadOutcome::Unchanged { .. } => "ok",
            ReloadOutcome::Failed { .. } => "invalid",
            ReloadOutcome::Unreadable { .. } | ReloadOutcome::Panicked { .. } => "error",
            ReloadOutcome::TimedOut { .. } => "timeout",
        }
    }

    /// The generation serving after this attempt.
    pub fn generation(&self) -> u64 {
        match self {
            ReloadOutcome::Reloaded { generation }
            | ReloadOutcome::Unchanged { generation }
            | ReloadOutcome::Failed { generation, .. }
            | ReloadOutcome::Unreadable { generation, .. }
            | ReloadOutcome::TimedOut { generation, .. }
            | ReloadOutcome::Panicked { generation, .. } => *generation,
        }
    }

    fn file_status(&self) -> FileStatus {
        match self {
            ReloadOutcome::Reloaded { .. } | ReloadOutcome::Unchanged { .. } => FileStatus::Loaded,
            ReloadOutcome::Failed { .. } => FileStatus::Invalid,
            ReloadOutcome::Unreadable { .. } => FileStatus::Unreadable,
            ReloadOutcome::TimedOut { .. } => FileStatus::TimedOut,
            ReloadOutcome::Panicked { .. } => FileStatus::Panicked,
        }
    }
}

/// What the watcher's last look at the policy file found. Anything but `Loaded` means the
/// generation serving is the last good one, not what the file says now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileStatus {
    /// The file was read and its policy is the one serving.
    Loaded,
    /// The file could not be read: missing, not a regular file, over the size cap,
    /// unreadable.
    Unreadable,
    /// The file failed to parse or validate.
    Invalid,
    /// The last reload ran past its time limit.
    TimedOut,
    /// The last reload panicked.
    Panicked,
}

impl FileStatus {
    /// `loaded`, `unreadable`, `invalid`, `timeout` or `panic`.
    pub fn as_str(self) -> &'static str {
        match self {
            FileStatus::Loaded => "loaded",
            FileStatus::Unreadable => "unreadable",
            FileStatus::Invalid => "invalid",
            FileStatus::TimedOut => "timeout",
            FileStatus::Panicked => "panic",
        }
    }

    fn from_u8(value: u8) -> FileStatus {
        match value {
            1 => FileStatus::Unreadable,
            2 => FileStatus::Invalid,
            3 => FileStatus::TimedOut,
            4 => FileStatus::Panicked,
            _ => FileStatus::Loaded,
        }
    }

    fn to_u8(self) -> u8 {
        match self {
            FileStatus::Loaded => 0,
            FileStatus::Unreadable => 1,
            FileStatus::Invalid => 2,
            FileStatus::TimedOut => 3,
            FileStatus::Panicked => 4,
        }
    }
}

/// What the watcher and its reload threads share.
struct Shared {
    cors: Arc<Cors>,
    path: PathBuf,
    label: String,
    environment: Option<String>,
    status: AtomicU8,
    /// Called with the bytes about to be parsed: unit tests make reloads slow or panic.
    #[cfg(test)]
    hook: Option<fn(&[u8])>,
}

enum Message {
    /// Something changed in a watched directory.
    Changed,
    /// Reload now, even if the bytes did not change; the outcome goes to `reply`.
    Reload {
        reply: Option<mpsc::Sender<ReloadOutcome>>,
    },
    /// A reload thread finished attempt `id`.
    Finished {
        id: u64,
        result: AttemptResult,
    },
    Stop,
}

/// Watches a policy file and reloads a [`Cors`] handle when it changes. Stops when dropped
/// (a reload still running past its time limit is left to finish on its own thread, and its
/// result is discarded).
#[must_use = "dropping the watcher stops watching"]
pub struct PolicyWatcher {
    shared: Arc<Shared>,
    messages: mpsc::Sender<Message>,
    thread: Option<JoinHandle<()>>,
    _watcher: Option<RecommendedWatcher>,
}

impl std::fmt::Debug for PolicyWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyWatcher")
            .field("path", &self.shared.path)
            .field("file_status", &self.file_status())
            .finish_non_exhaustive()
    }
}

impl PolicyWatcher {
    /// Watches `path` with the default timing; `environment` selects the environment section
    /// whose effective policy is loaded.
    pub fn spawn(
        cors: Arc<Cors>,
        path: impl Into<PathBuf>,
        environment: Option<String>,
    ) -> notify::Result<PolicyWatcher> {
        PolicyWatcher::with_options(cors, path, environment, WatchOptions::default())
    }

    /// Watches `path` with the given timing. When the operating system refuses a watch
    /// (inotify instances or watches used up), this logs a warning and polls instead; the
    /// only error left is failing to start the watcher's thread.
    pub fn with_options(
        cors: Arc<Cors>,
        path: impl Into<PathBuf>,
        environment: Option<String>,
        options: WatchOptions,
    ) -> notify::Result<PolicyWatcher> {
        let path = path.into();
        PolicyWatcher::start(
            Shared {
                cors,
                label: path.display().to_string(),
                path,
                environment,
                status: AtomicU8::new(FileStatus::Loaded.to_u8()),
                #[cfg(test)]
                hook: None,
            },
            options,
        )
    }

    fn start(shared: Shared, options: WatchOptions) -> notify::Result<PolicyWatcher> {
        let shared = Arc::new(shared);
        let (tx, rx) = mpsc::channel::<Message>();
        let watcher = if options.watch {
            watch_directories(&shared, tx.clone(), options.poll_interval)
        } else {
            None
        };
        let thread = {
            let (shared, tx) = (shared.clone(), tx.clone());
            std::thread::Builder::new()
                .name("corsgate-watch".into())
                .spawn(move || Control::new(shared, options, tx).run(rx))
                .map_err(notify::Error::io)?
        };
        Ok(PolicyWatcher {
            shared,
            messages: tx,
            thread: Some(thread),
            _watcher: watcher,
        })
    }

    /// Asks for a reload of the file even if its bytes did not change (what SIGHUP does), and
    /// returns at once. Coalesced with other requests while a reload is running; the outcome
    /// is logged.
    pub fn request_reload(&self) {
        let _ = self.messages.send(Message::Reload { reply: None });
    }

    /// Reloads the file even if its bytes did not change, and waits for the outcome: at most
    /// the reload time limit, plus the rest of a reload already running.
    pub fn reload_now(&self) -> ReloadOutcome {
        let (tx, rx) = mpsc::channel();
        let generation = self.shared.cors.generation();
        if self
            .messages
            .send(Message::Reload { reply: Some(tx) })
            .is_err()
        {
            return ReloadOutcome::Unreadable {
                generation,
                error: "the watcher has stopped".into(),
            };
        }
        rx.recv().unwrap_or_else(|_| ReloadOutcome::Unreadable {
            generation,
            error: "the watcher has stopped".into(),
        })
    }

    /// What the last look at the file found (`Loaded` until the first look says otherwise).
    /// Reading it takes no lock.
    pub fn file_status(&self) -> FileStatus {
        FileStatus::from_u8(self.shared.status.load(Ordering::Relaxed))
    }
}

impl Drop for PolicyWatcher {
    fn drop(&mut self) {
        let _ = self.messages.send(Message::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Starts watching the file's directories; on any refusal, warns and returns what it has
/// (the poll covers the rest).
fn watch_directories(
    shared: &Shared,
    tx: mpsc::Sender<Message>,
    poll_interval: Duration,
) -> Option<RecommendedWatcher> {
    let fallback = |what: &str, error: &notify::Error| {
        tracing::warn!(
            target: "corsgate::watch",
            path = %shared.label,
            "cannot watch {what} for changes ({error}); polling the file every {poll_interval:?} instead"
        );
    };
    let mut watcher =
        match notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            match &event {
                // Opening or reading a file (the watcher's own reads among them) changes
                // nothing.
                Ok(e) if matches!(e.kind, notify::EventKind::Access(_)) => return,
                Ok(_) => {}
                Err(e) => tracing::debug!(target: "corsgate::watch", "watch error: {e}"),
            }
            let _ = tx.send(Message::Changed);
        }) {
            Ok(w) => w,
            Err(e) => {
                fallback("the policy file's directory", &e);
                return None;
            }
        };
    for dir in directories_to_watch(&shared.path) {
        if let Err(e) = watcher.watch(&dir, RecursiveMode::NonRecursive) {
            fallback(&dir.display().to_string(), &e);
        }
    }
    Some(watcher)
}

/// The file's directory, and the directory of the file its links resolve to.
fn directories_to_watch(path: &Path) -> Vec<PathBuf> {
    let parent = |p: &Path| match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut dirs = vec![parent(path)];
    if let Ok(resolved) = std::fs::canonicalize(path) {
        let d = parent(&resolved);
        let same = std::fs::canonicalize(&dirs[0]).is_ok_and(|c| c == d);
        if !same {
            dirs.push(d);
        }
    }
    dirs
}

// ---- one reload attempt, on its own thread -------------------------------------------------

/// Decides, once, whether a reload's result may still be swapped in: the reload thread asks
/// to commit just before swapping, the watcher asks to abandon when the time limit passes;
/// whichever comes first wins.
struct Gate(AtomicU8);

const GATE_OPEN: u8 = 0;
const GATE_COMMITTED: u8 = 1;
const GATE_ABANDONED: u8 = 2;

impl Gate {
    fn try_move(&self, to: u8) -> bool {
        self.0
            .compare_exchange(GATE_OPEN, to, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

struct Job {
    force: bool,
    /// The bytes last acted on.
    last: Option<Arc<[u8]>>,
    /// Bytes seen changed at the previous look, waiting to be seen again unchanged.
    settling: Option<Arc<[u8]>>,
}

enum AttemptResult {
    /// The bytes are the ones last acted on.
    Same,
    /// The bytes changed since the last look: look again after a quiet window.
    Settling(Arc<[u8]>),
    /// A reload was attempted; `bytes` are what it acted on (none when unreadable).
    Done {
        bytes: Option<Arc<[u8]>>,
        outcome: ReloadOutcome,
    },
}

/// Reload threads abandoned at their time limit that may still run beside the one running.
const MAX_ABANDONED: usize = 1;

/// The main thread's stack on Linux, so a file that loads at start loads on reload too.
const RELOAD_STACK_BYTES: usize = 8 << 20;

fn attempt(shared: &Shared, job: Job, gate: &Gate) -> AttemptResult {
    let generation = shared.cors.generation();
    let bytes: Arc<[u8]> = match read_regular_file(&shared.path, MAX_POLICY_FILE_BYTES) {
        Ok(bytes) => bytes.into(),
        Err(e) => {
            return AttemptResult::Done {
                bytes: None,
                outcome: ReloadOutcome::Unreadable {
                    generation,
                    error: io_error(&shared.label, &e).to_string(),
                },
            }
        }
    };
    if !job.force {
        if job.last.as_deref() == Some(&bytes[..]) {
            return AttemptResult::Same;
        }
        if job.settling.as_deref() != Some(&bytes[..]) {
            return AttemptResult::Settling(bytes);
        }
    }
    #[cfg(test)]
    if let Some(hook) = shared.hook {
        hook(&bytes);
    }
    let parsed = policy_text(bytes.to_vec(), &shared.label)
        .and_then(|text| PolicyFile::parse(&text, &shared.label, Format::from_path(&shared.path)))
        .and_then(|file| file.policy(shared.environment.as_deref()));
    let outcome = match parsed {
        Err(error) => ReloadOutcome::Failed { generation, error },
        Ok(policy) => match shared
            .cors
            .reload_if(policy, || gate.try_move(GATE_COMMITTED))
        {
            Some(reloaded) if reloaded.changed() => ReloadOutcome::Reloaded {
                generation: reloaded.generation(),
            },
            Some(reloaded) => ReloadOutcome::Unchanged {
                generation: reloaded.generation(),
            },
            // Abandoned: the watcher has already reported the timeout.
            None => ReloadOutcome::TimedOut {
                generation,
                limit: Duration::ZERO,
            },
        },
    };
    AttemptResult::Done {
        bytes: Some(bytes),
        outcome,
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

// ---- the watcher's thread ---------------------------------------------------------------------

struct InFlight {
    id: u64,
    force: bool,
    deadline: Instant,
    gate: Arc<Gate>,
    waiters: Vec<mpsc::Sender<ReloadOutcome>>,
}

/// A reload thread: runs one attempt at a time, for as long as the watcher keeps it.
struct ReloadWorker {
    jobs: mpsc::Sender<(u64, Job, Arc<Gate>)>,
}

impl ReloadWorker {
    fn spawn(shared: Arc<Shared>, report: mpsc::Sender<Message>) -> std::io::Result<ReloadWorker> {
        let (jobs, queue) = mpsc::channel::<(u64, Job, Arc<Gate>)>();
        std::thread::Builder::new()
            .name("corsgate-reload".into())
            .stack_size(RELOAD_STACK_BYTES)
            .spawn(move || {
                while let Ok((id, job, gate)) = queue.recv() {
                    let result = match std::panic::catch_unwind(AssertUnwindSafe(|| {
                        attempt(&shared, job, &gate)
                    })) {
                        Ok(result) => result,
                        Err(payload) => AttemptResult::Done {
                            bytes: None,
                            outcome: ReloadOutcome::Panicked {
                                generation: shared.cors.generation(),
                                message: panic_message(payload.as_ref()),
                            },
                        },
                    };
                    if report.send(Message::Finished { id, result }).is_err() {
                        return;
                    }
                }
            })?;
        Ok(ReloadWorker { jobs })
    }
}

struct Control {
    shared: Arc<Shared>,
    worker: Option<ReloadWorker>,
    options: WatchOptions,
    /// Where reload threads report.
    tx: mpsc::Sender<Message>,
    last: Option<Arc<[u8]>>,
    settling: Option<Arc<[u8]>>,
    /// When to look at the file again because it changed (events, or a changed read).
    look_at: Option<Instant>,
    next_poll: Option<Instant>,
    in_flight: Option<InFlight>,
    /// Reloads abandoned at their time limit whose threads are still running.
    abandoned: Vec<u64>,
    next_id: u64,
    force_pending: bool,
    waiters: Vec<mpsc::Sender<ReloadOutcome>>,
    told_waiting_for_abandoned: bool,
}

impl Control {
    fn new(shared: Arc<Shared>, options: WatchOptions, tx: mpsc::Sender<Message>) -> Control {
        let now = Instant::now();
        Control {
            shared,
            worker: None,
            options,
            tx,
            last: None,
            settling: None,
            // The first look, at once: the serving policy may not be what the file says now.
            look_at: options.watch.then_some(now),
            next_poll: options.watch.then(|| now + options.poll_interval),
            in_flight: None,
            abandoned: Vec::new(),
            next_id: 0,
            force_pending: false,
            waiters: Vec::new(),
            told_waiting_for_abandoned: false,
        }
    }

    fn run(mut self, rx: mpsc::Receiver<Message>) {
        loop {
            self.start_due_work();
            // While a reload runs, only its time limit (or a message) is worth waking for;
            // while too many abandoned reloads run, only a message (one of them ending).
            let wake = match &self.in_flight {
                Some(flight) => Some(flight.deadline),
                None if self.abandoned.len() > MAX_ABANDONED => None,
                None => [self.look_at, self.next_poll].into_iter().flatten().min(),
            };
            let message = match wake {
                Some(at) => match rx.recv_timeout(at.saturating_duration_since(Instant::now())) {
                    Ok(m) => Some(m),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => return,
                },
                None => match rx.recv() {
                    Ok(m) => Some(m),
                    Err(_) => return,
                },
            };
            match message {
                None => {}
                Some(Message::Stop) => return,
                Some(Message::Changed) if self.options.watch => {
                    self.look_at = Some(Instant::now() + self.options.debounce);
                }
                Some(Message::Changed) => {}
                Some(Message::Reload { reply }) => {
                    self.force_pending = true;
                    self.waiters.extend(reply);
                }
                Some(Message::Finished { id, result }) => self.finished(id, result),
            }
            self.check_time_limit();
        }
    }

    /// Starts the next attempt when one is due and none is running.
    fn start_due_work(&mut self) {
        if self.in_flight.is_some() {
            return;
        }
        let now = Instant::now();
        let force = self.force_pending;
        let look = self.look_at.is_some_and(|t| t <= now);
        let poll = self.look_at.is_none() && self.next_poll.is_some_and(|t| t <= now);
        if !(force || look || poll) {
            return;
        }
        if self.abandoned.len() > MAX_ABANDONED {
            // Never more than two reload threads: the one running and one abandoned. Wait for
            // an abandoned one to end (it reports when it does); whoever waits for an outcome
            // is told now.
            if !self.told_waiting_for_abandoned {
                self.told_waiting_for_abandoned = true;
                tracing::warn!(
                    target: "corsgate::watch",
                    path = %self.shared.label,
                    "reloads abandoned at their time limit are still running; the next reload waits for one to end"
                );
            }
            let outcome = ReloadOutcome::TimedOut {
                generation: self.shared.cors.generation(),
                limit: self.options.reload_timeout,
            };
            for waiter in self.waiters.drain(..) {
                let _ = waiter.send(outcome.clone());
            }
            return;
        }
        if look {
            self.look_at = None;
        }
        if poll || look {
            self.next_poll = self.options.watch.then(|| now + self.options.poll_interval);
        }
        if force {
            self.force_pending = false;
        }
        self.start(force);
    }

    fn start(&mut self, force: bool) {
        self.next_id += 1;
        let id = self.next_id;
        let gate = Arc::new(Gate(AtomicU8::new(GATE_OPEN)));
        let job = Job {
            force,
            last: self.last.clone(),
            settling: self.settling.clone(),
        };
        let waiters = if force {
            std::mem::take(&mut self.waiters)
        } else {
            Vec::new()
        };
        if self.worker.is_none() {
            match ReloadWorker::spawn(self.shared.clone(), self.tx.clone()) {
                Ok(worker) => self.worker = Some(worker),
                Err(e) => {
                    let outcome = ReloadOutcome::Unreadable {
                        generation: self.shared.cors.generation(),
                        error: format!("cannot start a reload thread: {e}"),
                    };
                    self.report(&outcome, force);
                    for waiter in waiters {
                        let _ = waiter.send(outcome.clone());
                    }
                    return;
                }
            }
        }
        if let Some(worker) = &self.worker {
            // The worker ends only once its sender is dropped, so this send cannot fail.
            let _ = worker.jobs.send((id, job, gate.clone()));
        }
        self.in_flight = Some(InFlight {
            id,
            force,
            deadline: Instant::now() + self.options.reload_timeout,
            gate,
            waiters,
        });
    }

    /// Abandons the running attempt if it passed its time limit without committing.
    fn check_time_limit(&mut self) {
        let Some(flight) = &self.in_flight else {
            return;
        };
        if Instant::now() < flight.deadline {
            return;
        }
        if !flight.gate.try_move(GATE_ABANDONED) {
            // It is swapping in its result right now and reports at once: wait for that.
            if let Some(flight) = &mut self.in_flight {
                flight.deadline = Instant::now() + Duration::from_secs(3600);
            }
            return;
        }
        let Some(flight) = self.in_flight.take() else {
            return;
        };
        // Its thread is busy for as long as the attempt takes: the next reload gets a new one,
        // and this one ends after the abandoned attempt (its job queue is closed).
        self.worker = None;
        self.abandoned.push(flight.id);
        self.told_waiting_for_abandoned = false;
        let outcome = ReloadOutcome::TimedOut {
            generation: self.shared.cors.generation(),
            limit: self.options.reload_timeout,
        };
        self.report(&outcome, flight.force);
        // A check that timed out was loading the bytes it had seen settle: count them as acted
        // on, so that the poll does not compile the same slow file again and again (a change
        // to the file, or SIGHUP, tries again). A forced reload read whatever was there: look
        // again from scratch.
        self.last = if flight.force {
            None
        } else {
            self.settling.take()
        };
        self.settling = None;
        for waiter in flight.waiters {
            let _ = waiter.send(outcome.clone());
        }
    }

    fn finished(&mut self, id: u64, result: AttemptResult) {
        if let Some(i) = self.abandoned.iter().position(|&a| a == id) {
            self.abandoned.swap_remove(i);
            tracing::info!(
                target: "corsgate::watch",
                path = %self.shared.label,
                "the reload abandoned at its time limit has ended; its result was discarded"
            );
            return;
        }
        let Some(flight) = self.in_flight.take_if(|f| f.id == id) else {
            return;
        };
        let outcome = match result {
            AttemptResult::Same => {
                self.settling = None;
                return;
            }
            AttemptResult::Settling(bytes) => {
                self.settling = Some(bytes);
                if self.look_at.is_none() {
                    self.look_at = Some(Instant::now() + self.options.debounce);
                }
                return;
            }
            AttemptResult::Done { bytes, outcome } => {
                self.settling = None;
                self.last = bytes;
                outcome
            }
        };
        self.report(&outcome, flight.force);
        for waiter in flight.waiters {
            let _ = waiter.send(outcome.clone());
        }
    }

    /// Logs an outcome and records the file's status.
    fn report(&self, outcome: &ReloadOutcome, forced: bool) {
        let status = outcome.file_status();
        let previous =
            FileStatus::from_u8(self.shared.status.swap(status.to_u8(), Ordering::Relaxed));
        let path = &self.shared.label;
        let label = outcome.label();
        match outcome {
            ReloadOutcome::Reloaded { generation } => tracing::info!(
                target: "corsgate::watch",
                generation, path = %path, outcome = label,
                "policy reloaded: generation {generation} serving"
            ),
            ReloadOutcome::Unchanged { generation } => {
                if forced {
                    tracing::info!(
                        target: "corsgate::watch",
                        generation, path = %path, outcome = label,
                        "policy file re-read: unchanged, generation {generation} keeps serving"
                    );
                } else {
                    tracing::debug!(
                        target: "corsgate::watch",
                        generation, path = %path, outcome = label,
                        "policy file matches the serving policy (generation {generation})"
                    );
                }
            }
            ReloadOutcome::Failed { generation, error } => tracing::error!(
                target: "corsgate::watch",
                generation, path = %path, outcome = label,
                "policy reload failed; generation {generation} keeps serving:\n{error}"
            ),
            ReloadOutcome::Unreadable { generation, error } => {
                // Once per spell of unreadability (the poll keeps finding it), or when asked.
                if forced || previous != FileStatus::Unreadable {
                    tracing::warn!(
                        target: "corsgate::watch",
                        generation, path = %path, outcome = label,
                        "policy file unreadable ({error}); generation {generation} keeps serving"
                    );
                }
            }
            ReloadOutcome::TimedOut { generation, limit } => tracing::error!(
                target: "corsgate::watch",
                generation, path = %path, outcome = label,
                "policy reload timed out after {limit:?} and was abandoned (its result will be discarded); generation {generation} keeps serving"
            ),
            ReloadOutcome::Panicked {
                generation,
                message,
            } => tracing::error!(
                target: "corsgate::watch",
                generation, path = %path, outcome = label,
                "policy reload panicked ({message}); generation {generation} keeps serving"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CorsRequest, Policy};
    use std::sync::atomic::AtomicUsize;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("corsgate-watch-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn allows(origin: &str) -> String {
        format!("origins = [\"{origin}\"]\n")
    }

    fn is_allowed(cors: &Cors, origin: &str) -> bool {
        cors.decide(&CorsRequest::new(b"GET").origin(origin.as_bytes()))
            .is_allowed()
    }

    fn watcher(
        cors: &Arc<Cors>,
        path: &Path,
        options: WatchOptions,
        hook: Option<fn(&[u8])>,
    ) -> PolicyWatcher {
        PolicyWatcher::start(
            Shared {
                cors: cors.clone(),
                label: path.display().to_string(),
                path: path.to_path_buf(),
                environment: None,
                status: AtomicU8::new(FileStatus::Loaded.to_u8()),
                hook,
            },
            options,
        )
        .unwrap()
    }

    fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    const NO_WATCH: WatchOptions = WatchOptions {
        debounce: Duration::from_millis(20),
        poll_interval: Duration::from_secs(1),
        reload_timeout: Duration::from_secs(10),
        watch: false,
    };

    #[test]
    fn a_change_before_spawn_is_picked_up() {
        // The library's pattern: load, compile, then spawn. The file changes in between.
        let dir = scratch("startup");
        let path = dir.join("policy.toml");
        std::fs::write(&path, allows("https://one.example")).unwrap();
        let cors = Arc::new(Cors::new(crate::file::load_policy(&path, None).unwrap()));
        std::fs::write(&path, allows("https://two.example")).unwrap();
        let _w = watcher(&cors, &path, WatchOptions::default(), None);
        wait_until("generation 2", || cors.generation() == 2);
        assert!(is_allowed(&cors, "https://two.example"));
    }

    #[test]
    fn an_unchanged_file_at_spawn_changes_nothing() {
        let dir = scratch("unchanged");
        let path = dir.join("policy.toml");
        std::fs::write(&path, allows("https://one.example")).unwrap();
        let cors = Arc::new(Cors::new(crate::file::load_policy(&path, None).unwrap()));
        let w = watcher(&cors, &path, WatchOptions::default(), None);
        std::thread::sleep(Duration::from_millis(400));
        assert_eq!(cors.generation(), 1);
        assert_eq!(w.file_status(), FileStatus::Loaded);
    }

    #[test]
    fn a_panic_is_contained_and_the_old_generation_serves() {
        fn panic_on_marker(bytes: &[u8]) {
            if bytes.windows(5).any(|w| w == b"PANIC") {
                panic!("injected reload panic");
            }
        }
        let dir = scratch("panic");
        let path = dir.join("policy.toml");
        let cors = Arc::new(Cors::new(Policy::new(["https://one.example"]).unwrap()));
        std::fs::write(&path, format!("# PANIC\n{}", allows("https://two.example"))).unwrap();
        let w = watcher(&cors, &path, NO_WATCH, Some(panic_on_marker));
        let outcome = w.reload_now();
        assert!(
            matches!(&outcome, ReloadOutcome::Panicked { generation: 1, message } if message.contains("injected")),
            "{outcome:?}"
        );
        assert_eq!(outcome.label(), "error");
        assert_eq!(w.file_status(), FileStatus::Panicked);
        assert!(is_allowed(&cors, "https://one.example"));
        std::fs::write(&path, allows("https://two.example")).unwrap();
        assert!(matches!(
            w.reload_now(),
            ReloadOutcome::Reloaded { generation: 2 }
        ));
        assert!(is_allowed(&cors, "https://two.example"));
    }

    #[test]
    fn a_reload_past_its_time_limit_is_abandoned_and_discarded() {
        fn slow_on_marker(bytes: &[u8]) {
            if bytes.windows(4).any(|w| w == b"SLOW") {
                std::thread::sleep(Duration::from_millis(800));
            }
        }
        let dir = scratch("timeout");
        let path = dir.join("policy.toml");
        let cors = Arc::new(Cors::new(Policy::new(["https://one.example"]).unwrap()));
        std::fs::write(&path, format!("# SLOW\n{}", allows("https://two.example"))).unwrap();
        let options = WatchOptions {
            reload_timeout: Duration::from_millis(100),
            ..NO_WATCH
        };
        let w = watcher(&cors, &path, options, Some(slow_on_marker));
        let started = Instant::now();
        let outcome = w.reload_now();
        assert!(
            matches!(outcome, ReloadOutcome::TimedOut { generation: 1, .. }),
            "{outcome:?}"
        );
        assert_eq!(outcome.label(), "timeout");
        assert!(
            started.elapsed() < Duration::from_millis(700),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(w.file_status(), FileStatus::TimedOut);
        // A good file loads while the abandoned reload still runs.
        std::fs::write(&path, allows("https://three.example")).unwrap();
        assert!(matches!(
            w.reload_now(),
            ReloadOutcome::Reloaded { generation: 2 }
        ));
        // The abandoned one finishes later; its policy never serves.
        std::thread::sleep(Duration::from_millis(1000));
        assert_eq!(cors.generation(), 2);
        assert!(is_allowed(&cors, "https://three.example"));
        assert!(!is_allowed(&cors, "https://two.example"));
    }

    static SLOW_COMPILES: AtomicUsize = AtomicUsize::new(0);

    #[test]
    fn a_file_that_timed_out_is_not_compiled_again_until_it_changes() {
        fn slow_and_counted(bytes: &[u8]) {
            if bytes.windows(4).any(|w| w == b"SLOW") {
                SLOW_COMPILES.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(300));
            }
        }
        let dir = scratch("timeout-once");
        let path = dir.join("policy.toml");
        let cors = Arc::new(Cors::new(Policy::new(["https://one.example"]).unwrap()));
        std::fs::write(&path, format!("# SLOW\n{}", allows("https://two.example"))).unwrap();
        let options = WatchOptions {
            debounce: Duration::from_millis(20),
            poll_interval: Duration::from_millis(50),
            reload_timeout: Duration::from_millis(100),
            watch: true,
        };
        let w = watcher(&cors, &path, options, Some(slow_and_counted));
        wait_until("a timeout", || w.file_status() == FileStatus::TimedOut);
        // Many polls later, still one compile of those bytes.
        std::thread::sleep(Duration::from_millis(1500));
        let reads = SLOW_COMPILES.load(Ordering::SeqCst);
        assert_eq!(reads, 1, "slow compiles");
        assert_eq!(cors.generation(), 1);
        std::fs::write(&path, allows("https://three.example")).unwrap();
        wait_until("generation 2", || cors.generation() == 2);
        assert!(is_allowed(&cors, "https://three.example"));
    }

    static ATTEMPTS: AtomicUsize = AtomicUsize::new(0);

    #[test]
    fn requests_during_a_reload_coalesce_into_one_more() {
        fn slow_and_counted(_: &[u8]) {
            ATTEMPTS.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(300));
        }
        let dir = scratch("coalesce");
        let path = dir.join("policy.toml");
        std::fs::write(&path, allows("https://one.example")).unwrap();
        let cors = Arc::new(Cors::new(Policy::new(["https://one.example"]).unwrap()));
        let w = watcher(&cors, &path, NO_WATCH, Some(slow_and_counted));
        for _ in 0..10 {
            w.request_reload();
        }
        // The first runs; the nine others and the blocking one join a single follow-up.
        let outcome = w.reload_now();
        assert!(
            matches!(outcome, ReloadOutcome::Unchanged { generation: 1 }),
            "{outcome:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(ATTEMPTS.load(Ordering::SeqCst), 2, "attempts");
    }

    #[test]
    fn without_watching_nothing_reloads_on_its_own() {
        let dir = scratch("nowatch");
        let path = dir.join("policy.toml");
        std::fs::write(&path, allows("https://one.example")).unwrap();
        let cors = Arc::new(Cors::new(Policy::new(["https://one.example"]).unwrap()));
        let w = watcher(&cors, &path, NO_WATCH, None);
        assert!(w._watcher.is_none(), "no watch handle without watching");
        std::fs::write(&path, allows("https://two.example")).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(cors.generation(), 1);
        assert!(matches!(
            w.reload_now(),
            ReloadOutcome::Reloaded { generation: 2 }
        ));
    }
}
