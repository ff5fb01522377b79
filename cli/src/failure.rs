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
}

impl Failure {
    /// The text for the `ssmail: ` line on stderr, if one should be printed.
    pub fn message(&self) -> Option<&str> {
        match self {
            Self::Usage(m) | Self::Io(m) => Some(m),
            Self::BrokenPipe => None,
        }
    }

    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            Self::Io(_) | Self::BrokenPipe => 1,
        }
    }
}
