//! TLS for the connections (the Java client's `useTLS`), by `tokio-rustls`.
//!
//! With a [`TlsConfig`] every connection of a client instance, to name servers
//! and brokers alike, is TLS. The certificate is checked against the name of
//! [`TlsConfig::server_name`] when one is set, else against the address the
//! client connects to: brokers are known by the IP they advertise, so their
//! certificates name that IP, or all of them share one name given here.
use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, RootCertStore, crypto};

/// The `rustls` this crate speaks TLS with (for [`TlsConfig::new`] and root stores).
pub use tokio_rustls::rustls;

/// How connections speak TLS.
#[derive(Clone)]
pub struct TlsConfig {
    client: Arc<ClientConfig>,
    server_name: Option<ServerName<'static>>,
}

impl TlsConfig {
    /// TLS with a rustls client configuration of your own (client certificates,
    /// custom verification, ...).
    pub fn new(client: Arc<ClientConfig>) -> Self {
        TlsConfig {
            client,
            server_name: None,
        }
    }

    /// TLS 1.2 / 1.3 trusting the certificates in `roots`, no client certificate.
    pub fn with_roots(roots: RootCertStore) -> Self {
        let client =
            ClientConfig::builder_with_provider(Arc::new(crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .expect("the ring provider supports the default protocol versions")
                .with_root_certificates(roots)
                .with_no_client_auth();
        TlsConfig::new(Arc::new(client))
    }

    /// Checks every server's certificate against `name` instead of the address
    /// connected to. Fails when `name` is neither a DNS name nor an IP address.
    pub fn server_name(mut self, name: &str) -> Result<Self, io::Error> {
        let name = ServerName::try_from(name.to_owned())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        self.server_name = Some(name);
        Ok(self)
    }

    /// The name a connection to `addr` (`host:port`) checks the certificate against.
    fn name_for(&self, addr: &str) -> io::Result<ServerName<'static>> {
        if let Some(name) = &self.server_name {
            return Ok(name.clone());
        }
        let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        ServerName::try_from(host.to_owned())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
    }

    /// The TLS handshake over `tcp`, connected to `addr`.
    pub(crate) async fn connect(&self, addr: &str, tcp: TcpStream) -> io::Result<Stream> {
        let name = self.name_for(addr)?;
        let tls = TlsConnector::from(self.client.clone())
            .connect(name, tcp)
            .await?;
        Ok(Stream::Tls(Box::new(tls)))
    }
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

/// A connected socket, plain or TLS.
pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    /// The read and write halves (a plain socket's split costs nothing).
    pub(crate) fn split(self) -> (Reader, Writer) {
        match self {
            Stream::Plain(tcp) => {
                let _ = tcp.set_nodelay(true);
                let (r, w) = tcp.into_split();
                (Reader::Plain(r), Writer::Plain(w))
            }
            Stream::Tls(tls) => {
                let _ = tls.get_ref().0.set_nodelay(true);
                let (r, w) = tokio::io::split(*tls);
                (Reader::Tls(r), Writer::Tls(w))
            }
        }
    }
}

/// The read half of a [`Stream`].
pub(crate) enum Reader {
    Plain(OwnedReadHalf),
    Tls(ReadHalf<TlsStream<TcpStream>>),
}

/// The write half of a [`Stream`].
pub(crate) enum Writer {
    Plain(OwnedWriteHalf),
    Tls(WriteHalf<TlsStream<TcpStream>>),
}

impl Writer {
    /// Writes what the socket takes now, without waiting (plain sockets only:
    /// a TLS record cannot be half written this way).
    pub(crate) fn try_write(&self, buf: &[u8]) {
        if let Writer::Plain(w) = self {
            let _ = w.try_write(buf);
        }
    }
}

impl AsyncRead for Reader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Reader::Plain(r) => Pin::new(r).poll_read(cx, buf),
            Reader::Tls(r) => Pin::new(r).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Writer {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Writer::Plain(w) => Pin::new(w).poll_write(cx, buf),
            Writer::Tls(w) => Pin::new(w).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Writer::Plain(w) => Pin::new(w).poll_flush(cx),
            Writer::Tls(w) => Pin::new(w).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Writer::Plain(w) => Pin::new(w).poll_shutdown(cx),
            Writer::Tls(w) => Pin::new(w).poll_shutdown(cx),
        }
    }
}
