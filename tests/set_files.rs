//! Policy-set files (design §8): named policies, routes, environments that change named
//! policies, and `origins_file`, read from real files, with every problem located.

use std::path::{Path, PathBuf};

use corsgate::file::{Format, PolicyFile};
use corsgate::{Cors, CorsRequest, IssueKind, Policy, PolicySet, RouteHost, RouteTarget};

fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("corsgate-set-files-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn decide(cors: &Cors, host: &str, path: &str, origin: &str) -> (bool, String) {
    let request = CorsRequest::new(b"GET")
        .origin(origin.as_bytes())
        .host(host.as_bytes())
        .path(path.as_bytes());
    let d = cors.decide(&request);
    (d.is_allowed(), d.policy_name().to_owned())
}

const GATEWAY: &str = r#"
origins = ["https://app.example.com"]
credentials = true

[policies.public]
origins = ["*"]
credentials = false

[policies.partners]
origins = ["https://partner.example.org"]

[policies.tenants]
origins_file = "tenants.txt"

[[routes]]
name = "public-api"
hosts = ["api.example.com"]
path_prefix = "/public"
policy = "public"

[[routes]]
hosts = ["partners.example.com"]
policy = "partners"

[[routes]]
hosts = ["*.tenant-api.example.com"]
policy = "tenants"

[[routes]]
hosts = ["internal.example.com"]
policy = "off"
"#;

#[test]
fn a_gateway_file_parses_into_the_expected_set() {
    let dir = scratch("gateway");
    write(
        &dir,
        "tenants.txt",
        "# tenants\nhttps://one.example\n\n  https://two.example # second\n",
    );
    let path = write(&dir, "gateway.toml", GATEWAY);
    let file = PolicyFile::load(&path).unwrap();
    assert_eq!(file.policy_names(), ["public", "partners", "tenants"]);
    assert_eq!(file.source_files(), [path.clone(), dir.join("tenants.txt")]);
    let set = file.policy_set(None).unwrap();
    let names: Vec<&str> = set.policies().iter().map(|p| p.name()).collect();
    assert_eq!(names, ["default", "public", "partners", "tenants"]);
    // The tenants policy inherits the top-level origins (it does not set `origins`) and adds
    // the file's; the partners policy replaces them.
    assert_eq!(set.policy("tenants").unwrap().origins().len(), 3);
    assert_eq!(set.policy("partners").unwrap().origins().len(), 1);
    assert!(set.policy("tenants").unwrap().credentials());
    assert!(!set.policy("public").unwrap().credentials());
    let routes = set.routes();
    assert_eq!(routes.len(), 4);
    assert_eq!(routes[0].name(), "public-api");
    assert_eq!(routes[0].path_prefix(), Some("/public"));
    assert_eq!(routes[0].target(), RouteTarget::Policy(1));
    assert_eq!(routes[1].name(), "routes[1]");
    assert_eq!(
        routes[2].hosts(),
        Some(&[RouteHost::Wildcard("tenant-api.example.com".into())][..])
    );
    assert_eq!(routes[3].target(), RouteTarget::Off);

    let cors = Cors::with_set(set);
    assert_eq!(
        decide(&cors, "api.example.com", "/public/x", "https://any.example"),
        (true, "public".into())
    );
    assert_eq!(
        decide(
            &cors,
            "api.example.com",
            "/publicity",
            "https://any.example"
        ),
        (false, "default".into())
    );
    assert_eq!(
        decide(
            &cors,
            "a.tenant-api.example.com",
            "/",
            "https://two.example"
        ),
        (true, "tenants".into())
    );
    assert_eq!(
        decide(&cors, "tenant-api.example.com", "/", "https://two.example"),
        (false, "default".into())
    );
    assert_eq!(
        decide(&cors, "internal.example.com", "/", "https://x.example").1,
        "off"
    );
}

#[test]
fn json_files_have_the_same_shape() {
    let dir = scratch("json");
    let path = write(
        &dir,
        "gateway.json",
        r#"{"origins": ["https://app.example.com"],
            "policies": {"public": {"origins": ["*"]}},
            "routes": [{"hosts": ["api.example.com"], "policy": "public"}]}"#,
    );
    let set = PolicyFile::load(&path).unwrap().policy_set(None).unwrap();
    assert_eq!(set.routes()[0].target(), RouteTarget::Policy(1));
}

