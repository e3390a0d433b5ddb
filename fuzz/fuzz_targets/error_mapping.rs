//! The Key Vault error mapping on any HTTP answer: status, headers and body bytes, turned into
//! the Azure SDK's error by the SDK itself, then into secretscope's `Error`.
//!
//! Besides any bytes, a body can be a Key Vault error body put together from the statuses,
//! codes and message phrases the mapping reads (and any others), so that the fuzzer reaches
//! the mapping's combinations of them without first having to spell each one out.
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

/// The statuses the mapping tells apart.
const STATUSES: [u16; 12] = [200, 301, 400, 401, 403, 404, 408, 409, 429, 500, 503, 504];

/// The codes and phrases of Key Vault's and Entra ID's error bodies that the mapping reads.
const WORDS: [&str; 23] = [
    "SecretNotFound",
    "SecretDisabled",
    "ForbiddenByRbac",
    "AccessDenied",
    "ForbiddenByFirewall",
    "Forbidden",
    "Unauthorized",
    "Throttled",
    "BadParameter",
    "Conflict",
    "ObjectIsDeletedButRecoverable",
    "TokenExpired",
    "[TokenExpired]",
    "AKV10032",
    "AKV10022",
    "AKV10000",
    "not allowed on a disabled secret",
    "Caller is not authorized to perform action on resource",
    "does not have secrets get permission",
    "not found on any access policy",
    "Client address is not authorized",
    "expired",
    "not yet valid",
];

#[derive(Debug, Arbitrary)]
enum Status {
    Known(u8),
    Any(u16),
}

/// A code, or a piece of a message.
#[derive(Debug, Arbitrary)]
enum Word<'a> {
    Known(u8),
    Any(&'a str),
}

impl Word<'_> {
    fn text(&self) -> &str {
        match self {
            Word::Known(i) => WORDS[usize::from(*i) % WORDS.len()],
            Word::Any(text) => text,
        }
    }
}

#[derive(Debug, Arbitrary)]
enum Body<'a> {
    Bytes(&'a [u8]),
    /// `{"error":{"code":..,"message":..,"innererror":{"code":..}}}`, each part optional.
    Vault {
        code: Option<Word<'a>>,
        message: Option<Vec<Word<'a>>>,
        inner: Option<Word<'a>>,
    },
}

impl Body<'_> {
    fn bytes(&self) -> Vec<u8> {
        let (code, message, inner) = match self {
            Body::Bytes(bytes) => return bytes.to_vec(),
            Body::Vault {
                code,
                message,
                inner,
            } => (code, message, inner),
        };
        let mut error = serde_json::Map::new();
        if let Some(code) = code {
            error.insert("code".into(), code.text().into());
        }
        if let Some(words) = message {
            let words: Vec<&str> = words.iter().take(8).map(Word::text).collect();
            error.insert("message".into(), words.join(" ").into());
        }
        if let Some(inner) = inner {
            error.insert(
                "innererror".into(),
                serde_json::json!({ "code": inner.text() }),
            );
        }
        serde_json::to_vec(&serde_json::json!({ "error": error })).unwrap_or_default()
    }
}

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    status: Status,
    after_challenge: bool,
    headers: Vec<(Name<'a>, &'a str)>,
    canary_in_header: Option<u8>,
    at: u16,
    body: Body<'a>,
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
    let status = match input.status {
        Status::Known(i) => STATUSES[usize::from(i) % STATUSES.len()],
        Status::Any(status) => status,
    };
    let answer = VaultAnswer {
        status,
        headers,
        body: input.body.bytes(),
        after_challenge: input.after_challenge,
    };
    let at = usize::from(input.at);
    let canary = match input.canary_in_header {
        Some(index) => CanaryIn::Header(usize::from(index), at),
        None => CanaryIn::Body(at),
    };
    secretscope_fuzz::error_mapping(answer, canary);
});
