//! The config side: one allowlist entry, strictly parsed into an [`OriginPattern`].
//!
//! Cosmetic differences from what browsers send (uppercase, a trailing `/`, an explicit default
//! port, a Unicode host, a long-hand IPv6 address) are canonicalised and reported as a warning;
//! anything that changes which origins match is an error whose hint names the fix. Credential
//! rules, which depend on other fields, live in `policy.rs`.

use std::fmt;
use std::net::Ipv6Addr;

use super::host::{self, HostDefect, HostKind};
use crate::error::{IssueKind, Problem};

/// Which ports a tuple pattern accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PortPattern {
    /// No port in the origin (the scheme's default).
    Default,
    /// Exactly this port.
    Exact(u16),
    /// `:*`: any port, or none.
    Any,
}

impl PortPattern {
    /// Does a request's port (None = default) match?
    pub fn matches(self, port: Option<u16>) -> bool {
        match self {
            PortPattern::Default => port.is_none(),
            PortPattern::Exact(p) => port == Some(p),
            PortPattern::Any => true,
        }
    }
}

/// A port as an origin writes it after the host: nothing for the default port, `:8443`, or
/// `:*`. The one rendering of a [`PortPattern`] (patterns, hints and explanations use it).
#[derive(Clone, Copy, Debug)]
pub(crate) struct PortSuffix(pub(crate) PortPattern);

impl fmt::Display for PortSuffix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            PortPattern::Default => Ok(()),
            PortPattern::Exact(p) => write!(f, ":{p}"),
            PortPattern::Any => f.write_str(":*"),
        }
    }
}

/// A `scheme://host[:port]` pattern, possibly with a leading `*.` label and a `:*` port.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TuplePattern {
    /// Lowercase scheme.
    pub scheme: String,
    /// The canonical host (with brackets for IPv6); for a subdomain wildcard, the domain after
    /// `*.`.
    pub host: String,
    /// What the host is.
    pub host_kind: HostKind,
    /// `true` for `*.host`: any subdomain at any depth, never `host` itself.
    pub subdomains: bool,
    /// The port rule.
    pub port: PortPattern,
}

impl TuplePattern {
    /// `true` when every origin this pattern matches is on a loopback host.
    pub fn is_loopback(&self) -> bool {
        if self.subdomains {
            let base = self.host.strip_suffix('.').unwrap_or(&self.host);
            base == "localhost" || base.ends_with(".localhost")
        } else {
            host::is_loopback(self.host.as_bytes(), self.host_kind)
        }
    }

    /// Does this pattern cover every origin `other` matches (so `other` is redundant)?
    pub fn covers(&self, other: &TuplePattern) -> bool {
        if self.scheme != other.scheme {
            return false;
        }
        let ports = match (self.port, other.port) {
            (PortPattern::Any, _) => true,
            (a, b) => a == b,
        };
        if !ports {
            return false;
        }
        match (self.subdomains, other.subdomains) {
            (false, false) => self.host == other.host,
            (true, _) => {
                other.host.len() > self.host.len() + 1
                    && other.host.ends_with(&self.host)
                    && other.host.as_bytes()[other.host.len() - self.host.len() - 1] == b'.'
                    || (other.subdomains && other.host == self.host)
            }
            (false, true) => false,
        }
    }
}

impl fmt::Display for TuplePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.scheme)?;
        if self.subdomains {
            f.write_str("*.")?;
        }
        f.write_str(&self.host)?;
        PortSuffix(self.port).fmt(f)
    }
}

/// One allowlist entry after parsing.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum OriginPattern {
    /// `*`
    Any,
    /// `null`
    Null,
    /// An exact origin, a subdomain wildcard or a port wildcard.
    Tuple(TuplePattern),
    /// `regex:<pattern>`: the pattern text, without the prefix and without anchors.
    Regex(String),
}

impl fmt::Display for OriginPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OriginPattern::Any => f.write_str("*"),
            OriginPattern::Null => f.write_str("null"),
            OriginPattern::Tuple(t) => t.fmt(f),
            OriginPattern::Regex(r) => write!(f, "regex:{r}"),
        }
    }
}

/// An entry and what canonicalising it changed.
#[derive(Debug, PartialEq)]
pub(crate) struct ParsedEntry {
    pub pattern: OriginPattern,
    /// Why the canonical form differs from the input, e.g. "uppercase letters". Empty when the
    /// input was already canonical.
    pub canonicalised: Vec<&'static str>,
}

