//! An HTTPS front for a plain-HTTP server, the shape most real deployments have (nginx, a
//! load balancer or an ingress terminating TLS in front of `mlflow server`).
//!
//! [`TlsProxy::start`] makes a throwaway certificate authority and a server certificate for
//! `127.0.0.1` and `localhost` signed by it, writes the CA certificate to a PEM file (what a
//! user would point `MLFLOW_TRACKING_SERVER_CERT_PATH` at), and relays every connection it
//! accepts on `https://127.0.0.1:PORT`, once the TLS handshake is done, byte for byte to the
//! upstream server: HTTP keep-alive, streaming and the `Host` header pass through untouched.

use crate::background::{accept_until, Background};
use std::{
    path::PathBuf,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose};
use tokio_rustls::{
    rustls::{
        self,
        pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer},
    },
    TlsAcceptor,
};

/// A running TLS-terminating proxy; stops when dropped.
pub struct TlsProxy {
    /// `https://127.0.0.1:PORT`
    pub url: String,
    pub port: u16,
    /// PEM file holding the CA certificate that signed the server's certificate.
    pub ca_pem_path: PathBuf,
    /// TLS handshakes that failed (e.g. a client that does not trust the CA).
    handshakes_failed: Arc<AtomicU64>,
    dir: PathBuf,
    serving: Option<Background>,
}

impl std::fmt::Debug for TlsProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsProxy").field("url", &self.url).field("ca_pem_path", &self.ca_pem_path).finish()
    }
}

impl TlsProxy {
    /// Starts a proxy on a free loopback port in front of `upstream` (`http://host:port`, any
    /// path is ignored: the request's own path is relayed).
    pub fn start(upstream: &str) -> TlsProxy {
        let upstream_addr = upstream
            .trim_start_matches("http://")
            .split('/')
            .next()
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| panic!("upstream must be http://host:port, got {upstream:?}"))
            .to_string();

        let (ca_pem, chain, key) = certificates();
        let dir = std::env::temp_dir().join(crate::unique_name("tls-proxy"));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        let ca_pem_path = dir.join("ca.pem");
        std::fs::write(&ca_pem_path, &ca_pem).expect("write the CA certificate");

        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("server certificate and key match");
        let acceptor = TlsAcceptor::from(Arc::new(config));

        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener.set_nonblocking(true).expect("non-blocking listener");
        let port = listener.local_addr().expect("local address").port();
        let handshakes_failed = Arc::new(AtomicU64::new(0));
        let failed = handshakes_failed.clone();
        let serving = Background::spawn(move |stopped| serve(listener, acceptor, upstream_addr, failed, stopped));
        TlsProxy {
            url: format!("https://127.0.0.1:{port}"),
            port,
            ca_pem_path,
            handshakes_failed,
            dir,
            serving: Some(serving),
        }
    }

    /// TLS handshakes that did not complete so far.
    pub fn handshakes_failed(&self) -> u64 {
        self.handshakes_failed.load(Ordering::Relaxed)
    }
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        // Stopped before its certificates are removed.
        drop(self.serving.take());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A fresh CA (PEM) and a server certificate chain for `127.0.0.1`/`localhost` signed by it,
/// with the server's private key.
fn certificates() -> (String, Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    // A name of its own: a verifier given another proxy's CA must not take it for this one's.
    ca.distinguished_name.push(DnType::CommonName, crate::unique_name("mlflow-export-import test CA"));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("CA key")).expect("CA certificate");

    let mut leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .expect("server certificate parameters");
    leaf.distinguished_name.push(DnType::CommonName, "127.0.0.1");
    leaf.is_ca = IsCa::ExplicitNoCa;
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    leaf.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_key = KeyPair::generate().expect("server key");
    let leaf_cert = leaf.signed_by(&leaf_key, &ca).expect("server certificate");

    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    (ca.pem(), vec![leaf_cert.der().clone(), ca.der().clone()], key)
}

async fn serve(
    listener: std::net::TcpListener,
    acceptor: TlsAcceptor,
    upstream: String,
    handshakes_failed: Arc<AtomicU64>,
    stopped: tokio::sync::oneshot::Receiver<()>,
) {
    accept_until(listener, stopped, move |stream| {
        let (acceptor, upstream, failed) = (acceptor.clone(), upstream.clone(), handshakes_failed.clone());
        async move {
            let _ = stream.set_nodelay(true);
            let mut tls = match acceptor.accept(stream).await {
                Ok(tls) => tls,
                Err(_) => {
                    failed.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            };
            let Ok(mut backend) = tokio::net::TcpStream::connect(&upstream).await else { return };
            let _ = backend.set_nodelay(true);
            let _ = tokio::io::copy_bidirectional(&mut tls, &mut backend).await;
        }
    })
    .await;
}
