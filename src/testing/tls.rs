//! The stand-in's TLS material: a throw-away CA and a leaf certificate it signed.

use std::io;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use tokio_rustls::rustls::{
    self,
    pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer},
};

/// The names the leaf certificate is valid for. Each host is listed on its own: rustls refuses
/// `*.localhost` wildcards.
pub(super) const SANS: [&str; 5] = [
    "localhost",
    "login.localhost",
    "primary.localhost",
    "secondary.localhost",
    "127.0.0.1",
];

/// Generates a fresh CA and a leaf for [`SANS`] signed by it. Returns the CA's PEM (for the
/// client to trust) and a rustls server configuration serving the leaf (plus the CA, as its
/// chain).
///
/// The aws-lc-rs provider is named explicitly: `ServerConfig::builder()` would pick one from the
/// crate features of the whole graph, and panics when both ring and aws-lc-rs are enabled.
pub(super) fn make_tls() -> io::Result<(String, Arc<rustls::ServerConfig>)> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(io::Error::other)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "secretscope stand-in test CA");
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
