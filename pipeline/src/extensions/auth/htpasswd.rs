//! An htpasswd table as Go's `github.com/tg123/go-htpasswd` (v1.2.5, `DefaultSystems`) reads
//! it: one `user:encoded` per line, blank lines skipped, a line it cannot read skipped
//! (the extension passes no handler for bad lines), a later line for a user replacing an
//! earlier one. The encodings, tried in Go's order: MD5-crypt (`$apr1$`, `$1$`), `{SHA}`,
//! bcrypt (`$2a$`, `$2b$`, `$2x$`, `$2y$`), `{SSHA}`, SHA-crypt (`$5$`, `$6$`, with
//! `rounds=`), and anything else as a plain password (also matched with `{PLAIN}` before
//! it, as nginx writes them).

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};

use base64::Engine;
use md5::{Digest, Md5};
use sha1::Sha1;
use subtle::ConstantTimeEq;

#[derive(Debug)]
enum Encoded {
    Md5Crypt {
        magic: &'static str,
        salt: String,
        hashed: String,
    },
    Sha([u8; 20]),
    Bcrypt(String),
    Ssha {
        hash: Vec<u8>,
        salt: Vec<u8>,
    },
    ShaCrypt {
        sha512: bool,
        rounds: usize,
        salt: String,
        hashed: String,
    },
    Plain(String),
}

/// The users and their encoded passwords, and the credentials already verified against a
/// slow encoding.
///
/// bcrypt at Apache's default cost (5) takes milliseconds a check, at cost 10 tens of
/// milliseconds, and MD5- and SHA-crypt thousands of hash rounds. Go checks every request
/// again, which only costs CPU; here the check runs on the task serving the request, so each
/// pair that passed is remembered (as 128 bits of two SipHash keys drawn at start, so no one
/// outside the process can aim at a remembered pair; at most [`VERIFIED_MAX`] of them) and
/// passes again without the slow hash. A wrong password is checked in full every time.
#[derive(Debug, Default)]
pub struct Htpasswd {
    users: HashMap<String, Encoded>,
    keys: (RandomState, RandomState),
    verified: std::sync::Mutex<std::collections::HashSet<u128>>,
}

/// The verified pairs kept (the set starts again empty when full).
pub const VERIFIED_MAX: usize = 1024;

#[cfg(test)]
thread_local! {
    /// Slow hashes computed on this thread, for the tests.
    pub(crate) static SLOW_CHECKS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

impl Htpasswd {
    pub fn parse(text: &str) -> Htpasswd {
        let mut users = HashMap::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let Some((user, encoded)) = line.split_once(':') else {
                continue;
            };
            if let Some(e) = encoding(encoded) {
                users.insert(user.to_string(), e);
            }
        }
        Htpasswd {
            users,
            keys: (RandomState::new(), RandomState::new()),
            verified: Default::default(),
        }
    }

    pub fn matches(&self, user: &str, password: &str) -> bool {
        let Some(e) = self.users.get(user) else {
            return false;
        };
        if !e.is_slow() {
            return e.matches(password);
        }
        let pair = (user, password);
        let key =
            (u128::from(self.keys.0.hash_one(pair)) << 64) | u128::from(self.keys.1.hash_one(pair));
        let verified = || self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if verified().contains(&key) {
            return true;
        }
        #[cfg(test)]
        SLOW_CHECKS.with(|n| n.set(n.get() + 1));
        let ok = e.matches(password);
        if ok {
            let mut v = verified();
            if v.len() >= VERIFIED_MAX {
                v.clear();
            }
            v.insert(key);
        }
        ok
    }
}

fn eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// `None` for a line Go's parsers refuse.
fn encoding(src: &str) -> Option<Encoded> {
    let b64 = base64::engine::general_purpose::STANDARD;
    for magic in ["$apr1$", "$1$"] {
        if let Some(rest) = src.strip_prefix(magic) {
            let (salt, hashed) = rest.split_once('$')?;
            return Some(Encoded::Md5Crypt {
                magic,
                salt: salt.to_string(),
                hashed: hashed.to_string(),
            });
        }
    }
    if let Some(rest) = src.strip_prefix("{SHA}") {
        return Some(Encoded::Sha(b64.decode(rest).ok()?.try_into().ok()?));
    }
    if ["$2y$", "$2a$", "$2b$", "$2x$"]
        .iter()
        .any(|p| src.starts_with(p))
    {
        return Some(Encoded::Bcrypt(src.to_string()));
    }
    if let Some(rest) = src.strip_prefix("{SSHA}") {
        let mut hash = b64.decode(rest).ok()?;
        if hash.len() < 20 {
            return None;
        }
        let salt = hash.split_off(20);
        return Some(Encoded::Ssha { hash, salt });
    }
    for (magic, sha512) in [("$5$", false), ("$6$", true)] {
        if let Some(rest) = src.strip_prefix(magic) {
            let parts: Vec<&str> = rest.splitn(3, '$').collect();
            let (rounds, salt, hashed) = match parts[..] {
                [salt, hashed] => (None, salt, hashed),
                [rounds, salt, hashed] => (Some(rounds), salt, hashed),
                _ => return None,
            };
            // the SHA-crypt rules: at most 16 bytes of salt, rounds within 1,000 and
            // 999,999,999, 5,000 when not given
            let rounds = rounds
                .and_then(|r| r.strip_prefix("rounds="))
                .and_then(|r| r.parse::<usize>().ok())
                .map_or(5000, |r| r.clamp(1000, 999_999_999));
            let salt = salt.get(..16).unwrap_or(salt);
            return Some(Encoded::ShaCrypt {
                sha512,
                rounds,
                salt: salt.to_string(),
                hashed: hashed.to_string(),
            });
        }
    }
    Some(Encoded::Plain(src.to_string()))
}

