//! Structured inputs shared by the fuzz checks: policies and requests built from small
//! dictionaries, so that random bytes mostly become valid policies and near-miss origins
//! instead of noise.

use std::fmt;

use arbitrary::Arbitrary;

use crate::policy::PolicyBuilder;

const SCHEMES: &[&str] = &[
    "https",
    "http",
    "wss",
    "chrome-extension",
    "HTTPS",
    "file",
    "ftp",
];
const LABELS: &[&str] = &[
    "example",
    "com",
    "org",
    "a",
    "b",
    "www",
    "localhost",
    "xn--bcher-kva",
    "my_app",
    "github",
    "io",
    "co",
    "uk",
    "evil",
    "0",
    "1",
    "test",
    "app",
    "x-y",
    "ex",
    "Example",
];
const PORTS: &[u16] = &[80, 443, 8080, 3000, 1, 65535, 21, 8443];
const REGEXES: &[&str] = &[
    r"https://([a-z0-9-]+\.)*example\.com",
    r"https://[a-z]+\.example\.org(:[0-9]+)?",
    r"http://localhost:[0-9]{4}",
    r"https://(app|admin)\.example\.com",
    r"https://.*",
    r"https://example\.com.*",
    r"https://www.example.com",
    r"https://[a-z.]+",
    r"(",
    r"https://.*:(8443|9443)",
    r"https?://app\.example\.com:\d+",
    r"https://([a-z0-9-]+\.)+amazonaws\.com",
    r"https://pr-[0-9]+\.preview\.example\.com",
    r"http://localhost:[0-9]+",
];
const NAMES: &[&str] = &[
    "content-type",
    "x-token",
    "authorization",
    "x-a",
    "X-Token",
    "cookie",
    "*",
    "Content-Type",
    "x-request-id",
    "set-cookie",
    "sec-fetch-mode",
    "accept",
    "cache-control",
    "x y",
    "",
];
const METHODS: &[&str] = &[
    "GET",
    "PUT",
    "put",
    "POST",
    "DELETE",
    "patch",
    "PATCH",
    "OPTIONS",
    "CONNECT",
    "TRACE",
    "PROPFIND",
    "*",
    "",
    " GET",
    // 64 and 65 bytes: the longest requested method that can pass, and one more.
    "MMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMM",
    "MMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMM",
];

fn pick<'a>(list: &[&'a str], i: u8) -> &'a str {
    list[usize::from(i) % list.len()]
}

/// A host, from dictionaries or raw.
#[derive(Arbitrary, Clone, Debug)]
pub enum HostSpec {
    /// 1 to 4 dictionary labels, optionally with a trailing dot.
    Labels(Vec<u8>, bool),
    /// An IPv4 address.
    Ipv4([u8; 4]),
    /// An IPv6 address (spelled the long way; configs canonicalise it).
    Ipv6([u16; 8]),
    /// Anything.
    Raw(String),
}

impl HostSpec {
    fn render(&self) -> String {
        match self {
            HostSpec::Labels(labels, dot) => {
                let mut host: Vec<&str> = labels.iter().take(4).map(|&i| pick(LABELS, i)).collect();
                if host.is_empty() {
                    host.push("example");
                }
                let mut s = host.join(".");
                if *dot {
                    s.push('.');
                }
                s
            }
            HostSpec::Ipv4(a) => format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3]),
            HostSpec::Ipv6(p) => format!(
                "[{:x}:{:x}:{:x}:{:x}:{:x}:{:x}:{:x}:{:x}]",
                p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]
            ),
            HostSpec::Raw(s) => s.clone(),
        }
    }
}

/// A port: none, one from a dictionary, any number, or `*`.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum PortSpec {
    /// No port.
    None,
    /// A usual port.
    Known(u8),
    /// Any number.
    Number(u16),
    /// `:*`
    Star,
}

impl PortSpec {
    fn render(self) -> String {
        match self {
            PortSpec::None => String::new(),
            PortSpec::Known(i) => format!(":{}", PORTS[usize::from(i) % PORTS.len()]),
            PortSpec::Number(n) => format!(":{n}"),
            PortSpec::Star => ":*".to_owned(),
        }
    }
}

