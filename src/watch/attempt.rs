//! One reload attempt, on its own thread: read the file, wait for it to settle, parse,
//! validate, compile and swap, unless the watcher abandoned it at its time limit first.

use super::*;

/// Decides, once, whether a reload's result may still be swapped in: the reload thread asks
/// to commit just before swapping, the watcher asks to abandon when the time limit passes;
/// whichever comes first wins.
pub(super) struct Gate(pub(super) AtomicU8);

pub(super) const GATE_OPEN: u8 = 0;
pub(super) const GATE_COMMITTED: u8 = 1;
pub(super) const GATE_ABANDONED: u8 = 2;

impl Gate {
    pub(super) fn try_move(&self, to: u8) -> bool {
        self.0
            .compare_exchange(GATE_OPEN, to, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

pub(super) struct Job {
    pub(super) force: bool,
    /// The bytes last acted on.
    pub(super) last: Option<Arc<[u8]>>,
    /// Bytes seen changed at the previous look, waiting to be seen again unchanged.
    pub(super) settling: Option<Arc<[u8]>>,
}

pub(super) enum AttemptResult {
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
pub(super) const MAX_ABANDONED: usize = 1;

/// The main thread's stack on Linux, so a file that loads at start loads on reload too.
pub(super) const RELOAD_STACK_BYTES: usize = 8 << 20;

pub(super) fn attempt(shared: &Shared, job: Job, gate: &Gate) -> AttemptResult {
    let generation = shared.cors.generation();
    let policy = match read_regular_file(&shared.path, MAX_POLICY_FILE_BYTES) {
        Ok(bytes) => bytes,
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
    // What is compared between looks: the policy file, then each origins file it names (or
    // why it cannot be read), so that a change to any of them is a change to the set.
    let policy_len = policy.len();
    let mut seen = policy;
    for path in shared.origins_files() {
        seen.extend_from_slice(b"\0origins_file\0");
        match read_regular_file(&path, MAX_POLICY_FILE_BYTES) {
            Ok(bytes) => seen.extend_from_slice(&bytes),
            Err(e) => seen.extend_from_slice(format!("\0unreadable: {e}").as_bytes()),
        }
    }
    let bytes: Arc<[u8]> = seen.into();
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
        hook(&bytes[..policy_len]);
    }
    let parsed = policy_text(bytes[..policy_len].to_vec(), &shared.label)
        .and_then(|text| PolicyFile::parse(&text, &shared.label, Format::from_path(&shared.path)))
        .and_then(|file| {
            shared.set_origins_files(&file);
            file.policy_set(shared.environment.as_deref())
        });
    let outcome = match parsed {
        Err(error) => ReloadOutcome::Failed { generation, error },
        Ok(set) => match shared.cors.reload_if(set, || gate.try_move(GATE_COMMITTED)) {
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

pub(super) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}