#[test]
fn every_file_level_problem_at_once_with_locations() {
    let dir = scratch("problems");
    std::fs::create_dir_all(dir.join("dir.txt")).unwrap();
    write(
        &dir,
        "bad-entry.txt",
        "https://ok.example\n\n   https://b.example/path\n",
    );
    let text = r#"origins = ["https://app.example.com"]

[policies.public]
origins = ["*"]
origins_file = "../escape.txt"

[policies.abs]
origins_file = "/etc/hosts"

[policies.folder]
origins_file = "dir.txt"

[policies.entries]
origins_file = "bad-entry.txt"

[[routes]]
hots = ["api.example.com"]
policy = "public"

[[routes]]
hosts = "api.example.com"
policy = "publik"

[[routes]]
hosts = ["*.example.com"]
policy = "abs"
path_prefix = "/x"

[[routes]]
hosts = ["f.example.com"]
policy = "folder"

[[routes]]
hosts = ["e.example.com"]
policy = "entries"

[environments.staging.policies.pubic]
origins = ["https://staging.example.com"]
"#;
    let label = dir.join("gateway.toml").display().to_string();
    let err = PolicyFile::parse(text, &label, Format::Toml).unwrap_err();
    let found: Vec<(IssueKind, String, usize, usize)> = err
        .errors()
        .map(|i| {
            let l = i.location().expect("every issue is located");
            (
                i.kind(),
                l.file.rsplit('/').next().unwrap().to_owned(),
                l.line,
                l.column,
            )
        })
        .collect();
    let file = "gateway.toml".to_owned();
    assert_eq!(
        found,
        [
            (IssueKind::InvalidOriginsFile, file.clone(), 5, 16),
            (IssueKind::InvalidOriginsFile, file.clone(), 8, 16),
            (IssueKind::InvalidOriginsFile, file.clone(), 11, 16),
            (IssueKind::UnknownField, file.clone(), 17, 1),
            (IssueKind::WrongType, file.clone(), 21, 9),
            (IssueKind::UnknownPolicy, file.clone(), 22, 10),
            (IssueKind::UnknownPolicy, file.clone(), 37, 32),
            (IssueKind::OriginHasPath, "bad-entry.txt".to_owned(), 3, 4),
        ],
        "{err}"
    );
    let by_kind = |kind: IssueKind| err.errors().filter(move |i| i.kind() == kind);
    let hints: Vec<Option<&str>> = by_kind(IssueKind::UnknownPolicy)
        .map(|i| i.hint())
        .collect();
    assert_eq!(
        hints,
        [
            Some("did you mean \"public\"?"),
            Some("did you mean \"public\"?")
        ]
    );
    assert_eq!(
        by_kind(IssueKind::UnknownField).next().unwrap().hint(),
        Some("did you mean \"hosts\"?")
    );
    let entry = by_kind(IssueKind::OriginHasPath).next().unwrap();
    assert_eq!(entry.policy(), Some("entries"));
    let messages: Vec<String> = by_kind(IssueKind::InvalidOriginsFile)
        .map(|i| i.to_string())
        .collect();
    assert!(messages[0].contains("`..`"), "{}", messages[0]);
    assert!(messages[1].contains("absolute"), "{}", messages[1]);
    assert!(messages[2].contains("a directory"), "{}", messages[2]);
    assert_eq!(
        by_kind(IssueKind::UnknownField).next().unwrap().route(),
        Some(0)
    );
}

#[cfg(unix)]
#[test]
fn fifos_and_files_over_the_cap_are_refused() {
    let dir = scratch("fifo");
    let status = std::process::Command::new("mkfifo")
        .arg(dir.join("fifo.txt"))
        .status()
        .unwrap();
    assert!(status.success());
    let big = std::fs::File::create(dir.join("big.txt")).unwrap();
    big.set_len(corsgate::file::MAX_POLICY_FILE_BYTES + 1)
        .unwrap();
    let text = "origins_file = \"fifo.txt\"\n[policies.big]\norigins_file = \"big.txt\"\n";
    let label = dir.join("p.toml").display().to_string();
    let err = PolicyFile::parse(text, &label, Format::Toml).unwrap_err();
    let found: Vec<(IssueKind, usize, bool)> = err
        .errors()
        .map(|i| (i.kind(), i.location().unwrap().line, i.hint().is_some()))
        .collect();
    assert_eq!(
        found,
        [
            (IssueKind::InvalidOriginsFile, 1, true),
            (IssueKind::InvalidOriginsFile, 3, true),
        ],
        "{err}"
    );
    assert!(err.to_string().contains("a FIFO"), "{err}");
    assert!(err.to_string().contains("cap of"), "{err}");
}

#[test]
fn a_missing_origins_file_is_reported_when_parsing_text() {
    let dir = scratch("missing");
    let label = dir.join("p.toml").display().to_string();
    let err = PolicyFile::parse("origins_file = \"nope.txt\"\n", &label, Format::Toml).unwrap_err();
    assert_eq!(err.kind(), IssueKind::InvalidOriginsFile);
    assert!(err.to_string().contains("nope.txt"), "{err}");
}