impl Encoded {
    /// Whether checking a password costs many hash rounds.
    fn is_slow(&self) -> bool {
        matches!(
            self,
            Encoded::Md5Crypt { .. } | Encoded::Bcrypt(_) | Encoded::ShaCrypt { .. }
        )
    }

    fn matches(&self, pw: &str) -> bool {
        match self {
            Encoded::Md5Crypt {
                magic,
                salt,
                hashed,
            } => eq(md5_crypt(pw, salt, magic).as_bytes(), hashed.as_bytes()),
            Encoded::Sha(h) => eq(&Sha1::digest(pw.as_bytes()), h),
            Encoded::Bcrypt(h) => bcrypt::verify(pw, h).unwrap_or(false),
            Encoded::Ssha { hash, salt } => {
                let mut d = Sha1::new();
                d.update(pw.as_bytes());
                d.update(salt);
                eq(&d.finalize(), hash)
            }
            Encoded::ShaCrypt {
                sha512,
                rounds,
                salt,
                hashed,
            } => {
                let out = if *sha512 {
                    sha_crypt::Sha512Params::new(*rounds).ok().and_then(|p| {
                        sha_crypt::sha512_crypt_b64(pw.as_bytes(), salt.as_bytes(), &p).ok()
                    })
                } else {
                    sha_crypt::Sha256Params::new(*rounds).ok().and_then(|p| {
                        sha_crypt::sha256_crypt_b64(pw.as_bytes(), salt.as_bytes(), &p).ok()
                    })
                };
                out.is_some_and(|o| eq(o.as_bytes(), hashed.as_bytes()))
            }
            Encoded::Plain(p) => {
                eq(pw.as_bytes(), p.as_bytes())
                    || eq(format!("{{PLAIN}}{pw}").as_bytes(), p.as_bytes())
            }
        }
    }
}

/// MD5-crypt (Poul-Henning Kamp's, `$1$`; Apache's `$apr1$` differs only in the magic):
/// the 22 characters after the salt.
pub(crate) fn md5_crypt(pw: &str, salt: &str, magic: &str) -> String {
    let (pw, salt) = (pw.as_bytes(), salt.as_bytes());
    let alt = Md5::new()
        .chain_update(pw)
        .chain_update(salt)
        .chain_update(pw)
        .finalize();
    let mut ctx = Md5::new()
        .chain_update(pw)
        .chain_update(magic.as_bytes())
        .chain_update(salt);
    let mut i = pw.len();
    while i > 0 {
        ctx.update(&alt[..i.min(16)]);
        i = i.saturating_sub(16);
    }
    let mut i = pw.len();
    while i > 0 {
        if i & 1 == 1 {
            ctx.update([0u8]);
        } else {
            ctx.update(&pw[..1]);
        }
        i >>= 1;
    }
    let mut bin = ctx.finalize();
    for i in 0..1000 {
        let mut c = Md5::new();
        if i & 1 == 1 {
            c.update(pw);
        } else {
            c.update(bin);
        }
        if i % 3 != 0 {
            c.update(salt);
        }
        if i % 7 != 0 {
            c.update(pw);
        }
        if i & 1 == 1 {
            c.update(bin);
        } else {
            c.update(pw);
        }
        bin = c.finalize();
    }
    const ITOA64: &[u8] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut out = String::with_capacity(24);
    let mut fill = |a: u8, b: u8, c: u8| {
        let mut v = (u32::from(a) << 16) | (u32::from(b) << 8) | u32::from(c);
        for _ in 0..4 {
            out.push(char::from(ITOA64[(v & 0x3f) as usize]));
            v >>= 6;
        }
    };
    fill(bin[0], bin[6], bin[12]);
    fill(bin[1], bin[7], bin[13]);
    fill(bin[2], bin[8], bin[14]);
    fill(bin[3], bin[9], bin[15]);
    fill(bin[4], bin[10], bin[5]);
    fill(0, 0, bin[11]);
    out.truncate(22);
    out
}
