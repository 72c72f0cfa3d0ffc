//! The command line, parsed by hand the way Go's `flag` package does it (as
//! `vault`/`bao` do): single-dash long flags (`-config=FILE`, `-config FILE`)
//! also accepted with two dashes; boolean flags take no separate value
//! (`-dev`, `-dev=true`).

use std::path::PathBuf;

/// Usage text for `coffer -h`.
pub const USAGE: &str = "\
Usage: coffer <command> [options]

Commands:
    server     Start a Coffer server
    version    Print the version

Server options:
    -config=<path>               Configuration file or directory (repeatable)
    -dev                         Start an in-memory, unsealed development server
    -dev-root-token-id=<id>      Root token id in dev mode
    -dev-listen-address=<addr>   Listen address in dev mode (default 127.0.0.1:8200)
    -log-level=<level>           trace, debug, info, warn or error
    -log-format=<format>         standard or json
";

/// The default listen address of `-dev`.
pub const DEFAULT_DEV_LISTEN_ADDRESS: &str = "127.0.0.1:8200";

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Server(ServerArgs),
    Version,
    /// `-h`, `-help`, `help` or no command: print [`USAGE`].
    Help,
}

/// `coffer server` options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerArgs {
    pub config: Vec<PathBuf>,
    pub dev: bool,
    pub dev_root_token_id: Option<String>,
    pub dev_listen_address: Option<String>,
    pub log_level: Option<String>,
    pub log_format: Option<String>,
}

impl ServerArgs {
    /// The dev listen address, defaulted.
    pub fn dev_listen_address(&self) -> &str {
        self.dev_listen_address
            .as_deref()
            .unwrap_or(DEFAULT_DEV_LISTEN_ADDRESS)
    }
}

/// A command-line mistake; printed with the usage and exit code 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CliError {
    #[error("unknown command {0:?}")]
    UnknownCommand(String),
    #[error("flag provided but not defined: -{0}")]
    UnknownFlag(String),
    #[error("flag needs an argument: -{0}")]
    MissingValue(String),
    #[error("invalid boolean value {value:?} for -{flag}")]
    BadBool { flag: String, value: String },
    #[error("unexpected argument {0:?}")]
    UnexpectedArgument(String),
    #[error("no configuration given: use -config=FILE or -dev")]
    NoConfig,
}

/// One flag as written: its name and an inline `=value`.
fn split_flag(arg: &str) -> Option<(String, Option<String>)> {
    let body = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-'))?;
    if body.is_empty() || body.starts_with('-') || body.starts_with('=') {
        return None;
    }
    Some(match body.split_once('=') {
        Some((name, value)) => (name.to_string(), Some(value.to_string())),
        None => (body.to_string(), None),
    })
}

fn parse_bool(flag: &str, value: Option<String>) -> Result<bool, CliError> {
    match value {
        None => Ok(true),
        Some(v) => crate::parse::go_bool(&v).ok_or(CliError::BadBool {
            flag: flag.to_string(),
            value: v,
        }),
    }
}

/// Parses the arguments after the program name.
pub fn parse<I, S>(args: I) -> Result<Command, CliError>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut args = args.into_iter().map(Into::into);
    let Some(cmd) = args.next() else {
        return Ok(Command::Help);
    };
    match cmd.as_str() {
        "server" => parse_server(args).map(|a| a.map_or(Command::Help, Command::Server)),
        "version" | "-version" | "--version" | "-v" => Ok(Command::Version),
        "help" | "-h" | "-help" | "--help" => Ok(Command::Help),
        other => Err(CliError::UnknownCommand(other.to_string())),
    }
}

