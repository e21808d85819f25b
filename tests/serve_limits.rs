//! `corsgate serve` against hostile clients on loopback: connections that send nothing, a
//! header at a time, or half a body; keep-alive connections left idle; a client that never
//! reads its response; a flood of connections at a low open-file limit; more connections than
//! `--max-connections`. Timeouts are set short by flags; every loop is bounded in count and
//! time, and the time bounds asserted are generous upper bounds (the timeout plus slack for a
//! loaded machine), never speed measurements.

mod support;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use support::gateway::Gateway;
use support::raw_http::{read_until_close, response, status_of, RawUpstream, Reply};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What a loaded machine may add to a timeout before the close is seen.
const SLACK: Duration = Duration::from_millis(2500);

fn scratch() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "corsgate-serve-limits-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn demo_policy() -> &'static Path {
    Path::new("examples/policy.toml")
}

/// Reads one response with a `content-length` (the demo API's) from a keep-alive connection.
async fn read_response(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = String::from_utf8_lossy(&out).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length: usize = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().to_owned())
                })
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            if out.len() >= end + 4 + length {
                return text;
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => out.extend_from_slice(&buf[..n]),
            _ => return String::from_utf8_lossy(&out).into_owned(),
        }
    }
}

/// Waits (at most `limit`) until the gateway closes the connection; how long that took.
async fn time_to_close(stream: &mut TcpStream, limit: Duration) -> Duration {
    let started = Instant::now();
    let _ = read_until_close(stream, limit).await;
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_slowloris_and_idle_connections_are_closed_within_their_timeouts() {
    let gw = Gateway::start(
        demo_policy(),
        &[
            "--header-read-timeout",
            "1",
            "--idle-timeout",
            "2.5",
            "--io-timeout",
            "1",
        ],
    );
    let header = Duration::from_secs(1);

    // A connection that sends nothing.
    let mut silent = TcpStream::connect(gw.address).await.unwrap();
    let took = time_to_close(&mut silent, header + SLACK * 2).await;
    assert!(took < header + SLACK, "silent connection open for {took:?}");

    // Slowloris: a header line every 200 ms keeps bytes coming, never a whole head.
    let mut slow = TcpStream::connect(gw.address).await.unwrap();
    let started = Instant::now();
    slow.write_all(b"GET /api/users HTTP/1.1\r\nHost: a.example\r\n")
        .await
        .unwrap();
    let mut closed = false;
    for i in 0..40 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if slow
            .write_all(format!("x-slow-{i}: 1\r\n").as_bytes())
            .await
            .is_err()
        {
            closed = true;
            break;
        }
        let mut byte = [0u8; 1];
        if let Ok(Ok(0)) =
            tokio::time::timeout(Duration::from_millis(1), slow.read(&mut byte)).await
        {
            closed = true;
            break;
        }
    }
    assert!(closed, "a slowloris kept its connection for 8 s");
    assert!(
        started.elapsed() < header + SLACK,
        "slowloris cut after {:?}",
        started.elapsed()
    );

    // Keep-alive: idle longer than the head deadline is fine, longer than the idle one is not.
    let mut idle = TcpStream::connect(gw.address).await.unwrap();
    let request = b"GET /api/users HTTP/1.1\r\nHost: a.example\r\n\r\n";
    idle.write_all(request).await.unwrap();
    assert!(read_response(&mut idle).await.starts_with("HTTP/1.1 200"));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    idle.write_all(request).await.unwrap();
    let second = read_response(&mut idle).await;
    assert!(
        second.starts_with("HTTP/1.1 200"),
        "closed while idle for less than --idle-timeout: {second:?}"
    );
    let took = time_to_close(&mut idle, Duration::from_millis(2500) + SLACK * 2).await;
    assert!(
        took >= Duration::from_millis(2000) && took < Duration::from_millis(2500) + SLACK,
        "idle connection closed after {took:?}"
    );

    // Half a body, then nothing: the demo API's read gives up after --io-timeout.
    let mut stalled = TcpStream::connect(gw.address).await.unwrap();
    let started = Instant::now();
    stalled
        .write_all(b"PUT /api/users/1 HTTP/1.1\r\nHost: a.example\r\nContent-Length: 100\r\n\r\n0123456789")
        .await
        .unwrap();
    let answer = read_until_close(&mut stalled, Duration::from_secs(1) + SLACK * 2).await;
    assert!(
        started.elapsed() < Duration::from_secs(1) + SLACK,
        "stalled body held {:?}",
        started.elapsed()
    );
    let status = status_of(&answer);
    assert!(
        status == 408 || answer.is_empty(),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_cut_off() {
    const BODY: usize = 48 << 20;
    let up = RawUpstream::start(|_| Reply::Send(response("200 OK", &[], &"a".repeat(BODY)))).await;
    let gw = Gateway::start(
        demo_policy(),
        &[
            "--upstream",
            &format!("http://{}", up.address),
            "--io-timeout",
            "1",
        ],
    );
    let mut reader = TcpStream::connect(gw.address).await.unwrap();
    reader
        .write_all(b"GET /big HTTP/1.1\r\nHost: a.example\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(10), reader.read(&mut head))
        .await
        .unwrap()
        .unwrap();
    assert!(head[..n].starts_with(b"HTTP/1.1 200"));
    // Stop reading: socket buffers fill, the gateway's writes stall.
    tokio::time::sleep(Duration::from_secs(1) + SLACK).await;
    let rest = read_until_close(&mut reader, Duration::from_secs(20)).await;
    assert!(
        n + rest.len() < BODY,
        "the whole {BODY} bytes arrived: the stalled write was never cut"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_flood_at_a_low_open_file_limit_recovers_with_a_small_log() {
    let dir = scratch();
    let policy = dir.join("policy.toml");
    std::fs::copy(demo_policy(), &policy).unwrap();
    let gw = Gateway::start_wrapped(
        &["sh", "-c", "ulimit -n 64 && exec \"$0\" \"$@\""],
        &policy,
        &["--header-read-timeout", "1"],
    );
    // 300 connections that send nothing: far past the 64 descriptors the gateway has.
    let mut flood = Vec::new();
    for _ in 0..300 {
        match tokio::time::timeout(Duration::from_millis(500), TcpStream::connect(gw.address)).await
        {
            Ok(Ok(s)) => flood.push(s),
            _ => break,
        }
    }
    assert!(flood.len() > 100, "only {} connections opened", flood.len());
    tokio::time::sleep(Duration::from_secs(3)).await;
    drop(flood);

    // Legitimate requests are served again.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let attempt = tokio::time::timeout(Duration::from_secs(2), async {
            let mut s = TcpStream::connect(gw.address).await.ok()?;
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n")
                .await
                .ok()?;
            Some(read_until_close(&mut s, Duration::from_secs(2)).await)
        })
        .await;
        if let Ok(Some(answer)) = attempt {
            if status_of(&answer) == 200 {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "not served after the flood:\n{}",
            tail(&gw.log())
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = gw.log();
    let accept_failures = log.lines().filter(|l| l.contains("accept failed")).count();
    assert!(
        accept_failures >= 1,
        "the flood never exhausted descriptors:\n{}",
        tail(&log)
    );
    assert!(
        accept_failures <= 6,
        "{accept_failures} accept-failure lines:\n{}",
        tail(&log)
    );
    assert!(log.len() < 64 * 1024, "the log grew to {} bytes", log.len());
    assert!(log.contains("open-file limit is 64"), "{}", tail(&log));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_cap_wait_for_a_free_slot() {
    let gw = Gateway::start(
        demo_policy(),
        &["--max-connections", "2", "--header-read-timeout", "30"],
    );
    // Two connections hold both slots with half a head each.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(gw.address).await.unwrap();
        s.write_all(b"GET /api/users HTTP/1.1\r\n").await.unwrap();
        held.push(s);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut third = TcpStream::connect(gw.address).await.unwrap();
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut byte = [0u8; 1];
    assert!(
        tokio::time::timeout(Duration::from_millis(700), third.read(&mut byte))
            .await
            .is_err(),
        "a third connection was served beside two held ones"
    );
    gw.wait_for_log("--max-connections").await;
    drop(held.pop());
    let answer = read_until_close(&mut third, Duration::from_secs(10)).await;
    assert_eq!(
        status_of(&answer),
        200,
        "{}",
        String::from_utf8_lossy(&answer)
    );
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}
