use std::sync::Arc;

use base64::Engine;
use pipeline_api::config::ConfigValue;
use pipeline_api::testing::{context, TempDir};
use pipeline_api::{ComponentKind, Extension, ExtensionFactory};

use super::htpasswd::{md5_crypt, Htpasswd};

fn build(factory: Arc<dyn ExtensionFactory>, id: &str, yaml: &str) -> Arc<dyn Extension> {
    let value: ConfigValue = serde_yaml_ng::from_str(yaml).expect("yaml");
    let cfg = factory.parse_config(&value).expect("config");
    let ctx = context(ComponentKind::Extension, id, vec![]);
    factory.build(ctx, &*cfg).expect("build")
}

fn config_errors(factory: Arc<dyn ExtensionFactory>, yaml: &str) -> String {
    let value: ConfigValue = serde_yaml_ng::from_str(yaml).expect("yaml");
    match factory.parse_config(&value) {
        Ok(_) => String::new(),
        Err(errors) => errors
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("; "),
    }
}

fn headers(pairs: &[(&str, &str)]) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    h
}

fn basic(user_password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(user_password)
    )
}

fn client_header(ext: &Arc<dyn Extension>) -> Result<(String, String), String> {
    let h = ext.client_auth().expect("a client").headers()?;
    assert_eq!(h.len(), 1);
    Ok((h[0].0.to_string(), h[0].1.to_str().unwrap().to_string()))
}

#[test]
fn md5_crypt_gives_what_openssl_passwd_gives() {
    // `openssl passwd -apr1 -salt Xy1zAb9q pass-1`, `openssl passwd -1 -salt saltsalt pass-2`
    assert_eq!(
        md5_crypt("pass-1", "Xy1zAb9q", "$apr1$"),
        "Cgm1teZlXT4CAnNqiGym90"
    );
    assert_eq!(
        md5_crypt("pass-2", "saltsalt", "$1$"),
        "mxMkAEWFjZZ5F5fzZAexi."
    );
}

#[test]
fn htpasswd_reads_every_encoding_go_reads() {
    // openssl passwd (-apr1, -1, -5, -6 with rounds), Python's hashlib for {SHA} and {SSHA}
    // (salt "NaCl"), go-htpasswd's own bcrypt test vectors
    let table = Htpasswd::parse(
        "
        apr1:$apr1$Xy1zAb9q$Cgm1teZlXT4CAnNqiGym90
        md5:$1$saltsalt$mxMkAEWFjZZ5F5fzZAexi.
        sha256:$5$0123456789abcdef$MEJwIZubD3628qnMCmS/5C2UrgccnqqL.QAtIaoNGD6
        sha512:$6$rounds=1000$abc$3Y2kfhuKSU9Cf6gxV3zJ.GeK4PQzna/cvcdB6CoqBufHBlGCDiXY2p68DcePVwlUvybJYBcdEirti8YzZBdHm.
        sha:{SHA}/ozplU/TiyRJNKG7FNutub4d9wE=
        ssha:{SSHA}UGGOBkLEFIhPhbfhbSxwSPiFvn9OYUNs
        bcrypt:$2y$05$bWBMg3oUStnhfy5rFvoyreviPySU6hvEmBub5wIlM/D.c5FeYJQ6O
        bcrypt2b:$2b$08$hQbZuw.cHsECArUAP9mOjehaJxTG9NMJfioQIHcbC0YyXpVybhoQa
        plain:pass-7
        nginx:{PLAIN}pass-8
        no colon here
        badsha:{SHA}not base64!
        twice:first
        twice:second
        ",
    );
    for (user, pw) in [
        ("apr1", "pass-1"),
        ("md5", "pass-2"),
        ("sha256", "pass-3"),
        ("sha512", "pass-4"),
        ("sha", "pass-5"),
        ("ssha", "pass-6"),
        ("bcrypt", "bar"),
        ("bcrypt2b", "bar"),
        ("plain", "pass-7"),
        ("nginx", "pass-8"),
        ("twice", "second"),
    ] {
        assert!(table.matches(user, pw), "{user} with {pw}");
        assert!(
            !table.matches(user, &format!("{pw}x")),
            "{user} with a wrong password"
        );
    }
    // a pair that passed a slow hash passes again without it; a wrong one never does
    super::htpasswd::SLOW_CHECKS.with(|n| n.set(0));
    for _ in 0..3 {
        assert!(table.matches("bcrypt", "bar"));
        assert!(table.matches("sha512", "pass-4"));
        assert!(!table.matches("bcrypt", "nope"));
    }
    assert!(table.matches("sha", "pass-5"));
    // the two right pairs passed once in the loop above: only the wrong one is hashed
    assert_eq!(super::htpasswd::SLOW_CHECKS.with(|n| n.get()), 3);
    // a later line replaces an earlier one; a line Go refuses gives no user (not a plain
    // password)
    assert!(!table.matches("twice", "first"));
    assert!(!table.matches("badsha", "{SHA}not base64!"));
    assert!(!table.matches("nobody", ""));
}

