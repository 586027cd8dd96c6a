//! `syslog_parser`: Go's own test messages (`pkg/stanza/operator/parser/syslog/syslogtest`)
//! with their expected fields, the framings, and Go's config messages. The same parser is
//! compared with the Go collector's over many more lines in `tests/e2e/compat.rs`
//! (`d_filelog_syslog_parser_reads_alike`).

use pipeline_api::config::ConfigValue;

use super::operators::{line, pipeline, run};
use crate::entry::Value;
use crate::operators::syslog::{parse_octet_counted, parse_rfc3164, parse_rfc5424};
use crate::operators::{BuildMode, Pipeline};

const SECURE_AUTH: &str = "<86>1 2015-08-05T21:58:59.693Z 192.168.2.132 SecureAuth0 23108 ID52020 [SecureAuth@27389 UserHostAddress=\"192.168.2.132\" Realm=\"SecureAuth0\" UserID=\"Tester2\" PEN=\"27389\"] Found the user for retrieving user's profile";

fn attrs(e: &crate::entry::Entry) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = e
        .attributes
        .iter()
        .filter(|(k, _)| !k.starts_with("log."))
        .map(|(k, v)| {
            let text = match v {
                Value::Str(s) => s.clone(),
                Value::Int(i) => format!("int {i}"),
                Value::Map(m) => format!(
                    "{:?}",
                    m.iter()
                        .map(|(k, v)| (k.clone(), format!("{v:?}")))
                        .collect::<Vec<_>>()
                ),
                other => format!("{other:?}"),
            };
            (k.clone(), text)
        })
        .collect();
    v.sort();
    v
}

fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    v.sort();
    v
}

#[test]
fn rfc5424_gives_every_field_the_timestamp_and_the_severity() {
    let mut p = pipeline("[{type: syslog_parser, protocol: rfc5424}]");
    let (out, stats) = run(&mut p, vec![line(SECURE_AUTH, "/x")]);
    assert_eq!(stats.errors, 0);
    let e = &out[0];
    assert_eq!(
        attrs(e),
        kv(&[
            ("appname", "SecureAuth0"),
            ("facility", "int 10"),
            ("facility_text", "authpriv"),
            ("hostname", "192.168.2.132"),
            ("message", "Found the user for retrieving user's profile"),
            ("msg_id", "ID52020"),
            ("priority", "int 86"),
            ("proc_id", "23108"),
            (
                "structured_data",
                r#"[("SecureAuth@27389", "Map({\"PEN\": Str(\"27389\"), \"Realm\": Str(\"SecureAuth0\"), \"UserHostAddress\": Str(\"192.168.2.132\"), \"UserID\": Str(\"Tester2\")})")]"#
            ),
            ("version", "int 1"),
        ])
    );
    assert_eq!(e.timestamp, Some(1_438_811_939_693_000_000));
    assert_eq!((e.severity, e.severity_text.as_str()), (9, "info"));
    // the body is left as it was
    assert_eq!(e.body, Some(Value::Str(SECURE_AUTH.into())));
}

#[test]
fn rfc3164_reads_the_stamp_in_its_location_in_the_current_year() {
    let now = jiff::Zoned::now().with_time_zone(jiff::tz::TimeZone::get("Europe/Athens").unwrap());
    // one day ago, so that the year is this year's
    let then = now.checked_sub(jiff::Span::new().days(1)).unwrap();
    let stamp = then.strftime("%b %e %H:%M:%S").to_string();
    let text = format!("<34>{stamp} 1.2.3.4 apache_server: test message");
    let mut p = pipeline("[{type: syslog_parser, protocol: rfc3164, location: Europe/Athens}]");
    let (out, stats) = run(&mut p, vec![line(&text, "/x")]);
    assert_eq!(stats.errors, 0, "{text}");
    let e = &out[0];
    assert_eq!(
        attrs(e),
        kv(&[
            ("appname", "apache_server"),
            ("facility", "int 4"),
            ("facility_text", "auth"),
            ("hostname", "1.2.3.4"),
            ("message", "test message"),
            ("priority", "int 34"),
        ])
    );
    assert_eq!((e.severity, e.severity_text.as_str()), (18, "crit"));
    let want = then.timestamp().as_second() * 1_000_000_000;
    assert_eq!(e.timestamp, Some(want as u64));
}

#[test]
fn without_a_pri_header_no_pri_fields_and_no_severity() {
    let mut p = pipeline("[{type: syslog_parser, protocol: rfc5424, allow_skip_pri_header: true}]");
    let no_pri = SECURE_AUTH.strip_prefix("<86>").unwrap();
    let (out, stats) = run(&mut p, vec![line(no_pri, "/x"), line(SECURE_AUTH, "/x")]);
    assert_eq!(stats.errors, 0);
    assert!(!out[0].attributes.contains_key("priority"));
    assert!(!out[0].attributes.contains_key("facility"));
    assert_eq!(out[0].severity, 0);
    assert_eq!(out[0].timestamp, Some(1_438_811_939_693_000_000));
    assert_eq!(out[1].attributes.get("priority"), Some(&Value::Int(86)));
}

