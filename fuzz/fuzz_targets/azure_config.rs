//! An Azure Key Vault connection read from any TOML or JSON text, then built into a backend.
#![no_main]

use libfuzzer_sys::fuzz_target;
use secretscope::fuzzing::FileFormat;

fuzz_target!(|input: (bool, u16, &str)| {
    let (json, at, text) = input;
    let format = if json {
        FileFormat::Json
    } else {
        FileFormat::Toml
    };
    secretscope_fuzz::azure_config(text, usize::from(at), format);
});
