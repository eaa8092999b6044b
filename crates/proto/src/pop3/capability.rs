//! POP3 capabilities: the body of a CAPA response.
//!
//! Owns: [`Capability`], [`Capabilities`] and [`parse_capabilities`], which turns the unstuffed body
//! of a `CAPA` response into typed values.
//!
//! Must never: fail a whole CAPA response because of one odd line (an unknown capability, or a known
//! one with arguments that do not parse, is kept as [`Capability::Other`]); assume a capability that
//! was not advertised.
//!
//! RFC 2449 sections 5 (CAPA) and 6 (TOP, USER, SASL, RESP-CODES, LOGIN-DELAY, PIPELINING, EXPIRE,
//! UIDL, IMPLEMENTATION); RFC 2595 section 4 (STLS); RFC 3206 section 6 (AUTH-RESP-CODE).

use nom::bytes::complete::{tag_no_case, take_while1};
use nom::character::complete::{space0, space1};
use nom::multi::many0;
use nom::sequence::preceded;
use nom::{IResult, Parser};

use crate::sasl::Mechanism;

/// The EXPIRE policy (RFC 2449 section 6.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expire {
    /// `EXPIRE NEVER`: messages are kept until deleted.
    Never,
    /// `EXPIRE n`: messages may be deleted n days after first retrieval (0: right after the session).
    Days(u32),
}

/// One advertised capability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capability {
    /// `CAPA` itself (Dovecot lists it).
    Capa,
    /// `TOP`.
    Top,
    /// `USER`: USER/PASS login is available.
    User,
    /// `SASL mech...`: AUTH with these mechanisms.
    Sasl(Vec<Mechanism>),
    /// `RESP-CODES`: `-ERR` lines may carry `[CODE]`.
    RespCodes,
    /// `AUTH-RESP-CODE` (RFC 3206): `[AUTH]` and `[SYS/...]` on login failures.
    AuthRespCode,
    /// `LOGIN-DELAY n [USER]`: the minimum seconds between logins.
    LoginDelay {
        /// The delay in seconds.
        seconds: u32,
        /// `true` when followed by `USER` (the value is per user, announced after login).
        per_user: bool,
    },
    /// `PIPELINING`.
    Pipelining,
    /// `EXPIRE n|NEVER [USER]`.
    Expire {
        /// The retention policy.
        policy: Expire,
        /// `true` when followed by `USER`.
        per_user: bool,
    },
    /// `UIDL`.
    Uidl,
    /// `IMPLEMENTATION text`: the server's name and version, informational only.
    Implementation(String),
    /// `STLS`.
    Stls,
    /// Anything else, or a known name whose arguments do not parse.
    Other {
        /// The capability name, as sent.
        name: String,
        /// Its space-separated arguments.
        args: Vec<String>,
    },
}

/// The capabilities from the last CAPA response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    list: Vec<Capability>,
}

impl Capabilities {
    /// Every capability, in the order advertised.
    pub fn iter(&self) -> impl Iterator<Item = &Capability> {
        self.list.iter()
    }
    /// Whether the set is empty (no CAPA yet, or it was discarded after STLS).
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
    /// Whether `cap` was advertised (arguments compared too).
    pub fn contains(&self, cap: &Capability) -> bool {
        self.list.contains(cap)
    }
    /// `PIPELINING`.
    pub fn pipelining(&self) -> bool {
        self.contains(&Capability::Pipelining)
    }
    /// `STLS`.
    pub fn stls(&self) -> bool {
        self.contains(&Capability::Stls)
    }
    /// `UIDL`.
    pub fn uidl(&self) -> bool {
        self.contains(&Capability::Uidl)
    }
    /// `TOP`.
    pub fn top(&self) -> bool {
        self.contains(&Capability::Top)
    }
    /// `USER`.
    pub fn user(&self) -> bool {
        self.contains(&Capability::User)
    }
    /// `RESP-CODES`.
    pub fn resp_codes(&self) -> bool {
        self.contains(&Capability::RespCodes)
    }
    /// The SASL mechanisms advertised (empty if none).
    pub fn sasl_mechanisms(&self) -> &[Mechanism] {
        self.list
            .iter()
            .find_map(|c| match c {
                Capability::Sasl(m) => Some(m.as_slice()),
                _ => None,
            })
            .unwrap_or_default()
    }
    /// Whether AUTH with `mechanism` was advertised.
    pub fn supports_sasl(&self, mechanism: &Mechanism) -> bool {
        self.sasl_mechanisms().contains(mechanism)
    }
    /// The LOGIN-DELAY in seconds, if advertised.
    pub fn login_delay(&self) -> Option<u32> {
        self.list.iter().find_map(|c| match c {
            Capability::LoginDelay { seconds, .. } => Some(*seconds),
            _ => None,
        })
    }
    /// The EXPIRE policy, if advertised.
    pub fn expire(&self) -> Option<Expire> {
        self.list.iter().find_map(|c| match c {
            Capability::Expire { policy, .. } => Some(*policy),
            _ => None,
        })
    }
    /// The IMPLEMENTATION text, if advertised.
    pub fn implementation(&self) -> Option<&str> {
        self.list.iter().find_map(|c| match c {
            Capability::Implementation(s) => Some(s.as_str()),
            _ => None,
        })
    }
}

