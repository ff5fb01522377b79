//! `ssmail gateway check-config FILE`: the config file read and checked as a start (or a
//! SIGHUP reload) would, without opening a socket, and every error given with the line
//! it is on: toml's own errors carry it, and for a value that parses but is refused the
//! line of the key the message names is looked up in the text.

use std::path::Path;

use crate::config::{Config, Mode, Options};
use crate::error::Error;

/// A config file that passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The sides it is valid for (a file does not say which side it is for).
    pub modes: Vec<Mode>,
    /// Remarks that are not errors (a file without routes, a mode it is not valid for).
    pub notes: Vec<String>,
}

/// Reads and checks the config file at `path` for `mode`, or for both sides when
/// `mode` is `None` (it passes if it is valid for one). An error names the file, the
/// line where it could be found, and the field.
pub fn check_file(path: &Path, mode: Option<Mode>) -> Result<Checked, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
    check_text(&text, mode).map_err(|e| Error::Config(format!("{}: {e}", path.display())))
}

/// [`check_file`] on the file's text.
fn check_text(text: &str, mode: Option<Mode>) -> Result<Checked, String> {
    // Syntax first: the place comes with the message.
    let table: toml::Table = toml::from_str(text).map_err(|e| one_line(&e.to_string()))?;
    let has_routes = table.contains_key("route");
    let modes = match mode {
        Some(m) => vec![m],
        None => vec![Mode::Inbound, Mode::Outbound],
    };
    let mut checked = Checked {
        modes: Vec::new(),
        notes: Vec::new(),
    };
    let mut errors = Vec::new();
    for m in modes {
        let mut args = Options::new(m);
        if !has_routes {
            // The command line's --listen/--upstream would give the route.
            args.listen = Some("127.0.0.1:1".into());
            args.upstream = Some("127.0.0.1:2".into());
        }
        match Config::from_toml(&args, text).and_then(|c| more_checks(&c)) {
            Ok(()) => checked.modes.push(m),
            Err(e) => errors.push((m, place(text, &e.to_string()))),
        }
    }
    if checked.modes.is_empty() {
        errors.dedup_by(|a, b| a.1 == b.1);
        let parts: Vec<String> = match errors.as_slice() {
            [(_, e)] => vec![e.clone()],
            _ => errors
                .iter()
                .map(|(m, e)| format!("as {}: {e}", m.name()))
                .collect(),
        };
        return Err(parts.join("; "));
    }
    for (m, e) in errors {
        checked
            .notes
            .push(format!("not valid for {}: {e}", m.name()));
    }
    if !has_routes {
        checked
            .notes
            .push("no [[route]]: give --listen and --upstream when running it".into());
    }
    Ok(checked)
}

/// What the gateway would find out only at bind time: two listeners on one address.
fn more_checks(c: &Config) -> Result<(), Error> {
    for (i, r) in c.routes.iter().enumerate() {
        if c.routes[..i].iter().any(|o| o.listen == r.listen) {
            return Err(Error::Config(format!(
                "listen: {:?} is used by two routes",
                r.listen
            )));
        }
        if c.metrics_listen.as_deref() == Some(r.listen.as_str()) {
            return Err(Error::Config(format!(
                "metrics_listen: {:?} is also a route's listen address",
                r.listen
            )));
        }
    }
    Ok(())
}

