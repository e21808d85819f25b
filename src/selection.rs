//! A policy set's routes compiled for choosing (design §8): the request's host and path → the
//! route that decides, in at most one hash probe per label of the host plus one per segment of
//! the path, whatever the number of routes and hosts.
//!
//! Exact hosts sit in one table and wildcard bases in another, each pointing at a *node*: the
//! routes of that host entry, keyed by path prefix. A request's host is probed whole in the
//! exact table, then by label suffix in the wildcard table (longest first, never the whole
//! host: `*.example.com` never matches `example.com`, and a suffix always starts at a label, so
//! never `evilexample.com`); no hit falls to the routes without `hosts`. The path is probed
//! from its longest segment-wise prefix to its shortest (`/public` is a prefix of `/public/x`,
//! never of `/publicity`), no deeper than the node's longest prefix.
//!
//! The fallbacks are precomputed: a node's table also holds the prefixes of the less specific
//! nodes that would decide when it has no match (wildcards with fewer labels, then the hostless
//! routes), each mapped to the route that wins there by the Gateway API's order (most specific
//! host, then longest prefix). One walk down one node's table therefore gives the answer. When
//! merging would hold more than [`MAX_MERGED_ENTRIES`] entries (many hosts times many hostless
//! prefixes), nodes keep their own entries and point at their fallback instead: still correct,
//! a few more probes.

use std::net::Ipv6Addr;

use ahash::AHashMap;

use crate::origin::host::{self, HostKind, MAX_HOST_LEN};
use crate::policy::{PolicySet, RouteHost};

/// Merged entries over all nodes beyond which fallbacks are followed at request time.
pub(crate) const MAX_MERGED_ENTRIES: usize = 2_000_000;

/// A request host, normalised for choosing a route: lowercase, no port, no trailing dot, IPv6
/// in canonical brackets. Lives on the stack.
pub(crate) struct NormalHost {
    buf: [u8; MAX_HOST_LEN + 2],
    len: usize,
    ip: bool,
}

