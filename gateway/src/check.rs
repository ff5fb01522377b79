//! `ssmail gateway check-config FILE`: the config file read and checked as a start (or a
//! SIGHUP reload) would, without opening a socket, and every error given with the line
//! it is on: toml's own errors carry it, and for a value that parses but is refused the
//! line of the key the message names is looked up in the text. The config stops at its
//! first error; to find the next, the line of each one found is blanked and the text
//! checked again (a syntax error ends the search: what follows it cannot be read).

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

/// Errors reported at most for one file and side.
const MAX_ERRORS: usize = 20;

/// Reads and checks the config file at `path` for `mode`, or for both sides when
/// `mode` is `None` (it passes if it is valid for one). The error lists every problem
/// found, one a line, each with the file, the line it is on (where it can be found) and
/// the field.
pub fn check_file(path: &Path, mode: Option<Mode>) -> Result<Checked, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
    check_text(&text, mode).map_err(|e| {
        let lines: Vec<String> = e
            .lines()
            .map(|l| format!("{}: {l}", path.display()))
            .collect();
        Error::Config(lines.join("\n"))
    })
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
        let found = all_errors(text, &args);
        if found.is_empty() {
            checked.modes.push(m);
        } else {
            errors.push((m, found));
        }
    }
    if checked.modes.is_empty() {
        errors.dedup_by(|a, b| a.1 == b.1);
        let parts: Vec<String> = match errors.as_slice() {
            [(_, found)] => found.clone(),
            _ => errors
                .iter()
                .flat_map(|(m, found)| found.iter().map(move |e| format!("as {}: {e}", m.name())))
                .collect(),
        };
        return Err(parts.join("\n"));
    }
    for (m, found) in errors {
        for e in found {
            checked
                .notes
                .push(format!("not valid for {}: {e}", m.name()));
        }
    }
    if !has_routes {
        checked
            .notes
            .push("no [[route]]: give --listen and --upstream when running it".into());
    }
    Ok(checked)
}

/// Every error of `text` as a config for `args`, each with its line where it can be
/// found: after each, its line is blanked and the text checked again.
fn all_errors(text: &str, args: &Options) -> Vec<String> {
    let mut lines: Vec<&str> = text.lines().collect();
    let mut found: Vec<String> = Vec::new();
    let mut blanked = Vec::new();
    while found.len() < MAX_ERRORS {
        let current = lines.join("\n");
        let Err(e) = Config::from_toml(args, &current).and_then(|c| more_checks(&c)) else {
            break;
        };
        let message = place(&current, &e.to_string());
        if !found.is_empty() && message.contains("missing field") {
            // Made by the blanking of a required key: not the file's.
            break;
        }
        let line = line_of(&message);
        found.push(message);
        match line {
            Some(n) if n >= 1 && n <= lines.len() && !blanked.contains(&n) => {
                blanked.push(n);
                lines[n - 1] = "";
            }
            // Nowhere to look further.
            _ => break,
        }
    }
    // In the order of the file: toml's own errors come before the checks of values.
    found.sort_by_key(|m| line_of(m).unwrap_or(usize::MAX));
    found
}

/// The line number a message of [`place`] gives (`line N: ...`).
fn line_of(message: &str) -> Option<usize> {
    let rest = message.strip_prefix("line ")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
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
    if let Some((_, at)) = message.split_once(" at line ") {
        // toml's: `TOML parse error at line N, column M | N | text | ^^^ what`.
        let place = at.split(" |").next().unwrap_or_default();
        let what = message.rsplit('^').next().unwrap_or_default().trim();
        return format!("line {place}: {what}");
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
    fn every_error_is_reported_not_only_the_first() {
        let text = "versions = [\"rot13_1.0\"]\nkey_lifetime_secs = 0\n[timeouts]\n\
                    session_secs = -1\nsesion_secs = 5\n[limits]\nmax_sessions = 0\n";
        let e = check_text(text, Some(Mode::Inbound)).expect_err("refused");
        let lines: Vec<&str> = e.lines().collect();
        assert_eq!(lines.len(), 5, "{e}");
        for (i, n) in [1, 2, 4, 5, 7].into_iter().enumerate() {
            assert_eq!(line_of(lines[i]), Some(n), "{e}");
        }
        assert!(lines[3].contains("sesion_secs"), "{e}");
        assert!(lines[4].contains("limits.max_sessions"), "{e}");
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
