//! The origins a credentialed regex may allow, as a deterministic automaton read left to right
//! (design 2.1 and 2.2): it recognises the serialized-origin grammar and, for every origin in
//! it, says whether its scheme is secure enough and whether its host is allowed.
//!
//! - Scheme `[a-z][a-z0-9+.-]*`, then `://`.
//! - Host: a domain (labels of `a-z 0-9 - _`, no `-` at a label's edge, one optional trailing
//!   dot; a last label that is a number makes it an IPv4 address, which must then be canonical
//!   dotted decimal without a trailing dot), or a bracketed IPv6 address.
//! - Port: `:` and 1..65535 without a leading zero, never the scheme's default port.
//! - Allowed: scheme `https` and a host whose registrable domain is a candidate (the suffix
//!   automaton decides), or a loopback host (`localhost`, `*.localhost`, `127.0.0.0/8`,
//!   `[::1]`) over `http` or `https`.
//!
//! The automaton accepts a little more than the grammar, never less, so that a proof over it
//! is sound: it does not count lengths (scheme ≤ 64, label ≤ 63, host ≤ 253 bytes), and of
//! IPv6 it checks the shape (groups of 1 to 4 hex digits without leading zeros, at most one
//! `::`, eight groups or at most six around `::`) but not that the longest run of zeros is the
//! one compressed. A counterexample the proof finds is checked against the real grammar
//! before it is reported (see `search`).
//!
//! States are built on demand and numbered; state 0 is dead.

use ahash::AHashMap;

use super::suffix::{self, HostClass, SuffixAutomaton};

/// The state no byte leaves and no origin ends in.
pub(crate) const DEAD: u32 = 0;
const UNKNOWN: u32 = u32::MAX;

/// What the allowed language says of one origin of the grammar.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Verdict {
    /// `https`, or `http` on a loopback host.
    pub(crate) scheme_ok: bool,
    /// A loopback host, or one whose registrable domain is a candidate.
    pub(crate) host_ok: bool,
}

/// The scheme, as far as the allowed language cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Scheme {
    Https,
    Http,
    /// `ws`: not secure, default port 80.
    Ws,
    /// `wss`: not `https`, default port 443.
    Wss,
    Ftp,
    Other,
}

impl Scheme {
    fn default_port(self) -> &'static [u8] {
        match self {
            Scheme::Https | Scheme::Wss => b"443",
            Scheme::Http | Scheme::Ws => b"80",
            Scheme::Ftp => b"21",
            Scheme::Other => b"",
        }
    }
}

/// The schemes the allowed language tells apart.
const SCHEME_NAMES: [(&[u8], Scheme); 5] = [
    (b"https", Scheme::Https),
    (b"http", Scheme::Http),
    (b"wss", Scheme::Wss),
    (b"ws", Scheme::Ws),
    (b"ftp", Scheme::Ftp),
];

/// Every prefix of a name in [`SCHEME_NAMES`]: a scheme being read is one of these, or
/// something else.
const SCHEME_PREFIXES: [&[u8]; 12] = [
    b"", b"h", b"ht", b"htt", b"http", b"https", b"w", b"ws", b"wss", b"f", b"ft", b"ftp",
];

/// The current label, for the URL Standard's "ends in a number".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Num {
    Empty,
    /// `0`
    Zero,
    /// All digits.
    Digits,
    /// `0x`
    ZeroX,
    /// `0x` and hex digits.
    Hex,
    /// Not a number.
    Other,
}

impl Num {
    fn step(self, b: u8) -> Num {
        match (self, b) {
            (Num::Empty, b'0') => Num::Zero,
            (Num::Empty, b'1'..=b'9') | (Num::Zero | Num::Digits, b'0'..=b'9') => Num::Digits,
            (Num::Zero, b'x') => Num::ZeroX,
            (Num::ZeroX | Num::Hex, b'0'..=b'9' | b'a'..=b'f') => Num::Hex,
            _ => Num::Other,
        }
    }

