//! The supplier's feed source (FTP) and distributor (Xorosoft) as configuration names them
//! (`STORESYNC_SUPPLIER_FTP_*`, `STORESYNC_XOROSOFT_*`): the one place both runtimes open them.

use std::time::Duration;

use storesync_core::supplier::pipeline::{
    ENV_FTP_ADDRESS, ENV_FTP_FOLDER, ENV_FTP_PASSWORD, ENV_FTP_USER, ENV_XOROSOFT_TOKEN, ENV_XOROSOFT_URL,
};

use crate::ftp::{FtpConfig, FtpSource};
use crate::xorosoft::client::XorosoftClient;

fn need(get: &impl Fn(&str) -> Option<String>, var: &str, what: &str) -> Result<String, String> {
    get(var)
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| format!("{var} is not set (needed to reach {what}; see the README)"))
}

/// The feed's FTP folder.
pub fn ftp_source(get: impl Fn(&str) -> Option<String>) -> Result<FtpSource, String> {
    Ok(FtpSource::new(FtpConfig {
        address: need(&get, ENV_FTP_ADDRESS, "the supplier's FTP server")?,
        user: need(&get, ENV_FTP_USER, "the supplier's FTP server")?,
        password: need(&get, ENV_FTP_PASSWORD, "the supplier's FTP server")?,
        folder: get(ENV_FTP_FOLDER).unwrap_or_else(|| "/".into()),
        timeout: Duration::from_secs(30),
    }))
}

/// The distributor's API.
pub fn xorosoft(get: impl Fn(&str) -> Option<String>) -> Result<XorosoftClient, String> {
    let url = need(&get, ENV_XOROSOFT_URL, "Xorosoft")?;
    let token = need(&get, ENV_XOROSOFT_TOKEN, "Xorosoft")?;
    XorosoftClient::new(&url, &token, Duration::from_secs(30)).map_err(|e| format!("HTTP client: {e}"))
}
