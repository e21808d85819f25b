//! The checks of every field but the allowlist: methods, allowed and exposed header names,
//! `max_age` and `preflight_status`.

use crate::error::{Field, Issue, IssueKind};
use crate::method;

use super::header_names::{self, Exposed};
use super::{AllowedHeaders, AllowedMethods, ExposedHeaders, MAX_AGE_CHROMIUM_CAP, MAX_AGE_LIMIT};

pub(super) fn duplicate(field: Field, index: usize, raw: &str) -> Issue {
    Issue::warning(IssueKind::DuplicateEntry, field, "listed twice; merged")
        .at(index)
        .with_value(raw)
        .with_hint("remove the duplicate")
}

pub(super) fn check_methods(methods: Option<&[String]>, issues: &mut Vec<Issue>) -> AllowedMethods {
    let Some(methods) = methods else {
        return AllowedMethods {
            any: false,
            list: method::SAFELISTED.iter().map(|m| (*m).to_owned()).collect(),
        };
    };
    let mut out = AllowedMethods {
        any: false,
        list: Vec::new(),
    };
    for (i, raw) in methods.iter().enumerate() {
        if raw == "*" {
            if out.any {
                issues.push(duplicate(Field::Methods, i, raw));
            }
            out.any = true;
            continue;
        }
        match method::parse_config_method(raw) {
            Ok(m) if out.list.contains(&m) => issues.push(duplicate(Field::Methods, i, raw)),
            Ok(m) => out.list.push(m),
            Err(problem) => issues.push(problem.into_issue(Field::Methods, i, raw)),
        }
    }
    out
}

pub(super) fn check_allow_headers(names: &[String], issues: &mut Vec<Issue>) -> AllowedHeaders {
    let mut out = AllowedHeaders {
        any: false,
        list: Vec::new(),
    };
    for (i, raw) in names.iter().enumerate() {
        match header_names::parse_allowed(raw) {
            Ok(n) if n == "*" => {
                if out.any {
                    issues.push(duplicate(Field::AllowHeaders, i, raw));
                }
                out.any = true;
            }
            Ok(n) if out.list.contains(&n) => issues.push(duplicate(Field::AllowHeaders, i, raw)),
            Ok(n) => out.list.push(n),
            Err(problem) => issues.push(problem.into_issue(Field::AllowHeaders, i, raw)),
        }
    }
    out
}

pub(super) fn check_expose_headers(
    names: &[String],
    credentials: bool,
    issues: &mut Vec<Issue>,
) -> ExposedHeaders {
    let mut out = ExposedHeaders {
        any: false,
        list: Vec::new(),
    };
    for (i, raw) in names.iter().enumerate() {
        match header_names::parse_exposed(raw) {
            Ok(Exposed::Keep(n)) if n == "*" => {
                if credentials {
                    issues.push(
                        Issue::error(
                            IssueKind::WildcardExposeWithCredentials,
                            Field::ExposeHeaders,
                            "with credentials, browsers read `*` as a header literally named \"*\"",
                        )
                        .at(i)
                        .with_value(raw)
                        .with_hint("list the headers pages may read"),
                    );
                } else {
                    out.any = true;
                }
            }
            Ok(Exposed::Keep(n)) if out.list.contains(&n) => {
                issues.push(duplicate(Field::ExposeHeaders, i, raw))
            }
            Ok(Exposed::Keep(n)) => out.list.push(n),
            Ok(Exposed::Safelisted) => issues.push(
                Issue::warning(
                    IssueKind::SafelistedExposedHeader,
                    Field::ExposeHeaders,
                    "browsers expose this CORS-safelisted response header without being told; dropped",
                )
                .at(i)
                .with_value(raw)
                .with_hint("remove it"),
            ),
            Err(problem) => issues.push(problem.into_issue(Field::ExposeHeaders, i, raw)),
        }
    }
    out
}

pub(super) fn check_max_age(max_age: Option<i64>, issues: &mut Vec<Issue>) -> Option<u32> {
    let value = max_age?;
    if !(0..=i64::from(MAX_AGE_LIMIT)).contains(&value) {
        issues.push(
            Issue::error(
                IssueKind::MaxAgeOutOfRange,
                Field::MaxAge,
                "max_age is a whole number of seconds from 0 to 86400",
            )
            .with_value(value.to_string())
            .with_hint(if value < 0 {
                "use 0 to make browsers preflight every request, or leave max_age out"
            } else {
                "use 7200 (Chromium's cap) or at most 86400 (Firefox's)"
            }),
        );
        return None;
    }
    let value = value as u32;
    if value > MAX_AGE_CHROMIUM_CAP {
        issues.push(
            Issue::warning(
                IssueKind::MaxAgeAboveBrowserCap,
                Field::MaxAge,
                "Chromium caps preflight caching at 7200 seconds; only Firefox honours more",
            )
            .with_value(value.to_string())
            .with_hint("use 7200 unless you rely on Firefox's longer cache"),
        );
    }
    Some(value)
}

pub(super) fn check_preflight_status(status: Option<i64>, issues: &mut Vec<Issue>) -> u16 {
    match status {
        None => 204,
        Some(s @ (200 | 204)) => s as u16,
        Some(other) => {
            issues.push(
                Issue::error(
                    IssueKind::InvalidPreflightStatus,
                    Field::PreflightStatus,
                    "an allowed preflight is answered 204 or 200",
                )
                .with_value(other.to_string())
                .with_hint("use 204 (the default), or 200 for old clients that mishandle 204"),
            );
            204
        }
    }
}
