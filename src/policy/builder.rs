//! [`PolicyBuilder`]: the raw settings, as they come, and [`build`](PolicyBuilder::build),
//! which runs every check and reports every problem at once.

use std::sync::Arc;

use crate::error::{Issue, PolicyError};
use crate::origin::pattern::OriginPattern;

use super::origins::OriginsCheck;
use super::{fields, Policy};

/// Collects a policy's settings, as raw as they come, and validates them in [`build`].
///
/// Every setter replaces the field's value; `origin`, `method`, `allow_header` and
/// `expose_header` append one value.
///
/// # Example
/// ```
/// use corsgate::Policy;
///
/// let policy = Policy::builder()
///     .origins(["https://app.example.com", "https://*.example.com"])
///     .methods(["GET", "PUT", "DELETE"])
///     .allow_headers(["Content-Type", "Authorization"])
///     .expose_headers(["X-Request-Id"])
///     .credentials(true)
///     .max_age(600)
///     .build()?;
/// assert!(policy.credentials());
/// # Ok::<(), corsgate::PolicyError>(())
/// ```
///
/// [`build`]: PolicyBuilder::build
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyBuilder {
    /// Shared, not copied, by a clone (such as the one each built [`Policy`] keeps as its
    /// source): an allowlist of 100,000 origins is copied only if a clone is then changed.
    pub(crate) origins: Arc<Vec<String>>,
    pub(crate) methods: Option<Vec<String>>,
    pub(crate) allow_headers: Vec<String>,
    pub(crate) expose_headers: Vec<String>,
    pub(crate) credentials: bool,
    pub(crate) max_age: Option<i64>,
    pub(crate) private_network: bool,
    pub(crate) preflight_status: Option<i64>,
    pub(crate) preflight_passthrough: bool,
    pub(crate) dangerously_allow_null_origin: bool,
    pub(crate) dangerously_allow_insecure_origins: bool,
    pub(crate) dangerously_allow_public_suffix_wildcards: bool,
    pub(crate) dangerously_reflect_any_origin_with_credentials: bool,
}

fn strings<I, S>(values: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    values.into_iter().map(Into::into).collect()
}

impl PolicyBuilder {
    /// An empty builder: no origins (which `build` refuses), and every other field at its
    /// default (safelisted methods only, no headers, no credentials, no max-age, status 204).
    pub fn new() -> PolicyBuilder {
        PolicyBuilder::default()
    }