fn push_reason(reasons: &mut Vec<&'static str>, reason: &'static str) {
    if !reasons.contains(&reason) {
        reasons.push(reason);
    }
}

const OPAQUE_SCHEMES: &[&str] = &["file", "data", "about", "blob", "javascript"];

/// Parses one allowlist entry.
pub(crate) fn parse_entry(raw: &str) -> Result<ParsedEntry, Problem> {
    match parse_canonical(raw) {
        Some(entry) => Ok(entry),
        None => parse_in_full(raw),
    }
}

/// The fast path of [`parse_entry`], for the entries of a long allowlist: an exact origin or a
/// wildcard written exactly in its canonical form (`https://app.example.com`,
/// `http://localhost:3000`, `https://*.example.com:*`), in one pass over the host and two
/// allocations. `None` for anything else, valid or not, which [`parse_in_full`] then parses:
/// the answer for an entry this accepts is the one `parse_in_full` would give.
fn parse_canonical(raw: &str) -> Option<ParsedEntry> {
    let sep = find_separator(raw)?;
    let scheme = &raw[..sep];
    // `check_scheme`'s alphabet, lowercase already. A `regex` scheme makes a `regex:` entry,
    // and the opaque schemes are refused: both are left to the full parse.
    let (&first, rest) = scheme.as_bytes().split_first()?;
    if !first.is_ascii_lowercase()
        || !rest
            .iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b))
        || scheme.len() > crate::origin::parse::MAX_SCHEME_LEN
        || scheme == "regex"
        || OPAQUE_SCHEMES.contains(&scheme)
    {
        return None;
    }
    let authority = &raw[sep + 3..];
    let (host_and_port, subdomains) = match authority.strip_prefix("*.") {
        Some(base) => (base, true),
        None => (authority, false),
    };
    let (host, port) = match host_and_port.bytes().position(|b| b == b':') {
        Some(colon) => (&host_and_port[..colon], Some(&host_and_port[colon + 1..])),
        None => (host_and_port, None),
    };
    // A canonical host passes the check as written: this refuses uppercase, '%', '*', '[',
    // '/', '?', '#', '@', whitespace and every non-ASCII byte, so nothing else needs a look.
    // An `xn--` label needs the IDNA check.
    let host_kind = host::check_host(host.as_bytes()).ok()?;
    if has_punycode_label(host) {
        return None;
    }
    if subdomains
        && (host_kind != HostKind::Domain
            || host.strip_suffix('.').unwrap_or(host).len() + 2 > host::MAX_HOST_LEN)
    {
        return None;
    }
    let port = match port {
        None => PortPattern::Default,
        Some("*") => PortPattern::Any,
        Some(digits) => {
            // 1 to 65535 without a leading zero, and not the scheme's default port.
            if digits.is_empty()
                || digits.len() > 5
                || digits.starts_with('0')
                || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return None;
            }
            let value = digits
                .bytes()
                .fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
            let value = u16::try_from(value).ok()?;
            if host::default_port(scheme.as_bytes()) == Some(value) {
                return None;
            }
            PortPattern::Exact(value)
        }
    };
    Some(ParsedEntry {
        pattern: OriginPattern::Tuple(TuplePattern {
            scheme: scheme.to_owned(),
            host: host.to_owned(),
            host_kind,
            subdomains,
            port,
        }),
        canonicalised: Vec::new(),
    })
}