    fn is_number(self) -> bool {
        matches!(self, Num::Zero | Num::Digits | Num::ZeroX | Num::Hex)
    }
}

/// One octet of a canonical IPv4 address being read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Octet {
    Empty,
    /// `0`: complete, no digit may follow.
    Zero,
    /// `1`
    One,
    /// `2`
    Two,
    /// `3`..`9`
    Big,
    /// `1d`: any third digit.
    OneX,
    /// `20`..`24`: any third digit.
    TwoLow,
    /// `25`: a third digit up to 5.
    TwoFive,
    /// Two digits that take no third (`26`..`29`, `30`..`99`), or three digits.
    Full,
}

/// The IPv4 reading: which octet (0..=3) and its state, or not an IPv4 address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum V4 {
    Reading(u8, Octet),
    No,
}

impl V4 {
    fn step(self, b: u8) -> V4 {
        let V4::Reading(index, octet) = self else {
            return V4::No;
        };
        let next = match (octet, b) {
            (Octet::Empty, b'0') => Octet::Zero,
            (Octet::Empty, b'1') => Octet::One,
            (Octet::Empty, b'2') => Octet::Two,
            (Octet::Empty, b'3'..=b'9') => Octet::Big,
            (Octet::One, b'0'..=b'9') => Octet::OneX,
            (Octet::Two, b'0'..=b'4') => Octet::TwoLow,
            (Octet::Two, b'5') => Octet::TwoFive,
            (Octet::Two, b'6'..=b'9') | (Octet::Big, b'0'..=b'9') => Octet::Full,
            (Octet::OneX | Octet::TwoLow, b'0'..=b'9') | (Octet::TwoFive, b'0'..=b'5') => {
                Octet::Full
            }
            (o, b'.') if o != Octet::Empty && index < 3 => {
                return V4::Reading(index + 1, Octet::Empty)
            }
            _ => return V4::No,
        };
        V4::Reading(index, next)
    }

    fn is_complete(self) -> bool {
        matches!(self, V4::Reading(3, o) if o != Octet::Empty)
    }
}

/// Where the reading of a domain name stands within its labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Label {
    /// Nothing read yet.
    Start,
    /// Just read a `.`: the host may end here (a trailing dot) or go on with a label.
    AfterDot,
    /// In a label, after a character other than `-`.
    In,
    /// In a label, after a `-`.
    Hyphen,
}

/// An IPv6 literal being read, without its brackets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct V6 {
    /// Groups completed.
    groups: u8,
    /// `::` seen.
    double: bool,
    /// 0: no colon just read; 1: one after a group; 2: `::`; 3: one at the very start.
    colons: u8,
    /// Digits in the current group.
    digits: u8,
    /// The current group is `0`: no digit may follow.
    zero: bool,
    /// How much of `::1` was read exactly (4: something else).
    loopback: u8,
}

/// The port being read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Port {
    len: u8,
    /// The digits compared with the same number of digits of `65535`: -1, 0, 1.
    cmp: i8,
    /// How many digits spell the default port so far (0xff: they do not).
    default: u8,
}

/// One state of the automaton.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum State {
    Dead,
    /// In the scheme: which prefix of a known scheme was read (`None`: another scheme), and
    /// whether any byte was.
    Scheme(Option<u8>, bool),
    /// `scheme:` and `n` slashes.
    Separator(Scheme, u8),
    /// `scheme://`
    HostStart(Scheme),
    Name {
        scheme: Scheme,
        label: Label,
        num: Num,
        v4: V4,
        /// Bytes of `127.` read exactly (5: the host does not start with it).
        lo: u8,
        suffix: u32,
        exact: bool,
        /// After a `.`: the class of the host if it ends at that dot (`None`: it cannot).
        pending: Option<HostClass>,
    },
    V6(Scheme, V6),
    /// A complete host; the port or the end follows.
    Host(Scheme, HostClass),
    Port(Scheme, HostClass, Port),
}

