//! Replays every file in `fuzz/regressions/<target>/` through the check that fuzz target runs,
//! so that a bug found by fuzzing stays fixed. Also writes the seed corpora from the case
//! tables (`cargo test --all-features --test regression -- --ignored write_seed_corpora`).

mod common;

use std::path::{Path, PathBuf};

use corsgate::fuzzing;

/// A fuzz target's name and the check it runs on raw input bytes.
type Target = (&'static str, fn(&[u8]));

const TARGETS: [Target; 4] = [
    ("origin", fuzzing::origin::check_bytes),
    ("policy", fuzzing::policy::check_bytes),
    ("differential", fuzzing::differential::check_bytes),
    ("acrh", fuzzing::acrh::check_bytes),
];

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.is_file());
    files.sort();
    files
}

#[test]
fn fuzz_regressions_stay_fixed() {
    let mut replayed = 0;
    for (target, check) in TARGETS {
        for file in files(&fuzz_dir().join("regressions").join(target)) {
            let data = std::fs::read(&file).unwrap();
            let result = std::panic::catch_unwind(|| check(&data));
            assert!(result.is_ok(), "{} fails again", file.display());
            replayed += 1;
        }
    }
    assert!(
        replayed > 0,
        "no regression files found under fuzz/regressions"
    );
}

#[test]
fn seed_corpora_pass_their_checks() {
    let mut seeds = 0;
    for (target, check) in TARGETS {
        for file in files(&fuzz_dir().join("corpus").join(target)) {
            if file
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("seed-"))
            {
                check(&std::fs::read(&file).unwrap());
                seeds += 1;
            }
        }
    }
    assert!(
        seeds > 100,
        "only {seeds} seeds; regenerate them with write_seed_corpora"
    );
}

/// Writes `fuzz/corpus/<target>/seed-*` from the case tables. Run it after changing the tables.
#[test]
#[ignore]
fn write_seed_corpora() {
    let corpus = fuzz_dir().join("corpus");
    let mut out: Vec<(&str, Vec<u8>)> = Vec::new();
    for (_, table) in common::tables() {
        let mut policies: Vec<&common::TestPolicy> = table.case.iter().map(|c| &c.policy).collect();
        policies.extend(table.refused.iter().map(|c| &c.policy));
        policies.extend(table.canonical.iter().map(|c| &c.policy));
        for policy in policies {
            out.push((
                "policy",
                [&[0u8][..], toml::to_string(policy).unwrap().as_bytes()].concat(),
            ));
            out.push((
                "policy",
                [
                    &[1u8][..],
                    serde_json::to_string(policy).unwrap().as_bytes(),
                ]
                .concat(),
            ));
        }
        for case in &table.case {
            let mut requests = Vec::new();
            for req in &case.request {
                for origin in req.origin.iter().chain(req.origins.iter().flatten()) {
                    out.push(("origin", origin.clone().into_bytes()));
                }
                let headers: Vec<(String, String)> = req
                    .pairs()
                    .into_iter()
                    .map(|(n, v)| {
                        (
                            String::from_utf8_lossy(&n).into_owned(),
                            String::from_utf8_lossy(&v).into_owned(),
                        )
                    })
                    .collect();
                requests.push((req.method().to_owned(), headers));
                if !req.request_headers.is_empty() {
                    let lines = req.request_headers.join("\n");
                    for flags in [0u8, 1, 7] {
                        out.push(("acrh", [&[flags][..], lines.as_bytes()].concat()));
                    }
                }
            }
            let doc = serde_json::json!({"policy": case.policy, "requests": requests});
            out.push((
                "differential",
                [&[0u8][..], doc.to_string().as_bytes()].concat(),
            ));
        }
    }
    for (target, _) in TARGETS {
        let dir = corpus.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        for old in files(&dir) {
            if old
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("seed-"))
            {
                std::fs::remove_file(old).unwrap();
            }
        }
    }
    out.sort();
    out.dedup();
    let mut counts = std::collections::HashMap::new();
    for (target, bytes) in out {
        let n = counts.entry(target).or_insert(0);
        *n += 1;
        std::fs::write(corpus.join(target).join(format!("seed-{n:04}")), bytes).unwrap();
    }
    eprintln!("seeds written: {counts:?}");
}
