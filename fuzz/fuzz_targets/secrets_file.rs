//! `FileBackend::open` on a TOML or JSON secrets file holding any bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use secretscope::fuzzing::FileFormat;

fuzz_target!(|input: (bool, u16, &[u8])| {
    let (json, at, bytes) = input;
    let format = if json {
        FileFormat::Json
    } else {
        FileFormat::Toml
    };
    secretscope_fuzz::secrets_file(bytes, usize::from(at), format);
});