#[test]
fn basicauth_checks_what_go_checks() {
    let f = super::basicauth::factory;
    assert_eq!(config_errors(f(), "{}"), "no credential source provided");
    assert!(config_errors(
        f(),
        "{htpasswd: {inline: 'a:b'}, client_auth: {username: a}}"
    )
    .contains("only one of `htpasswd` or `client_auth` can be specified"));
    assert!(config_errors(f(), "{client_auth: {user: a}}").contains("user"));
    // `htpasswd` with nothing in it is refused when the extension is made
    let value: ConfigValue = serde_yaml_ng::from_str("{htpasswd: {}}").unwrap();
    let cfg = f().parse_config(&value).unwrap();
    let ctx = context(ComponentKind::Extension, "basicauth", vec![]);
    let err = f().build(ctx, &*cfg).err().expect("refused");
    assert_eq!(err.to_string(), "no credential source provided");
}

#[tokio::test]
async fn basicauth_server_answers_as_go() {
    let dir = TempDir::new("htpasswd");
    let file = dir.path().join("htpasswd");
    std::fs::write(
        &file,
        "alice:$apr1$Xy1zAb9q$Cgm1teZlXT4CAnNqiGym90\nbob:old\n",
    )
    .unwrap();
    let ext = build(
        super::basicauth::factory(),
        "basicauth/server",
        &format!(
            "{{htpasswd: {{file: {:?}, inline: \"bob:new\"}}}}",
            file.display().to_string()
        ),
    );
    assert!(ext.client_auth().is_none());
    ext.start().await.unwrap();
    let server = ext.server_auth().expect("a server");
    let check = |pairs: &[(&str, &str)]| server.authenticate(&headers(pairs));
    assert_eq!(check(&[("authorization", &basic("alice:pass-1"))]), Ok(()));
    // the inline lines come after the file's and win
    assert_eq!(check(&[("Authorization", &basic("bob:new"))]), Ok(()));
    assert_eq!(
        check(&[("authorization", &basic("bob:old"))]),
        Err("invalid credentials".into())
    );
    assert_eq!(
        check(&[("authorization", &basic("alice:wrong"))]),
        Err("invalid credentials".into())
    );
    assert_eq!(
        check(&[(
            "authorization",
            &basic("alice:pass-1").replace("Basic", "bAsIc")
        )]),
        Ok(())
    );
    assert_eq!(check(&[]), Err("no basic auth provided".into()));
    assert_eq!(
        check(&[("authorization", "Bearer x")]),
        Err("invalid authorization scheme prefix".into())
    );
    assert_eq!(
        check(&[("authorization", "Basic !!!")]),
        Err("invalid authorization format".into())
    );
    assert_eq!(
        check(&[("authorization", &basic("no-colon"))]),
        Err("invalid authorization format".into())
    );

    // a file that is not there stops the start, with Go's words
    let ext = build(
        super::basicauth::factory(),
        "basicauth",
        "{htpasswd: {file: /nonexistent/htpasswd}}",
    );
    let err = ext.start().await.expect_err("refused");
    assert!(err.to_string().starts_with("open htpasswd file: "), "{err}");
}

