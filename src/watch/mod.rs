//! [`PolicyWatcher`] (feature `watch`): reload a [`Cors`] handle when its policy file changes,
//! or when asked to (SIGHUP), without ever blocking the caller or serving a half-written file.
//!
//! The watcher follows how files really change in deployments:
//! - **editors' atomic renames** (write `policy.toml.tmp`, rename over `policy.toml`) and
//!   **deletes followed by re-creation**: it watches the file's directory, not the file's inode;
//! - **Kubernetes ConfigMap volumes** (`policy.toml -> ..data/policy.toml`, with `..data`
//!   switched to a new timestamped directory): the symlink swap is an event in the same
//!   directory, and the file is read through its links every time;
//! - **`origins_file`s** (design §8): the directories of the origins files the policy file
//!   names are watched too, and every look reads them beside the policy file: a change to
//!   any of them (a rename over it, a ConfigMap swap) reloads the whole set, through the same
//!   two-identical-reads debounce. A file named only after spawn is read at every look and
//!   poll, though its directory is not watched until the watcher is restarted;
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
//! use std::sync::{Arc, Mutex};
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
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use notify::{RecommendedWatcher, RecursiveMode, Watcher};

use crate::engine::Cors;
use crate::error::PolicyError;
use crate::file::read::{io_error, policy_text};
use crate::file::{read_regular_file, Format, PolicyFile, MAX_POLICY_FILE_BYTES};

mod attempt;
mod control;
#[cfg(test)]
mod tests;

use attempt::*;
use control::*;

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
    /// The `origins_file`s the last parsed policy file names: read beside it at every look,
    /// so that a change to one reloads the set. (Only the watcher's threads take the lock.)
    origins_files: Mutex<Vec<PathBuf>>,
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
                origins_files: Mutex::new(Vec::new()),
                #[cfg(test)]
                hook: None,
            },
            options,
        )
    }

    fn start(shared: Shared, options: WatchOptions) -> notify::Result<PolicyWatcher> {
        // The origins files named now are watched from the start; one named later is read at
        // every look (and at every poll) once the file naming it has loaded.
        if let Ok(file) = PolicyFile::load(&shared.path) {
            shared.set_origins_files(&file);
        }
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
    let mut dirs = directories_to_watch(&shared.path);
    for file in shared.origins_files() {
        for dir in directories_to_watch(&file) {
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
    }
    for dir in dirs {
        if let Err(e) = watcher.watch(&dir, RecursiveMode::NonRecursive) {
            fallback(&dir.display().to_string(), &e);
        }
    }
    Some(watcher)
}

impl Shared {
    fn origins_files(&self) -> Vec<PathBuf> {
        self.origins_files
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn set_origins_files(&self, file: &PolicyFile) {
        let files: Vec<PathBuf> = file.source_files().into_iter().skip(1).collect();
        *self.origins_files.lock().unwrap_or_else(|p| p.into_inner()) = files;
    }
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
