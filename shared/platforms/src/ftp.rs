//! The supplier feed's FTP server: a client ([`FtpSource`], the feed source storesync polls;
//! plain FTP or FTPS) and a real FTP server in-process ([`FtpServer`], libunftp over a folder,
//! FTPS when given a certificate) for the tests and the offline demo, which can cut a download
//! midway to show that a cut download resumes.

use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use storesync_core::supplier::source::{FeedSource, RemoteFile, SourceError};
use suppaftp::tokio::{AsyncRustlsConnector, AsyncRustlsFtpStream};
use suppaftp::types::FileType;
use tokio::io::AsyncWriteExt;
use tokio_rustls::rustls;

/// Where the feed is: `host:port`, the folder, and the credentials.
#[derive(Debug, Clone)]
pub struct FtpConfig {
    pub address: String,
    pub user: String,
    pub password: String,
    /// The folder holding the feed (`/` for the login folder).
    pub folder: String,
    pub timeout: Duration,
    /// FTPS, or plain FTP when `None`.
    pub tls: Option<FtpTls>,
}

/// Explicit FTPS: `AUTH TLS` on the control connection before the login, then `PBSZ 0` and
/// `PROT P` (the data connections encrypted too). The server's certificate is verified against
/// the system's roots and, when given, the PEM certificates of `ca_file` (a private CA, or a
/// self-signed server), for `server_name`.
#[derive(Debug, Clone)]
pub struct FtpTls {
    pub server_name: String,
    pub ca_file: Option<PathBuf>,
}

impl FtpTls {
    /// The TLS client's configuration: the system's roots and `ca_file`'s certificates.
    fn client_config(&self) -> Result<Arc<rustls::ClientConfig>, SourceError> {
        let config_error = |m: String| SourceError { transient: false, message: format!("FTPS: {m}") };
        let mut roots = rustls::RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(native.certs);
        if let Some(path) = &self.ca_file {
            use rustls::pki_types::pem::PemObject;
            let certs = rustls::pki_types::CertificateDer::pem_file_iter(path)
                .and_then(|i| i.collect::<Result<Vec<_>, _>>())
                .map_err(|e| config_error(format!("{}: {e}", path.display())))?;
            if certs.is_empty() {
                return Err(config_error(format!("{}: no PEM certificate in it", path.display())));
            }
            for c in certs {
                roots.add(c).map_err(|e| config_error(format!("{}: {e}", path.display())))?;
            }
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| config_error(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Arc::new(config))
    }
}

pub struct FtpSource {
    cfg: FtpConfig,
    /// The TLS client's configuration, made once (the system's roots are read from disk).
    tls_config: std::sync::OnceLock<Arc<rustls::ClientConfig>>,
}

fn transient(what: &str, e: impl std::fmt::Display) -> SourceError {
    SourceError { transient: true, message: format!("FTP {what}: {e}") }
}

impl FtpSource {
    pub fn new(cfg: FtpConfig) -> Self {
        Self { cfg, tls_config: std::sync::OnceLock::new() }
    }

    fn connector(&self, tls: &FtpTls) -> Result<AsyncRustlsConnector, SourceError> {
        let config = match self.tls_config.get() {
            Some(c) => c.clone(),
            None => {
                // A configuration that cannot be made is not kept: the next session tries again.
                let c = tls.client_config()?;
                let _ = self.tls_config.set(c.clone());
                c
            }
        };
        Ok(AsyncRustlsConnector::from(tokio_rustls::TlsConnector::from(config)))
    }

