//! The FTP feed source against a real FTP server (libunftp, in-process): listing with sizes
//! and times, whole downloads, a download cut midway and resumed with REST, a wrong password;
//! FTPS with a certificate made here: trusted, it lists and downloads; untrusted, or plain FTP
//! to a server that requires TLS, it fails and says why.

use std::time::Duration;

use storesync_core::supplier::source::FeedSource;
use storesync_platforms::ftp::{FtpConfig, FtpServer, FtpSource, FtpTls};

fn config(server: &FtpServer, password: &str) -> FtpConfig {
    FtpConfig {
        address: server.address.clone(),
        user: "etilize".into(),
        password: password.into(),
        folder: "/".into(),
        timeout: Duration::from_secs(5),
        tls: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_listed_downloaded_and_a_cut_download_resumes() {
    let root = tempfile::tempdir().unwrap();
    let content: Vec<u8> = (0..700_000u32).map(|i| (i * 7 % 256) as u8).collect();
    std::fs::write(root.path().join("CowanOfficeSupplies_2026-12-01.zip"), &content).unwrap();
    std::fs::write(root.path().join("readme.txt"), b"hello\n").unwrap();
    std::fs::create_dir(root.path().join("old")).unwrap();
    let server = FtpServer::start(root.path(), "etilize", "s3cret").await.unwrap();
    let ftp = FtpSource::new(config(&server, "s3cret"));

    let files = ftp.list().await.unwrap();
    let listed: Vec<(String, u64)> = files.iter().map(|f| (f.name.clone(), f.size)).collect();
    assert_eq!(listed, vec![("CowanOfficeSupplies_2026-12-01.zip".into(), 700_000), ("readme.txt".into(), 6)]);
    let mtime = files[0].modified.expect("MDTM");
    assert!((chrono::Utc::now() - mtime).num_minutes().abs() < 5, "{mtime}");

    let dest = tempfile::tempdir().unwrap();
    let whole = dest.path().join("whole.zip");
    assert_eq!(ftp.fetch("CowanOfficeSupplies_2026-12-01.zip", 0, &whole).await.unwrap(), 700_000);
    assert!(std::fs::read(&whole).unwrap() == content, "the bytes, unchanged (binary)");

    // Cut midway: what arrived stays; the next fetch resumes from there.
    server.cut_next_download_after(250_000);
    let part = dest.path().join("part.zip");
    let e = ftp.fetch("CowanOfficeSupplies_2026-12-01.zip", 0, &part).await.unwrap_err();
    assert!(e.transient, "{e}");
    let got = std::fs::metadata(&part).unwrap().len();
    assert!(got > 0 && got <= 250_000, "{got}");
    let rest = ftp.fetch("CowanOfficeSupplies_2026-12-01.zip", got, &part).await.unwrap();
    assert_eq!(got + rest, 700_000);
    assert!(std::fs::read(&part).unwrap() == content, "resumed to the same bytes");

    let e = FtpSource::new(config(&server, "wrong")).list().await.unwrap_err();
    assert!(!e.transient && e.message.starts_with("FTP login as etilize at 127.0.0.1:"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ftps_verifies_the_server_and_encrypts_the_transfers() {
    let root = tempfile::tempdir().unwrap();
    let content: Vec<u8> = (0..300_000u32).map(|i| (i * 13 % 256) as u8).collect();
    std::fs::write(root.path().join("CowanOfficeSupplies_2026-12-07.zip"), &content).unwrap();
    // A self-signed certificate for localhost, as a supplier's own server might have.
    let certs = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap().self_signed(&key).unwrap();
    let (cert_pem, key_pem) = (certs.path().join("cert.pem"), certs.path().join("key.pem"));
    std::fs::write(&cert_pem, cert.pem()).unwrap();
    std::fs::write(&key_pem, key.serialize_pem()).unwrap();
    let server = FtpServer::start_tls(root.path(), "etilize", "s3cret", &cert_pem, &key_pem).await.unwrap();
    let tls = |ca: Option<&std::path::Path>| {
        let mut c = config(&server, "s3cret");
        c.tls = Some(FtpTls { server_name: "localhost".into(), ca_file: ca.map(|p| p.to_path_buf()) });
        c
    };

    let ftp = FtpSource::new(tls(Some(&cert_pem)));
    let files = ftp.list().await.unwrap();
    assert_eq!(
        files.iter().map(|f| (f.name.as_str(), f.size)).collect::<Vec<_>>(),
        vec![("CowanOfficeSupplies_2026-12-07.zip", 300_000)]
    );
    let dest_dir = tempfile::tempdir().unwrap();
    let dest = dest_dir.path().join("feed.zip");
    assert_eq!(ftp.fetch("CowanOfficeSupplies_2026-12-07.zip", 0, &dest).await.unwrap(), 300_000);
    assert!(std::fs::read(&dest).unwrap() == content);

    // Not trusted: the certificate is refused, and the error says it is FTPS that failed.
    let e = FtpSource::new(tls(None)).list().await.unwrap_err();
    assert!(!e.transient && e.message.starts_with("FTPS with 127.0.0.1:") && e.message.contains("certificate"), "{e}");
    // Plain FTP to a server that requires TLS cannot log in.
    let e = FtpSource::new(config(&server, "s3cret")).list().await.unwrap_err();
    assert!(e.message.starts_with("FTP login as etilize"), "{e}");
}