/// One allowlist entry.
#[derive(Arbitrary, Clone, Debug)]
pub enum EntrySpec {
    /// `scheme://[*.]host[:port]`, possibly decorated (trailing slash, a path).
    Tuple {
        /// Index into the scheme dictionary.
        scheme: u8,
        /// A leading `*.`.
        wildcard: bool,
        /// The host.
        host: HostSpec,
        /// The port.
        port: PortSpec,
        /// 0: none, 1: trailing `/`, 2: a path, other: none.
        decoration: u8,
    },
    /// A regex from a dictionary.
    Regex(u8),
    /// `*`
    Any,
    /// `null`
    Null,
    /// Anything.
    Raw(String),
}

impl EntrySpec {
    /// The entry as written in a policy.
    pub fn render(&self) -> String {
        match self {
            EntrySpec::Tuple {
                scheme,
                wildcard,
                host,
                port,
                decoration,
            } => {
                let star = if *wildcard { "*." } else { "" };
                let tail = match decoration % 8 {
                    1 => "/",
                    2 => "/app",
                    _ => "",
                };
                format!(
                    "{}://{star}{}{}{tail}",
                    pick(SCHEMES, *scheme),
                    host.render(),
                    port.render()
                )
            }
            EntrySpec::Regex(i) => format!("regex:{}", pick(REGEXES, *i)),
            EntrySpec::Any => "*".to_owned(),
            EntrySpec::Null => "null".to_owned(),
            EntrySpec::Raw(s) => s.clone(),
        }
    }
}

/// Schemes of generated regex entries.
const REGEX_SCHEMES: &[&str] = &[
    "https",
    "https",
    "https",
    "http",
    "https?",
    "(https|http)",
    "wss?",
    "(https|wss)",
    "[a-z]+",
    "(https|ftp)",
    "chrome-extension",
    "h[a-z]+s",
    ".*",
    "(http|https)s?",
];
/// Literal host parts of generated regex entries: plain and hosting domains, public
/// suffixes, loopback names and addresses, numbers.
const REGEX_LITERALS: &[&str] = &[
    r"example\.com",
    r"example",
    r"com",
    r"amazonaws\.com",
    r"s3\.amazonaws\.com",
    r"github\.io",
    r"co\.uk",
    r"localhost",
    r"127\.0\.0\.1",
    r"\[::1\]",
    r"app",
    r"www",
    r"evil",
    r"core\.windows\.net",
    r"kawasaki\.jp",
    r"city\.kawasaki\.jp",
    r"xn--p1ai",
    r"0x7f",
    r"1",
    r"255",
    r"example\.co\.uk",
    r"compute\.amazonaws\.com",
    r"myapp\.github\.io",
    r"pr-",
    r"api",
    r"net",
    r"(app|api)",
    r"(com|net)",
    r"(example|evil)",
];
/// Classes, repetitions and optional parts of generated regex entries.
const REGEX_CLASSES: &[&str] = &[
    r"[a-z]+",
    r"[a-z0-9-]+",
    r"\w+",
    r"\d+",
    r"[a-z.]+",
    r".*",
    r".+",
    r"[0-9.]+",
    r"\[[0-9a-f:]+\]",
    r"[a-z]{2,}",
    r"[a-z]{2}",
    r"(www\.)?",
    r"([a-z]+\.)*",
    r"([a-z0-9-]+\.)+",
    r"[^.]+",
    r"[^/]+",
    r"[a-z]",
    r"-",
    r"_",
    r"[0-9]+",
    r"(\.[a-z]{2})?",
    r"[a-z]*",
    r"\.?",
    r"(\.[a-z]+)*",
    r"[0-9]{1,3}",
    r"([a-z0-9-]+\.)*",
    r"[a-z0-9.-]+\.",
    r"[^/:]+\.",
    r"(.+\.)?",
];
/// Ports of generated regex entries.
const REGEX_PORTS: &[&str] = &[
    "",
    "",
    "",
    r"(:[0-9]+)?",
    r":\d+",
    r":(8443|9443)",
    r":[0-9]{4}",
    r":443",
    r":80",
    r"(:\d{2,5})?",
    r":[1-9][0-9]*",
    r"(:.*)?",
    r":0",
    r"\.?",
];

/// One piece of a generated regex entry's host.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum HostPiece {
    /// A literal from the dictionary.
    Literal(u8),
    /// A class, repetition or optional part from the dictionary.
    Class(u8),
    /// `\.`
    Dot,
    /// `.` (which the unescaped-dot lint refuses between host characters).
    AnyChar,
}

/// One alternative of a generated regex entry: `scheme://host port`.
#[derive(Arbitrary, Clone, Debug)]
pub struct RegexAlternative {
    /// Index into the scheme dictionary.
    pub scheme: u8,
    /// The host, in pieces (the first 8 are used).
    pub host: Vec<HostPiece>,
    /// Index into the port dictionary.
    pub port: u8,
}

