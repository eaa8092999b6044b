//! Named server presets: the IMAP, POP3 and SMTP endpoints and the default authentication of well-known
//! providers, so that an account needs only `preset` and `user`.
//!
//! Owns the table of presets and nothing else. Every value here is a default that an account may override
//! field by field (see `config::merge`). Must never: hold a credential or an OAuth2 client ID that belongs
//! to some application (the user registers their own, OUTLOOK.md), or contact a server.
//!
//! Ports and security follow RFC 8314 section 3.3 (implicit TLS: IMAP 993, POP3 995) and RFC 6409 section
//! 3.1 / RFC 3207 (message submission on 587 with STARTTLS).

use mailsync_engine::Security;

use crate::config::AuthMethod;

/// One endpoint of a preset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresetEndpoint {
    /// Host name.
    pub host: &'static str,
    /// TCP port.
    pub port: u16,
    /// Transport security.
    pub security: Security,
}

/// A provider's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preset {
    /// The name used in `preset = "..."`.
    pub name: &'static str,
    /// One line for humans.
    pub description: &'static str,
    /// Incoming mail, IMAP.
    pub imap: PresetEndpoint,
    /// Incoming mail, POP3.
    pub pop3: PresetEndpoint,
    /// Outgoing mail, SMTP submission.
    pub smtp: PresetEndpoint,
    /// The authentication the provider accepts by default.
    pub auth: AuthMethod,
    /// Whether POP3 keeps messages on the server after download.
    pub leave_on_server: bool,
}

const fn ep(host: &'static str, port: u16, security: Security) -> PresetEndpoint {
    PresetEndpoint { host, port, security }
}

/// Every preset, in the order `--help` lists them.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "outlook",
        description: "Outlook.com / Hotmail, Microsoft's current endpoints (OAuth2 only)",
        imap: ep("outlook.office365.com", 993, Security::Tls),
        pop3: ep("outlook.office365.com", 995, Security::Tls),
        smtp: ep("smtp-mail.outlook.com", 587, Security::StartTls),
        auth: AuthMethod::XOAuth2,
        // Outlook.com may refuse POP deletions anyway; never delete unless the user asks.
        leave_on_server: true,
    },
    Preset {
        name: "outlook-classic",
        description: "Outlook.com with the classic host names of Outlook's own setup guide",
        imap: ep("imap-mail.outlook.com", 993, Security::Tls),
        pop3: ep("pop-mail.outlook.com", 995, Security::Tls),
        smtp: ep("smtp-mail.outlook.com", 587, Security::StartTls),
        // Basic authentication for Outlook.com IMAP/POP ended on 16 September 2024.
        auth: AuthMethod::XOAuth2,
        leave_on_server: true,
    },
    Preset {
        name: "office365",
        description: "Microsoft 365 work or school accounts (Exchange Online, OAuth2 only)",
        imap: ep("outlook.office365.com", 993, Security::Tls),
        pop3: ep("outlook.office365.com", 995, Security::Tls),
        smtp: ep("smtp.office365.com", 587, Security::StartTls),
        auth: AuthMethod::XOAuth2,
        leave_on_server: true,
    },
    Preset {
        name: "gmail",
        description: "Gmail (app password by default; auth = \"xoauth2\" also works)",
        imap: ep("imap.gmail.com", 993, Security::Tls),
        pop3: ep("pop.gmail.com", 995, Security::Tls),
        smtp: ep("smtp.gmail.com", 587, Security::StartTls),
        auth: AuthMethod::Password,
        leave_on_server: true,
    },
];

/// The preset called `name`, if there is one.
pub fn find(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}

/// The preset names, comma-separated, for error messages.
pub fn names() -> String {
    PRESETS.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (name, imap, pop3, smtp, auth, leave_on_server), one row per preset, exactly as documented.
    type Row = (
        &'static str,
        (&'static str, u16, Security),
        (&'static str, u16, Security),
        (&'static str, u16, Security),
        AuthMethod,
        bool,
    );

    const EXPECTED: &[Row] = &[
        (
            "outlook",
            ("outlook.office365.com", 993, Security::Tls),
            ("outlook.office365.com", 995, Security::Tls),
            ("smtp-mail.outlook.com", 587, Security::StartTls),
            AuthMethod::XOAuth2,
            true,
        ),
        (
            "outlook-classic",
            ("imap-mail.outlook.com", 993, Security::Tls),
            ("pop-mail.outlook.com", 995, Security::Tls),
            ("smtp-mail.outlook.com", 587, Security::StartTls),
            AuthMethod::XOAuth2,
            true,
        ),
        (
            "office365",
            ("outlook.office365.com", 993, Security::Tls),
            ("outlook.office365.com", 995, Security::Tls),
            ("smtp.office365.com", 587, Security::StartTls),
            AuthMethod::XOAuth2,
            true,
        ),
        (
            "gmail",
            ("imap.gmail.com", 993, Security::Tls),
            ("pop.gmail.com", 995, Security::Tls),
            ("smtp.gmail.com", 587, Security::StartTls),
            AuthMethod::Password,
            true,
        ),
    ];

    fn triple(e: PresetEndpoint) -> (&'static str, u16, Security) {
        (e.host, e.port, e.security)
    }

    #[test]
    fn every_preset_matches_its_documented_row() {
        assert_eq!(PRESETS.len(), EXPECTED.len());
        for (name, imap, pop3, smtp, auth, leave) in EXPECTED {
            let p = find(name).unwrap_or_else(|| panic!("preset {name} missing"));
            assert_eq!(triple(p.imap), *imap, "{name} imap");
            assert_eq!(triple(p.pop3), *pop3, "{name} pop3");
            assert_eq!(triple(p.smtp), *smtp, "{name} smtp");
            assert_eq!(p.auth, *auth, "{name} auth");
            assert_eq!(p.leave_on_server, *leave, "{name} leave_on_server");
        }
    }

    #[test]
    fn outlook_classic_is_the_seed_page() {
        // The seed page: incoming imap-mail.outlook.com port 993 "SSL", outgoing smtp-mail.outlook.com
        // port 587 "TLS" (which Outlook's dialog means as STARTTLS on 587).
        let p = find("outlook-classic").map(|p| (triple(p.imap), triple(p.smtp)));
        assert_eq!(
            p,
            Some((
                ("imap-mail.outlook.com", 993, Security::Tls),
                ("smtp-mail.outlook.com", 587, Security::StartTls)
            ))
        );
    }

    #[test]
    fn unknown_names_are_not_found_and_names_lists_all() {
        assert!(find("hotmail").is_none());
        assert!(find("Outlook").is_none());
        assert_eq!(names(), "outlook, outlook-classic, office365, gmail");
    }
}