/// `Ok(None)` when help was asked for.
fn parse_server(mut args: impl Iterator<Item = String>) -> Result<Option<ServerArgs>, CliError> {
    let mut out = ServerArgs::default();
    while let Some(arg) = args.next() {
        if arg == "--" {
            if let Some(extra) = args.next() {
                return Err(CliError::UnexpectedArgument(extra));
            }
            break;
        }
        let Some((name, inline)) = split_flag(&arg) else {
            return Err(CliError::UnexpectedArgument(arg));
        };
        let mut value = |inline: Option<String>| -> Result<String, CliError> {
            match inline {
                Some(v) => Ok(v),
                None => args
                    .next()
                    .ok_or_else(|| CliError::MissingValue(name.clone())),
            }
        };
        match name.as_str() {
            "config" => out.config.push(PathBuf::from(value(inline)?)),
            "dev-root-token-id" => out.dev_root_token_id = Some(value(inline)?),
            "dev-listen-address" => out.dev_listen_address = Some(value(inline)?),
            "log-level" => out.log_level = Some(value(inline)?),
            "log-format" => out.log_format = Some(value(inline)?),
            "dev" => out.dev = parse_bool(&name, inline)?,
            "h" | "help" => return Ok(None),
            _ => return Err(CliError::UnknownFlag(name)),
        }
    }
    if !out.dev && out.config.is_empty() {
        return Err(CliError::NoConfig);
    }
    Ok(Some(out))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn server(args: &[&str]) -> Result<ServerArgs, CliError> {
        let mut v = vec!["server"];
        v.extend_from_slice(args);
        match parse(v)? {
            Command::Server(a) => Ok(a),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn config_flag_spellings() {
        for args in [
            &["-config=/a.hcl"][..],
            &["-config", "/a.hcl"],
            &["--config", "/a.hcl"],
            &["--config=/a.hcl"],
        ] {
            assert_eq!(
                server(args).unwrap().config,
                vec![PathBuf::from("/a.hcl")],
                "{args:?}"
            );
        }
        let a = server(&["-config=/a.hcl", "--config", "/etc/coffer.d"]).unwrap();
        assert_eq!(
            a.config,
            vec![PathBuf::from("/a.hcl"), PathBuf::from("/etc/coffer.d")]
        );
        // A value may contain `=`.
        assert_eq!(
            server(&["-config=/x=y.hcl"]).unwrap().config,
            vec![PathBuf::from("/x=y.hcl")]
        );
    }

    #[test]
    fn dev_flags() {
        let a = server(&[
            "-dev",
            "-dev-root-token-id=root",
            "-dev-listen-address=127.0.0.1:1234",
        ])
        .unwrap();
        assert!(a.dev);
        assert_eq!(a.dev_root_token_id.as_deref(), Some("root"));
        assert_eq!(a.dev_listen_address(), "127.0.0.1:1234");
        let a = server(&[
            "--dev",
            "--dev-root-token-id",
            "r",
            "--dev-listen-address",
            "0.0.0.0:1",
        ])
        .unwrap();
        assert_eq!(a.dev_root_token_id.as_deref(), Some("r"));
        assert_eq!(a.dev_listen_address(), "0.0.0.0:1");
        let a = server(&["-dev=true"]).unwrap();
        assert!(a.dev);
        assert_eq!(a.dev_listen_address(), DEFAULT_DEV_LISTEN_ADDRESS);
        // A boolean flag does not swallow the next argument.
        assert_eq!(
            server(&["-dev", "true"]).unwrap_err(),
            CliError::UnexpectedArgument("true".into())
        );
        assert!(matches!(
            server(&["-dev=maybe"]),
            Err(CliError::BadBool { .. })
        ));
    }

    #[test]
    fn log_flags() {
        let a = server(&["-dev", "-log-level=debug", "--log-format", "json"]).unwrap();
        assert_eq!(a.log_level.as_deref(), Some("debug"));
        assert_eq!(a.log_format.as_deref(), Some("json"));
    }

    #[test]
    fn errors() {
        assert_eq!(server(&[]).unwrap_err(), CliError::NoConfig);
        assert_eq!(
            server(&["-config"]).unwrap_err(),
            CliError::MissingValue("config".into())
        );
        assert_eq!(
            server(&["-bogus"]).unwrap_err(),
            CliError::UnknownFlag("bogus".into())
        );
        assert_eq!(
            server(&["stray"]).unwrap_err(),
            CliError::UnexpectedArgument("stray".into())
        );
        assert_eq!(
            server(&["---dev"]).unwrap_err(),
            CliError::UnexpectedArgument("---dev".into())
        );
        assert_eq!(
            parse(["frobnicate"]).unwrap_err(),
            CliError::UnknownCommand("frobnicate".into())
        );
        assert_eq!(
            CliError::UnknownFlag("bogus".into()).to_string(),
            "flag provided but not defined: -bogus"
        );
    }

    #[test]
    fn commands() {
        assert_eq!(parse(Vec::<String>::new()).unwrap(), Command::Help);
        assert_eq!(parse(["version"]).unwrap(), Command::Version);
        assert_eq!(parse(["--version"]).unwrap(), Command::Version);
        assert_eq!(parse(["-h"]).unwrap(), Command::Help);
        assert_eq!(parse(["server", "-h"]).unwrap(), Command::Help);
    }
}