/// A generated regex entry: one to three alternatives, joined by `|`.
#[derive(Arbitrary, Clone, Debug)]
pub struct RegexSpec {
    /// The first alternative.
    pub first: RegexAlternative,
    /// More alternatives (the first 2 are used).
    pub more: Vec<RegexAlternative>,
}

impl RegexSpec {
    /// The entry as written in a policy, `regex:` included.
    pub fn render(&self) -> String {
        let alternative = |a: &RegexAlternative| {
            let mut out = format!("{}://", pick(REGEX_SCHEMES, a.scheme));
            for piece in a.host.iter().take(8) {
                match piece {
                    HostPiece::Literal(i) => out.push_str(pick(REGEX_LITERALS, *i)),
                    HostPiece::Class(i) => out.push_str(pick(REGEX_CLASSES, *i)),
                    HostPiece::Dot => out.push_str(r"\."),
                    HostPiece::AnyChar => out.push('.'),
                }
            }
            out.push_str(pick(REGEX_PORTS, a.port));
            out
        };
        let mut parts = vec![alternative(&self.first)];
        parts.extend(self.more.iter().take(2).map(alternative));
        format!("regex:{}", parts.join("|"))
    }
}

/// Regex entries with credentials: what the proof must get right.
#[derive(Arbitrary, Clone, Debug)]
pub struct RegexPolicySpec {
    /// The regex entries (the first 4 are used).
    pub regexes: Vec<RegexSpec>,
    /// Exact or wildcard entries beside them.
    pub others: Vec<EntrySpec>,
    /// Credentials (usually on).
    pub no_credentials: bool,
    /// `dangerously_allow_insecure_origins`
    pub insecure: bool,
    /// `dangerously_reflect_any_origin_with_credentials`
    pub reflect: bool,
}

impl RegexPolicySpec {
    /// The builder these settings describe.
    pub fn builder(&self) -> PolicyBuilder {
        let mut b = PolicyBuilder::new();
        let mut origins: Vec<String> = self.regexes.iter().take(4).map(RegexSpec::render).collect();
        origins.extend(self.others.iter().take(2).map(EntrySpec::render));
        b.origins(origins)
            .credentials(!self.no_credentials)
            .dangerously_allow_insecure_origins(self.insecure)
            .dangerously_reflect_any_origin_with_credentials(self.reflect);
        b
    }
}

/// A header name from a dictionary, or raw.
#[derive(Arbitrary, Clone, Debug)]
pub enum NameSpec {
    /// Index into the dictionary.
    Known(u8),
    /// Anything.
    Raw(String),
}

impl NameSpec {
    /// The name.
    pub fn render(&self) -> String {
        match self {
            NameSpec::Known(i) => pick(NAMES, *i).to_owned(),
            NameSpec::Raw(s) => s.clone(),
        }
    }
}

/// A method from a dictionary, or raw.
#[derive(Arbitrary, Clone, Debug)]
pub enum MethodSpec {
    /// Index into the dictionary.
    Known(u8),
    /// Anything.
    Raw(String),
}

impl MethodSpec {
    /// The method.
    pub fn render(&self) -> String {
        match self {
            MethodSpec::Known(i) => pick(METHODS, *i).to_owned(),
            MethodSpec::Raw(s) => s.clone(),
        }
    }
}

/// A policy's settings.
#[derive(Arbitrary, Clone, Debug)]
pub struct PolicySpec {
    /// Allowlist entries (the first 8 are used).
    pub origins: Vec<EntrySpec>,
    /// Methods, when set.
    pub methods: Option<Vec<MethodSpec>>,
    /// Allowed request headers.
    pub allow_headers: Vec<NameSpec>,
    /// Exposed headers.
    pub expose_headers: Vec<NameSpec>,
    /// Credentials.
    pub credentials: bool,
    /// Max-age, when set (taken modulo 90,000 to hit both sides of the limits).
    pub max_age: Option<u32>,
    /// Private network access.
    pub private_network: bool,
    /// Preflight status 200 instead of 204.
    pub status_200: bool,
    /// Forward denied preflights.
    pub passthrough: bool,
    /// The four `dangerously_*` options.
    pub dangerous: [bool; 4],
}

