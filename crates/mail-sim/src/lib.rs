//! A mail catcher: a small SMTP server on 127.0.0.1 that accepts every message and keeps it,
//! so the watchdog's real e-mail path (lettre over TCP, EHLO → MAIL → RCPT → DATA) runs in
//! the demo. Plain SMTP only (no STARTTLS offered, no AUTH): it is for loopback.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// Longest command or body line accepted; longer input ends the session.
const MAX_LINE: usize = 64 * 1024;
/// Largest message body kept.
const MAX_MESSAGE: usize = 4 * 1024 * 1024;
/// Commands in one session at most (a client looping on RSET cannot keep it forever).
const MAX_COMMANDS: usize = 1_000;
/// A silent client is dropped after this long.
const IDLE: Duration = Duration::from_secs(30);

/// One message as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// The `MAIL FROM` address.
    pub from: String,
    /// Every `RCPT TO` address.
    pub to: Vec<String>,
    /// The `Subject:` header, unfolded and with RFC 2047 encoded-words decoded.
    pub subject: String,
    /// The raw message (headers and body) after dot-unstuffing.
    pub data: String,
}

/// A running catcher. Dropping it does not stop it: cancel the token given to [`start`].
#[derive(Debug, Clone)]
pub struct MailCatcher {
    addr: SocketAddr,
    mails: Arc<Mutex<Vec<Mail>>>,
}

impl MailCatcher {
    /// Binds 127.0.0.1 on a free port and serves until `stop` is cancelled.
    pub async fn start(stop: CancellationToken) -> std::io::Result<MailCatcher> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let mails = Arc::new(Mutex::new(Vec::new()));
        let store = mails.clone();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = stop.cancelled() => break,
                    a = listener.accept() => a,
                };
                match accepted {
                    Ok((sock, _)) => {
                        let store = store.clone();
                        tokio::spawn(async move {
                            if let Err(e) = session(sock, store).await {
                                tracing::debug!(error = %e, "mail catcher session ended");
                            }
                        });
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "mail catcher: accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        });
        Ok(MailCatcher { addr, mails })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `smtp://127.0.0.1:PORT`, the value for SMTP_URL.
    pub fn smtp_url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// Every message received so far, in arrival order.
    pub fn mails(&self) -> Vec<Mail> {
        match self.mails.lock() {
            Ok(m) => m.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

#[derive(Default)]
struct Envelope {
    from: String,
    to: Vec<String>,
}

async fn session(sock: TcpStream, store: Arc<Mutex<Vec<Mail>>>) -> std::io::Result<()> {
    let (rd, mut wr) = sock.into_split();
    let mut rd = BufReader::new(rd);
    wr.write_all(b"220 telbot-demo mail catcher ESMTP\r\n")
        .await?;
    let mut env = Envelope::default();
    for _ in 0..MAX_COMMANDS {
        let Some(line) = read_line(&mut rd).await? else {
            return Ok(());
        };
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-telbot-demo\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 4194304\r\n"
        } else if upper.starts_with("HELO") {
            b"250 telbot-demo\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            env = Envelope {
                from: address(&line[10..]),
                to: Vec::new(),
            };
            b"250 OK\r\n"
        } else if upper.starts_with("RCPT TO:") {
            env.to.push(address(&line[8..]));
            b"250 OK\r\n"
        } else if upper == "DATA" {
            wr.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                .await?;
            let Some(data) = read_data(&mut rd).await? else {
                return Ok(());
            };
            let mail = Mail {
                from: std::mem::take(&mut env.from),
                to: std::mem::take(&mut env.to),
                subject: subject(&data),
                data,
            };
            tracing::debug!(subject = %mail.subject, "mail catcher: message received");
            match store.lock() {
                Ok(mut m) => m.push(mail),
                Err(poisoned) => poisoned.into_inner().push(mail),
            }
            b"250 OK: queued\r\n"
        } else if upper == "RSET" {
            env = Envelope::default();
            b"250 OK\r\n"
        } else if upper == "NOOP" {
            b"250 OK\r\n"
        } else if upper == "QUIT" {
            wr.write_all(b"221 Bye\r\n").await?;
            return Ok(());
        } else {
            b"502 Command not implemented\r\n"
        };
        wr.write_all(reply).await?;
    }
    wr.write_all(b"421 Too many commands\r\n").await?;
    Ok(())
}

/// One line without its CRLF; `None` at end of stream. Bounded in length and idle time.
async fn read_line<R: AsyncBufReadExt + Unpin>(rd: &mut R) -> std::io::Result<Option<String>> {
    let mut buf = Vec::new();
    let n = tokio::time::timeout(
        IDLE,
        (&mut *rd).take(MAX_LINE as u64).read_until(b'\n', &mut buf),
    )
    .await
    .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "idle client"))??;
    if n == 0 {
        return Ok(None);
    }
    if !buf.ends_with(b"\n") {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "line too long",
        ));
    }
    let s = String::from_utf8_lossy(&buf);
    Ok(Some(s.trim_end_matches(['\r', '\n']).to_string()))
}

