//! Logging set-up: `log_level` and `log_format` (`standard` or `json`) from the
//! configuration or the command line, `RUST_LOG` taking precedence when set.
//! Logs go to stderr; stdout carries the start-up banner and ready lines.

use tracing_subscriber::EnvFilter;

/// The tracing level name for a Vault `log_level` (`err`, `warning`, ...).
pub fn level_name(level: &str) -> Result<&'static str, String> {
    match level.trim().to_ascii_lowercase().as_str() {
        "" | "info" => Ok("info"),
        "trace" => Ok("trace"),
        "debug" => Ok("debug"),
        "warn" | "warning" => Ok("warn"),
        "err" | "error" => Ok("error"),
        "off" => Ok("off"),
        other => Err(format!("unknown log level {other:?}")),
    }
}

/// Whether `format` asks for JSON lines.
pub fn is_json(format: Option<&str>) -> Result<bool, String> {
    match format.map(|f| f.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") | Some("standard") => Ok(false),
        Some("json") => Ok(true),
        Some(other) => Err(format!("unknown log format {other:?}")),
    }
}

/// Installs the global subscriber (a second call is ignored).
pub fn init(level: Option<&str>, format: Option<&str>) -> Result<(), String> {
    let level = level_name(level.unwrap_or("info"))?;
    let json = is_json(format)?;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_formats() {
        assert_eq!(level_name("err"), Ok("error"));
        assert_eq!(level_name("WARNING"), Ok("warn"));
        assert_eq!(level_name("debug"), Ok("debug"));
        assert!(level_name("loud").is_err());
        assert_eq!(is_json(Some("json")), Ok(true));
        assert_eq!(is_json(Some("standard")), Ok(false));
        assert_eq!(is_json(None), Ok(false));
        assert!(is_json(Some("xml")).is_err());
    }
}