impl PolicySpec {
    /// The builder these settings describe.
    pub fn builder(&self) -> PolicyBuilder {
        let mut b = PolicyBuilder::new();
        b.origins(self.origins.iter().take(8).map(EntrySpec::render))
            .allow_headers(self.allow_headers.iter().take(6).map(NameSpec::render))
            .expose_headers(self.expose_headers.iter().take(4).map(NameSpec::render))
            .credentials(self.credentials)
            .private_network(self.private_network)
            .preflight_passthrough(self.passthrough)
            .preflight_status(if self.status_200 { 200 } else { 204 })
            .dangerously_allow_null_origin(self.dangerous[0])
            .dangerously_allow_insecure_origins(self.dangerous[1])
            .dangerously_allow_public_suffix_wildcards(self.dangerous[2])
            .dangerously_reflect_any_origin_with_credentials(self.dangerous[3]);
        if let Some(methods) = &self.methods {
            b.methods(methods.iter().take(6).map(MethodSpec::render));
        }
        if let Some(age) = self.max_age {
            b.max_age(age % 90_000);
        }
        b
    }

    /// The builder, relaxed until it builds where possible: every `dangerously_*` option on,
    /// then without `*` in `expose_headers`, then without credentials.
    pub fn relaxed_builders(&self) -> [PolicyBuilder; 4] {
        let first = self.builder();
        let mut second = first.clone();
        second
            .dangerously_allow_null_origin(true)
            .dangerously_allow_insecure_origins(true)
            .dangerously_allow_public_suffix_wildcards(true)
            .dangerously_reflect_any_origin_with_credentials(true);
        let mut third = second.clone();
        third.expose_headers.retain(|h| h != "*");
        let mut fourth = third.clone();
        fourth.credentials(false);
        [first, second, third, fourth]
    }
}

/// How a request origin is derived from an allowlist entry.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum Mutation {
    /// As the entry matches it.
    None,
    /// Uppercase letters.
    Uppercase,
    /// A trailing `/`.
    TrailingSlash,
    /// A trailing `.` on the host.
    TrailingDot,
    /// One more label in front.
    Subdomain,
    /// `.evil.com` appended to the host.
    SuffixEvil,
    /// `evil` glued in front of the host.
    PrefixEvil,
    /// `http` ↔ `https`.
    SchemeSwap,
    /// Another port.
    Port(u16),
    /// `user@` before the host.
    Userinfo,
}

/// A request's Origin value.
#[derive(Arbitrary, Clone, Debug)]
pub enum OriginSpec {
    /// Derived from the serving policy's entry `index` (modulo the allowlist's length).
    FromEntry(u8, Mutation),
    /// Built like an entry (`*` and decorations included, which browsers never send).
    Built(EntrySpec),
    /// Anything.
    Raw(Vec<u8>),
}

/// One `Access-Control-Request-Headers` line.
#[derive(Arbitrary, Clone, Debug)]
pub enum LineSpec {
    /// Names joined by a separator (0: `,`, 1: `, `, 2: ` ,`, 3: `,,`).
    Names(Vec<NameSpec>, u8),
    /// `n` commas.
    Commas(u16),
    /// `n` copies of `x,`.
    Repeated(u16),
    /// Anything.
    Raw(Vec<u8>),
}

impl LineSpec {
    /// The line's bytes.
    pub fn render(&self) -> Vec<u8> {
        match self {
            LineSpec::Names(names, sep) => {
                let sep = [",", ", ", " ,", ",,"][usize::from(*sep) % 4];
                names
                    .iter()
                    .take(10)
                    .map(NameSpec::render)
                    .collect::<Vec<_>>()
                    .join(sep)
                    .into_bytes()
            }
            LineSpec::Commas(n) => vec![b','; usize::from(*n) % 5000],
            LineSpec::Repeated(n) => b"x,".repeat(usize::from(*n) % 100),
            LineSpec::Raw(bytes) => bytes.clone(),
        }
    }
}

/// A request.
#[derive(Arbitrary, Clone, Debug)]
pub struct RequestSpec {
    /// The method (biased towards OPTIONS, so that preflights are common).
    pub method: Option<MethodSpec>,
    /// Origin field lines (usually one).
    pub origins: Vec<OriginSpec>,
    /// `Access-Control-Request-Method` lines.
    pub request_methods: Vec<MethodSpec>,
    /// `Access-Control-Request-Headers` lines.
    pub request_headers: Vec<LineSpec>,
    /// `Access-Control-Request-Private-Network`: 0 none, 1 `true`, 2 `false`, other `TRUE`.
    pub private_network: u8,
}