/// Parses one allowlist entry, whatever its form: every canonicalisation, every refusal.
fn parse_in_full(raw: &str) -> Result<ParsedEntry, Problem> {
    let mut canonicalised = Vec::new();
    if raw.is_empty() {
        return Err(Problem::new(IssueKind::EmptyOrigin, "the entry is empty")
            .with_hint("remove it, or write an origin such as \"https://example.com\""));
    }
    if has_whitespace(raw) {
        let cleaned: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
        return Err(
            Problem::new(IssueKind::Whitespace, "an origin has no whitespace")
                .with_hint(format!("did you mean {cleaned:?}?")),
        );
    }
    if raw == "*" {
        return Ok(ParsedEntry {
            pattern: OriginPattern::Any,
            canonicalised,
        });
    }
    if raw.eq_ignore_ascii_case("null") {
        if raw != "null" {
            push_reason(&mut canonicalised, "uppercase letters");
        }
        return Ok(ParsedEntry {
            pattern: OriginPattern::Null,
            canonicalised,
        });
    }
    if let Some(source) = raw.strip_prefix("regex:") {
        if source.is_empty() {
            return Err(Problem::new(
                IssueKind::InvalidRegex,
                "the regex after \"regex:\" is empty",
            )
            .with_hint(
                "write a pattern for the whole origin, e.g. regex:https://[a-z]+\\.example\\.com",
            ));
        }
        return Ok(ParsedEntry {
            pattern: OriginPattern::Regex(source.to_owned()),
            canonicalised,
        });
    }

    // scheme "://" authority [ "/" ]
    let Some(sep) = find_separator(raw) else {
        return Err(missing_scheme(raw));
    };
    let raw_scheme = &raw[..sep];
    // `blob:https://…` and friends: the scheme is what comes before the first ':'.
    if let Some((first, _)) = raw_scheme.split_once(':') {
        let first = first.to_ascii_lowercase();
        if OPAQUE_SCHEMES.contains(&first.as_str()) {
            return Err(opaque_scheme(&first));
        }
    }
    let scheme = check_scheme(raw_scheme, raw)?;
    if scheme != raw_scheme {
        push_reason(&mut canonicalised, "uppercase letters");
    }
    if OPAQUE_SCHEMES.contains(&scheme.as_str()) {
        return Err(opaque_scheme(&scheme));
    }
    let after = &raw[sep + 3..];
    // Byte scans: '/', '?', '#' and '@' are ASCII, which UTF-8 never uses inside a character.
    let authority_end = after
        .bytes()
        .position(|b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(after.len());
    let authority = &after[..authority_end];
    let tail = &after[authority_end..];

    // Userinfo is reported first: everything after it would otherwise be misread.
    if let Some(at) = authority.bytes().rposition(|b| b == b'@') {
        let suggestion = format!("{scheme}://{}", &authority[at + 1..]).to_ascii_lowercase();
        return Err(Problem::new(
            IssueKind::OriginHasUserinfo,
            "an origin has no userinfo (user:password@)",
        )
        .with_hint(format!("did you mean {suggestion:?}?")));
    }
    let suggestion = || format!("{scheme}://{}", authority.to_ascii_lowercase());
    match tail.as_bytes().first() {
        None => {}
        Some(b'/') if tail == "/" => push_reason(&mut canonicalised, "a trailing slash"),
        Some(b'/') => {
            return Err(
                Problem::new(IssueKind::OriginHasPath, "an origin has no path")
                    .with_hint(format!("did you mean {:?}?", suggestion())),
            )
        }
        Some(b'?') => {
            return Err(
                Problem::new(IssueKind::OriginHasQuery, "an origin has no query")
                    .with_hint(format!("did you mean {:?}?", suggestion())),
            )
        }
        Some(_) => {
            return Err(
                Problem::new(IssueKind::OriginHasFragment, "an origin has no fragment")
                    .with_hint(format!("did you mean {:?}?", suggestion())),
            )
        }
    }

    if let Some(ip) = authority.strip_prefix("*.[") {
        return Err(Problem::new(
            IssueKind::WildcardOverIp,
            "`*.` stands for subdomains, and an IP address has none",
        )
        .with_hint(format!("list the address itself: \"{scheme}://[{ip}\"")));
    }

    // host [":" port]
    let (raw_host, raw_port) = split_host_port(authority)?;
    let port = match raw_port {
        None => PortPattern::Default,
        Some(p) => parse_port(p, &scheme, &mut canonicalised)?,
    };
    // Rendered only into the messages of refused entries.
    let port_text = PortSuffix(port);

    let (host_text, subdomains) = if raw_host == "*" {
        return Err(Problem::new(
            IssueKind::MisplacedWildcard,
            "a bare `*` host is not a pattern corsgate supports",
        )
        .with_hint(format!(
            "write `*` to allow any origin, or \"{scheme}://*.example.com{port_text}\" for the subdomains of one domain"
        )));
    } else if let Some(base) = raw_host.strip_prefix("*.") {
        (base, true)
    } else {
        (raw_host, false)
    };
    if host_text.contains('*') || raw_scheme.contains('*') {
        return Err(misplaced_wildcard(raw_host, &scheme, port_text));
    }

    let (host, host_kind) = canonical_host(host_text, &scheme, port_text, &mut canonicalised)?;
    if subdomains && host_kind != HostKind::Domain {
        return Err(Problem::new(
            IssueKind::WildcardOverIp,
            "`*.` stands for subdomains, and an IP address has none",
        )
        .with_hint(format!(
            "list the address itself: \"{scheme}://{host}{port_text}\""
        )));
    }
    // The shortest host a wildcard matches is `x.` and its base: past 253 bytes it matches
    // nothing a browser can send.
    let base_len = host.strip_suffix('.').unwrap_or(&host).len();
    if subdomains && base_len + 2 > host::MAX_HOST_LEN {
        return Err(Problem::new(
            IssueKind::HostTooLong,
            format!(
                "any host under this {base_len}-byte base is longer than {} bytes, so the \
                 wildcard matches nothing",
                host::MAX_HOST_LEN
            ),
        )
        .with_hint("a wildcard's base is at most 251 bytes"));
    }
    Ok(ParsedEntry {
        pattern: OriginPattern::Tuple(TuplePattern {
            scheme,
            host,
            host_kind,
            subdomains,
            port,
        }),
        canonicalised,
    })
}

/// `raw.chars().any(char::is_whitespace)`, a byte at a time when `raw` is ASCII (the ASCII
/// whitespace characters are U+0009 to U+000D and the space).
fn has_whitespace(raw: &str) -> bool {
    if raw.is_ascii() {
        raw.bytes().any(|b| matches!(b, b'\t'..=b'\r' | b' '))
    } else {
        raw.chars().any(char::is_whitespace)
    }
}

/// `raw.find("://")` without building a substring searcher for every entry.
fn find_separator(raw: &str) -> Option<usize> {
    raw.as_bytes()
        .windows(3)
        .position(|w| w[0] == b':' && w[1] == b'/' && w[2] == b'/')
}

fn missing_scheme(raw: &str) -> Problem {
    let before_colon = raw.split(':').next().unwrap_or(raw).to_ascii_lowercase();
    if OPAQUE_SCHEMES.contains(&before_colon.as_str()) {
        return opaque_scheme(&before_colon);
    }
    let host = raw.split([':', '/']).next().unwrap_or(raw);
    let scheme = if host.eq_ignore_ascii_case("localhost") || host.starts_with("127.") {
        "http"
    } else {
        "https"
    };
    let trimmed = raw.trim_end_matches('/').to_ascii_lowercase();
    Problem::new(
        IssueKind::MissingScheme,
        "an origin starts with a scheme and \"://\"",
    )
    .with_hint(format!("did you mean \"{scheme}://{trimmed}\"?"))
}

fn opaque_scheme(scheme: &str) -> Problem {
    Problem::new(
        IssueKind::OpaqueOriginScheme,
        format!("pages on {scheme}: URLs have opaque origins and send `Origin: null`"),
    )
    .with_hint(
        "to allow them, list \"null\" and set dangerously_allow_null_origin = true, knowing that \
         every sandboxed iframe sends null too",
    )
}

fn check_scheme(raw_scheme: &str, raw: &str) -> Result<String, Problem> {
    let scheme = raw_scheme.to_ascii_lowercase();
    if raw_scheme.contains('*') {
        return Err(Problem::new(
            IssueKind::MisplacedWildcard,
            "a `*` cannot stand for a scheme",
        )
        .with_hint("list each scheme, e.g. \"https://example.com\" and \"http://localhost:*\""));
    }
    let valid = scheme.bytes().enumerate().all(|(i, b)| {
        b.is_ascii_lowercase() || (i > 0 && (b.is_ascii_digit() || b"+-.".contains(&b)))
    });
    if scheme.is_empty() || !valid || scheme.len() > crate::origin::parse::MAX_SCHEME_LEN {
        return Err(Problem::new(
            IssueKind::InvalidScheme,
            format!("{raw_scheme:?} is not a URL scheme"),
        )
        .with_hint(format!(
            "a scheme is a letter followed by letters, digits, '+', '-' or '.', as in \"https://{}\"",
            &raw[raw.find("://").map_or(0, |i| i + 3)..]
        )));
    }
    Ok(scheme)
}

fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), Problem> {
    if authority.starts_with('[') {
        let Some(close) = authority.find(']') else {
            return Err(Problem::new(
                IssueKind::InvalidIp,
                "an IPv6 address is missing its ']'",
            ));
        };
        let rest = &authority[close + 1..];
        return match rest.strip_prefix(':') {
            Some(port) => Ok((&authority[..=close], Some(port))),
            None if rest.is_empty() => Ok((authority, None)),
            None => Err(Problem::new(
                IssueKind::InvalidIp,
                "unexpected text after an IPv6 address",
            )
            .with_hint("write [address]:port")),
        };
    }
    Ok(match authority.bytes().position(|b| b == b':') {
        Some(colon) => (&authority[..colon], Some(&authority[colon + 1..])),
        None => (authority, None),
    })
}