fn is_scheme_byte(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.')
}

fn is_host_byte(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_')
}

/// The automaton for one set of candidate domains, built as it is explored.
#[derive(Debug)]
pub(crate) struct Language {
    suffix: SuffixAutomaton,
    states: Vec<State>,
    ids: AHashMap<State, u32>,
    /// `trans[id * classes + class]`, [`UNKNOWN`] until computed.
    trans: Vec<u32>,
    class_of: [u8; 256],
    /// A byte of each class.
    representative: Vec<u8>,
}

impl Language {
    /// The language for these candidates.
    pub(crate) fn new(candidates: &[String]) -> Result<Language, suffix::TooManyNames> {
        let suffix = SuffixAutomaton::new(candidates)?;
        // Bytes the automaton tells apart: those of the candidates and the names beneath
        // them, of the known schemes, of hex numbers and of punctuation, and digits. Every
        // other lowercase letter behaves alike; every other byte kills.
        let mut significant = [false; 256];
        for b in b"0123456789abcdefx.-_:/[]+httpswsftplocalhost" {
            significant[usize::from(*b)] = true;
        }
        let mut class_of = [0u8; 256];
        let mut representative = vec![0u8]; // class 0: dead bytes
        let mut other_letter = 0u8;
        for (b, used) in suffix.bytes().iter().enumerate() {
            significant[b] |= *used;
        }
        for b in 0..=255u8 {
            if significant[usize::from(b)] {
                class_of[usize::from(b)] = representative.len() as u8;
                representative.push(b);
            } else if b.is_ascii_lowercase() {
                if other_letter == 0 {
                    other_letter = representative.len() as u8;
                    representative.push(b);
                }
                class_of[usize::from(b)] = other_letter;
            }
        }
        let mut language = Language {
            suffix,
            states: Vec::new(),
            ids: AHashMap::new(),
            trans: Vec::new(),
            class_of,
            representative,
        };
        let dead = language.intern(State::Dead);
        debug_assert_eq!(dead, DEAD);
        Ok(language)
    }

    fn classes(&self) -> usize {
        self.representative.len()
    }

    fn intern(&mut self, state: State) -> u32 {
        if let Some(&id) = self.ids.get(&state) {
            return id;
        }
        let id = self.states.len() as u32;
        self.states.push(state);
        self.ids.insert(state, id);
        let classes = self.classes();
        self.trans.extend(std::iter::repeat_n(UNKNOWN, classes));
        id
    }

    /// The state before any byte.
    pub(crate) fn start(&mut self) -> u32 {
        self.intern(State::Scheme(Some(0), false))
    }

    /// The class of a byte: bytes of one class lead every state to the same state.
    pub(crate) fn class_of(&self, b: u8) -> u8 {
        self.class_of[usize::from(b)]
    }

    /// Number of states built so far.
    pub(crate) fn len(&self) -> usize {
        self.states.len()
    }

    /// The state after `byte`.
    pub(crate) fn next(&mut self, id: u32, byte: u8) -> u32 {
        let class = usize::from(self.class_of(byte));
        let slot = id as usize * self.classes() + class;
        let known = self.trans[slot];
        if known != UNKNOWN {
            return known;
        }
        let b = self.representative[class];
        let next = if class == 0 {
            State::Dead
        } else {
            self.step(self.states[id as usize], b)
        };
        let next = self.intern(next);
        self.trans[slot] = next;
        next
    }