#[test]
fn framings_take_the_last_frame_and_bound_its_length() {
    let framed = format!("{} {SECURE_AUTH}", SECURE_AUTH.len());
    assert_eq!(SECURE_AUTH.len(), 215);
    let m = parse_octet_counted(framed.as_bytes(), 8192).unwrap();
    assert_eq!(m.appname.as_deref(), Some("SecureAuth0"));
    assert_eq!(
        parse_octet_counted(framed.as_bytes(), 214).unwrap_err(),
        "message length (215) exceeds maximum length (214)"
    );
    // Go's `-` fields: absent; the message keeps its spaces
    let m = parse_octet_counted(
        b"77 <86>1 2015-08-05T21:58:59.693Z 192.168.2.132 inactive - - -  partition is p2 ",
        8192,
    )
    .unwrap();
    assert_eq!(m.proc_id, None);
    assert_eq!(m.msg_id, None);
    assert_eq!(m.structured_data, None);
    assert_eq!(m.message.as_deref(), Some(" partition is p2 "));
    let mut p = pipeline(
        "[{type: syslog_parser, protocol: rfc5424, non_transparent_framing_trailer: NUL}]",
    );
    let (out, stats) = run(&mut p, vec![line(&format!("{SECURE_AUTH}\0"), "/x")]);
    assert_eq!(stats.errors, 0);
    assert_eq!(
        out[0].attributes.get("msg_id"),
        Some(&Value::Str("ID52020".into()))
    );
}

/// The reasons as the Go collector logs them for the same lines.
#[test]
fn bad_messages_fail_with_go_syslogs_reasons_and_pass_on_unchanged() {
    for (text, why) in [
        (
            "<192>1 - - - - - -",
            "expecting a priority value in the range 1-191 or equal to 0 [col 3]",
        ),
        (
            "nothing",
            "expecting a priority value within angle brackets [col 0]",
        ),
        (
            "<14>0 - - - - - -",
            "expecting a version value in the range 1-999 [col 4]",
        ),
        (
            "<14>1 - - - - - [a@1 k=\"v\"][a@1 k=\"w\"]",
            "duplicate structured data element id [col 31]",
        ),
    ] {
        assert_eq!(parse_rfc5424(text.as_bytes()).unwrap_err(), why, "{text}");
    }
    let utc = jiff::tz::TimeZone::UTC;
    assert_eq!(
        parse_rfc3164(b"<13>2023-08-01T23:20:00Z host app: x", &utc).unwrap_err(),
        "expecting a sequence number (from 1 to max 255 digits) [col 4]"
    );
    let mut p = pipeline("[{type: syslog_parser, protocol: rfc5424}]");
    let (out, stats) = run(
        &mut p,
        vec![line("<14>1 2024-02-30T00:00:00Z h a - - -", "/x")],
    );
    assert_eq!(stats.errors, 1);
    assert_eq!(out.len(), 1, "on_error send: the entry goes on");
    assert!(!out[0].attributes.contains_key("hostname"));
}

#[test]
fn configs_are_checked_as_go_checks_them() {
    let err = |ops: &str| -> String {
        let v: Vec<ConfigValue> = serde_yaml_ng::from_str(ops).unwrap();
        match Pipeline::build(&v, BuildMode::Validate) {
            Ok(_) => String::new(),
            Err(e) => e
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; "),
        }
    };
    for (ops, want) in [
        ("[{type: syslog_parser}]", "missing field 'protocol'"),
        ("[{type: syslog_parser, protocol: rfc9999}]", "unsupported protocol version: rfc9999"),
        (
            "[{type: syslog_parser, protocol: rfc3164, enable_octet_counting: true}]",
            "octet_counting and non_transparent_framing are only compatible with protocol rfc5424",
        ),
        (
            "[{type: syslog_parser, protocol: rfc5424, enable_octet_counting: true, non_transparent_framing_trailer: LF}]",
            "only one of octet_counting or non_transparent_framing can be enabled",
        ),
        (
            "[{type: syslog_parser, protocol: rfc5424, non_transparent_framing_trailer: CRLF}]",
            "invalid non_transparent_framing_trailer 'CRLF'. Must be either 'LF' or 'NUL'",
        ),
        (
            "[{type: syslog_parser, protocol: none, non_transparent_framing_trailer: LF}]",
            "non_transparent_framing is not compatible with protocol none",
        ),
        (
            "[{type: syslog_parser, protocol: rfc3164, location: Mars/Olympus}]",
            "failed to load location Mars/Olympus",
        ),
    ] {
        let got = err(ops);
        assert!(got.contains(want), "{ops}: {got}");
    }
    assert_eq!(err("[{type: syslog_parser, protocol: RFC5424}]"), "");
}