fn parse_port(
    text: &str,
    scheme: &str,
    canonicalised: &mut Vec<&'static str>,
) -> Result<PortPattern, Problem> {
    if text == "*" {
        return Ok(PortPattern::Any);
    }
    if text.contains('*') {
        return Err(Problem::new(
            IssueKind::MisplacedWildcard,
            "a port is a number or `*`, never part of one",
        )
        .with_hint("write `:*` for any port, or list the ports you need"));
    }
    let invalid = |message: &str| {
        Problem::new(IssueKind::InvalidPort, message.to_owned()).with_hint(
            "a port is a number from 1 to 65535 without leading zeros, or `*` for any port",
        )
    };
    if text.is_empty() {
        return Err(invalid("the port after ':' is empty"));
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid("the port is not a number"));
    }
    if text.len() > 1 && text.starts_with('0') {
        return Err(invalid(
            "the port has a leading zero, which browsers never send",
        ));
    }
    let value: u32 = text.parse().unwrap_or(u32::MAX);
    if value == 0 {
        return Err(invalid("port 0 is not a port browsers connect to"));
    }
    if value > 65535 {
        return Err(invalid("the port is above 65535"));
    }
    let value = value as u16;
    if host::default_port(scheme.as_bytes()) == Some(value) {
        push_reason(
            canonicalised,
            "the scheme's default port, which browsers omit",
        );
        return Ok(PortPattern::Default);
    }
    Ok(PortPattern::Exact(value))
}

