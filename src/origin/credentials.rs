//! What `credentials = true` refuses in exact and wildcard entries (design 2.2): a scheme
//! other than `https` on a non-loopback host, and a wildcard over a public suffix or over a
//! name beneath which the Public Suffix List has a rule. The `dangerously_*` options that lift
//! each refusal are applied by the policy; regex entries are proven in `proof`.

use super::pattern::TuplePattern;
use crate::error::{IssueKind, Problem};
use crate::public_suffix;

/// A non-`https` scheme on a non-loopback host: a network attacker can be that origin.
pub(crate) fn insecure_scheme(t: &TuplePattern) -> Option<Problem> {
    if t.scheme == "https" || t.is_loopback() {
        return None;
    }
    let secure = TuplePattern {
        scheme: "https".to_owned(),
        ..t.clone()
    };
    Some(
        Problem::new(
            IssueKind::InsecureOriginWithCredentials,
            format!(
                "with credentials, a {}: origin on a non-loopback host can be impersonated by a \
                 network attacker",
                t.scheme
            ),
        )
        .with_hint(format!(
            "use {:?}, or set dangerously_allow_insecure_origins = true",
            secure.to_string()
        )),
    )
}

/// A wildcard whose base is a public suffix (`*.github.io`), or whose subtree holds one
/// (`*.amazonaws.com` covers `bucket.s3.amazonaws.com`, under the rule `s3.amazonaws.com`):
/// anyone can own a host it matches. Private section and default rule included; `*.localhost`
/// is loopback and never refused.
pub(crate) fn public_suffix_wildcard(t: &TuplePattern) -> Option<Problem> {
    if !t.subdomains || t.is_loopback() {
        return None;
    }
    let base = t.host.strip_suffix('.').unwrap_or(&t.host);
    let list = public_suffix::list();
    // Rendered only for a refusal: most wildcards are over a domain of one's own.
    let own = || format!("\"{}://*.yourapp.{base}\"", t.scheme);
    if list.is_public_suffix(base) {
        return Some(
            Problem::new(
                IssueKind::PublicSuffixWildcard,
                format!("{base} is a public suffix: anyone can register a domain under it"),
            )
            .with_hint(format!(
                "list your own domain, e.g. {}, or set \
                 dangerously_allow_public_suffix_wildcards = true",
                own()
            )),
        );
    }
    let rule = list.rule_beneath(base)?;
    // A host anyone can own under that rule.
    let example = if let Some(exception) = rule.strip_prefix('!') {
        exception.to_owned()
    } else if let Some(parent) = rule.strip_prefix("*.") {
        format!("anyone.x.{parent}")
    } else {
        format!("anyone.{rule}")
    };
    Some(
        Problem::new(
            IssueKind::PublicSuffixWildcard,
            format!(
                "the Public Suffix List has rules beneath {base} (such as {rule}): this wildcard \
                 also matches hosts other people own, such as {example}"
            ),
        )
        .with_hint(format!(
            "list the hosts you own under {base}, or a wildcard over a name of yours beneath it \
             (e.g. {}), or set dangerously_allow_public_suffix_wildcards = true",
            own()
        )),
    )
}