    /// What the allowed language says of an origin that ends in this state, or `None` when
    /// the bytes read are not an origin.
    pub(crate) fn verdict(&self, id: u32) -> Option<Verdict> {
        let (scheme, host) = match self.states[id as usize] {
            State::Name { scheme, .. } => (scheme, self.end_of_name(self.states[id as usize])?),
            State::Host(scheme, host) => (scheme, host),
            State::Port(scheme, host, port) => {
                if port.len == 0
                    || (port.len == 5 && port.cmp > 0)
                    || (port.default != 0xff
                        && usize::from(port.default) == scheme.default_port().len())
                {
                    return None;
                }
                (scheme, host)
            }
            _ => return None,
        };
        let loopback = host == HostClass::Loopback;
        Some(Verdict {
            scheme_ok: scheme == Scheme::Https || (scheme == Scheme::Http && loopback),
            host_ok: host != HostClass::Outside,
        })
    }

    /// The class of a domain or IPv4 host that ends in this `Name` state, or `None` when it
    /// is not a valid host.
    fn end_of_name(&self, state: State) -> Option<HostClass> {
        let State::Name {
            label,
            num,
            v4,
            lo,
            suffix,
            exact,
            pending,
            ..
        } = state
        else {
            return None;
        };
        match label {
            Label::Start | Label::Hyphen => None,
            Label::AfterDot => pending,
            Label::In if num.is_number() => v4.is_complete().then_some(if lo == 4 {
                HostClass::Loopback
            } else {
                HostClass::Outside
            }),
            Label::In => Some(self.suffix.class(suffix, exact)),
        }
    }

    fn step(&self, state: State, b: u8) -> State {
        match state {
            State::Dead => State::Dead,
            State::Scheme(prefix, started) => {
                if b == b':' && started {
                    let read = prefix.map(|p| SCHEME_PREFIXES[usize::from(p)]);
                    let scheme = SCHEME_NAMES
                        .iter()
                        .find(|(name, _)| Some(*name) == read)
                        .map_or(Scheme::Other, |(_, scheme)| *scheme);
                    return State::Separator(scheme, 0);
                }
                if !is_scheme_byte(b) || (!started && !b.is_ascii_lowercase()) {
                    return State::Dead;
                }
                let next = prefix.and_then(|p| {
                    let mut longer = SCHEME_PREFIXES[usize::from(p)].to_vec();
                    longer.push(b);
                    SCHEME_PREFIXES
                        .iter()
                        .position(|known| *known == &longer[..])
                        .map(|i| i as u8)
                });
                State::Scheme(next, true)
            }
            State::Separator(scheme, slashes) => match (slashes, b) {
                (0, b'/') => State::Separator(scheme, 1),
                (1, b'/') => State::HostStart(scheme),
                _ => State::Dead,
            },
            State::HostStart(scheme) => {
                if b == b'[' {
                    return State::V6(
                        scheme,
                        V6 {
                            groups: 0,
                            double: false,
                            colons: 0,
                            digits: 0,
                            zero: false,
                            loopback: 0,
                        },
                    );
                }
                let start = self.suffix.start();
                self.name_step(
                    State::Name {
                        scheme,
                        label: Label::Start,
                        num: Num::Empty,
                        v4: V4::Reading(0, Octet::Empty),
                        lo: 0,
                        suffix: start,
                        exact: self.suffix.depth(start) == 1,
                        pending: None,
                    },
                    b,
                )
            }
            State::Name { .. } => self.name_step(state, b),
            State::V6(scheme, v6) => v6_step(scheme, v6, b),
            State::Host(scheme, host) => match b {
                b':' => State::Port(
                    scheme,
                    host,
                    Port {
                        len: 0,
                        cmp: 0,
                        default: 0,
                    },
                ),
                _ => State::Dead,
            },
            State::Port(scheme, host, port) => {
                if !b.is_ascii_digit() || (port.len == 0 && b == b'0') || port.len == 5 {
                    return State::Dead;
                }
                let max = b"65535"[usize::from(port.len)];
                let cmp = if port.cmp != 0 {
                    port.cmp
                } else {
                    (b as i16 - max as i16).signum() as i8
                };
                let default = scheme.default_port();
                let default =
                    if port.default != 0xff && default.get(usize::from(port.default)) == Some(&b) {
                        port.default + 1
                    } else {
                        0xff
                    };
                State::Port(
                    scheme,
                    host,
                    Port {
                        len: port.len + 1,
                        cmp,
                        default,
                    },
                )
            }
        }
    }

