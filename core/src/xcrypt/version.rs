//! Version strings (`<algorithm>_<major>.<minor>`, docs/xcrypt.md §2) and offers.

use ssmail_ciphers::Algorithm;

/// An XCRYPT version this implementation knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `t32_1.0`: SOBER-t32, key-only mode.
    T32V1_0,
    /// `arrsyfor_1.0`: RC4, nothing dropped.
    ArrsyforV1_0,
}

impl Version {
    /// Every known version, in this implementation's order of preference.
    pub const ALL: [Version; 2] = [Version::T32V1_0, Version::ArrsyforV1_0];

    /// The version string as written on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::T32V1_0 => "t32_1.0",
            Self::ArrsyforV1_0 => "arrsyfor_1.0",
        }
    }

    /// The cipher this version runs.
    pub const fn algorithm(self) -> Algorithm {
        match self {
            Self::T32V1_0 => Algorithm::T32,
            Self::ArrsyforV1_0 => Algorithm::Arrsyfor,
        }
    }

    /// The version named by `token`, ignoring case; `None` for one we do not know
    /// (which docs/xcrypt.md §2 says to ignore, not to treat as an error).
    pub fn parse(token: &[u8]) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str().as_bytes().eq_ignore_ascii_case(token))
    }
}

/// The known versions a server offers, in its order of preference (at most one of
/// each; unknown ones dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Offer {
    versions: [Option<Version>; 2],
}

impl Offer {
    /// An offer of `versions`, in that order; repeats are dropped.
    pub fn new(versions: &[Version]) -> Self {
        let mut o = Self::default();
        for &v in versions {
            o.push(v);
        }
        o
    }

    pub(crate) fn push(&mut self, v: Version) {
        if self.contains(v) {
            return;
        }
        if let Some(slot) = self.versions.iter_mut().find(|s| s.is_none()) {
            *slot = Some(v);
        }
    }

    /// The offered versions, most preferred first.
    pub fn iter(&self) -> impl Iterator<Item = Version> + '_ {
        self.versions.iter().flatten().copied()
    }

    /// Whether `v` is offered.
    pub fn contains(&self, v: Version) -> bool {
        self.versions.contains(&Some(v))
    }

    /// Whether nothing we know is offered.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    /// The client's choice: the server's most preferred version that the client also
    /// supports, or `None` (then the client goes on in plain SMTP, docs/xcrypt.md §4.5).
    pub fn choose(&self, supported: &[Version]) -> Option<Version> {
        self.iter().find(|v| supported.contains(v))
    }

    /// Parses the space-separated version tokens of an XCRYPT keyword's parameters.
    pub(crate) fn parse_tokens(params: &[u8]) -> Self {
        let mut o = Self::default();
        for token in params.split(|&b| b == b' ').filter(|t| !t.is_empty()) {
            if let Some(v) = Version::parse(token) {
                o.push(v);
            }
        }
        o
    }
}