/// `capa-line = capa-tag *(SP param)`; tokens are runs of printable non-space bytes.
/// A capability's name and its arguments.
type CapaLine<'a> = (&'a [u8], Vec<&'a [u8]>);

fn capa_line(i: &[u8]) -> IResult<&[u8], CapaLine<'_>> {
    let token = || take_while1(|b: u8| b > 0x20 && b != 0x7f);
    let (i, _) = space0(i)?;
    let (i, name) = token().parse(i)?;
    let (i, args) = many0(preceded(space1, token())).parse(i)?;
    let (i, _) = space0(i)?;
    Ok((i, (name, args)))
}

/// `IMPLEMENTATION SP text`: everything after the name, verbatim.
fn implementation_text(i: &[u8]) -> IResult<&[u8], &[u8]> {
    let (i, _) = (space0, tag_no_case("IMPLEMENTATION"), space1).parse(i)?;
    nom::combinator::rest(i)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `n [USER]` for LOGIN-DELAY and EXPIRE.
fn number_and_user(args: &[&[u8]]) -> Option<(u32, bool)> {
    let (first, more) = args.split_first()?;
    let (rest, n) = nom::character::complete::u32::<_, nom::error::Error<&[u8]>>(*first).ok()?;
    if !rest.is_empty() {
        return None;
    }
    match more {
        [] => Some((n, false)),
        [user] if user.eq_ignore_ascii_case(b"USER") => Some((n, true)),
        _ => None,
    }
}

fn classify(line: &[u8], name: &[u8], args: &[&[u8]]) -> Capability {
    let upper = name.to_ascii_uppercase();
    let known = match (upper.as_slice(), args) {
        (b"CAPA", []) => Some(Capability::Capa),
        (b"TOP", []) => Some(Capability::Top),
        (b"USER", []) => Some(Capability::User),
        (b"UIDL", []) => Some(Capability::Uidl),
        (b"STLS", []) => Some(Capability::Stls),
        (b"PIPELINING", []) => Some(Capability::Pipelining),
        (b"RESP-CODES", []) => Some(Capability::RespCodes),
        (b"AUTH-RESP-CODE", []) => Some(Capability::AuthRespCode),
        (b"SASL", mechs) => mechs
            .iter()
            .map(|m| Mechanism::parse(&text(m)).ok())
            .collect::<Option<Vec<_>>>()
            .map(Capability::Sasl),
        (b"LOGIN-DELAY", args) => {
            number_and_user(args).map(|(seconds, per_user)| Capability::LoginDelay { seconds, per_user })
        }
        (b"EXPIRE", [never]) if never.eq_ignore_ascii_case(b"NEVER") => {
            Some(Capability::Expire { policy: Expire::Never, per_user: false })
        }
        (b"EXPIRE", args) => number_and_user(args)
            .map(|(days, per_user)| Capability::Expire { policy: Expire::Days(days), per_user }),
        (b"IMPLEMENTATION", [_, ..]) => implementation_text(line)
            .ok()
            .map(|(_, t)| Capability::Implementation(text(t).trim_end().to_owned())),
        _ => None,
    };
    known.unwrap_or_else(|| Capability::Other {
        name: text(name),
        args: args.iter().map(|a| text(a)).collect(),
    })
}

/// Parses the unstuffed body of a CAPA response: one capability per line. Blank lines are skipped;
/// a line of control bytes only is kept as an `Other` with an empty name rather than failing.
pub fn parse_capabilities(body: &[u8]) -> Capabilities {
    let list = body
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| l.iter().any(|b| !b.is_ascii_whitespace()))
        .map(|l| match capa_line(l) {
            Ok((_, (name, args))) => classify(l, name, &args),
            Err(_) => Capability::Other { name: text(l), args: Vec::new() },
        })
        .collect();
    Capabilities { list }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dovecot_2_3_capa() {
        let caps = parse_capabilities(
            b"CAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\nSTLS\r\nUSER\r\nSASL PLAIN LOGIN\r\n",
        );
        let list: Vec<_> = caps.iter().cloned().collect();
        assert_eq!(
            list,
            vec![
                Capability::Capa,
                Capability::Top,
                Capability::Uidl,
                Capability::RespCodes,
                Capability::Pipelining,
                Capability::AuthRespCode,
                Capability::Stls,
                Capability::User,
                Capability::Sasl(vec![Mechanism::Plain, Mechanism::Login]),
            ]
        );
        assert!(
            caps.pipelining() && caps.stls() && caps.uidl() && caps.top() && caps.user() && caps.resp_codes()
        );
        assert!(caps.supports_sasl(&Mechanism::Login));
        assert!(!caps.supports_sasl(&Mechanism::XOAuth2));
    }

    #[test]
    fn outlook_capa() {
        let caps = parse_capabilities(b"USER\r\nSASL PLAIN XOAUTH2\r\nTOP\r\nUIDL\r\n");
        assert_eq!(caps.sasl_mechanisms(), &[Mechanism::Plain, Mechanism::XOAuth2]);
        assert!(caps.user() && caps.top() && caps.uidl());
        assert!(!caps.pipelining(), "Outlook does not advertise PIPELINING");
        assert!(!caps.stls());
    }

    #[test]
    fn rfc2449_arguments() {
        let caps = parse_capabilities(
            b"LOGIN-DELAY 900\r\nEXPIRE NEVER\r\nIMPLEMENTATION Shlemazle-Plotz-v302  \r\nSASL CRAM-MD5 KERBEROS_V4\r\n",
        );
        assert_eq!(caps.login_delay(), Some(900));
        assert_eq!(caps.expire(), Some(Expire::Never));
        assert_eq!(caps.implementation(), Some("Shlemazle-Plotz-v302"));
        assert_eq!(
            caps.sasl_mechanisms(),
            &[Mechanism::Other("CRAM-MD5".into()), Mechanism::Other("KERBEROS_V4".into())]
        );
        let caps = parse_capabilities(b"EXPIRE 60 USER\r\nLOGIN-DELAY 0 user\r\n");
        assert!(caps.contains(&Capability::Expire { policy: Expire::Days(60), per_user: true }));
        assert!(caps.contains(&Capability::LoginDelay { seconds: 0, per_user: true }));
    }

    #[test]
    fn odd_lines_become_other_not_errors() {
        let caps = parse_capabilities(
            b"LOGIN-DELAY soon\r\nEXPIRE 99999999999\r\nX-FOO a b\r\n\r\n  \r\ntop\nTOP extra\r\n",
        );
        let list: Vec<_> = caps.iter().cloned().collect();
        assert_eq!(
            list,
            vec![
                Capability::Other { name: "LOGIN-DELAY".into(), args: vec!["soon".into()] },
                Capability::Other { name: "EXPIRE".into(), args: vec!["99999999999".into()] },
                Capability::Other { name: "X-FOO".into(), args: vec!["a".into(), "b".into()] },
                Capability::Top,
                Capability::Other { name: "TOP".into(), args: vec!["extra".into()] },
            ]
        );
        assert_eq!(caps.login_delay(), None);
    }

    #[test]
    fn control_bytes_do_not_fail() {
        let caps = parse_capabilities(b"\x01\x02\r\nSASL BAD!NAME\r\n\xff\xfe\r\n");
        assert_eq!(caps.iter().count(), 3);
        assert!(caps.sasl_mechanisms().is_empty());
    }

    #[test]
    fn empty_body() {
        assert!(parse_capabilities(b"").is_empty());
    }
}
