//! The wire floor for the benchmark: the least work that moves every message body over IMAPS. Logs in, and
//! for each folder sends one `UID FETCH 1:* BODY.PEEK[]`, discarding the bytes. Nothing is parsed beyond
//! line ends and literal sizes; nothing is stored. Prints the bytes and messages seen.
//!
//! Usage: mailsync-wirefloor PORT CA_FILE USER PASSWORD FOLDER...

use std::io::{BufRead, Read, Write};

use mailsync_testkit::oracle::connect_tls;

fn main() {
    if let Err(e) = run() {
        eprintln!("mailsync-wirefloor: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [port, ca, user, pass, folders @ ..] = args.as_slice() else {
        return Err("usage: mailsync-wirefloor PORT CA_FILE USER PASSWORD FOLDER...".into());
    };
    let ca = std::fs::read_to_string(ca)?;
    let mut s = connect_tls(&ca, port.parse()?)?;
    let mut line = Vec::new();
    s.read_until(b'\n', &mut line)?;
    let (mut bytes, mut messages) = (0u64, 0u64);
    let mut tag = 0;
    command(&mut s, &mut tag, &format!("LOGIN \"{user}\" \"{pass}\""))?;
    for f in folders {
        command(&mut s, &mut tag, &format!("EXAMINE \"{f}\""))?;
        let (b, m) = command(&mut s, &mut tag, "UID FETCH 1:* BODY.PEEK[]")?;
        bytes += b;
        messages += m;
    }
    command(&mut s, &mut tag, "LOGOUT")?;
    println!("{messages} messages, {bytes} bytes");
    Ok(())
}

/// Sends one tagged command and reads to its completion, skipping literals; returns (bytes, literals).
fn command<S: Read + Write>(
    r: &mut std::io::BufReader<S>,
    tag: &mut u32,
    text: &str,
) -> Result<(u64, u64), Box<dyn std::error::Error>> {
    *tag += 1;
    let t = format!("w{tag}");
    r.get_mut().write_all(format!("{t} {text}\r\n").as_bytes())?;
    r.get_mut().flush()?;
    let (mut b, mut m) = (0u64, 0u64);
    let mut l = Vec::new();
    loop {
        l.clear();
        if r.read_until(b'\n', &mut l)? == 0 {
            return Err("server closed the connection".into());
        }
        if l.starts_with(format!("{t} ").as_bytes()) {
            if !l.starts_with(format!("{t} OK").as_bytes()) {
                return Err(format!("{text}: {}", String::from_utf8_lossy(&l)).into());
            }
            return Ok((b, m));
        }
        let trimmed = l.strip_suffix(b"\r\n").unwrap_or(&l);
        let literal =
            trimmed.strip_suffix(b"}").and_then(|x| x.iter().rposition(|c| *c == b'{').map(|i| &x[i + 1..]));
        if let Some(open) = literal {
            let n: u64 = std::str::from_utf8(open)?.parse()?;
            std::io::copy(&mut r.by_ref().take(n), &mut std::io::sink())?;
            b += n;
            m += 1;
        }
    }
}