/// A request as method and header pairs, the form every engine takes.
#[derive(Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The method.
    pub method: Vec<u8>,
    /// `(name, value)` pairs, in order.
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Rendered {
    /// Borrowed pairs.
    pub fn pairs(&self) -> Vec<(&[u8], &[u8])> {
        self.headers
            .iter()
            .map(|(n, v)| (n.as_slice(), v.as_slice()))
            .collect()
    }
}

impl fmt::Debug for Rendered {
    /// A `corsgate decide` input line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    String::from_utf8_lossy(n).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            })
            .collect();
        let line = serde_json::json!({"method": String::from_utf8_lossy(&self.method), "headers": headers});
        write!(f, "{line}")
    }
}

fn mutate(origin: &str, mutation: Mutation) -> String {
    let (scheme, rest) = origin.split_once("://").unwrap_or(("https", origin));
    match mutation {
        Mutation::None => origin.to_owned(),
        Mutation::Uppercase => origin.to_ascii_uppercase(),
        Mutation::TrailingSlash => format!("{origin}/"),
        Mutation::TrailingDot => match rest.split_once(':') {
            Some((h, p)) => format!("{scheme}://{h}.:{p}"),
            None => format!("{origin}."),
        },
        Mutation::Subdomain => format!("{scheme}://x.{rest}"),
        Mutation::SuffixEvil => match rest.split_once(':') {
            Some((h, p)) => format!("{scheme}://{h}.evil.com:{p}"),
            None => format!("{origin}.evil.com"),
        },
        Mutation::PrefixEvil => format!("{scheme}://evil{rest}"),
        Mutation::SchemeSwap => {
            let other = if scheme == "https" { "http" } else { "https" };
            format!("{other}://{rest}")
        }
        Mutation::Port(p) => {
            let host = rest.split(':').next().unwrap_or(rest);
            format!("{scheme}://{host}:{}", PORTS[usize::from(p) % PORTS.len()])
        }
        Mutation::Userinfo => format!("{scheme}://user@{rest}"),
    }
}

/// An origin one of `entries` (canonical patterns) matches, for `FromEntry`.
fn origin_for(entries: &[String], index: u8) -> String {
    if entries.is_empty() {
        return "https://example.com".to_owned();
    }
    let entry = &entries[usize::from(index) % entries.len()];
    if let Some(rest) = entry.strip_prefix("regex:") {
        // A string the regex matches, if the generator finds one.
        let mut rng = super::regex_strings::Rng::new(u64::from(index));
        return (0..16)
            .filter_map(|_| super::regex_strings::sample(rest, &mut rng))
            .find(|s| crate::origin::RequestOrigin::parse(s.as_bytes()).is_ok())
            .unwrap_or_else(|| "https://app.example.com".to_owned());
    }
    if entry == "*" {
        return "https://any.example".to_owned();
    }
    let entry = entry.replace("://*.", "://sub.");
    match entry.strip_suffix(":*") {
        Some(base) => format!("{base}:8080"),
        None => entry,
    }
}

impl RequestSpec {
    /// The request, with `FromEntry` origins derived from `entries` (the serving policy's
    /// canonical patterns).
    pub fn render(&self, entries: &[String]) -> Rendered {
        let method = match &self.method {
            None => "OPTIONS".to_owned(),
            Some(m) => m.render(),
        };
        let mut headers = Vec::new();
        for o in self.origins.iter().take(3) {
            let value = match o {
                OriginSpec::FromEntry(i, m) => mutate(&origin_for(entries, *i), *m).into_bytes(),
                OriginSpec::Built(e) => e.render().into_bytes(),
                OriginSpec::Raw(b) => b.clone(),
            };
            headers.push((b"Origin".to_vec(), value));
        }
        for m in self.request_methods.iter().take(2) {
            headers.push((
                b"Access-Control-Request-Method".to_vec(),
                m.render().into_bytes(),
            ));
        }
        for l in self.request_headers.iter().take(4) {
            headers.push((b"access-control-request-headers".to_vec(), l.render()));
        }
        match self.private_network % 4 {
            0 => {}
            1 => headers.push((
                b"Access-Control-Request-Private-Network".to_vec(),
                b"true".to_vec(),
            )),
            2 => headers.push((
                b"Access-Control-Request-Private-Network".to_vec(),
                b"false".to_vec(),
            )),
            _ => headers.push((
                b"Access-Control-Request-Private-Network".to_vec(),
                b"TRUE".to_vec(),
            )),
        }
        Rendered {
            method: method.into_bytes(),
            headers,
        }
    }
}