    /// A logged-in session in the feed's folder (secured first with FTPS), transferring bytes
    /// unchanged (TYPE I). The stream's type is the TLS one either way: plain FTP is simply
    /// never upgraded.
    async fn session(&self) -> Result<AsyncRustlsFtpStream, SourceError> {
        let c = &self.cfg;
        let mut ftp = tokio::time::timeout(c.timeout, AsyncRustlsFtpStream::connect(&c.address))
            .await
            .map_err(|_| transient(&format!("connect {}", c.address), "timed out"))?
            .map_err(|e| transient(&format!("connect {}", c.address), e))?;
        if let Some(tls) = &c.tls {
            ftp = ftp.into_secure(self.connector(tls)?, &tls.server_name).await.map_err(|e| SourceError {
                transient: false,
                message: format!("FTPS with {} (as {}): {e}", c.address, tls.server_name),
            })?;
        }
        ftp.login(c.user.as_str(), c.password.as_str()).await.map_err(|e| SourceError {
            transient: false,
            message: format!("FTP login as {} at {}: {e}", c.user, c.address),
        })?;
        ftp.transfer_type(FileType::Binary).await.map_err(|e| transient("TYPE I", e))?;
        if !c.folder.is_empty() && c.folder != "/" {
            ftp.cwd(&c.folder)
                .await
                .map_err(|e| SourceError { transient: false, message: format!("FTP folder {}: {e}", c.folder) })?;
        }
        Ok(ftp)
    }
}

#[async_trait]
impl FeedSource for FtpSource {
    /// The files of LIST (folders aside), each with its exact SIZE and MDTM (LIST's times are
    /// to the minute at best).
    async fn list(&self) -> Result<Vec<RemoteFile>, SourceError> {
        let mut ftp = self.session().await?;
        let lines = ftp.list(None).await.map_err(|e| transient("LIST", e))?;
        let mut out = Vec::new();
        for line in lines {
            let Ok(entry) = suppaftp::list::File::try_from(line.as_str()) else {
                tracing::warn!(%line, "an FTP LIST line that is not a file entry");
                continue;
            };
            if !entry.is_file() {
                continue;
            }
            let name = entry.name().to_string();
            let size = ftp.size(&name).await.map_err(|e| transient(&format!("SIZE {name}"), e))?;
            let modified = ftp.mdtm(&name).await.ok().map(|t| DateTime::<Utc>::from_naive_utc_and_offset(t, Utc));
            out.push(RemoteFile { name, size: size as u64, modified });
        }
        let _ = ftp.quit().await;
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    async fn fetch(&self, name: &str, offset: u64, dest: &Path) -> Result<u64, SourceError> {
        let mut ftp = self.session().await?;
        if offset > 0 {
            ftp.resume_transfer(offset as usize).await.map_err(|e| transient("REST", e))?;
        }
        let mut stream = ftp.retr_as_stream(name).await.map_err(|e| transient(&format!("RETR {name}"), e))?;
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dest)
            .await
            .map_err(|e| SourceError { transient: false, message: format!("{}: {e}", dest.display()) })?;
        // Copied in pieces and flushed as it goes: what arrived before a cut stays on disk.
        let mut buf = vec![0u8; 1 << 16];
        let mut written = 0u64;
        let cut = loop {
            use tokio::io::AsyncReadExt;
            let n = match tokio::time::timeout(self.cfg.timeout, stream.read(&mut buf)).await {
                Ok(Ok(n)) => n,
                Ok(Err(e)) => break Some(transient(&format!("RETR {name} at byte {}", offset + written), e)),
                Err(_) => break Some(transient(&format!("RETR {name} at byte {}", offset + written), "timed out")),
            };
            if n == 0 {
                break None;
            }
            file.write_all(&buf[..n])
                .await
                .map_err(|e| SourceError { transient: false, message: format!("{}: {e}", dest.display()) })?;
            written += n as u64;
        };
        file.flush()
            .await
            .map_err(|e| SourceError { transient: false, message: format!("{}: {e}", dest.display()) })?;
        if let Some(e) = cut {
            return Err(e);
        }
        stream.finish().await.map_err(|e| transient(&format!("RETR {name} end"), e))?;
        let _ = ftp.quit().await;
        Ok(written)
    }
}

/// An FTP server in-process: libunftp serving `root` to one user, on a free loopback port.
pub struct FtpServer {
    pub address: String,
    pub root: PathBuf,
    cut: Arc<Mutex<Option<u64>>>,
}

impl FtpServer {
    /// Starts serving `root` to `user`/`password`.
    pub async fn start(root: &Path, user: &str, password: &str) -> std::io::Result<FtpServer> {
        Self::serve(root, user, password, None).await
    }

    /// Starts serving `root` to `user`/`password` over FTPS only (explicit, `AUTH TLS`), with
    /// the certificate chain and key of these PEM files.
    pub async fn start_tls(
        root: &Path,
        user: &str,
        password: &str,
        cert_pem: &Path,
        key_pem: &Path,
    ) -> std::io::Result<FtpServer> {
        Self::serve(root, user, password, Some((cert_pem.to_path_buf(), key_pem.to_path_buf()))).await
    }

    async fn serve(
        root: &Path,
        user: &str,
        password: &str,
        tls: Option<(PathBuf, PathBuf)>,
    ) -> std::io::Result<FtpServer> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?.to_string();
        drop(listener);
        let cut = Arc::new(Mutex::new(None));
        let (dir, cut2) = (root.to_path_buf(), cut.clone());
        let auth = Arc::new(OneUser { user: user.to_string(), password: password.to_string() });
        let mut builder = libunftp::ServerBuilder::with_authenticator(
            Box::new(move || Cutting {
                inner: unftp_sbe_fs::Filesystem::new(dir.clone()).expect("the FTP root exists"),
                cut: cut2.clone(),
            }),
            auth,
        )
        .greeting("storesync test FTP")
        .passive_ports(30000..=60000);
        if let Some((cert, key)) = tls {
            use libunftp::options::FtpsRequired;
            builder = builder.ftps(cert, key).ftps_required(FtpsRequired::All, FtpsRequired::All);
        }
        let server = builder.build().map_err(std::io::Error::other)?;
        let bind = address.clone();
        tokio::spawn(async move {
            if let Err(e) = server.listen(bind).await {
                tracing::error!(error = %e, "the test FTP server stopped");
            }
        });
        // Ready when it accepts a connection.
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(&address).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(FtpServer { address, root: root.to_path_buf(), cut })
    }