#[tokio::test]
async fn basicauth_client_follows_its_files() {
    let ext = build(
        super::basicauth::factory(),
        "basicauth/client",
        "{client_auth: {username: alice, password: pass-1}}",
    );
    assert!(ext.server_auth().is_none());
    ext.start().await.unwrap();
    assert_eq!(
        client_header(&ext),
        Ok(("authorization".into(), basic("alice:pass-1")))
    );

    let dir = TempDir::new("basicauth");
    let (user, pw) = (dir.path().join("user"), dir.path().join("pw"));
    std::fs::write(&user, "carol\n").unwrap();
    std::fs::write(&pw, "  first  \n").unwrap();
    let ext = build(
        super::basicauth::factory(),
        "basicauth/files",
        &format!(
            "{{client_auth: {{username: ignored, username_file: {:?}, password_file: {:?}}}}}",
            user.display().to_string(),
            pw.display().to_string()
        ),
    );
    ext.start().await.unwrap();
    assert_eq!(client_header(&ext).unwrap().1, basic("carol:first"));
    // a change is read at the next request; an empty file keeps the last value
    std::fs::write(&pw, "second-and-longer").unwrap();
    assert_eq!(
        client_header(&ext).unwrap().1,
        basic("carol:second-and-longer")
    );
    std::fs::write(&pw, "").unwrap();
    assert_eq!(
        client_header(&ext).unwrap().1,
        basic("carol:second-and-longer")
    );
    // a username with a colon cannot be sent
    std::fs::write(&user, "a:b").unwrap();
    assert_eq!(
        client_header(&ext),
        Err("invalid authorization format".into())
    );

    // a file that is not there stops the start
    let ext = build(
        super::basicauth::factory(),
        "basicauth/missing",
        "{client_auth: {username: a, password_file: /nonexistent/pw}}",
    );
    let err = ext.start().await.expect_err("refused");
    assert!(
        err.to_string()
            .starts_with("failed to read credentials file \"/nonexistent/pw\""),
        "{err}"
    );
}

#[tokio::test]
async fn bearertokenauth_sends_and_checks_as_go() {
    let f = super::bearertokenauth::factory;
    assert_eq!(config_errors(f(), "{}"), "no bearer token provided");
    assert_eq!(
        config_errors(f(), "{token: a, tokens: [b]}"),
        "either tokens or token should be provided, not both"
    );

    let ext = build(f(), "bearertokenauth", "{token: s3cret}");
    ext.start().await.unwrap();
    assert_eq!(
        client_header(&ext),
        Ok(("authorization".into(), "Bearer s3cret".into()))
    );
    let server = ext.server_auth().unwrap();
    assert_eq!(
        server.authenticate(&headers(&[("Authorization", "Bearer s3cret")])),
        Ok(())
    );
    assert_eq!(
        server.authenticate(&headers(&[("authorization", "bearer s3cret")])),
        Err("provided authorization does not match expected scheme or token".into())
    );
    assert_eq!(
        server.authenticate(&headers(&[])),
        Err("missing or empty authorization header: Authorization".into())
    );

    // a header of its own, no scheme, several tokens: the first is sent, any is taken
    let ext = build(
        f(),
        "bearertokenauth/key",
        "{header: X-Api-Key, scheme: '', tokens: [one, two]}",
    );
    ext.start().await.unwrap();
    assert_eq!(client_header(&ext), Ok(("x-api-key".into(), "one".into())));
    let server = ext.server_auth().unwrap();
    assert_eq!(
        server.authenticate(&headers(&[("x-api-key", "two")])),
        Ok(())
    );
    assert_eq!(
        server.authenticate(&headers(&[("authorization", "two")])),
        Err("missing or empty authorization header: X-Api-Key".into())
    );

    // a file: a token per line (its first word), followed as it changes; it wins over
    // `token`
    let dir = TempDir::new("bearer");
    let file = dir.path().join("tokens");
    std::fs::write(&file, "alpha  # the first\n\nbeta\n").unwrap();
    let ext = build(
        f(),
        "bearertokenauth/file",
        &format!(
            "{{token: ignored, filename: {:?}}}",
            file.display().to_string()
        ),
    );
    ext.start().await.unwrap();
    assert_eq!(client_header(&ext).unwrap().1, "Bearer alpha");
    let server = ext.server_auth().unwrap();
    let check = |v: &str| server.authenticate(&headers(&[("authorization", v)]));
    assert_eq!(check("Bearer beta"), Ok(()));
    assert!(check("Bearer ignored").is_err());
    std::fs::write(&file, "gamma-longer-than-before\n").unwrap();
    assert_eq!(check("Bearer gamma-longer-than-before"), Ok(()));
    assert!(check("Bearer beta").is_err());
    assert_eq!(
        client_header(&ext).unwrap().1,
        "Bearer gamma-longer-than-before"
    );
}
