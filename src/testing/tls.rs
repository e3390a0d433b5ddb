//! The stand-in's TLS material: a throw-away CA and a leaf certificate it signed, plus a second
//! CA and leaf that no client is given, for [`Fault::untrusted_certificate`](super::Fault::untrusted_certificate).

use std::io;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use tokio_rustls::rustls::{
    self,
    pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer},
};

/// The names the leaf certificates are valid for. Each host is listed on its own: rustls
/// refuses `*.localhost` wildcards.
pub(super) const SANS: [&str; 5] = [
    "localhost",
    "login.localhost",
    "primary.localhost",
    "secondary.localhost",
    "127.0.0.1",
];

/// The server configurations the stand-in keeps for its lifetime (restarts included).
pub(super) struct Certificates {
    /// The PEM of the CA clients are given.
    pub(super) ca_pem: String,
    /// Serves a leaf signed by that CA.
    pub(super) trusted: Arc<rustls::ServerConfig>,
    /// Serves a leaf for the same names signed by another CA, whose PEM is never handed out.
    pub(super) untrusted: Arc<rustls::ServerConfig>,
}

impl Certificates {
    /// Generates both CAs and their leaves.
    pub(super) fn generate() -> io::Result<Certificates> {
        let (ca_pem, trusted) = make_tls("secretscope stand-in test CA")?;
        let (_, untrusted) = make_tls("secretscope stand-in untrusted CA")?;
        Ok(Certificates {
            ca_pem,
            trusted,
            untrusted,
        })
    }
}

/// Generates a fresh CA named `ca_name` and a leaf for [`SANS`] signed by it. Returns the CA's
/// PEM (for the client to trust) and a rustls server configuration serving the leaf (plus the
/// CA, as its chain).
///
/// The aws-lc-rs provider is named explicitly: `ServerConfig::builder()` would pick one from the
/// crate features of the whole graph, and panics when both ring and aws-lc-rs are enabled.
fn make_tls(ca_name: &str) -> io::Result<(String, Arc<rustls::ServerConfig>)> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(io::Error::other)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, ca_name);
    let ca_key = KeyPair::generate().map_err(io::Error::other)?;
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).map_err(io::Error::other)?;

    let leaf_key = KeyPair::generate().map_err(io::Error::other)?;
    let mut leaf_params =
        CertificateParams::new(SANS.iter().map(ToString::to_string).collect::<Vec<_>>())
            .map_err(io::Error::other)?;
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "secretscope stand-in");
    let leaf = leaf_params
        .signed_by(&leaf_key, &ca)
        .map_err(io::Error::other)?;

    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone(), ca.der().clone()], key)
        .map_err(io::Error::other)?;
    Ok((ca.pem(), Arc::new(config)))
}
