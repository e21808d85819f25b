//! [`PolicyWatcher`] (feature `watch`): reload a [`Cors`] handle when its policy file changes.
//!
//! The watcher follows how files really change in deployments:
//! - **editors' atomic renames** (write `policy.toml.tmp`, rename over `policy.toml`) and
//!   **deletes followed by re-creation**: it watches the file's directory, not the file's inode;
//! - **Kubernetes ConfigMap volumes** (`policy.toml -> ..data/policy.toml`, with `..data`
//!   switched to a new timestamped directory): the symlink swap is an event in the same
//!   directory, and the file is read through its links every time;
//! - filesystems whose change notifications are unreliable: the file is also polled (every second
//!   by default).
//!
//! Events are debounced (100 ms of quiet, at most 500 ms after the first event, by default),
//! and a reload happens only when the file's bytes changed. A file that fails to parse or validate is logged with every problem, and the
//! generation already serving keeps serving. Every reload is logged through `tracing` with its
//! generation number and outcome.
//!
//! # Example
//! ```no_run
//! use std::sync::Arc;
//! use corsgate::{file::load_policy, watch::PolicyWatcher, Cors};
//!
//! let cors = Arc::new(Cors::new(load_policy("policy.toml", None)?));
//! let watcher = PolicyWatcher::spawn(cors.clone(), "policy.toml", None)?;
//! // … serve with `cors`; on SIGHUP: watcher.reload_now();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use notify::{RecommendedWatcher, RecursiveMode, Watcher};

use crate::engine::Cors;
use crate::error::PolicyError;
use crate::file::{Format, PolicyFile};

/// Timing of a [`PolicyWatcher`].
#[derive(Clone, Copy, Debug)]
pub struct WatchOptions {
    /// Quiet time after the last change event before the file is read.
    pub debounce: Duration,
    /// The longest a change waits for quiet: a file rewritten continuously is still read at
    /// least this often.
    pub max_delay: Duration,
    /// How often the file is read anyway, in case a change notification was missed.
    pub poll_interval: Duration,
    /// `false`: no watching and no polling; reload only through
    /// [`PolicyWatcher::reload_now`] (as `corsgate serve --no-watch` does on SIGHUP).
    pub watch: bool,
}

impl Default for WatchOptions {
    fn default() -> WatchOptions {
        WatchOptions {
            debounce: Duration::from_millis(100),
            max_delay: Duration::from_millis(500),
            poll_interval: Duration::from_secs(1),
            watch: true,
        }
    }
}

/// What a reload attempt did.
#[derive(Clone, Debug)]
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
    /// The file could not be read (deleted, not yet re-created); the previous generation
    /// keeps serving.
    Unreadable {
        /// The generation still serving.
        generation: u64,
        /// Why.
        error: String,
    },
}

struct State {
    cors: Arc<Cors>,
    path: PathBuf,
    environment: Option<String>,
    /// The bytes last acted on, so that unchanged files cost nothing and a broken file is
    /// reported once.
    last: Option<Vec<u8>>,
}

impl State {
    fn check(&mut self, force: bool) -> Option<ReloadOutcome> {
        let generation = self.cors.generation();
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) => {
                let first = self.last.take().is_some() || force;
                let error = e.to_string();
                if first {
                    tracing::warn!(
                        target: "corsgate::watch",
                        generation,
                        path = %self.path.display(),
                        "policy file unreadable ({error}); generation {generation} keeps serving"
                    );
                }
                return Some(ReloadOutcome::Unreadable { generation, error });
            }
        };
        if !force && self.last.as_deref() == Some(&bytes[..]) {
            return None;
        }
        self.last = Some(bytes.clone());
        let label = self.path.display().to_string();
        let text = String::from_utf8_lossy(&bytes);
        let parsed = PolicyFile::parse(&text, &label, Format::from_path(&self.path))
            .and_then(|file| file.policy(self.environment.as_deref()));
        let outcome = match parsed {
            Ok(policy) => {
                let reloaded = self.cors.reload(policy);
                if reloaded.changed() {
                    tracing::info!(
                        target: "corsgate::watch",
                        generation = reloaded.generation(),
                        path = %label,
                        "policy reloaded: generation {} serving",
                        reloaded.generation()
                    );
                    ReloadOutcome::Reloaded {
                        generation: reloaded.generation(),
                    }
                } else {
                    tracing::info!(
                        target: "corsgate::watch",
                        generation,
                        path = %label,
                        "policy file re-read: unchanged, generation {generation} keeps serving"
                    );
                    ReloadOutcome::Unchanged { generation }
                }
            }
            Err(error) => {
                tracing::error!(
                    target: "corsgate::watch",
                    generation,
                    path = %label,
                    "policy reload failed; generation {generation} keeps serving:\n{error}"
                );
                ReloadOutcome::Failed { generation, error }
            }
        };
        Some(outcome)
    }
}