/// `message` (`field: what is wrong`) with the line of that field in `text` in front,
/// when it can be found: the key's line in its table, the one holding the quoted value
/// the message names if several do.
fn place(text: &str, message: &str) -> String {
    if message.contains(" at line ") {
        return message.to_owned();
    }
    // `field: what is wrong`, or a sentence that starts with the field's name.
    let field = message.split([':', ' ']).next().unwrap_or_default();
    let (table, key) = field.rsplit_once('.').unwrap_or(("", field));
    let quoted: Vec<&str> = message.split('"').skip(1).step_by(2).collect();
    let mut current = "";
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if let Some(header) = line.strip_prefix('[') {
            current = header.trim_matches(|c| c == '[' || c == ']' || c == ' ');
            continue;
        }
        let Some((k, value)) = line.split_once('=') else {
            continue;
        };
        let in_table = current == table || (table.is_empty() && current == "route");
        if k.trim() == key && in_table {
            found.push((n + 1, value));
        }
    }
    if found.is_empty() {
        // A key that sets several: `idle_secs` for `client_idle_secs`.
        let mut current = "";
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if let Some(header) = line.strip_prefix('[') {
                current = header.trim_matches(|c| c == '[' || c == ']' || c == ' ');
            } else if let Some((k, value)) = line.split_once('=') {
                let k = k.trim();
                if current == table && k.len() > 3 && key.ends_with(k) {
                    found.push((n + 1, value));
                }
            }
        }
    }
    let best = found
        .iter()
        .find(|(_, value)| quoted.iter().any(|q| value.contains(&format!("\"{q}\""))))
        .or_else(|| found.first());
    match best {
        Some((line, _)) => format!("line {line}: {message}"),
        None => message.to_owned(),
    }
}

/// toml's messages span several lines (they quote the place); one line here.
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_good_file_passes_for_the_sides_it_fits() {
        let both = check_text("versions = [\"t32_1.0\"]\n", None).expect("valid");
        assert_eq!(both.modes, vec![Mode::Inbound, Mode::Outbound]);
        assert!(both.notes.iter().any(|n| n.starts_with("no [[route]]")));
        let out = check_text(
            "[[route]]\nlisten = \"127.0.0.1:10027\"\nupstream = \"192.0.2.7:25\"\n\
             require_xcrypt = true\n",
            None,
        )
        .expect("valid for outbound");
        assert_eq!(out.modes, vec![Mode::Outbound]);
        assert!(out.notes[0].starts_with("not valid for inbound"), "{out:?}");
        assert!(check_text("require_xcrypt = true\n", Some(Mode::Inbound)).is_err());
    }

    #[test]
    fn errors_name_their_line_and_field() {
        let bad = |text: &str| check_text(text, None).expect_err("must be refused");
        let e = bad("versions = [\"t32_1.0\"]\n\n[limits]\nmax_sessions = 0\n");
        assert_eq!(e, "line 4: limits.max_sessions: must be at least 1");
        let e = bad("[timeouts]\nconnect_secs = 1\nidle_secs = -1\n");
        assert!(e.starts_with("line 3: timeouts.client_idle_secs"), "{e}");
        let e = bad("versions = [\"rot13_1.0\"]\n");
        assert!(e.starts_with("line 1: versions: unknown version"), "{e}");
        let e = bad("[[route]]\nlisten = \"127.0.0.1:1\"\nupstream = \"a:1\"\n\
             [[route]]\nlisten = \"nowhere\"\nupstream = \"b:1\"\n");
        assert!(e.starts_with("line 5: listen: \"nowhere\""), "{e}");
        let e = bad("[[route]]\nlisten = \"127.0.0.1:1\"\nupstream = \"a:1\"\n\
             [[route]]\nlisten = \"127.0.0.1:1\"\nupstream = \"b:1\"\n");
        assert!(e.contains("used by two routes"), "{e}");
        // toml's own errors carry their place.
        let e = bad("[limits]\nmax_sesions = 5\n");
        assert!(e.contains("line 2") && e.contains("max_sesions"), "{e}");
        let e = bad("versions = [\"t32_1.0\"\n");
        assert!(e.contains("line 1") || e.contains("line 2"), "{e}");
        let e = bad("metrics_listen = \"9925\"\n");
        assert!(e.starts_with("line 1: metrics_listen"), "{e}");
    }

    #[test]
    fn a_missing_file_is_an_error_with_its_name() {
        let e = check_file(Path::new("/nonexistent/gateway.toml"), None).expect_err("missing");
        assert!(
            e.to_string().starts_with("/nonexistent/gateway.toml: "),
            "{e}"
        );
    }
}
