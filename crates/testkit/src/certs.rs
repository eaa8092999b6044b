//! A throwaway certificate authority and a server certificate for 127.0.0.1, made fresh for each instance.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose, SanType};
use std::net::{IpAddr, Ipv4Addr};

use crate::HarnessError;

/// A CA (the only thing a test client should trust) and a server certificate signed by it.
#[derive(Debug, Clone)]
pub struct TestCa {
    /// The CA certificate, PEM: what the client is told to trust (`ca_file`).
    pub ca_pem: String,
    /// The server certificate, PEM.
    pub server_cert_pem: String,
    /// The server's private key, PEM.
    pub server_key_pem: String,
}

impl TestCa {
    /// Makes a CA and a server certificate valid for `localhost`, IP 127.0.0.1 and the DNS name `127.0.0.1`
    /// (some clients match the host string only; see TESTING.md).
    pub fn generate(ca_name: &str) -> Result<TestCa, HarnessError> {
        TestCa::generate_for(ca_name, &["localhost", "127.0.0.1"], true)
    }

    /// A CA and a server certificate for exactly `names` (DNS names), plus IP 127.0.0.1 when `loopback_ip`.
    /// A certificate for another name tests how a client reports a name mismatch.
    pub fn generate_for(ca_name: &str, names: &[&str], loopback_ip: bool) -> Result<TestCa, HarnessError> {
        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.distinguished_name.push(DnType::CommonName, ca_name);
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let ca_issuer = rcgen::Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        for name in names {
            // Always as a DNS name, even "127.0.0.1": some clients (mbsync) match the host string only.
            params.subject_alt_names.push(SanType::DnsName(name.to_string().try_into()?));
        }
        if loopback_ip {
            params.subject_alt_names.push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        }
        params.distinguished_name.push(DnType::CommonName, names.first().copied().unwrap_or("localhost"));
        let server_cert = params.signed_by(&server_key, &ca_issuer)?;
        Ok(TestCa {
            ca_pem: ca_cert.pem(),
            server_cert_pem: server_cert.pem(),
            server_key_pem: server_key.serialize_pem(),
        })
    }
}