/// Watches a policy file and reloads a [`Cors`] handle when it changes. Stops when dropped.
pub struct PolicyWatcher {
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    wake: mpsc::Sender<Option<notify::Result<notify::Event>>>,
    thread: Option<JoinHandle<()>>,
    _watcher: RecommendedWatcher,
}

impl std::fmt::Debug for PolicyWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyWatcher").finish_non_exhaustive()
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

    /// Watches `path` with the given timing.
    pub fn with_options(
        cors: Arc<Cors>,
        path: impl Into<PathBuf>,
        environment: Option<String>,
        options: WatchOptions,
    ) -> notify::Result<PolicyWatcher> {
        let path = path.into();
        let last = std::fs::read(&path).ok();
        let state = Arc::new(Mutex::new(State {
            cors,
            path: path.clone(),
            environment,
            last,
        }));
        let (tx, rx) = mpsc::channel::<Option<notify::Result<notify::Event>>>();
        let events = tx.clone();
        let mut watcher = notify::recommended_watcher(move |event| {
            let _ = events.send(Some(event));
        })?;
        if options.watch {
            for dir in directories_to_watch(&path) {
                watcher.watch(&dir, RecursiveMode::NonRecursive)?;
            }
        }
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (state, stop) = (state.clone(), stop.clone());
            std::thread::Builder::new()
                .name("corsgate-watch".into())
                .spawn(move || run(state, stop, rx, options))
                .map_err(notify::Error::io)?
        };
        Ok(PolicyWatcher {
            state,
            stop,
            wake: tx,
            thread: Some(thread),
            _watcher: watcher,
        })
    }

    /// Re-reads the file now and reloads it even if its bytes did not change (SIGHUP).
    pub fn reload_now(&self) -> ReloadOutcome {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state
            .check(true)
            .unwrap_or_else(|| ReloadOutcome::Unchanged {
                generation: state.cors.generation(),
            })
    }
}

impl Drop for PolicyWatcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.wake.send(None);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
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

fn run(
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    rx: mpsc::Receiver<Option<notify::Result<notify::Event>>>,
    options: WatchOptions,
) {
    if !options.watch {
        // Nothing to do until asked to stop.
        while !matches!(rx.recv(), Ok(None) | Err(_)) {}
        return;
    }
    let mut next_poll = Instant::now() + options.poll_interval;
    while !stop.load(Ordering::Relaxed) {
        let timeout = next_poll.saturating_duration_since(Instant::now());
        match rx.recv_timeout(timeout) {
            Ok(None) | Err(RecvTimeoutError::Disconnected) => {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
            }
            Ok(Some(_event)) => {
                // Debounce: wait until the directory has been quiet for a while, but never
                // longer than `max_delay` in all.
                let deadline = Instant::now() + options.max_delay;
                loop {
                    let quiet = options
                        .debounce
                        .min(deadline.saturating_duration_since(Instant::now()));
                    if quiet.is_zero() {
                        break;
                    }
                    match rx.recv_timeout(quiet) {
                        Ok(Some(_)) => continue,
                        Ok(None) => return,
                        Err(RecvTimeoutError::Timeout) => break,
                        Err(RecvTimeoutError::Disconnected) => return,
                    }
                }
                let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
                state.check(false);
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
        if Instant::now() >= next_poll {
            let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
            state.check(false);
            next_poll = Instant::now() + options.poll_interval;
        }
    }
}
