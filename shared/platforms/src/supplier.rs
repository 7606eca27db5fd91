//! The supplier's feed source (FTP) and distributor (Xorosoft) as configuration names them
//! (`STORESYNC_SUPPLIER_FTP_*`, `STORESYNC_XOROSOFT_*`, `STORESYNC_SHOPIFY_*`): the one place
//! both runtimes open them.

use std::time::Duration;

use storesync_core::config::ENV_SHOPIFY_LOCATION;
use storesync_core::stores::catalog_sync::CatalogStore;
use storesync_core::stores::inventory::InventoryStore;
use storesync_core::stores::Platform;
use storesync_core::supplier::distributor::Distributor;
use storesync_core::supplier::pipeline::{
    ENV_FTP_ADDRESS, ENV_FTP_CA_FILE, ENV_FTP_FOLDER, ENV_FTP_PASSWORD, ENV_FTP_TLS, ENV_FTP_USER, ENV_XOROSOFT_TOKEN,
    ENV_XOROSOFT_URL,
};
use storesync_core::supplier::source::FeedSource;
use storesync_core::supplier::worker::SupplierPlatforms;

use crate::ftp::{FtpConfig, FtpSource, FtpTls};
use crate::xorosoft::client::XorosoftClient;

fn need(get: &impl Fn(&str) -> Option<String>, var: &str, what: &str) -> Result<String, String> {
    get(var)
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| format!("{var} is not set (needed to reach {what}; see the README)"))
}

/// The feed's FTP folder (FTPS with `STORESYNC_SUPPLIER_FTP_TLS=explicit`).
pub fn ftp_source(get: impl Fn(&str) -> Option<String>) -> Result<FtpSource, String> {
    let address = need(&get, ENV_FTP_ADDRESS, "the supplier's FTP server")?;
    let tls = match get(ENV_FTP_TLS).as_deref().map(str::trim).unwrap_or("") {
        "" | "none" => None,
        "explicit" => Some(FtpTls {
            server_name: host_of(&address).to_string(),
            ca_file: get(ENV_FTP_CA_FILE).filter(|f| !f.trim().is_empty()).map(Into::into),
        }),
        other => return Err(format!("{ENV_FTP_TLS}={other:?}: use explicit (FTPS) or none")),
    };
    Ok(FtpSource::new(FtpConfig {
        user: need(&get, ENV_FTP_USER, "the supplier's FTP server")?,
        password: need(&get, ENV_FTP_PASSWORD, "the supplier's FTP server")?,
        folder: get(ENV_FTP_FOLDER).unwrap_or_else(|| "/".into()),
        timeout: Duration::from_secs(30),
        address,
        tls,
    }))
}

/// The host of `host:port` (`[v6]:port` too), the name a server's certificate is checked for.
fn host_of(address: &str) -> &str {
    if let Some(rest) = address.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    address.rsplit_once(':').map_or(address, |(h, _)| h)
}

/// The distributor's API.
pub fn xorosoft(get: impl Fn(&str) -> Option<String>) -> Result<XorosoftClient, String> {
    let url = need(&get, ENV_XOROSOFT_URL, "Xorosoft")?;
    let token = need(&get, ENV_XOROSOFT_TOKEN, "Xorosoft")?;
    XorosoftClient::new(&url, &token, Duration::from_secs(30)).map_err(|e| format!("HTTP client: {e}"))
}

/// The supplier's platforms as configuration names them, each opened once (at a function's cold
/// start, or a local command's start); what is not configured keeps the error naming it.
pub struct Connected {
    source: Result<FtpSource, String>,
    distributor: Result<XorosoftClient, String>,
    catalog: Result<Box<dyn CatalogStore>, String>,
    inventory: Result<Box<dyn InventoryStore>, String>,
    location: Option<String>,
}

impl Connected {
    /// Opens what `get` configures, without a call to any of them (a function's cold start
    /// stays quick): the Shopify stock location, when not set, is the shop's only one, asked
    /// for on first use.
    pub fn connect(get: impl Fn(&str) -> Option<String>) -> Self {
        let catalog = crate::stores::connect_catalog(Platform::Shopify, &get).map_err(|e| e.to_string());
        let inventory = match &catalog {
            Ok(_) => crate::stores::connect(Platform::Shopify, &get).map_err(|e| e.to_string()),
            Err(e) => Err(e.clone()),
        };
        Self {
            source: ftp_source(&get),
            distributor: xorosoft(&get),
            catalog,
            inventory,
            location: get(ENV_SHOPIFY_LOCATION).filter(|l| !l.trim().is_empty()),
        }
    }
}

impl SupplierPlatforms for Connected {
    fn source(&self) -> Result<&dyn FeedSource, String> {
        self.source.as_ref().map(|s| s as &dyn FeedSource).map_err(Clone::clone)
    }

    fn distributor(&self) -> Result<&dyn Distributor, String> {
        self.distributor.as_ref().map(|d| d as &dyn Distributor).map_err(Clone::clone)
    }

    fn catalog(&self) -> Result<&dyn CatalogStore, String> {
        self.catalog.as_deref().map_err(Clone::clone)
    }

    fn inventory(&self) -> Result<&dyn InventoryStore, String> {
        self.inventory.as_deref().map_err(Clone::clone)
    }

    fn location(&self) -> Option<&str> {
        self.location.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_certificate_is_checked_for_the_host() {
        assert_eq!(host_of("ftp.etilize.com:21"), "ftp.etilize.com");
        assert_eq!(host_of("[::1]:2121"), "::1");
        assert_eq!(host_of("localhost"), "localhost");
        let vars = |tls: &'static str| {
            move |k: &str| match k {
                ENV_FTP_ADDRESS => Some("ftp.etilize.com:21".to_string()),
                ENV_FTP_USER | ENV_FTP_PASSWORD => Some("x".to_string()),
                ENV_FTP_TLS => Some(tls.to_string()),
                _ => None,
            }
        };
        assert!(ftp_source(vars("explicit")).is_ok());
        assert!(ftp_source(vars("none")).is_ok());
        let e = ftp_source(vars("implicit")).err().unwrap();
        assert!(e.contains("STORESYNC_SUPPLIER_FTP_TLS=\"implicit\""), "{e}");
    }
}
