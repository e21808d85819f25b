//! The watcher's thread: file events, polling, reload requests and the reload thread it
//! keeps, with every attempt bounded in time.

use super::*;
use crate::metrics::ReloadResult;

pub(super) struct InFlight {
    pub(super) id: u64,
    pub(super) force: bool,
    pub(super) deadline: Instant,
    pub(super) gate: Arc<Gate>,
    pub(super) waiters: Vec<mpsc::Sender<ReloadOutcome>>,
}

/// A reload thread: runs one attempt at a time, for as long as the watcher keeps it.
pub(super) struct ReloadWorker {
    pub(super) jobs: mpsc::Sender<(u64, Job, Arc<Gate>)>,
}

impl ReloadWorker {
    pub(super) fn spawn(
        shared: Arc<Shared>,
        report: mpsc::Sender<Message>,
    ) -> std::io::Result<ReloadWorker> {
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

pub(super) struct Control {
    pub(super) shared: Arc<Shared>,
    pub(super) worker: Option<ReloadWorker>,
    pub(super) options: WatchOptions,
    /// Where reload threads report.
    pub(super) tx: mpsc::Sender<Message>,
    pub(super) last: Option<Arc<[u8]>>,
    pub(super) settling: Option<Arc<[u8]>>,
    /// When to look at the file again because it changed (events, or a changed read).
    pub(super) look_at: Option<Instant>,
    pub(super) next_poll: Option<Instant>,
    pub(super) in_flight: Option<InFlight>,
    /// Reloads abandoned at their time limit whose threads are still running.
    pub(super) abandoned: Vec<u64>,
    pub(super) next_id: u64,
    pub(super) force_pending: bool,
    pub(super) waiters: Vec<mpsc::Sender<ReloadOutcome>>,
    pub(super) told_waiting_for_abandoned: bool,
}

impl Control {
    pub(super) fn new(
        shared: Arc<Shared>,
        options: WatchOptions,
        tx: mpsc::Sender<Message>,
    ) -> Control {
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

    pub(super) fn run(mut self, rx: mpsc::Receiver<Message>) {
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
    pub(super) fn start_due_work(&mut self) {
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

    pub(super) fn start(&mut self, force: bool) {
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
    pub(super) fn check_time_limit(&mut self) {
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

    pub(super) fn finished(&mut self, id: u64, result: AttemptResult) {
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
    pub(super) fn report(&self, outcome: &ReloadOutcome, forced: bool) {
        let status = outcome.file_status();
        let previous =
            FileStatus::from_u8(self.shared.status.swap(status.to_u8(), Ordering::Relaxed));
        let path = &self.shared.label;
        let label = outcome.label();
        // Counted as logged: an unreadable file once per spell of unreadability (the poll
        // keeps finding it), or when a reload was asked for.
        let result = match outcome {
            ReloadOutcome::Reloaded { .. } | ReloadOutcome::Unchanged { .. } => {
                Some(ReloadResult::Ok)
            }
            ReloadOutcome::Failed { .. } => Some(ReloadResult::Invalid),
            ReloadOutcome::Unreadable { .. } => {
                (forced || previous != FileStatus::Unreadable).then_some(ReloadResult::Error)
            }
            ReloadOutcome::Panicked { .. } => Some(ReloadResult::Error),
            ReloadOutcome::TimedOut { .. } => Some(ReloadResult::Timeout),
        };
        if let Some(result) = result {
            self.shared.cors.record_reload(result);
        }
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