    /// The allowlist: exact origins, `https://*.example.com`, `http://localhost:*`,
    /// `regex:<pattern>`, `*`, `null`.
    pub fn origins<I, S>(&mut self, origins: I) -> &mut PolicyBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.origins = Arc::new(strings(origins));
        self
    }

    /// Appends one allowlist entry.
    pub fn origin(&mut self, origin: impl Into<String>) -> &mut PolicyBuilder {
        Arc::make_mut(&mut self.origins).push(origin.into());
        self
    }

    /// Appends the entries of an origins file, sharing its list when there are no origins yet.
    #[cfg(feature = "file")]
    pub(crate) fn append_origins(&mut self, entries: &Arc<Vec<String>>) {
        if self.origins.is_empty() {
            self.origins = Arc::clone(entries);
        } else {
            Arc::make_mut(&mut self.origins).extend(entries.iter().cloned());
        }
    }

    /// Allowed methods; `*` for any. Unset means `GET`, `HEAD`, `POST`, which are always
    /// allowed anyway.
    pub fn methods<I, S>(&mut self, methods: I) -> &mut PolicyBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.methods = Some(strings(methods));
        self
    }

    /// Appends one allowed method.
    pub fn method(&mut self, method: impl Into<String>) -> &mut PolicyBuilder {
        self.methods
            .get_or_insert_with(Vec::new)
            .push(method.into());
        self
    }

    /// Request headers a page may send; `*` for any except `Authorization`.
    pub fn allow_headers<I, S>(&mut self, names: I) -> &mut PolicyBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allow_headers = strings(names);
        self
    }

    /// Appends one allowed request header.
    pub fn allow_header(&mut self, name: impl Into<String>) -> &mut PolicyBuilder {
        self.allow_headers.push(name.into());
        self
    }

    /// Response headers a page may read beyond the safelisted ones; `*` for any (not with
    /// credentials).
    pub fn expose_headers<I, S>(&mut self, names: I) -> &mut PolicyBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.expose_headers = strings(names);
        self
    }

    /// Appends one exposed header.
    pub fn expose_header(&mut self, name: impl Into<String>) -> &mut PolicyBuilder {
        self.expose_headers.push(name.into());
        self
    }

    /// Whether pages may send cookies and read responses to credentialed requests.
    pub fn credentials(&mut self, yes: bool) -> &mut PolicyBuilder {
        self.credentials = yes;
        self
    }

    /// `Access-Control-Max-Age` in seconds, 0..=86400.
    pub fn max_age(&mut self, seconds: u32) -> &mut PolicyBuilder {
        self.max_age = Some(i64::from(seconds));
        self
    }

    /// Sends no `Access-Control-Max-Age` (browsers then cache preflights for 5 seconds).
    pub fn no_max_age(&mut self) -> &mut PolicyBuilder {
        self.max_age = None;
        self
    }

    #[cfg(feature = "file")]
    pub(crate) fn max_age_raw(&mut self, seconds: Option<i64>) -> &mut PolicyBuilder {
        self.max_age = seconds;
        self
    }

    /// Answer `Access-Control-Request-Private-Network: true` with
    /// `Access-Control-Allow-Private-Network: true`.
    pub fn private_network(&mut self, yes: bool) -> &mut PolicyBuilder {
        self.private_network = yes;
        self
    }

    /// Status of an allowed preflight: 204 (default) or 200.
    pub fn preflight_status(&mut self, status: u16) -> &mut PolicyBuilder {
        self.preflight_status = Some(i64::from(status));
        self
    }

    #[cfg(feature = "file")]
    pub(crate) fn preflight_status_raw(&mut self, status: Option<i64>) -> &mut PolicyBuilder {
        self.preflight_status = status;
        self
    }

    /// Forward denied preflights to the upstream instead of answering 403.
    pub fn preflight_passthrough(&mut self, yes: bool) -> &mut PolicyBuilder {
        self.preflight_passthrough = yes;
        self
    }

    /// Allow `Origin: null` when the allowlist lists `null`. Every sandboxed iframe,
    /// `file:` page and cross-origin redirect sends `null`.
    pub fn dangerously_allow_null_origin(&mut self, yes: bool) -> &mut PolicyBuilder {
        self.dangerously_allow_null_origin = yes;
        self
    }

    /// With credentials, allow schemes other than `https` on non-loopback hosts.
    pub fn dangerously_allow_insecure_origins(&mut self, yes: bool) -> &mut PolicyBuilder {
        self.dangerously_allow_insecure_origins = yes;
        self
    }

    /// With credentials, allow wildcards over public suffixes (`https://*.github.io`).
    pub fn dangerously_allow_public_suffix_wildcards(&mut self, yes: bool) -> &mut PolicyBuilder {
        self.dangerously_allow_public_suffix_wildcards = yes;
        self
    }

    /// With credentials and `*`, echo every valid request origin (the Kubernetes Gateway API's
    /// behaviour). Any site can then read responses with the user's cookies. Also tolerates
    /// `regex:` entries that match origins nobody configured.
    pub fn dangerously_reflect_any_origin_with_credentials(
        &mut self,
        yes: bool,
    ) -> &mut PolicyBuilder {
        self.dangerously_reflect_any_origin_with_credentials = yes;
        self
    }

    /// Validates everything and returns the policy, or every problem found.
    pub fn build(&self) -> Result<Policy, PolicyError> {
        let mut issues = Vec::new();
        let origins = OriginsCheck::run(self, &mut issues);
        let methods = fields::check_methods(self.methods.as_deref(), &mut issues);
        let allow_headers = fields::check_allow_headers(&self.allow_headers, &mut issues);
        let expose_headers =
            fields::check_expose_headers(&self.expose_headers, self.credentials, &mut issues);
        let max_age = fields::check_max_age(self.max_age, &mut issues);
        let preflight_status = fields::check_preflight_status(self.preflight_status, &mut issues);
        if issues.iter().any(Issue::is_error) {
            return Err(PolicyError::new(issues));
        }
        let any_origin = origins
            .entries
            .iter()
            .any(|e| matches!(e.pattern, OriginPattern::Any));
        Ok(Policy {
            source: self.clone(),
            entries: origins.entries,
            regex: origins.regex,
            any_origin,
            methods,
            allow_headers,
            expose_headers,
            credentials: self.credentials,
            max_age,
            private_network: self.private_network,
            preflight_status,
            preflight_passthrough: self.preflight_passthrough,
            warnings: issues,
        })
    }
}