impl NormalHost {
    /// `None` for a missing or malformed host (it matches only routes without `hosts`).
    pub(crate) fn new(raw: &[u8]) -> Option<NormalHost> {
        let mut out = NormalHost {
            buf: [0; MAX_HOST_LEN + 2],
            len: 0,
            ip: false,
        };
        if let Some(rest) = raw.strip_prefix(b"[") {
            let close = rest.iter().position(|&b| b == b']')?;
            if !is_port_suffix(&rest[close + 1..]) {
                return None;
            }
            let addr: Ipv6Addr = std::str::from_utf8(&rest[..close]).ok()?.parse().ok()?;
            let mut text = [0u8; 39];
            let n = host::write_ipv6(addr, &mut text);
            out.buf[0] = b'[';
            out.buf[1..=n].copy_from_slice(&text[..n]);
            out.buf[n + 1] = b']';
            out.len = n + 2;
            out.ip = true;
            return Some(out);
        }
        let name = match raw.iter().position(|&b| b == b':') {
            Some(colon) => {
                if !is_port_suffix(&raw[colon..]) {
                    return None;
                }
                &raw[..colon]
            }
            None => raw,
        };
        let name = name.strip_suffix(b".").unwrap_or(name);
        if name.is_empty() || name.len() > MAX_HOST_LEN || name.last() == Some(&b'.') {
            return None;
        }
        for (slot, b) in out.buf.iter_mut().zip(name) {
            *slot = b.to_ascii_lowercase();
        }
        out.len = name.len();
        match host::check_host(&out.buf[..out.len]) {
            Ok(HostKind::Domain) => {}
            Ok(_) => out.ip = true,
            Err(_) => return None,
        }
        Some(out)
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// `""` or `:` and at most five digits.
fn is_port_suffix(rest: &[u8]) -> bool {
    match rest.split_first() {
        None => true,
        Some((b':', digits)) => digits.len() <= 5 && digits.iter().all(u8::is_ascii_digit),
        Some(_) => false,
    }
}

/// The request path without its query: `/` when empty.
pub(crate) fn path_only(raw: &[u8]) -> &[u8] {
    let end = raw
        .iter()
        .position(|&b| b == b'?' || b == b'#')
        .unwrap_or(raw.len());
    match &raw[..end] {
        [] => b"/",
        path => path,
    }
}

/// The routes of one host entry (or of the hostless routes), by prefix.
#[derive(Debug, Default)]
struct Node {
    /// The route for a path no prefix of the table matches.
    root: Option<u32>,
    /// Prefix → the route that wins for a path whose longest matching prefix is this one.
    prefixes: AHashMap<Box<[u8]>, u32>,
    /// Segments of the longest prefix in `prefixes`.
    depth: usize,
    /// The node to try when this one has no match (only when merging was too large).
    fallback: Option<u32>,
}

impl Node {
    /// The walk down the path: longest segment-wise prefix first, no deeper than `depth`.
    #[inline]
    fn find(&self, path: &[u8]) -> Option<u32> {
        if self.depth == 0 || path.first() != Some(&b'/') {
            return self.root;
        }
        // The longest candidate: the path cut after `depth` segments.
        let mut end = path.len();
        let mut segments = 0;
        for (i, &b) in path.iter().enumerate().skip(1) {
            if b == b'/' {
                segments += 1;
                if segments == self.depth {
                    end = i;
                    break;
                }
            }
        }
        loop {
            if let Some(&route) = self.prefixes.get(&path[..end]) {
                return Some(route);
            }
            match path[..end].iter().rposition(|&b| b == b'/') {
                Some(cut) if cut > 0 => end = cut,
                _ => return self.root,
            }
        }
    }
}

/// A set's routes, compiled. See the module documentation.
#[derive(Debug, Default)]
pub(crate) struct Selection {
    exact: AHashMap<Box<[u8]>, u32>,
    wildcard: AHashMap<Box<[u8]>, u32>,
    hostless: Option<u32>,
    nodes: Vec<Node>,
}

/// The routes of one host entry before merging: the hostless one, and the prefixed ones.
#[derive(Default)]
struct Own {
    root: Option<u32>,
    prefixes: AHashMap<Box<[u8]>, u32>,
}

impl Selection {
    pub(crate) fn new(set: &PolicySet) -> Selection {
        let mut s = Selection::default();
        let mut own: Vec<Own> = Vec::new();
        for (index, route) in set.routes().iter().enumerate() {
            let index = index as u32;
            let mut nodes: Vec<u32> = Vec::new();
            match route.hosts() {
                None => nodes.push(*s.hostless.get_or_insert_with(|| {
                    own.push(Own::default());
                    (own.len() - 1) as u32
                })),
                Some(hosts) => {
                    for host in hosts {
                        let (table, key) = match host {
                            RouteHost::Exact(h) => (&mut s.exact, h),
                            RouteHost::Wildcard(base) => (&mut s.wildcard, base),
                        };
                        let next = own.len() as u32;
                        let node = *table.entry(Box::from(key.as_bytes())).or_insert(next);
                        if node == next {
                            own.push(Own::default());
                        }
                        nodes.push(node);
                    }
                }
            }
            for node in nodes {
                let node = &mut own[node as usize];
                // The set refused two routes with the same host entry and prefix.
                match route.path_prefix() {
                    None => node.root = Some(index),
                    Some(p) => {
                        node.prefixes.insert(Box::from(p.as_bytes()), index);
                    }
                }
            }
        }
        // The chain of each node: itself, then the wildcards over its proper suffixes,
        // longest first, then the hostless node — most specific host first.
        let mut chains: Vec<Vec<u32>> = vec![Vec::new(); own.len()];
        let suffix_chain = |name: &[u8], first: u32| {
            let mut chain = vec![first];
            let mut rest = name;
            while let Some(dot) = rest.iter().position(|&b| b == b'.') {
                rest = &rest[dot + 1..];
                if let Some(&node) = s.wildcard.get(rest) {
                    chain.push(node);
                }
            }
            chain.extend(s.hostless);
            chain
        };
        for (key, &node) in s.exact.iter().chain(s.wildcard.iter()) {
            chains[node as usize] = suffix_chain(key, node);
        }
        if let Some(h) = s.hostless {
            chains[h as usize] = vec![h];
        }
        let merged: usize = chains
            .iter()
            .map(|c| {
                c.iter()
                    .map(|&n| own[n as usize].prefixes.len())
                    .sum::<usize>()
            })
            .sum();
        let merge = merged <= MAX_MERGED_ENTRIES;
        s.nodes = chains
            .iter()
            .map(|chain| {
                if merge {
                    merged_node(chain, &own)
                } else {
                    let mut node = merged_node(&chain[..1], &own);
                    node.fallback = chain.get(1).copied();
                    node
                }
            })
            .collect();
        s
    }

    /// `true` when the set has no routes: every request goes to the default policy.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The route that decides for this host (raw, as the request has it) and path, if any.
    #[inline]
    pub(crate) fn select(&self, host: Option<&[u8]>, path: &[u8]) -> Option<u32> {
        let path = path_only(path);
        let host = host.and_then(NormalHost::new);
        let mut node = host.and_then(|h| self.host_node(&h)).or(self.hostless)?;
        loop {
            let n = &self.nodes[node as usize];
            if let Some(route) = n.find(path) {
                return Some(route);
            }
            node = n.fallback?;
        }
    }

    fn host_node(&self, host: &NormalHost) -> Option<u32> {
        let name = host.as_bytes();
        if let Some(&node) = self.exact.get(name) {
            return Some(node);
        }
        if host.ip || self.wildcard.is_empty() {
            return None;
        }
        let mut rest = name;
        while let Some(dot) = rest.iter().position(|&b| b == b'.') {
            rest = &rest[dot + 1..];
            if let Some(&node) = self.wildcard.get(rest) {
                return Some(node);
            }
        }
        None
    }
}

/// One node's table: every prefix of the chain's nodes, each mapped to the route that wins
/// for a path whose longest matching prefix (over the chain) it is: the first node of the
/// chain (the most specific host) with a prefix of it or a root, and that node's longest.
fn merged_node(chain: &[u32], own: &[Own]) -> Node {
    let winner = |path: Option<&[u8]>| -> Option<u32> {
        chain.iter().find_map(|&n| {
            let n = &own[n as usize];
            let mut end = path.map_or(0, <[u8]>::len);
            while let Some(p) = path {
                if end == 0 {
                    break;
                }
                if let Some(&route) = n.prefixes.get(&p[..end]) {
                    return Some(route);
                }
                end = p[..end].iter().rposition(|&b| b == b'/').unwrap_or(0);
            }
            n.root
        })
    };
    let mut node = Node {
        root: winner(None),
        ..Node::default()
    };
    for &n in chain {
        for prefix in own[n as usize].prefixes.keys() {
            if node.prefixes.contains_key(prefix) {
                continue;
            }
            if let Some(route) = winner(Some(prefix)) {
                node.depth = node.depth.max(segments(prefix));
                node.prefixes.insert(prefix.clone(), route);
            }
        }
    }
    node
}

/// `q` is `p` or a segment-wise prefix of it.
#[cfg(test)]
fn is_segment_prefix(q: &[u8], p: &[u8]) -> bool {
    p.starts_with(q) && (p.len() == q.len() || p[q.len()] == b'/')
}

fn segments(prefix: &[u8]) -> usize {
    prefix.iter().filter(|&&b| b == b'/').count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_normalised_as_the_design_says() {
        for (raw, want) in [
            (&b"API.Example.com"[..], Some(&b"api.example.com"[..])),
            (b"api.example.com:8443", Some(b"api.example.com")),
            (b"api.example.com.", Some(b"api.example.com")),
            (b"api.example.com.:80", Some(b"api.example.com")),
            (b"api.example.com:", Some(b"api.example.com")),
            (b"[::1]:8080", Some(b"[::1]")),
            (b"[0:0:0:0:0:0:0:1]", Some(b"[::1]")),
            (b"[2001:DB8::1]", Some(b"[2001:db8::1]")),
            (b"127.0.0.1:80", Some(b"127.0.0.1")),
            (b"", None),
            (b"a..b", None),
            (b"api.example.com..", None),
            (b"api.example.com:x", None),
            (b"api.example.com:123456", None),
            (b"a b", None),
            (b"[::1", None),
            (b"[::1]x", None),
            (b"user@host", None),
            (b"1.2.3", None),
        ] {
            let got = NormalHost::new(raw);
            assert_eq!(got.as_ref().map(NormalHost::as_bytes), want, "{raw:?}");
        }
        let long = vec![b'a'; 300];
        assert!(NormalHost::new(&long).is_none());
    }

    #[test]
    fn prefixes_are_segment_wise() {
        assert!(is_segment_prefix(b"/public", b"/public"));
        assert!(is_segment_prefix(b"/public", b"/public/x"));
        assert!(!is_segment_prefix(b"/public", b"/publicity"));
        assert_eq!(path_only(b""), b"/");
        assert_eq!(path_only(b"/a?b=/c"), b"/a");
    }
}
