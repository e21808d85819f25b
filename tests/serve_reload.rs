//! `corsgate serve` against careless config writers: a slow policy reloaded on SIGHUP while
//! requests keep being answered (and its reload abandoned at the time limit), a FIFO, a deeply
//! nested JSON file and policies that leak credentialed responses swapped in for the policy, a
//! policy file rewritten in place in steps, a change that lands while the first policy compiles,
//! a deleted file reported by `/healthz`, and a machine whose inotify instances are used up.
//! Every wait is bounded.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http::Method;
use support::gateway::Gateway;
use support::http_client::send;

fn scratch() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "corsgate-serve-reload-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn allows(origin: &str) -> String {
    format!("origins = [\"{origin}\"]\n")
}

/// A valid policy that takes seconds to parse, validate and compile in a test build: 200,000
/// exact origins (6 MB, under the 16 MiB cap).
fn slow_policy() -> String {
    let mut text = String::with_capacity(7 << 20);
    text.push_str("origins = [\"https://slow.example\"");
    for i in 0..200_000 {
        text.push_str(&format!(", \"https://a{i}.example.com\""));
    }
    text.push_str("]\n");
    text
}

/// Replaces `path` atomically with `text`.
fn replace(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

async fn allowed(gw: &Gateway, origin: &str) -> bool {
    let (_, headers, _) = send(&gw.url("/api/users"), Method::GET, &[("origin", origin)]).await;
    headers
        .get("access-control-allow-origin")
        .is_some_and(|v| v.as_bytes() == origin.as_bytes())
}

async fn health(gw: &Gateway) -> serde_json::Value {
    let (_, _, body) = send(&gw.url("/healthz"), Method::GET, &[]).await;
    serde_json::from_str(&body).unwrap()
}

/// Waits (up to 10 s) until `/healthz` says `status` (`ok`), or `degraded` with this
/// `policy_file`.
async fn wait_for_health(gw: &Gateway, status: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let h = health(gw).await;
        if h["status"] == status || h["policy_file"] == status {
            return h;
        }
        assert!(
            Instant::now() < deadline,
            "health stuck at {h}:\n{}",
            gw.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One request on a new connection, which must be answered within `limit`.
async fn answered_within(gw: &Gateway, limit: Duration) {
    let url = gw.url("/api/users");
    let answered = tokio::time::timeout(
        limit,
        send(&url, Method::GET, &[("origin", "https://one.example")]),
    )
    .await;
    assert!(
        answered.is_ok(),
        "a request waited over {limit:?}:\n{}",
        gw.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_with_a_slow_policy_keeps_serving_and_the_reload_times_out() {
    let dir = scratch();
    let policy = dir.join("policy.toml");
    std::fs::write(&policy, allows("https://one.example")).unwrap();
    let gw = Gateway::start(&policy, &["--no-watch", "--reload-timeout", "0.5"]);
    replace(&policy, &slow_policy());
    gw.signal("HUP");
    // New connections are accepted and answered while the reload runs, and after it is
    // abandoned.
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(1500) {
        answered_within(&gw, Duration::from_millis(1500)).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    gw.wait_for_log("timed out").await;
    assert!(gw.log().contains("outcome=\"timeout\""), "{}", gw.log());
    assert_eq!(
        gw.generation().await,
        1,
        "an abandoned reload's result is discarded"
    );
    assert!(allowed(&gw, "https://one.example").await);

    // A good file loads at once, even while the abandoned reload may still be running.
    replace(&policy, &allows("https://two.example"));
    gw.signal("HUP");
    gw.wait_for_generation(2).await;
    assert!(allowed(&gw, "https://two.example").await);
    // The abandoned one ends on its own, and changes nothing.
    gw.wait_for_log("its result was discarded").await;
    assert_eq!(gw.generation().await, 2);
    assert!(allowed(&gw, "https://two.example").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifo_swapped_in_is_refused_and_later_files_still_load() {
    let dir = scratch();
    let policy = dir.join("policy.toml");
    std::fs::write(&policy, allows("https://one.example")).unwrap();
    let mut gw = Gateway::start(&policy, &[]);
    let fifo = dir.join("fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    std::fs::rename(&fifo, &policy).unwrap();
    gw.wait_for_log("not a regular file (a FIFO)").await;
    let h = wait_for_health(&gw, "unreadable").await;
    assert_eq!(h["generation"], 1);
    assert!(allowed(&gw, "https://one.example").await);
    // SIGHUP reads it again, without blocking anything.
    gw.signal("HUP");
    answered_within(&gw, Duration::from_secs(2)).await;
    assert!(allowed(&gw, "https://one.example").await);

    // A good file renamed over it loads.
    replace(&policy, &allows("https://two.example"));
    gw.wait_for_generation(2).await;
    assert!(allowed(&gw, "https://two.example").await);
    assert_eq!(wait_for_health(&gw, "ok").await["generation"], 2);

    // And SIGTERM still stops it.
    gw.signal("TERM");
    let status = gw.wait_for_exit(Duration::from_secs(10));
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?}\n{}",
        gw.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deeply_nested_json_file_swapped_in_keeps_the_old_policy() {
    let dir = scratch();
    let policy = dir.join("policy.json");
    std::fs::write(&policy, r#"{"origins": ["https://one.example"]}"#).unwrap();
    let gw = Gateway::start(&policy, &[]);
    let nested = format!(
        "{{\"origins\": {}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    replace(&policy, &nested);
    gw.wait_for_log("policy reload failed").await;
    assert!(allowed(&gw, "https://one.example").await);
    assert_eq!(wait_for_health(&gw, "invalid").await["status"], "degraded");
    replace(&policy, r#"{"origins": ["https://two.example"]}"#);
    gw.wait_for_generation(2).await;
    assert!(allowed(&gw, "https://two.example").await);
}

/// Policies that leak credentialed responses (issue #12's classes) written over the serving file:
/// each reload is refused with its reason in the log, the first generation keeps answering, and
/// the origins each would have let in stay denied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leaking_policy_written_over_the_file_is_refused_and_the_old_one_serves() {
    let dir = scratch();
    let policy = dir.join("policy.toml");
    let good = "credentials = true\norigins = [\"https://one.example\"]\n";
    std::fs::write(&policy, good).unwrap();
    let gw = Gateway::start(&policy, &[]);
    let leaks = [
        (
            r#"'regex:https://.*:(8443|9443)'"#,
            "https://evil.com:8443",
            "regex_reflection",
        ),
        (
            r#"'regex:https?://app\.example\.com:\d+'"#,
            "http://app.example.com:8080",
            "insecure_origin_with_credentials",
        ),
        (
            r#"'regex:https://app\.?example\.com'"#,
            "https://appexample.com",
            "regex_unescaped_dot",
        ),
        (
            r#""https://*.amazonaws.com""#,
            "https://attacker.s3.amazonaws.com",
            "public_suffix_wildcard",
        ),
        (
            r#""https://*.core.windows.net""#,
            "https://attacker.blob.core.windows.net",
            "public_suffix_wildcard",
        ),
    ];
    for (entry, evil, kind) in &leaks {
        let before = gw.log().len();
        replace(
            &policy,
            &format!("credentials = true\norigins = [\"https://one.example\", {entry}]\n"),
        );
        // The refusal names its reason (the issues follow on the event's later lines).
        gw.wait_for_log_after(before, "policy reload failed").await;
        gw.wait_for_log_after(before, kind).await;
        assert_eq!(gw.generation().await, 1, "{entry}");
        assert!(!allowed(&gw, evil).await, "{entry} let {evil} in");
        assert!(allowed(&gw, "https://one.example").await, "{entry}");
    }
    replace(&policy, &allows("https://two.example"));
    gw.wait_for_generation(2).await;
    assert!(allowed(&gw, "https://two.example").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_while_the_first_policy_compiles_is_picked_up() {
    let dir = scratch();
    let policy = dir.join("policy.toml");
    std::fs::write(&policy, slow_policy()).unwrap();
    let writer = {
        let policy = policy.clone();
        std::thread::spawn(move || {
            // Well inside the seconds the first policy takes to compile.
            std::thread::sleep(Duration::from_millis(400));
            replace(&policy, &allows("https://changed.example"));
        })
    };
    let gw = Gateway::start(&policy, &[]);
    writer.join().unwrap();
    gw.wait_for_generation(2).await;
    assert!(allowed(&gw, "https://changed.example").await);
    assert!(!allowed(&gw, "https://slow.example").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_rewritten_in_place_in_steps_is_never_loaded_half_written() {
    use std::io::Write;
    let dir = scratch();
    let policy = dir.join("policy.toml");
    std::fs::write(&policy, allows("https://one.example")).unwrap();
    let gw = Gateway::start(&policy, &[]);
    // Every prefix of the new file is a valid policy, and each differs from the one before:
    // loading any prefix but the whole would show as an extra generation.
    let lines = [
        "origins = [\"https://two.example\"]\n",
        "methods = [\"GET\", \"PUT\"]\n",
        "allow_headers = [\"x-a\"]\n",
        "expose_headers = [\"x-b\"]\n",
        "max_age = 10\n",
        "credentials = true\n",
        "private_network = true\n",
        "preflight_status = 200\n",
        "preflight_passthrough = true\n",
    ];
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&policy)
        .unwrap();
    for line in lines {
        file.write_all(line.as_bytes()).unwrap();
        file.flush().unwrap();
        // Shorter than the 100 ms debounce window.
        std::thread::sleep(Duration::from_millis(70));
    }
    drop(file);
    gw.wait_for_generation(2).await;
    // Quiet for longer than the poll interval: nothing else loads.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        gw.generation().await,
        2,
        "a half-written file was loaded:\n{}",
        gw.log()
    );
    let (status, headers, _) = send(
        &gw.url("/x"),
        Method::OPTIONS,
        &[
            ("origin", "https://two.example"),
            ("access-control-request-method", "PUT"),
        ],
    )
    .await;
    assert_eq!(status.as_u16(), 200, "the whole file serves");
    assert_eq!(headers.get("access-control-max-age").unwrap(), "10");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_reports_a_missing_policy_file_while_the_last_one_serves() {
    let dir = scratch();
    let policy = dir.join("policy.toml");
    std::fs::write(&policy, allows("https://one.example")).unwrap();
    let gw = Gateway::start(&policy, &[]);
    assert_eq!(
        health(&gw).await,
        serde_json::json!({"generation": 1, "status": "ok"})
    );
    std::fs::remove_file(&policy).unwrap();
    let h = wait_for_health(&gw, "unreadable").await;
    assert_eq!(
        h,
        serde_json::json!({"generation": 1, "policy_file": "unreadable", "status": "degraded"})
    );
    assert!(allowed(&gw, "https://one.example").await);
    std::fs::write(&policy, "origins = [\"https://broken.example/path\"]\n").unwrap();
    assert_eq!(wait_for_health(&gw, "invalid").await["status"], "degraded");
    std::fs::write(&policy, allows("https://two.example")).unwrap();
    wait_for_health(&gw, "ok").await;
    assert!(allowed(&gw, "https://two.example").await);
}

/// `unshare -U -r` runs the gateway in a user namespace of its own, where the inotify
/// instance limit can be set to 0 without touching the rest of the machine.
fn without_inotify() -> Option<[&'static str; 6]> {
    let works = Command::new("unshare")
        .args([
            "-U",
            "-r",
            "sh",
            "-c",
            "echo 0 > /proc/sys/user/max_inotify_instances",
        ])
        .status()
        .is_ok_and(|s| s.success());
    works.then_some([
        "unshare",
        "-U",
        "-r",
        "sh",
        "-c",
        "echo 0 > /proc/sys/user/max_inotify_instances && exec \"$0\" \"$@\"",
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_inotify_used_up_serve_polls_and_no_watch_needs_none() {
    let Some(wrapper) = without_inotify() else {
        eprintln!("SKIPPED: user namespaces are not available here (unshare -U -r failed)");
        return;
    };
    let dir = scratch();
    let policy = dir.join("policy.toml");
    std::fs::write(&policy, allows("https://one.example")).unwrap();
    let gw = Gateway::start_wrapped(&wrapper, &policy, &[]);
    gw.wait_for_log("polling the file every").await;
    replace(&policy, &allows("https://two.example"));
    gw.wait_for_generation(2).await;
    assert!(allowed(&gw, "https://two.example").await);
    drop(gw);

    let gw = Gateway::start_wrapped(&wrapper, &policy, &["--no-watch"]);
    assert!(allowed(&gw, "https://two.example").await);
    replace(&policy, &allows("https://three.example"));
    gw.signal("HUP");
    gw.wait_for_generation(2).await;
    assert!(allowed(&gw, "https://three.example").await);
    assert!(!gw.log().contains("cannot watch"), "{}", gw.log());
}
