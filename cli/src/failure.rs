//! Why a command failed, and what that means for the exit code.

/// A failed command.
#[derive(Debug)]
pub enum Failure {
    /// The user asked for something invalid (exit code 2, like clap's usage errors).
    Usage(String),
    /// Reading or writing failed (exit code 1).
    Io(String),
    /// Stdout's reader went away. Exit code 1 with no message: the usual cause is
    /// `ssmail ... | head`, where a complaint would be noise, and a process killed by
    /// SIGPIPE would print nothing either.
    BrokenPipe,
    /// The wrong key, or input that was changed (exit code 3).
    Corrupted(String),
    /// Input that ends early (exit code 4).
    Truncated(String),
    /// Input that is not an ssmail file (exit code 5).
    NotSsmail(String),
    /// A format version or option this build does not read (exit code 6).
    Unsupported(String),
    /// A key file that cannot be read or holds no key (exit code 7).
    KeyFile(String),
    /// A file we may not read or write (exit code 8).
    Permission(String),
    /// The output file exists and `--force` was not given (exit code 9).
    OutputExists(String),
}

impl Failure {
    /// The text for the `ssmail: ` line on stderr, if one should be printed.
    pub fn message(&self) -> Option<&str> {
        match self {
            Self::Usage(m)
            | Self::Io(m)
            | Self::Corrupted(m)
            | Self::Truncated(m)
            | Self::NotSsmail(m)
            | Self::Unsupported(m)
            | Self::KeyFile(m)
            | Self::Permission(m)
            | Self::OutputExists(m) => Some(m),
            Self::BrokenPipe => None,
        }
    }

    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            Self::Io(_) | Self::BrokenPipe => 1,
            Self::Corrupted(_) => 3,
            Self::Truncated(_) => 4,
            Self::NotSsmail(_) => 5,
            Self::Unsupported(_) => 6,
            Self::KeyFile(_) => 7,
            Self::Permission(_) => 8,
            Self::OutputExists(_) => 9,
        }
    }
}