#[test]
fn an_environment_adds_origins_to_a_named_policy() {
    let dir = scratch("env");
    let text = r#"origins = ["https://app.example.com"]

[policies.partners]
origins = ["https://partner.example.org"]

[policies.inherits]
max_age = 60

[[routes]]
hosts = ["p.example.com"]
policy = "partners"

[[routes]]
hosts = ["i.example.com"]
policy = "inherits"

[environments.staging]
origins = ["https://staging.example.com"]

[environments.staging.policies.partners]
origins = ["https://partner-staging.example.org"]
max_age = 5
"#;
    let path = write(&dir, "p.toml", text);
    let file = PolicyFile::load(&path).unwrap();
    let base = file.policy_set(None).unwrap();
    let staging = file.policy_set(Some("staging")).unwrap();
    let origins = |set: &PolicySet, name: &str| set.policy(name).unwrap().origins().len();
    assert_eq!(origins(&base, "partners"), 1);
    assert_eq!(origins(&staging, "partners"), 2);
    // Sets its own origins: the environment's top-level origins do not reach it.
    let cors = Cors::with_set(staging.clone());
    assert!(!decide(&cors, "p.example.com", "/", "https://staging.example.com").0);
    assert!(
        decide(
            &cors,
            "p.example.com",
            "/",
            "https://partner-staging.example.org"
        )
        .0
    );
    // Inherits the origins: the environment's reach it.
    assert_eq!(origins(&staging, "inherits"), 2);
    assert!(decide(&cors, "i.example.com", "/", "https://staging.example.com").0);
    assert_eq!(staging.policy("partners").unwrap().max_age(), Some(5));
    assert!(file.check(None).issues.iter().all(|i| !i.is_error()));
}

#[test]
fn an_issue_in_a_named_policy_names_it_and_points_at_its_value() {
    let text = "origins = [\"https://a.example\"]\n\
                [policies.p]\n\
                methods = [\"TRACE\"]\n\
                [[routes]]\n\
                policy = \"p\"\n\
                hosts = [\"ok.example.com\", \"bad host\"]\n";
    let file = PolicyFile::parse(text, "p.toml", Format::Toml).unwrap();
    let err = file.policy_set(None).unwrap_err();
    let found: Vec<(IssueKind, String, String)> = err
        .errors()
        .map(|i| (i.kind(), i.path(), i.location().unwrap().to_string()))
        .collect();
    assert_eq!(
        found,
        [
            (
                IssueKind::ForbiddenMethod,
                "policies.p.methods[0]".into(),
                "p.toml:3:12".into()
            ),
            (
                IssueKind::InvalidRouteHost,
                "routes[0].hosts[1]".into(),
                "p.toml:6:28".into()
            ),
        ]
    );
}

#[test]
fn a_file_that_worked_before_works_unchanged() {
    let text = "origins = [\"https://myapp.com\", \"https://*.myapp.com\"]\n\
                credentials = true\n\
                [environments.development]\n\
                origins = [\"http://localhost:3000\"]\n";
    let file = PolicyFile::parse(text, "policy.toml", Format::Toml).unwrap();
    for env in [None, Some("development")] {
        let set = file.policy_set(env).unwrap();
        assert!(set.is_single());
        assert_eq!(set, PolicySet::single(file.policy(env).unwrap()));
    }
    let single = PolicySet::single(Policy::new(["https://myapp.com"]).unwrap());
    let set = PolicyFile::parse(
        "origins = [\"https://myapp.com\"]\n",
        "p.toml",
        Format::Toml,
    )
    .unwrap()
    .policy_set(None)
    .unwrap();
    assert_eq!(set, single);
}

/// `cargo test --release --test set_files -- --ignored --nocapture`: how long a policy of
/// 100,000 origins from an origins_file takes to read and compile. Prints; asserts nothing
/// about time.
#[test]
#[ignore]
fn a_hundred_thousand_line_origins_file() {
    let dir = scratch("big");
    let mut lines = String::from("# tenants\n");
    for i in 0..100_000 {
        lines.push_str(&format!("https://tenant-{i}.example.com\n"));
    }
    write(&dir, "tenants.txt", &lines);
    let path = write(&dir, "p.toml", "origins_file = \"tenants.txt\"\n");
    let start = std::time::Instant::now();
    let file = PolicyFile::load(&path).unwrap();
    let read = start.elapsed();
    let settings = file.builder(None).unwrap();
    let policy_alone = std::time::Instant::now();
    settings.build().unwrap();
    let policy_alone = policy_alone.elapsed();
    let start = std::time::Instant::now();
    let set = PolicyFile::load(&path).unwrap().policy_set(None).unwrap();
    let built = start.elapsed();
    let cors = Cors::with_set(set);
    let total = start.elapsed();
    assert!(decide(&cors, "h", "/", "https://tenant-99999.example.com").0);
    println!(
        "100,000-line origins_file: read {read:?}; the policy alone builds in {policy_alone:?}; \
         read, parsed and validated in {built:?}, compiled in {total:?}"
    );
}

#[test]
fn the_example_files_load() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let gateway = PolicyFile::load(examples.join("gateway.toml")).unwrap();
    let report = gateway.check(None);
    assert_eq!(report.errors(), 0, "{:?}", report.issues);
    assert_eq!(report.results.len(), 2);
    let tenants = PolicyFile::load(examples.join("tenants.toml")).unwrap();
    let set = tenants.policy_set(None).unwrap();
    assert_eq!(set.policy("tenants").unwrap().origins().len(), 3);
    assert_eq!(tenants.source_files().len(), 2);
}