    /// The next download stops after `bytes` bytes: its data connection fails midway.
    pub fn cut_next_download_after(&self, bytes: u64) {
        *self.cut.lock().unwrap_or_else(|p| p.into_inner()) = Some(bytes);
    }
}

#[derive(Debug)]
struct OneUser {
    user: String,
    password: String,
}

#[async_trait]
impl unftp_core::auth::Authenticator for OneUser {
    async fn authenticate(
        &self,
        username: &str,
        creds: &unftp_core::auth::Credentials,
    ) -> Result<unftp_core::auth::Principal, unftp_core::auth::AuthenticationError> {
        if username != self.user {
            return Err(unftp_core::auth::AuthenticationError::BadUser);
        }
        if creds.password.as_deref() != Some(self.password.as_str()) {
            return Err(unftp_core::auth::AuthenticationError::BadPassword);
        }
        Ok(unftp_core::auth::Principal { username: username.to_string() })
    }
}

/// The file system back-end, but a download can be cut once.
#[derive(Debug)]
struct Cutting {
    inner: unftp_sbe_fs::Filesystem,
    cut: Arc<Mutex<Option<u64>>>,
}

/// Yields at most `left` bytes, then fails.
struct CutReader {
    inner: Box<dyn tokio::io::AsyncRead + Send + Sync + Unpin>,
    left: u64,
}

impl tokio::io::AsyncRead for CutReader {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.left == 0 {
            return std::task::Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "the test server cut the download",
            )));
        }
        let max = (self.left as usize).min(buf.remaining());
        let mut tmp = vec![0u8; max];
        let mut limited = tokio::io::ReadBuf::new(&mut tmp);
        let poll = std::pin::Pin::new(&mut self.inner).poll_read(cx, &mut limited);
        let n = limited.filled().len();
        if let std::task::Poll::Ready(Ok(())) = poll {
            buf.put_slice(&tmp[..n]);
            self.left -= n as u64;
        }
        poll
    }
}

type Meta = <unftp_sbe_fs::Filesystem as unftp_core::storage::StorageBackend<unftp_core::auth::DefaultUser>>::Metadata;
type User = unftp_core::auth::DefaultUser;

#[async_trait]
impl unftp_core::storage::StorageBackend<User> for Cutting {
    type Metadata = Meta;

    fn supported_features(&self) -> u32 {
        unftp_core::storage::StorageBackend::<User>::supported_features(&self.inner)
    }

    async fn metadata<P: AsRef<Path> + Send + Debug>(&self, user: &User, path: P) -> unftp_core::storage::Result<Meta> {
        self.inner.metadata(user, path).await
    }

    async fn list<P: AsRef<Path> + Send + Debug>(
        &self,
        user: &User,
        path: P,
    ) -> unftp_core::storage::Result<Vec<unftp_core::storage::Fileinfo<PathBuf, Meta>>>
    where
        Meta: unftp_core::storage::Metadata,
    {
        self.inner.list(user, path).await
    }

    async fn get<P: AsRef<Path> + Send + Debug>(
        &self,
        user: &User,
        path: P,
        start_pos: u64,
    ) -> unftp_core::storage::Result<Box<dyn tokio::io::AsyncRead + Send + Sync + Unpin>> {
        let reader = self.inner.get(user, path, start_pos).await?;
        let cut = self.cut.lock().unwrap_or_else(|p| p.into_inner()).take();
        Ok(match cut {
            Some(left) => Box::new(CutReader { inner: reader, left }),
            None => reader,
        })
    }

    async fn put<P: AsRef<Path> + Send + Debug, R: tokio::io::AsyncRead + Send + Sync + Unpin + 'static>(
        &self,
        user: &User,
        input: R,
        path: P,
        start_pos: u64,
    ) -> unftp_core::storage::Result<u64> {
        self.inner.put(user, input, path, start_pos).await
    }

    async fn del<P: AsRef<Path> + Send + Debug>(&self, user: &User, path: P) -> unftp_core::storage::Result<()> {
        self.inner.del(user, path).await
    }

    async fn mkd<P: AsRef<Path> + Send + Debug>(&self, user: &User, path: P) -> unftp_core::storage::Result<()> {
        self.inner.mkd(user, path).await
    }

    async fn rename<P: AsRef<Path> + Send + Debug>(
        &self,
        user: &User,
        from: P,
        to: P,
    ) -> unftp_core::storage::Result<()> {
        self.inner.rename(user, from, to).await
    }

    async fn rmd<P: AsRef<Path> + Send + Debug>(&self, user: &User, path: P) -> unftp_core::storage::Result<()> {
        self.inner.rmd(user, path).await
    }

    async fn cwd<P: AsRef<Path> + Send + Debug>(&self, user: &User, path: P) -> unftp_core::storage::Result<()> {
        self.inner.cwd(user, path).await
    }
}
