//! What to do about a failed check, in words: the known failures of Outlook accounts (OUTLOOK.md) and of
//! mail settings in general, recognised from the engine's classified errors.
//!
//! Owns the wording of hints and the rules that pick them: a POP or IMAP login refused under an Outlook
//! preset (POP and IMAP are off by default in Outlook.com), a password refused under an Outlook preset
//! (Microsoft ended basic authentication), "User is authenticated but not connected" (a valid token without
//! mailbox access), a certificate for another name, an untrusted certificate, TLS on a port that speaks
//! STARTTLS or the reverse, a closed port, an unknown host. Must never: guess at a cause the error does not
//! show, or quote a secret. RFC 8314 section 3.3 (implicit-TLS ports), RFC 3207 / RFC 2595 (STARTTLS).

use mailsync_engine::{Endpoint, EngineError, Security};

use crate::config::AuthMethod;

/// What a hint may depend on besides the error.
#[derive(Debug, Clone, Copy)]
pub struct HintCtx<'a> {
    /// `imap`, `pop3` or `smtp`.
    pub protocol: &'static str,
    /// The account's name (for commands to run).
    pub account: &'a str,
    /// The preset the account starts from.
    pub preset: Option<&'a str>,
    /// How the account logs in.
    pub auth: AuthMethod,
    /// The endpoint checked.
    pub ep: &'a Endpoint,
}

impl HintCtx<'_> {
    /// Whether this is a Microsoft account (by preset, or by a Microsoft host name).
    pub fn is_outlook(&self) -> bool {
        let host = self.ep.host.to_ascii_lowercase();
        matches!(self.preset, Some("outlook" | "outlook-classic" | "office365"))
            || host.ends_with(".outlook.com")
            || host.ends_with(".office365.com")
    }

    fn standard_ports(&self) -> &'static str {
        match self.protocol {
            "imap" => "IMAP: 993 with security = \"tls\", 143 with \"starttls\"",
            "pop3" => "POP3: 995 with security = \"tls\", 110 with \"starttls\"",
            _ => "SMTP: 587 with security = \"starttls\", 465 with \"tls\"",
        }
    }
}

/// The hint for `err`, if the failure is a known one.
pub fn hint(h: &HintCtx<'_>, err: &EngineError) -> Option<String> {
    let port = h.ep.port;
    let table = h.protocol;
    let name = h.account;
    match err {
        EngineError::AuthRefused { text, .. } if text.contains("User is authenticated but not connected") => Some(
            "the sign-in worked but the token gives no access to this mailbox: it was issued for another \
             account, tenant or scope (check tenant, scopes and that you signed in as this address, then run \
             `mailsync auth login` again); do not just retry"
                .to_owned(),
        ),
        EngineError::AuthRefused { .. } => Some(auth_hint(h)),
        EngineError::CertName { host, .. } => Some(format!(
            "the server's certificate is for another name than {host}: set host in [accounts.{name}.{table}] to \
             the name on the certificate (Outlook: outlook.office365.com for IMAP and POP3, \
             smtp-mail.outlook.com for SMTP)"
        )),
        EngineError::CertTrust { .. } => Some(format!(
            "the certificate is not signed by a trusted authority: for a private server, add ca_file = \
             \"/path/to/ca.pem\" to [accounts.{name}]; for a public one, something on the way intercepts TLS"
        )),
        EngineError::Tls { hint, .. } if !hint.is_empty() || h.ep.security == Security::Tls => Some(format!(
            "port {port} did not answer with TLS: it probably expects a plain greeting and STARTTLS; set \
             security = \"starttls\" in [accounts.{name}.{table}], or use the implicit-TLS port ({})",
            h.standard_ports()
        )),
        EngineError::Timeout { during, .. }
            if h.ep.security != Security::Tls && (during.contains("greeting") || during.contains("waiting")) =>
        {
            Some(format!(
                "no greeting on port {port}: it probably expects TLS from the first byte; set security = \
                 \"tls\" in [accounts.{name}.{table}], or use the STARTTLS port ({})",
                h.standard_ports()
            ))
        }
        EngineError::StartTlsUnavailable { .. } => Some(format!(
            "the server offers no STARTTLS on port {port}; mailsync never continues without TLS: use the \
             implicit-TLS port with security = \"tls\" ({})",
            h.standard_ports()
        )),
        EngineError::Connect { source, .. } if source.kind() == std::io::ErrorKind::ConnectionRefused => {
            Some(format!("nothing listens on port {port}: check port in [accounts.{name}.{table}] ({})", h.standard_ports()))
        }
        EngineError::Dns { host, .. } => {
            Some(format!("{host} does not resolve: check host in [accounts.{name}.{table}] and the network"))
        }
        EngineError::Throttled { millis, .. } => {
            Some(format!("the server is throttling this account: wait {} s and check again", millis.div_ceil(1000)))
        }
        EngineError::PlaintextRefused { .. } => Some(format!(
            "this connection is not encrypted: set security = \"tls\" or \"starttls\" in [accounts.{name}.{table}]"
        )),
        _ => None,
    }
}

