//! The FTP feed source against a real FTP server (libunftp, in-process): listing with sizes
//! and times, whole downloads, a download cut midway and resumed with REST, a wrong password.

use std::time::Duration;

use storesync_core::supplier::source::FeedSource;
use storesync_platforms::ftp::{FtpConfig, FtpServer, FtpSource};

fn config(server: &FtpServer, password: &str) -> FtpConfig {
    FtpConfig {
        address: server.address.clone(),
        user: "etilize".into(),
        password: password.into(),
        folder: "/".into(),
        timeout: Duration::from_secs(5),
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
