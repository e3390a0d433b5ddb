//! The Key Vault error mapping on any HTTP answer: status, headers and body bytes, turned into
//! the Azure SDK's error by the SDK itself, then into secretscope's `Error`.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use secretscope::fuzzing::VaultAnswer;
use secretscope_fuzz::CanaryIn;

/// The headers the SDK or the mapping read, and a few it does not; any other name too.
const NAMES: [&str; 10] = [
    "retry-after",
    "retry-after-ms",
    "x-ms-retry-after-ms",
    "x-ms-error-code",
    "www-authenticate",
    "content-type",
    "x-ms-request-id",
    "location",
    "date",
    "server",
];

#[derive(Debug, Arbitrary)]
enum Name<'a> {
    Known(u8),
    Other(&'a str),
}

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    status: u16,
    after_challenge: bool,
    headers: Vec<(Name<'a>, &'a str)>,
    canary_in_header: Option<u8>,
    at: u16,
    body: &'a [u8],
}

fuzz_target!(|input: Input<'_>| {
    let headers = input
        .headers
        .iter()
        .take(8)
        .map(|(name, value)| {
            let name = match name {
                Name::Known(i) => NAMES[usize::from(*i) % NAMES.len()],
                Name::Other(name) => name,
            };
            (name.to_owned(), (*value).to_owned())
        })
        .collect();
    let answer = VaultAnswer {
        status: input.status,
        headers,
        body: input.body.to_vec(),
        after_challenge: input.after_challenge,
    };
    let at = usize::from(input.at);
    let canary = match input.canary_in_header {
        Some(index) => CanaryIn::Header(usize::from(index), at),
        None => CanaryIn::Body(at),
    };
    secretscope_fuzz::error_mapping(answer, canary);
});
