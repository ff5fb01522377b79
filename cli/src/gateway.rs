//! `ssmail gateway`: the flags become the gateway library's [`Options`] (`ssmail-gateway`,
//! `gateway/GATEWAY.md`), and its errors the command's exit codes; `check-config` reads
//! a config file as the gateway would and says what is wrong with it.

use ssmail_gateway::{Error, LogFormat, Mode, Options};

use crate::args::{CheckConfigArgs, GatewayArgs, GatewayCmd, GatewayCommand};
use crate::failure::Failure;

/// Runs the gateway until SIGINT or SIGTERM (SIGHUP re-reads its config file), or
/// checks a config file.
pub fn run(cmd: &GatewayCmd) -> Result<(), Failure> {
    match &cmd.command {
        GatewayCommand::Inbound(args) => serve(Mode::Inbound, args),
        GatewayCommand::Outbound(args) => serve(Mode::Outbound, args),
        GatewayCommand::CheckConfig(args) => check_config(args),
    }
}

fn serve(mode: Mode, args: &GatewayArgs) -> Result<(), Failure> {
    ssmail_gateway::run_from(options(mode, args)).map_err(failure)
}

/// The flags as the library takes them (clap has already limited the names).
fn options(mode: Mode, args: &GatewayArgs) -> Options {
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
        metrics_listen: args.metrics_listen.clone(),
        ..Options::new(mode)
    }
}

/// `ok` and its remarks on stdout, or the problem as a usage error (exit code 2).
fn check_config(args: &CheckConfigArgs) -> Result<(), Failure> {
    let mode = args.mode.as_deref().map(|m| match m {
        "inbound" => Mode::Inbound,
        _ => Mode::Outbound,
    });
    let checked = ssmail_gateway::check_file(&args.file, mode).map_err(failure)?;
    let modes: Vec<&str> = checked.modes.iter().map(|m| m.name()).collect();
    let mut out = format!("ok: {} ({})", args.file.display(), modes.join(", "));
    for note in &checked.notes {
        out.push_str("\n  note: ");
        out.push_str(note);
    }
    crate::print_line(&out)
}

/// A settings error is a usage error (exit code 2), anything else an I/O failure (1).
fn failure(e: Error) -> Failure {
    match e {
        Error::Config(m) => Failure::Usage(m),
        Error::Io(m) => Failure::Io(m),
    }
}
