//! `ssmail gateway`: the flags become the gateway library's [`Options`] (`ssmail-gateway`,
//! `gateway/GATEWAY.md`), and its errors the command's exit codes.

use ssmail_gateway::{Config, Error, LogFormat, Mode, Options};

use crate::args::GatewayArgs;
use crate::failure::Failure;

/// Runs the gateway until SIGINT or SIGTERM.
pub fn run(args: &GatewayArgs) -> Result<(), Failure> {
    let config = Config::from_options(&options(args)).map_err(failure)?;
    ssmail_gateway::run(config).map_err(failure)
}

/// The flags as the library takes them (clap has already limited the names).
fn options(args: &GatewayArgs) -> Options {
    let mode = match args.mode.as_str() {
        "inbound" => Mode::Inbound,
        _ => Mode::Outbound,
    };
    let log_format = args.log_format.as_deref().map(|f| match f {
        "json" => LogFormat::Json,
        _ => LogFormat::Text,
    });
    Options {
        listen: args.listen.clone(),
        upstream: args.upstream.clone(),
        config: args.config.clone(),
        log_format,
        require_xcrypt: args.require_xcrypt,
        ..Options::new(mode)
    }
}

/// A settings error is a usage error (exit code 2), anything else an I/O failure (1).
fn failure(e: Error) -> Failure {
    match e {
        Error::Config(m) => Failure::Usage(m),
        Error::Io(m) => Failure::Io(m),
    }
}