fn auth_hint(h: &HintCtx<'_>) -> String {
    let name = h.account;
    let mut parts = Vec::new();
    if h.is_outlook() && h.auth == AuthMethod::Password {
        parts.push(format!(
            "Microsoft no longer accepts passwords for IMAP, POP or SMTP (basic authentication ended for work \
             accounts in October 2022 and for Outlook.com on 16 September 2024; app passwords do not help): set \
             auth = \"xoauth2\" and client_id in [accounts.{name}], then run `mailsync auth login {name}`"
        ));
    }
    if h.is_outlook() && matches!(h.protocol, "imap" | "pop3") {
        parts.push(
            "Outlook.com turns POP and IMAP off by default: enable them in Outlook on the web, Settings > Mail > \
             Forwarding and IMAP, then check again"
                .to_owned(),
        );
    }
    if parts.is_empty() {
        parts.push(match h.auth {
            AuthMethod::Password => {
                "the user name or password was refused: check user and password_command / password_env"
                    .to_owned()
            }
            AuthMethod::XOAuth2 => format!(
                "the OAuth2 token was refused (expired, revoked or for another account): run `mailsync auth \
                 login {name}` again, or check token_command"
            ),
        });
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx<'a>(
        ep: &'a Endpoint,
        protocol: &'static str,
        preset: Option<&'a str>,
        auth: AuthMethod,
    ) -> HintCtx<'a> {
        HintCtx { protocol, account: "w", preset, auth, ep }
    }

    fn refused(text: &str) -> EngineError {
        EngineError::AuthRefused {
            protocol: "IMAP",
            user: "u".into(),
            addr: "a".into(),
            text: text.into(),
            hint: String::new(),
        }
    }

    #[test]
    fn outlook_logins_get_the_pop_imap_and_basic_auth_hints() {
        let ep = Endpoint::new("outlook.office365.com", 993, Security::Tls);
        let pw = hint(&ctx(&ep, "imap", Some("outlook"), AuthMethod::Password), &refused("NO LOGIN failed."))
            .unwrap_or_default();
        assert!(pw.starts_with("Microsoft no longer accepts passwords"), "{pw}");
        assert!(pw.contains("Outlook.com turns POP and IMAP off by default"), "{pw}");
        let oauth = hint(&ctx(&ep, "pop3", Some("outlook-classic"), AuthMethod::XOAuth2), &refused("-ERR"))
            .unwrap_or_default();
        assert!(oauth.starts_with("Outlook.com turns POP and IMAP off by default"), "{oauth}");
        assert!(!oauth.contains("passwords"), "{oauth}");
        let smtp = Endpoint::new("smtp-mail.outlook.com", 587, Security::StartTls);
        let s = hint(&ctx(&smtp, "smtp", Some("outlook"), AuthMethod::XOAuth2), &refused("535"))
            .unwrap_or_default();
        assert!(s.contains("mailsync auth login w") && !s.contains("off by default"), "{s}");
    }

    #[test]
    fn other_servers_get_the_plain_advice() {
        let ep = Endpoint::new("127.0.0.1", 993, Security::Tls);
        let h = hint(&ctx(&ep, "imap", None, AuthMethod::Password), &refused("NO")).unwrap_or_default();
        assert_eq!(
            h,
            "the user name or password was refused: check user and password_command / password_env"
        );
        let not_connected = refused("BAD User is authenticated but not connected.");
        let h =
            hint(&ctx(&ep, "imap", Some("outlook"), AuthMethod::XOAuth2), &not_connected).unwrap_or_default();
        assert!(h.starts_with("the sign-in worked but the token gives no access"), "{h}");
    }

    #[test]
    fn tls_and_port_mistakes_name_the_other_security() {
        let tls = Endpoint::new("127.0.0.1", 143, Security::Tls);
        let e = EngineError::Tls { addr: "a".into(), detail: "corrupt message".into(), hint: String::new() };
        let h = hint(&ctx(&tls, "imap", None, AuthMethod::Password), &e).unwrap_or_default();
        assert!(
            h.starts_with("port 143 did not answer with TLS") && h.contains("security = \"starttls\""),
            "{h}"
        );
        let starttls = Endpoint::new("127.0.0.1", 995, Security::StartTls);
        let e = EngineError::Timeout {
            addr: "a".into(),
            during: "waiting for the greeting",
            secs: 2,
            hint: String::new(),
        };
        let h = hint(&ctx(&starttls, "pop3", None, AuthMethod::Password), &e).unwrap_or_default();
        assert!(h.starts_with("no greeting on port 995") && h.contains("security = \"tls\""), "{h}");
        let e = EngineError::CertName { addr: "a".into(), host: "127.0.0.1".into(), detail: "d".into() };
        let h = hint(&ctx(&tls, "imap", None, AuthMethod::Password), &e).unwrap_or_default();
        assert!(h.starts_with("the server's certificate is for another name than 127.0.0.1"), "{h}");
        let e = EngineError::CertTrust { addr: "a".into(), detail: "d".into() };
        assert!(hint(&ctx(&tls, "imap", None, AuthMethod::Password), &e)
            .unwrap_or_default()
            .contains("ca_file"));
        let refused_conn = EngineError::Connect {
            addr: "a".into(),
            source: std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        };
        let h = hint(&ctx(&tls, "smtp", None, AuthMethod::Password), &refused_conn).unwrap_or_default();
        assert!(h.starts_with("nothing listens on port 143") && h.contains("SMTP: 587"), "{h}");
    }
}