fn misplaced_wildcard(raw_host: &str, scheme: &str, port_text: PortSuffix) -> Problem {
    let problem = Problem::new(
        IssueKind::MisplacedWildcard,
        "`*` can only be a whole leading label (`*.example.com`) or the port (`:*`)",
    );
    // `*example.com` and `*-app.example.com` most likely meant the subdomains of the rest.
    let rest = raw_host
        .trim_start_matches('*')
        .trim_start_matches(['.', '-']);
    if !rest.is_empty() && !rest.contains('*') {
        problem.with_hint(format!(
            "did you mean \"{scheme}://*.{}{port_text}\" (any subdomain), or a regex: entry?",
            rest.to_ascii_lowercase()
        ))
    } else {
        problem.with_hint("use a regex: entry for patterns other than `*.domain`")
    }
}

/// Canonicalises a configured host to the form browsers send and checks it.
fn canonical_host(
    raw: &str,
    scheme: &str,
    port_text: PortSuffix,
    canonicalised: &mut Vec<&'static str>,
) -> Result<(String, HostKind), Problem> {
    if raw.is_empty() {
        return Err(
            Problem::new(IssueKind::InvalidHost, "the origin has no host")
                .with_hint("write a host after \"://\", e.g. \"https://example.com\""),
        );
    }
    if let Some(inner) = raw.strip_prefix('[') {
        let inner = inner.strip_suffix(']').unwrap_or(inner);
        if inner.contains('%') {
            return Err(Problem::new(
                IssueKind::InvalidIp,
                "an IPv6 zone identifier (%) is not part of an origin",
            )
            .with_hint("remove the zone identifier"));
        }
        let Ok(addr) = inner.parse::<Ipv6Addr>() else {
            return Err(Problem::new(
                IssueKind::InvalidIp,
                format!("[{inner}] is not an IPv6 address"),
            ));
        };
        if let Some(v4) = addr.to_ipv4_mapped() {
            return Err(Problem::new(
                IssueKind::Ipv4MappedIpv6,
                "browsers never send an IPv4-mapped IPv6 address as an origin",
            )
            .with_hint(format!("did you mean \"{scheme}://{v4}{port_text}\"?")));
        }
        let canonical = format!("[{}]", host::ipv6_to_string(addr));
        if canonical != raw {
            push_reason(canonicalised, "the IPv6 address's spelling");
        }
        return Ok((canonical, HostKind::Ipv6));
    }
    if raw.contains('%') {
        return Err(Problem::new(
            IssueKind::PercentEncoding,
            "browsers decode percent-encoding before they send a host",
        )
        .with_hint("write the host itself, without %XX escapes"));
    }
    let ascii =
        if raw.is_ascii() {
            // Most hosts are written lowercase already: one copy, and no second pass to
            // compare it with the input.
            let lower = if raw.bytes().any(|b| b.is_ascii_uppercase()) {
                push_reason(canonicalised, "uppercase letters");
                raw.to_ascii_lowercase()
            } else {
                raw.to_owned()
            };
            if has_punycode_label(&lower) {
                match to_ascii(&lower) {
                    Ok(checked) if checked == lower => {}
                    _ => return Err(Problem::new(
                        IssueKind::InvalidPunycode,
                        "an xn-- label is not valid Punycode for a valid internationalized label",
                    )
                    .with_hint("write the Unicode name instead and let corsgate convert it")),
                }
            }
            lower
        } else {
            match to_ascii(raw) {
                Ok(ascii) => {
                    push_reason(canonicalised, "a Unicode host, converted to Punycode");
                    ascii
                }
                Err(()) => {
                    return Err(Problem::new(
                        IssueKind::InvalidHost,
                        "not a valid internationalized domain name",
                    )
                    .with_hint("check the name for characters that IDNA disallows"))
                }
            }
        };
    match host::check_host(ascii.as_bytes()) {
        Ok(kind) => Ok((ascii, kind)),
        Err(defect) => Err(host_problem(defect, &ascii, scheme, port_text)),
    }
}

