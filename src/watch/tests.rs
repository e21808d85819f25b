use super::*;
use crate::{CorsRequest, Policy};
use std::sync::atomic::AtomicUsize;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("corsgate-watch-{}-{name}", std::process::id()));
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
            origins_files: std::sync::Mutex::new(Vec::new()),
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

/// An origins_file is part of the set: replacing it (a rename over it, as editors and
/// ConfigMap updates do) reloads the set; a broken one keeps the old generation serving.
#[test]
fn an_origins_file_change_reloads_the_set_and_a_broken_one_keeps_the_old() {
    let dir = scratch("origins-file");
    let path = dir.join("policy.toml");
    let tenants = dir.join("tenants.txt");
    std::fs::write(&tenants, "https://one.example\n").unwrap();
    std::fs::write(
        &path,
        "origins_file = \"tenants.txt\"\n[policies.t]\norigins = [\"https://t.example\"]\n\
         [[routes]]\nhosts = [\"t.example.com\"]\npolicy = \"t\"\n",
    )
    .unwrap();
    let set = crate::file::load_policy_set(&path, None).unwrap();
    let cors = Arc::new(Cors::with_set(set));
    let options = WatchOptions::default().with_debounce(Duration::from_millis(20));
    let w = watcher(&cors, &path, options, None);
    assert!(is_allowed(&cors, "https://one.example"));
    let replace = |text: &str| {
        let tmp = dir.join("tenants.txt.tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, &tenants).unwrap();
    };
    replace("https://one.example\nhttps://two.example # new tenant\n");
    wait_until("the new tenant", || {
        is_allowed(&cors, "https://two.example")
    });
    let generation = cors.generation();
    assert!(generation >= 2);
    // A path is not an origin: the file is invalid, the old set keeps serving.
    replace("https://three.example/app\n");
    wait_until("the failed reload", || {
        w.file_status() == FileStatus::Invalid
    });
    assert_eq!(cors.generation(), generation);
    assert!(is_allowed(&cors, "https://two.example"));
    let outcome = w.reload_now();
    assert!(
        matches!(&outcome, ReloadOutcome::Failed { error, .. }
            if error.to_string().contains("tenants.txt:1:1")),
        "{outcome:?}"
    );
    replace("https://three.example\n");
    wait_until("the fixed file", || {
        is_allowed(&cors, "https://three.example")
    });
    assert!(!is_allowed(&cors, "https://two.example"));
}