/// The DATA section up to the lone dot, dot-unstuffed; `None` if the client went away.
async fn read_data<R: AsyncBufReadExt + Unpin>(rd: &mut R) -> std::io::Result<Option<String>> {
    let mut out = String::new();
    loop {
        let Some(line) = read_line(rd).await? else {
            return Ok(None);
        };
        if line == "." {
            return Ok(Some(out));
        }
        let line = line.strip_prefix('.').unwrap_or(&line);
        if out.len() + line.len() > MAX_MESSAGE {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "message too large",
            ));
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
}

/// `<a@b>` (with optional parameters after it) → `a@b`.
fn address(arg: &str) -> String {
    let arg = arg.trim();
    match (arg.find('<'), arg.find('>')) {
        (Some(a), Some(b)) if a < b => arg[a + 1..b].to_string(),
        _ => arg.split_whitespace().next().unwrap_or("").to_string(),
    }
}

/// The Subject header of a raw message: unfolded, encoded-words decoded.
pub fn subject(raw: &str) -> String {
    let mut value: Option<String> = None;
    for line in raw.split("\r\n") {
        if line.is_empty() {
            break;
        }
        match value.as_mut() {
            Some(v) if line.starts_with([' ', '\t']) => v.push_str(line),
            Some(_) => break,
            None => {
                if line.len() > 8 && line[..8].eq_ignore_ascii_case("subject:") {
                    value = Some(line[8..].to_string());
                }
            }
        }
    }
    decode_words(value.unwrap_or_default().trim())
}

/// Decodes RFC 2047 encoded-words (`=?utf-8?b?…?=`, `=?utf-8?q?…?=`); whitespace between
/// two adjacent encoded-words is dropped, as the RFC says.
pub fn decode_words(s: &str) -> String {
    let mut out = String::new();
    let mut pending_space = String::new();
    let mut last_was_word = false;
    for token in s.split_inclusive([' ', '\t']) {
        let word = token.trim_end_matches([' ', '\t']);
        let space = &token[word.len()..];
        match decode_word(word) {
            Some(decoded) => {
                if !last_was_word {
                    out.push_str(&pending_space);
                }
                out.push_str(&decoded);
                last_was_word = true;
            }
            None => {
                out.push_str(&pending_space);
                out.push_str(word);
                last_was_word = false;
            }
        }
        pending_space = space.to_string();
    }
    out.push_str(&pending_space);
    out.trim_end().to_string()
}

fn decode_word(w: &str) -> Option<String> {
    let inner = w.strip_prefix("=?")?.strip_suffix("?=")?;
    let mut parts = inner.splitn(3, '?');
    let _charset = parts.next()?;
    let enc = parts.next()?;
    let text = parts.next()?;
    let bytes = match enc {
        "b" | "B" => base64::engine::general_purpose::STANDARD
            .decode(text)
            .ok()?,
        "q" | "Q" => q_decode(text),
        _ => return None,
    };
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

fn q_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'_' => out.push(b' '),
            b'=' => match s.get(i + 1..i + 3).map(|h| u8::from_str_radix(h, 16)) {
                Some(Ok(v)) => {
                    out.push(v);
                    i += 2;
                }
                _ => out.push(b'='),
            },
            c => out.push(c),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_unfolded_and_decoded() {
        let cases = [
            (
                "Subject: [CRITICAL] bot: down\r\n\r\nbody",
                "[CRITICAL] bot: down",
            ),
            (
                "From: a\r\nSubject: =?utf-8?b?W1JFU09MVkVEXSBib3Qg4oCUIG9r?=\r\n\r\n",
                "[RESOLVED] bot — ok",
            ),
            (
                "Subject: =?utf-8?b?W0NS?=\r\n =?utf-8?b?SVRJQ0FMXQ==?= tail\r\n\r\n",
                "[CRITICAL] tail",
            ),
            ("Subject: =?UTF-8?Q?a_=E2=80=94_b?=\r\n\r\n", "a — b"),
            ("No-Subject: x\r\n\r\nSubject: body", ""),
        ];
        for (raw, want) in cases {
            assert_eq!(subject(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn addresses_lose_their_brackets_and_parameters() {
        assert_eq!(address("<a@b.c> SIZE=100"), "a@b.c");
        assert_eq!(address(" x@y "), "x@y");
    }
}
