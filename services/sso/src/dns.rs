//! DNS TXT lookups for domain verification, through hickory-resolver. The nameserver is
//! configurable (`SSO_DNS_SERVER`), so tests point it at a DNS server they run on loopback.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::{Resolver, TokioResolver};

/// Why a lookup gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// The name has no TXT record (NXDOMAIN or an empty answer).
    #[error("no TXT record")]
    NotFound,
    /// The resolver failed: timeout, refused, unreachable.
    #[error("DNS lookup failed: {0}")]
    Failed(String),
}

#[derive(Clone)]
pub struct TxtResolver {
    resolver: TokioResolver,
}

impl TxtResolver {
    /// A resolver asking `nameserver`, or the system's nameservers when `None`. Answers are not
    /// cached: an administrator who just published the record expects the next check to see it.
    ///
    /// # Errors
    /// The system resolver configuration cannot be read.
    pub fn new(nameserver: Option<SocketAddr>) -> Result<Self, LookupError> {
        let mut builder = match nameserver {
            Some(addr) => {
                let mut server = NameServerConfig::udp_and_tcp(addr.ip());
                for connection in &mut server.connections {
                    connection.port = addr.port();
                }
                Resolver::builder_with_config(
                    ResolverConfig::from_name_servers(vec![server]),
                    TokioRuntimeProvider::default(),
                )
            }
            None => Resolver::builder_tokio().map_err(|e| LookupError::Failed(e.to_string()))?,
        };
        let options = builder.options_mut();
        options.cache_size = 0;
        options.timeout = Duration::from_secs(3);
        options.attempts = 2;
        let resolver = builder.build().map_err(|e| LookupError::Failed(e.to_string()))?;
        Ok(Self { resolver })
    }

    /// The TXT records at `name`, each record's strings joined.
    ///
    /// # Errors
    /// [`LookupError::NotFound`] when there is none; [`LookupError::Failed`] otherwise.
    pub async fn txt(&self, name: &str) -> Result<Vec<String>, LookupError> {
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        let lookup = self
            .resolver
            .lookup(fqdn.as_str(), RecordType::TXT)
            .await
            .map_err(|e| {
                if e.is_no_records_found() || e.is_nx_domain() {
                    LookupError::NotFound
                } else {
                    LookupError::Failed(e.to_string())
                }
            })?;
        let records: Vec<String> = lookup
            .answers()
            .iter()
            .filter_map(|record| match &record.data {
                RData::TXT(txt) => Some(
                    txt.txt_data
                        .iter()
                        .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
                        .collect::<String>(),
                ),
                _ => None,
            })
            .collect();
        if records.is_empty() {
            Err(LookupError::NotFound)
        } else {
            Ok(records)
        }
    }
}