/// `host.split('.').any(|l| l.starts_with("xn--"))`, a label at a time.
fn has_punycode_label(host: &str) -> bool {
    let mut rest = host.as_bytes();
    loop {
        if rest.starts_with(b"xn--") {
            return true;
        }
        match rest.iter().position(|&b| b == b'.') {
            Some(dot) => rest = &rest[dot + 1..],
            None => return false,
        }
    }
}

fn to_ascii(host: &str) -> Result<String, ()> {
    idna::uts46::Uts46::new()
        .to_ascii(
            host.as_bytes(),
            idna::uts46::AsciiDenyList::URL,
            idna::uts46::Hyphens::Allow,
            idna::uts46::DnsLength::Ignore,
        )
        .map(|cow| cow.into_owned())
        .map_err(|_| ())
}

fn host_problem(defect: HostDefect, host: &str, scheme: &str, port_text: PortSuffix) -> Problem {
    match defect {
        HostDefect::Empty => Problem::new(IssueKind::InvalidHost, "the origin has no host"),
        HostDefect::EmptyLabel => Problem::new(
            IssueKind::EmptyLabel,
            "the host has an empty label (a leading dot, two dots in a row, or more than one trailing dot)",
        )
        .with_hint("remove the extra dot"),
        HostDefect::LabelTooLong => Problem::new(
            IssueKind::LabelTooLong,
            "a label of the host is longer than 63 bytes",
        ),
        HostDefect::TooLong => {
            Problem::new(IssueKind::HostTooLong, "the host is longer than 253 bytes")
        }
        HostDefect::Uppercase => Problem::new(IssueKind::InvalidHost, "the host has uppercase letters"),
        HostDefect::BadChar(b) => Problem::new(
            IssueKind::InvalidHost,
            format!("a host cannot contain {:?}", char::from(b)),
        )
        .with_hint("hosts are letters, digits, '-', '_' and dots"),
        HostDefect::HyphenAtLabelEdge => Problem::new(
            IssueKind::InvalidHost,
            "a label of the host starts or ends with '-'",
        ),
        HostDefect::NotCanonicalIpv4 => match host::url_ipv4(host) {
            Some(addr) => {
                let dotted = format!("{}.{}.{}.{}", addr[0], addr[1], addr[2], addr[3]);
                Problem::new(
                    IssueKind::InvalidIp,
                    format!("browsers read this host as the IPv4 address {dotted}"),
                )
                .with_hint(format!("did you mean \"{scheme}://{dotted}{port_text}\"?"))
            }
            None => Problem::new(
                IssueKind::InvalidIp,
                "the last label is a number, so browsers parse the host as an IPv4 address, and it is not one",
            ),
        },
        HostDefect::DotAfterIpv4 => Problem::new(
            IssueKind::InvalidIp,
            "an IPv4 address has no trailing dot",
        )
        .with_hint(format!(
            "did you mean \"{scheme}://{}{port_text}\"?",
            host.trim_end_matches('.')
        )),
        HostDefect::NotCanonicalIpv6 => {
            Problem::new(IssueKind::InvalidIp, "not a valid IPv6 address")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(raw: &str) -> String {
        parse_entry(raw).unwrap().pattern.to_string()
    }

    fn kind(raw: &str) -> IssueKind {
        parse_entry(raw).unwrap_err().kind
    }

    #[test]
    fn canonicalises() {
        assert_eq!(canonical("HTTPS://Example.COM/"), "https://example.com");
        assert_eq!(canonical("https://example.com:443"), "https://example.com");
        assert_eq!(
            canonical("https://bücher.example"),
            "https://xn--bcher-kva.example"
        );
        assert_eq!(
            canonical("http://[0:0:0:0:0:0:0:1]:8080"),
            "http://[::1]:8080"
        );
        assert_eq!(
            canonical("https://*.Example.com:*"),
            "https://*.example.com:*"
        );
        assert_eq!(canonical("http://localhost:*"), "http://localhost:*");
        assert!(parse_entry("https://example.com")
            .unwrap()
            .canonicalised
            .is_empty());
    }

    #[test]
    fn refuses() {
        assert_eq!(kind("https://example.com/app"), IssueKind::OriginHasPath);
        assert_eq!(kind("https://example.com?a"), IssueKind::OriginHasQuery);
        assert_eq!(kind("https://example.com#a"), IssueKind::OriginHasFragment);
        assert_eq!(
            kind("https://u:p@example.com"),
            IssueKind::OriginHasUserinfo
        );
        assert_eq!(kind("https://exa mple.com"), IssueKind::Whitespace);
        assert_eq!(
            kind("https://a.*.example.com"),
            IssueKind::MisplacedWildcard
        );
        assert_eq!(kind("https://*example.com"), IssueKind::MisplacedWildcard);
        assert_eq!(kind("https://*.127.0.0.1"), IssueKind::WildcardOverIp);
        assert_eq!(kind("https://example.com:0"), IssueKind::InvalidPort);
        assert_eq!(kind("https://example.com:65536"), IssueKind::InvalidPort);
        assert_eq!(kind("https://example.com:080"), IssueKind::InvalidPort);
        assert_eq!(kind("https://example.com:"), IssueKind::InvalidPort);
        assert_eq!(kind("http://[::ffff:7f00:1]"), IssueKind::Ipv4MappedIpv6);
        assert_eq!(kind("http://[::zz]"), IssueKind::InvalidIp);
        assert_eq!(kind("http://127.1"), IssueKind::InvalidIp);
        assert_eq!(kind("https://a..com"), IssueKind::EmptyLabel);
        assert_eq!(kind("https://xn--zz.example"), IssueKind::InvalidPunycode);
        assert_eq!(kind("file:///etc"), IssueKind::OpaqueOriginScheme);
        assert_eq!(kind("data:text/html,x"), IssueKind::OpaqueOriginScheme);
        assert_eq!(kind("example.com"), IssueKind::MissingScheme);
        assert_eq!(kind("https://ex%61mple.com"), IssueKind::PercentEncoding);
    }

    #[test]
    fn hints_name_the_fix() {
        let p = parse_entry("https://example.com/app").unwrap_err();
        assert_eq!(
            p.hint.as_deref(),
            Some("did you mean \"https://example.com\"?")
        );
        let p = parse_entry("http://[::ffff:7f00:1]:8080").unwrap_err();
        assert_eq!(
            p.hint.as_deref(),
            Some("did you mean \"http://127.0.0.1:8080\"?")
        );
        let p = parse_entry("http://010.0.0.1").unwrap_err();
        assert_eq!(p.hint.as_deref(), Some("did you mean \"http://8.0.0.1\"?"));
        let p = parse_entry("localhost:3000").unwrap_err();
        assert_eq!(
            p.hint.as_deref(),
            Some("did you mean \"http://localhost:3000\"?")
        );
    }

    /// The fast path takes the canonical forms of a long allowlist's entries.
    #[test]
    fn canonical_entries_take_the_fast_path() {
        for entry in [
            "https://example.com",
            "https://tenant-99999.example.com",
            "http://localhost:3000",
            "https://*.example.com",
            "https://*.example.com:*",
            "http://localhost:*",
            "http://127.0.0.1:8080",
            "https://a.b-c_d.example.",
            "chrome-extension://abcdefgh",
            "https://example.com:8443",
        ] {
            let fast = parse_canonical(entry);
            assert!(fast.is_some(), "{entry}");
            assert_eq!(fast, parse_in_full(entry).ok(), "{entry}");
        }
        for entry in [
            "HTTPS://example.com",
            "https://Example.com",
            "https://example.com/",
            "https://example.com:443",
            "https://example.com:08443",
            "https://xn--bcher-kva.example",
            "https://bücher.example",
            "http://[::1]:3000",
            "regex://example.com",
            "file://example.com",
            "https://*.127.0.0.1",
            "https://example.com:",
            "https://example.com:65536",
        ] {
            assert_eq!(parse_canonical(entry), None, "{entry}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config {
            cases: 20_000,
            failure_persistence: None,
            ..proptest::test_runner::Config::default()
        })]

        /// Whatever the fast path accepts, the full parse accepts with the same answer.
        #[test]
        fn the_fast_path_agrees_with_the_full_parse(
            entry in "(https|http|HTTPS|Http|ws|wss|ftp|regex|file|blob|a\\+b|1x|x\\*|)(://|:/|:)(\\*\\.|\\*)?([a-zA-Z0-9_%ü*\\[\\]-]{0,8}\\.?){0,3}(xn--[a-z0-9]{0,4})?(:[0-9*]{0,6})?(/|/x|\\?|#|@x| )?"
        ) {
            if let Some(fast) = parse_canonical(&entry) {
                proptest::prop_assert_eq!(Some(fast), parse_in_full(&entry).ok(), "{:?}", entry);
            }
        }
    }

    /// The byte scans of `parse_entry` answer as the `str` methods they replace.
    #[test]
    fn byte_scans_agree_with_str_methods() {
        let samples = [
            "",
            "https://example.com",
            "https:/x://y",
            "a:b://c",
            ":://",
            "://",
            "https:\u{a0}//x",
            "https://exa\u{2003}mple.com",
            "https://a\u{b}b",
            "https://a\u{85}b",
            "https://xn--bcher-kva.example",
            "xn--a",
            "a.xn--b.c",
            "a.xn-b",
            "axn--b",
            ".xn--",
            "a..xn--",
            "bücher.xn--x",
        ];
        for s in samples {
            assert_eq!(
                has_whitespace(s),
                s.chars().any(char::is_whitespace),
                "{s:?}"
            );
            assert_eq!(find_separator(s), s.find("://"), "{s:?}");
            assert_eq!(
                has_punycode_label(s),
                s.split('.').any(|l| l.starts_with("xn--")),
                "{s:?}"
            );
        }
        for b in 0..=0x7fu8 {
            let s = format!("a{}b", char::from(b));
            assert_eq!(
                has_whitespace(&s),
                s.chars().any(char::is_whitespace),
                "{b}"
            );
        }
    }

    #[test]
    fn covers() {
        let p = |s: &str| match parse_entry(s).unwrap().pattern {
            OriginPattern::Tuple(t) => t,
            other => panic!("{other:?}"),
        };
        assert!(p("https://*.example.com").covers(&p("https://a.example.com")));
        assert!(p("https://*.example.com").covers(&p("https://*.a.example.com")));
        assert!(!p("https://*.example.com").covers(&p("https://example.com")));
        assert!(!p("https://*.example.com").covers(&p("https://a.example.com:8443")));
        assert!(p("https://*.example.com:*").covers(&p("https://a.example.com:8443")));
        assert!(p("http://localhost:*").covers(&p("http://localhost:3000")));
        assert!(!p("https://*.example.com").covers(&p("https://aexample.com")));
    }
}
