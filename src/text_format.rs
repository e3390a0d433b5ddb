//! How a configuration or secrets file is written, told from its extension.

use std::path::Path;

use secrecy::zeroize::{Zeroize, Zeroizing};

use crate::no_echo;

/// TOML or JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Toml,
    Json,
}

impl Format {
    /// From the extension of `path`, in any case: `.toml` or `.json`; `None` for any other.
    pub(crate) fn of(path: &Path) -> Option<Self> {
        let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if extension.eq_ignore_ascii_case("toml") {
            Some(Self::Toml)
        } else if extension.eq_ignore_ascii_case("json") {
            Some(Self::Json)
        } else {
            None
        }
    }
}

/// The bytes of a file as text, wiped when dropped; or, when they are not UTF-8, the line and
/// column of the first byte that is not (the bytes wiped either way).
pub(crate) fn utf8(bytes: Vec<u8>) -> Result<Zeroizing<String>, Option<(usize, usize)>> {
    match String::from_utf8(bytes) {
        Ok(text) => Ok(Zeroizing::new(text)),
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let mut bytes = e.into_bytes();
            let position = std::str::from_utf8(&bytes[..valid])
                .ok()
                .map(|before| no_echo::line_column(before, before.len()));
            bytes.zeroize();
            Err(position)
        }
    }
}
