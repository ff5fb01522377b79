//! Why the gateway did not start or stopped: the caller (the `ssmail gateway` command)
//! turns these into its exit codes, so the two kinds stay apart.

use std::fmt;

/// A gateway that could not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The settings are wrong (a bad config file, flags that do not go together): a
    /// usage error, found before any socket is opened.
    Config(String),
    /// The system refused something the gateway needs (a port in use, no runtime).
    Io(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(m) | Self::Io(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}
