//! A mock `azure_core::http::HttpClient`: it routes each request by URL (the Entra ID token
//! endpoint or the vault), answers from a script per route, and records every request.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use sdk::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use sdk::error::ErrorKind;
use sdk::http::headers::{HeaderName, Headers};
use sdk::http::{AsyncRawResponse, Body, HttpClient, Request, StatusCode, Url};
use secretscope::azure::sdk::azure_core as sdk;
use time::OffsetDateTime;

use super::bodies::{CHALLENGE, NO_TOKEN};
use super::{ACCESS_TOKEN, API_VERSION, SECRET_VALUE, TENANT, VAULT_HOST, VERSION, bundle};

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Reply {
    Http {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: String,
    },
    /// The transport fails with this kind (`Io` or `Connection`) and message.
    Fail(ErrorKind, &'static str),
    /// The transport never answers.
    Hang,
}

/// `status` with a JSON `body`.
pub fn http(status: u16, body: &str) -> Reply {
    Reply::Http {
        status,
        headers: vec![("content-type", "application/json; charset=utf-8".to_owned())],
        body: body.to_owned(),
    }
}

/// `status` with an HTML `body`.
pub fn html(status: u16, body: &str) -> Reply {
    Reply::Http {
        status,
        headers: vec![("content-type", "text/html".to_owned())],
        body: body.to_owned(),
    }
}

pub fn with_header(reply: Reply, name: &'static str, value: &str) -> Reply {
    match reply {
        Reply::Http {
            status,
            mut headers,
            body,
        } => {
            headers.push((name, value.to_owned()));
            Reply::Http {
                status,
                headers,
                body,
            }
        }
        other => other,
    }
}

/// The 401 with the authentication challenge that a new client's first request gets.
pub fn challenge() -> Reply {
    with_header(http(401, NO_TOKEN), "www-authenticate", CHALLENGE)
}

/// The 200 of the latest `db-password`, holding the canary value.
pub fn secret_ok() -> Reply {
    http(200, &bundle(SECRET_VALUE, VERSION, "text/plain"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Token,
    Vault,
}

/// One request the mock saw. The token form is kept in memory for assertions only.
#[derive(Debug, Clone)]
pub struct Seen {
    pub route: Route,
    pub method: String,
    pub url: Url,
    pub authorization: Option<String>,
    pub form: Option<String>,
}

#[derive(Debug, Default)]
pub struct Mock {
    token: Mutex<VecDeque<Reply>>,
    vault: Mutex<VecDeque<Reply>>,
    seen: Mutex<Vec<Seen>>,
}

impl Mock {
    pub fn new(
        vault: impl IntoIterator<Item = Reply>,
        token: impl IntoIterator<Item = Reply>,
    ) -> Arc<Self> {
        let mock = Arc::new(Self::default());
        mock.script(vault, token);
        mock
    }

    /// Appends answers to both routes' scripts.
    pub fn script(
        &self,
        vault: impl IntoIterator<Item = Reply>,
        token: impl IntoIterator<Item = Reply>,
    ) {
        self.vault.lock().unwrap().extend(vault);
        self.token.lock().unwrap().extend(token);
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn on(&self, route: Route) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.route == route)
            .collect()
    }

    pub fn vault_requests(&self) -> Vec<Seen> {
        self.on(Route::Vault)
    }

    pub fn token_requests(&self) -> Vec<Seen> {
        self.on(Route::Token)
    }

    /// Every vault request went to `/secrets/...` with the stable API version, as a GET.
    pub fn assert_vault_requests_well_formed(&self) {
        for seen in self.vault_requests() {
            assert_eq!(seen.method, "GET", "{seen:?}");
            assert!(seen.url.path().starts_with("/secrets/"), "{}", seen.url);
            assert!(
                seen.url.query().unwrap_or_default().contains(API_VERSION),
                "{}",
                seen.url
            );
            if let Some(authorization) = &seen.authorization {
                assert_eq!(authorization, &format!("Bearer {ACCESS_TOKEN}"));
            }
        }
    }

    pub fn vault_script_used_up(&self) -> bool {
        self.vault.lock().unwrap().is_empty()
    }

    pub fn scripts_used_up(&self) -> bool {
        self.vault_script_used_up() && self.token.lock().unwrap().is_empty()
    }
}

#[async_trait]
impl HttpClient for Mock {
    async fn execute_request(&self, request: &Request) -> sdk::Result<AsyncRawResponse> {
        let url = request.url().clone();
        let token_path = format!("/{TENANT}/oauth2/v2.0/token");
        let route = match url.host_str() {
            Some("login.microsoftonline.com") if url.path() == token_path => Route::Token,
            Some(VAULT_HOST) => Route::Vault,
            _ => panic!("the mock got a request for an unexpected URL: {url}"),
        };
        let authorization = request
            .headers()
            .get_optional_str(&HeaderName::from_static("authorization"))
            .map(str::to_owned);
        let form = match (route, request.body()) {
            (Route::Token, Body::Bytes(bytes)) => Some(String::from_utf8_lossy(bytes).into_owned()),
            _ => None,
        };
        let method = request.method().to_string();
        self.seen.lock().unwrap().push(Seen {
            route,
            method: method.clone(),
            url: url.clone(),
            authorization,
            form,
        });
        let next = match route {
            Route::Token => self.token.lock().unwrap().pop_front(),
            Route::Vault => self.vault.lock().unwrap().pop_front(),
        };
        match next.unwrap_or_else(|| panic!("no scripted answer left for {method} {url}")) {
            Reply::Http {
                status,
                headers,
                body,
            } => {
                let mut map = Headers::new();
                for (k, v) in headers {
                    map.insert(k, v);
                }
                Ok(AsyncRawResponse::from_bytes(
                    StatusCode::from(status),
                    map,
                    sdk::Bytes::from(body),
                ))
            }
            Reply::Fail(kind, message) => {
                let io_kind = match kind {
                    ErrorKind::Connection => std::io::ErrorKind::ConnectionRefused,
                    _ => std::io::ErrorKind::TimedOut,
                };
                Err(sdk::Error::new(kind, std::io::Error::new(io_kind, message)))
            }
            Reply::Hang => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                unreachable!("the hanging answer is never awaited to the end")
            }
        }
    }
}

/// A credential that hands out a static token valid for an hour (the SDK refreshes tokens that
/// expire within 5 minutes).
#[derive(Debug)]
pub struct StaticToken;

#[async_trait]
impl TokenCredential for StaticToken {
    async fn get_token(
        &self,
        scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> sdk::Result<AccessToken> {
        assert_eq!(scopes, ["https://vault.azure.net/.default"]);
        Ok(AccessToken::new(
            ACCESS_TOKEN,
            OffsetDateTime::now_utc() + time::Duration::hours(1),
        ))
    }
}
