//! `SecretRef::parse` on any text, and the `Display` round trip of what parses.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (u16, &str)| {
    let (at, text) = input;
    secretscope_fuzz::reference(text, usize::from(at));
});