    fn name_step(&self, state: State, b: u8) -> State {
        let State::Name {
            scheme,
            label,
            num,
            v4,
            lo,
            suffix,
            exact,
            pending: _,
        } = state
        else {
            return State::Dead;
        };
        if b == b':' {
            // The end of the host: what it is decides the rest.
            return match self.end_of_name(state) {
                Some(host) => self.step(State::Host(scheme, host), b),
                None => State::Dead,
            };
        }
        let Some(sym) = suffix::symbol(b) else {
            return State::Dead;
        };
        let next_suffix = self.suffix.step(suffix, sym);
        let next_exact = exact && self.suffix.depth(next_suffix) == self.suffix.depth(suffix) + 1;
        let lo = match (lo, b) {
            (0, b'1') | (1, b'2') | (2, b'7') | (3, b'.') => lo + 1,
            (4, _) => 4,
            _ => 5,
        };
        if b == b'.' {
            if label != Label::In {
                return State::Dead;
            }
            // If the host ended at this dot: a domain's trailing dot; never after an IPv4
            // address (its last label is a number).
            let pending = if num.is_number() {
                None
            } else {
                Some(self.suffix.class(suffix, exact))
            };
            return State::Name {
                scheme,
                label: Label::AfterDot,
                num: Num::Empty,
                v4: v4.step(b),
                lo,
                suffix: next_suffix,
                exact: next_exact,
                pending,
            };
        }
        if !is_host_byte(b) {
            return State::Dead;
        }
        let label = match (label, b) {
            (Label::Start | Label::AfterDot, b'-') => return State::Dead,
            (_, b'-') => Label::Hyphen,
            _ => Label::In,
        };
        State::Name {
            scheme,
            label,
            num: num.step(b),
            v4: v4.step(b),
            lo,
            suffix: next_suffix,
            exact: next_exact,
            pending: None,
        }
    }
}

fn v6_step(scheme: Scheme, v6: V6, b: u8) -> State {
    let loopback = match (v6.loopback, b) {
        (0, b':') | (1, b':') | (2, b'1') => v6.loopback + 1,
        _ => 4,
    };
    let mut next = V6 { loopback, ..v6 };
    match b {
        b'0'..=b'9' | b'a'..=b'f' => {
            if v6.colons == 3 || v6.digits == 4 || v6.zero {
                return State::Dead;
            }
            if v6.digits == 0 {
                next.zero = b == b'0';
                // Room for this group?
                let limit = if v6.double { 6 } else { 8 };
                if v6.groups + 1 > limit {
                    return State::Dead;
                }
            }
            next.digits += 1;
            next.colons = 0;
        }
        b':' => {
            if v6.digits > 0 {
                next.groups += 1;
                next.digits = 0;
                next.zero = false;
                next.colons = 1;
            } else {
                match v6.colons {
                    // `::` after a group, or the second colon of a leading `::`.
                    1 | 3 if !v6.double => {
                        next.double = true;
                        next.colons = 2;
                        if v6.groups > 6 {
                            return State::Dead;
                        }
                    }
                    // A leading colon: it must be the first of `::`.
                    0 if v6.groups == 0 && !v6.double => next.colons = 3,
                    _ => return State::Dead,
                }
            }
        }
        b']' => {
            let groups = v6.groups + u8::from(v6.digits > 0);
            let complete = if v6.double { groups <= 6 } else { groups == 8 };
            if matches!(v6.colons, 1 | 3) || !complete {
                return State::Dead;
            }
            let host = if v6.loopback == 3 {
                HostClass::Loopback
            } else {
                HostClass::Outside
            };
            return State::Host(scheme, host);
        }
        _ => return State::Dead,
    }
    State::V6(scheme, next)
}
