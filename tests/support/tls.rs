//! TLS helpers of the tests: self-signed certificates (`rcgen`), the client
//! config that trusts one, and a TLS-terminating proxy (the real broker of the
//! rig speaks plain TCP only).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use actix_rocketmq::TlsConfig;
use actix_rocketmq::internals::runtime::tls::rustls::pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer,
};
use actix_rocketmq::internals::runtime::tls::rustls::{RootCertStore, ServerConfig, crypto};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// A self-signed certificate for `names` (IP addresses or DNS names) and the
/// server config that presents it.
pub fn server(names: &[&str]) -> (CertificateDer<'static>, Arc<ServerConfig>) {
    let certified =
        rcgen::generate_simple_self_signed(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .expect("certificate");
    let cert = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));
    let config = ServerConfig::builder_with_provider(Arc::new(crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .expect("server config");
    (cert, Arc::new(config))
}

/// A client config trusting `cert` only.
pub fn trusting(cert: &CertificateDer<'static>) -> TlsConfig {
    let mut roots = RootCertStore::empty();
    roots.add(cert.clone()).expect("a valid certificate");
    TlsConfig::with_roots(roots)
}

/// Serves TLS on `listen` (port 0: any) and relays every connection, decrypted,
/// to `upstream`; returns the address it listens on (it stops with the runtime).
pub async fn tls_proxy(
    listen: SocketAddr,
    upstream: SocketAddr,
    config: Arc<ServerConfig>,
) -> SocketAddr {
    let listener = TcpListener::bind(listen).await.expect("proxy binds");
    let addr = listener.local_addr().expect("bound");
    let acceptor = TlsAcceptor::from(config);
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let _ = client.set_nodelay(true);
                let Ok(mut tls) = acceptor.accept(client).await else {
                    return;
                };
                let Ok(mut server) = TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = server.set_nodelay(true);
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut server).await;
            });
        }
    });
    addr
}
