//! The error type of this crate.
//!
//! Every error found inside a configuration file names the file and the
//! (one-based) line, and where there is one, the key: `config.hcl:7: unknown
//! key "adress" in listener "tcp" (did you mean "address"?)`.

use std::path::PathBuf;

/// Why a configuration could not be loaded, or is not usable.
#[derive(thiserror::Error, Debug)]
#[non_exhaustive]
pub enum ConfigError {
    /// A configuration path could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },

    /// A configuration file is not UTF-8 text.
    #[error("{}: not valid UTF-8 text", path.display())]
    NotUtf8 {
        /// The file.
        path: PathBuf,
    },

    /// A directory given as a configuration path holds no `*.hcl` or `*.json` file.
    #[error("{}: no *.hcl or *.json configuration file in this directory", path.display())]
    EmptyDirectory {
        /// The directory.
        path: PathBuf,
    },

    /// [`load`](crate::load) was called with no path at all.
    #[error("no configuration path given")]
    NoPaths,

    /// The file is not well-formed HCL or JSON.
    #[error("{file}:{line}:{column}: syntax error: {message}")]
    Syntax {
        /// The file name.
        file: String,
        /// One-based line.
        line: usize,
        /// One-based column.
        column: usize,
        /// What the parser said.
        message: String,
    },

    /// A key that neither Vault, OpenBao nor Coffer knows in this place.
    #[error(
        "{file}:{line}: unknown key \"{key}\" {}{}",
        where_(context),
        suggest(suggestion)
    )]
    UnknownKey {
        /// The file name.
        file: String,
        /// One-based line of the key.
        line: usize,
        /// The key.
        key: String,
        /// The enclosing stanza, e.g. `listener "tcp"`; empty at the top level.
        context: String,
        /// A known key that is spelled alike, if any.
        suggestion: Option<String>,
    },

    /// A key that Vault or OpenBao knows, but that this version of Coffer does
    /// not implement. Coffer refuses it rather than silently ignoring it.
    #[error(
        "{file}:{line}: \"{key}\" {} is not supported by coffer{}",
        where_(context),
        note(hint)
    )]
    UnsupportedKey {
        /// The file name.
        file: String,
        /// One-based line of the key.
        line: usize,
        /// The key.
        key: String,
        /// The enclosing stanza; empty at the top level.
        context: String,
        /// What to do instead, if anything.
        hint: Option<String>,
    },

    /// A stanza of a type Coffer does not implement, e.g. `storage "consul"`.
    #[error(
        "{file}:{line}: {stanza} \"{kind}\" is not supported by coffer (supported: {supported})"
    )]
    UnsupportedType {
        /// The file name.
        file: String,
        /// One-based line of the stanza.
        line: usize,
        /// The stanza keyword: `storage`, `listener`, `seal`, `audit`.
        stanza: String,
        /// The type label that was given.
        kind: String,
        /// The types Coffer does implement, comma-separated.
        supported: String,
    },

    /// A value of the wrong type, e.g. a list where a boolean belongs.
    #[error("{file}:{line}: \"{key}\" must be {expected}, got {found}")]
    WrongType {
        /// The file name.
        file: String,
        /// One-based line of the key.
        line: usize,
        /// The key.
        key: String,
        /// What was expected, e.g. `a boolean`.
        expected: &'static str,
        /// A short description of what was found.
        found: String,
    },

    /// A value of the right type that is not acceptable, e.g. an invalid duration.
    #[error("{file}:{line}: invalid value for \"{key}\": {message}")]
    InvalidValue {
        /// The file name.
        file: String,
        /// One-based line of the key.
        line: usize,
        /// The key.
        key: String,
        /// Why the value is not acceptable.
        message: String,
    },

    /// A stanza lacks a key it needs, e.g. `storage "raft"` without `path`.
    #[error("{file}:{line}: {context} requires \"{key}\"{}", note(hint))]
    MissingKey {
        /// The file name.
        file: String,
        /// One-based line of the stanza.
        line: usize,
        /// The missing key.
        key: String,
        /// The stanza, e.g. `storage "raft"`.
        context: String,
        /// Why, or how to fix it, if useful.
        hint: Option<String>,
    },

    /// Any other problem at a known place in a file: a duplicate key, a second
    /// `storage` stanza, a stanza with too few labels, a value that is not a
    /// literal...
    #[error("{file}:{line}: {message}")]
    Invalid {
        /// The file name.
        file: String,
        /// One-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },

    /// Several configurations could not be combined (e.g. two seal stanzas).
    #[error("{0}")]
    Conflict(String),

    /// [`ServerConfig::validate_for_server`](crate::ServerConfig::validate_for_server):
    /// the configuration has no storage stanza.
    #[error("no storage stanza")]
    NoStorage,

    /// [`ServerConfig::validate_for_server`](crate::ServerConfig::validate_for_server):
    /// the configuration has no listener stanza.
    #[error("no listener stanza")]
    NoListener,

    /// [`ServerConfig::validate`](crate::ServerConfig::validate): a seal type this
    /// version of Coffer cannot use (any seal but `shamir`).
    #[error("seal \"{seal_type}\": not yet supported by this version of coffer")]
    UnsupportedSeal {
        /// The seal type, e.g. `awskms`.
        seal_type: String,
    },

    /// [`ServerConfig::validate`](crate::ServerConfig::validate): a combination of
    /// settings that cannot work, e.g. a default lease TTL above the maximum.
    #[error("{0}")]
    InvalidConfig(String),
}

impl ConfigError {
    /// The file the error is in, when it is about one place in one file.
    pub fn file(&self) -> Option<&str> {
        match self {
            ConfigError::Syntax { file, .. }
            | ConfigError::UnknownKey { file, .. }
            | ConfigError::UnsupportedKey { file, .. }
            | ConfigError::UnsupportedType { file, .. }
            | ConfigError::WrongType { file, .. }
            | ConfigError::InvalidValue { file, .. }
            | ConfigError::MissingKey { file, .. }
            | ConfigError::Invalid { file, .. } => Some(file),
            _ => None,
        }
    }

    /// The one-based line the error is on, when it is about one place in one file.
    pub fn line(&self) -> Option<usize> {
        match self {
            ConfigError::Syntax { line, .. }
            | ConfigError::UnknownKey { line, .. }
            | ConfigError::UnsupportedKey { line, .. }
            | ConfigError::UnsupportedType { line, .. }
            | ConfigError::WrongType { line, .. }
            | ConfigError::InvalidValue { line, .. }
            | ConfigError::MissingKey { line, .. }
            | ConfigError::Invalid { line, .. } => Some(*line),
            _ => None,
        }
    }
}

fn where_(context: &str) -> String {
    if context.is_empty() {
        "at the top level".to_owned()
    } else {
        format!("in {context}")
    }
}

fn suggest(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(s) => format!(" (did you mean \"{s}\"?)"),
        None => String::new(),
    }
}

fn note(hint: &Option<String>) -> String {
    match hint {
        Some(h) => format!(" ({h})"),
        None => String::new(),
    }
}
