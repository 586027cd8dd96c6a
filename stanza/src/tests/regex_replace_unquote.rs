//! `regex_replace` and `unquote`: Go's keys and defaults, config errors with their paths, Go
//! `Regexp.ReplaceAllString` and `strconv.Unquote` through the operator chain, `on_error`,
//! hostile input.

use pipeline_api::config::ConfigValue;

use super::operators::{line, pipeline, run};
use crate::entry::{Entry, Map, Value};
use crate::operators::{OnError, OperatorConfig};
use crate::Pipeline;

/// The errors of one `operators:` list, with their paths as the receiver's config gives them.
fn op_errors(ops: &str) -> Vec<String> {
    let v: Vec<ConfigValue> = serde_yaml_ng::from_str(ops).unwrap();
    match Pipeline::validate(&v) {
        Ok(()) => Vec::new(),
        Err(es) => es
            .into_iter()
            .map(|e| e.prefixed(&["operators"]).to_string())
            .collect(),
    }
}

fn has(errs: &[String], prefix: &str, text: &str) -> bool {
    errs.iter()
        .any(|m| m.starts_with(prefix) && m.contains(text))
}

fn s(v: &str) -> Value {
    Value::Str(v.into())
}

fn with_body(v: Value) -> Entry {
    let mut e = line("", "/x");
    e.body = Some(v);
    e
}

fn bodies(out: &[Entry]) -> Vec<Option<Value>> {
    out.iter().map(|e| e.body.clone()).collect()
}

#[test]
fn go_defaults_id_is_the_type_on_error_is_send_replace_with_is_empty() {
    let parse = |yaml: &str| OperatorConfig::parse(&serde_yaml_ng::from_str(yaml).unwrap());
    let c = parse("{type: regex_replace, field: body, regex: a}").unwrap();
    assert_eq!(c.id(), "regex_replace");
    let OperatorConfig::RegexReplace(rr) = &c else {
        panic!("{c:?}")
    };
    assert_eq!(rr.on_error, OnError::Send);
    assert_eq!(rr.replace_with, "");
    assert_eq!(rr.regex_name, "");
    let c = parse("{type: unquote, field: attributes.q}").unwrap();
    assert_eq!(c.id(), "unquote");
    let OperatorConfig::Unquote(u) = &c else {
        panic!("{c:?}")
    };
    assert_eq!(u.on_error, OnError::Send);
    // an empty replace_with deletes what matches
    let mut p = pipeline("[{type: regex_replace, field: body, regex: '[0-9]'}]");
    let (out, stats) = run(&mut p, vec![line("a1b22c", "/x")]);
    assert_eq!((bodies(&out), stats.errors), (vec![Some(s("abc"))], 0));
    // every key at once, and the transformer keys
    let e = op_errors(
        "- {type: regex_replace, id: rr, field: attributes.a, regex: x, replace_with: y, on_error: drop_quiet, if: 'body != nil', output: uq}\n- {type: unquote, id: uq, field: body.q, on_error: send_quiet}",
    );
    assert!(e.is_empty(), "{e:?}");
}

#[test]
fn field_is_required_and_exactly_one_of_regex_and_regex_name() {
    let e = op_errors("- {type: regex_replace, regex: a}");
    assert!(
        has(&e, "operators::0::field:", "missing required field 'field'"),
        "{e:?}"
    );
    let e = op_errors("- {type: noop}\n- {type: unquote}");
    assert!(
        has(&e, "operators::1::field:", "missing required field 'field'"),
        "{e:?}"
    );
    // Go entry.Field: a bare `attributes` or `resource` is not a field
    let e = op_errors("- {type: unquote, field: attributes}");
    assert!(has(&e, "operators::0::field:", "subfield"), "{e:?}");
    let e = op_errors("- {type: regex_replace, field: resource, regex: a}");
    assert!(has(&e, "operators::0::field:", "subfield"), "{e:?}");
    for ops in [
        "- {type: regex_replace, field: body}",
        "- {type: regex_replace, field: body, regex: ''}",
        "- {type: regex_replace, field: body, regex: a, regex_name: ansi_control_sequences}",
    ] {
        let e = op_errors(ops);
        assert!(
            has(
                &e,
                "operators::0::regex:",
                "either regex or regex_name must be set"
            ),
            "{ops}: {e:?}"
        );
    }
    let e = op_errors("- {type: regex_replace, field: body, regex_name: ansi}");
    assert!(
        has(
            &e,
            "operators::0::regex_name:",
            "regex_name ansi is unknown"
        ),
        "{e:?}"
    );
}

#[test]
fn unknown_keys_of_regex_replace_and_unquote_are_rejected_with_their_path() {
    let e = op_errors(
        "- {type: noop}\n- {type: regex_replace, field: body, regex: a, replace_wth: b}\n- {type: unquote, feild: body}",
    );
    assert!(
        has(
            &e,
            "operators::1::replace_wth: unknown key",
            "did you mean \"replace_with\""
        ),
        "{e:?}"
    );
    assert!(
        has(
            &e,
            "operators::2::feild: unknown key",
            "did you mean \"field\""
        ),
        "{e:?}"
    );
}

#[test]
fn an_invalid_regex_is_a_config_error_at_operators_n_regex() {
    for bad in ["'(unclosed'", "')'", "'[z-a]'", "'a**'"] {
        let e = op_errors(&format!(
            "- {{type: noop}}\n- {{type: unquote, field: body}}\n- {{type: regex_replace, field: body, regex: {bad}}}"
        ));
        assert!(
            has(&e, "operators::2::regex:", "invalid regex"),
            "{bad}: {e:?}"
        );
    }
    // Go takes a `{` that starts no repetition as a literal
    assert!(op_errors("- {type: regex_replace, field: body, regex: '{(.)}'}").is_empty());
}

#[test]
fn replacement_expands_groups_as_go_replace_all_string() {
    let mut p = pipeline(
        r#"
- type: regex_replace
  field: body
  regex: '(?P<key>\w+)=(\d+)'
  replace_with: '$key:${2}|$1|${key}|$$|$1x|$01|${3}|$-'
"#,
    );
    let (out, stats) = run(&mut p, vec![line("a=1 b=22", "/x")]);
    assert_eq!(stats.errors, 0);
    // `$1x` is group "1x" and `$01` group "01" (leading zero): neither exists, both empty,
    // as is `${3}` (no such group); `$$` is `$`; a `$` with no name after it stays
    assert_eq!(
        bodies(&out),
        vec![Some(s("a:1|a|a|$||||$- b:22|b|b|$||||$-"))]
    );

    for (regex, replace_with, input, want) in [
        // the cases of Go's regexreplace transformer_test.go and operator docs
        ("_+", ",", "a__b__c", "a,b,c"),
        ("{(.)}", "${1}", "{a}{b}{c}", "abc"),
        (" +", " ", "Hello  World", "Hello World"),
        // Go's replaceAll: no replacement for an empty match right after a match
        ("a*", "-", "baaac", "-b-c-"),
        ("x*", "-", "h\u{e9}!", "-h-\u{e9}-!-"),
        // RE2's \s, \d, \w are ASCII: the no-break space, Arabic-Indic digits and é stay
        (r"\s+", "_", "a \u{a0}b\t\nc", "a_\u{a0}b_c"),
        (r"\d", "#", "1\u{0661}2", "#\u{0661}#"),
        (r"\w+", "w", "caf\u{e9} ok", "w\u{e9} w"),
    ] {
        let ops = format!(
            "[{{type: regex_replace, field: body, regex: '{regex}', replace_with: '{replace_with}'}}]"
        );
        let mut p = pipeline(&ops);
        let (out, stats) = run(&mut p, vec![line(input, "/x")]);
        assert_eq!(stats.errors, 0, "{ops}");
        assert_eq!(bodies(&out), vec![Some(s(want))], "{ops} on {input:?}");
    }
}

#[test]
fn ansi_control_sequences_strips_colour_codes_from_a_line() {
    let mut p = pipeline(
        "[{type: regex_replace, regex_name: ansi_control_sequences, field: body}, {type: regex_replace, id: attr, regex_name: ansi_control_sequences, field: attributes.level}]",
    );
    let coloured = "\x1b[2m2024-01-01T12:00:00Z\x1b[0m \x1b[1;31mERROR\x1b[0m \x1b[38;5;208mdisk\x1b[39m full \x1b[m\x1b[31M\x1b[?25l";
    let mut e = line(coloured, "/x");
    e.attributes
        .insert("level".into(), s("\x1b[33mWARN\x1b[0m"));
    // an OSC title sequence is not a CSI one, and ESC [ needs a final byte 0x40-0x7E
    let other = "\x1b]0;title\x07 x \x1b[12 \u{e9}";
    let (out, stats) = run(&mut p, vec![e, line(other, "/x"), line("plain", "/x")]);
    assert_eq!(stats.errors, 0);
    assert_eq!(
        bodies(&out),
        vec![
            Some(s("2024-01-01T12:00:00Z ERROR disk full ")),
            Some(s("\x1b]0;title\x07 x \x1b[12 \u{e9}")),
            Some(s("plain")),
        ]
    );
    assert_eq!(out[0].attributes.get("level"), Some(&s("WARN")));
    // a missing field is no error: the entry goes on unchanged (Go returns nil)
    assert!(!out[1].attributes.contains_key("level"));
}

#[test]
fn unquote_of_each_quote_kind_as_go_strconv_unquote() {
    let mut p = pipeline("[{type: unquote, field: body}]");
    let cases = [
        // double-quoted, with escapes
        (
            r#""say \"hi\"\tnow \u00e9 \x41\101 \U0001F600""#,
            "say \"hi\"\tnow \u{e9} AA \u{1F600}",
        ),
        ("\"\"", ""),
        // single-quoted: one character
        ("'v'", "v"),
        (r"'\''", "'"),
        ("'\u{e9}'", "\u{e9}"),
        ("''", ""),
        // back-quoted: raw, carriage returns dropped
        (r"`C:\path\n`", r"C:\path\n"),
        ("`a\r\nb`", "a\nb"),
    ];
    let (out, stats) = run(&mut p, cases.iter().map(|(i, _)| line(i, "/x")).collect());
    assert_eq!(stats.errors, 0);
    let want: Vec<_> = cases.iter().map(|(_, w)| Some(s(w))).collect();
    assert_eq!(bodies(&out), want);

    let mut p = pipeline("[{type: unquote, field: attributes.q}]");
    let mut e = line("\"body stays\"", "/x");
    e.attributes.insert("q".into(), s("`bar`"));
    let (out, _) = run(&mut p, vec![e]);
    assert_eq!(out[0].attributes.get("q"), Some(&s("bar")));
    assert_eq!(out[0].body, Some(s("\"body stays\"")));
}

#[test]
fn a_value_that_is_not_quoted_goes_through_on_error() {
    let inputs = ["val", "'val'", "\"open", "\"a\" tail", "\"\\q\"", "\"ok\""];
    let entries = || inputs.iter().map(|i| line(i, "/x")).collect::<Vec<_>>();
    for on_error in ["send", "send_quiet"] {
        let mut p = pipeline(&format!(
            "[{{type: unquote, field: body, on_error: {on_error}}}]"
        ));
        let (out, stats) = run(&mut p, entries());
        assert_eq!((stats.errors, stats.dropped), (5, 0), "{on_error}");
        let mut want: Vec<_> = inputs[..5].iter().map(|i| Some(s(i))).collect();
        want.push(Some(s("ok")));
        assert_eq!(bodies(&out), want, "send keeps the entry unchanged");
    }
    for on_error in ["drop", "drop_quiet"] {
        let mut p = pipeline(&format!(
            "[{{type: unquote, field: body, on_error: {on_error}}}]"
        ));
        let (out, stats) = run(&mut p, entries());
        assert_eq!((stats.errors, stats.dropped), (5, 5), "{on_error}");
        assert_eq!(bodies(&out), vec![Some(s("ok"))]);
    }
}

#[test]
fn a_value_that_is_not_a_string_is_an_error_per_on_error() {
    let mut m = Map::new();
    m.insert("k".into(), s("\"v\""));
    let values = [
        Value::Int(123),
        Value::Double(1.5),
        Value::Bool(true),
        Value::Bytes(b"\"x\"".to_vec()),
        Value::Array(vec![s("\"x\"")]),
        Value::Map(m),
    ];
    for op in [
        "unquote, field: body",
        "regex_replace, field: body, regex_name: ansi_control_sequences",
        "regex_replace, field: body, regex: x",
    ] {
        let mut p = pipeline(&format!("[{{type: {op}}}]"));
        let (out, stats) = run(&mut p, values.iter().cloned().map(with_body).collect());
        assert_eq!((stats.errors, stats.dropped), (6, 0), "{op}");
        let want: Vec<_> = values.iter().cloned().map(Some).collect();
        assert_eq!(bodies(&out), want, "{op}: sent unchanged");

        let mut p = pipeline(&format!("[{{type: {op}, on_error: drop}}]"));
        let (out, stats) = run(&mut p, values.iter().cloned().map(with_body).collect());
        assert_eq!((stats.errors, stats.dropped, out.len()), (6, 6, 0), "{op}");

        // a missing field is not an error
        let mut p = pipeline(&format!("[{{type: {op}, on_error: drop}}]"));
        let mut e = line("", "/x");
        e.body = None;
        let (out, stats) = run(&mut p, vec![e]);
        assert_eq!((stats.errors, out.len()), (0, 1), "{op}");
    }
}

/// A small deterministic generator of nasty strings.
fn hostile_strings() -> Vec<String> {
    let alphabet: Vec<char> =
        "\"'`\\xuU0123456789abcdefABCDEF{}$\n\r\t \u{0}\u{e9}\u{1F600}\u{a0}[;m\x1b"
            .chars()
            .collect();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut v: Vec<String> = (0..2000)
        .map(|_| {
            let len = (next() % 12) as usize;
            let mut t: String = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            match next() % 4 {
                0 => t = format!("\"{t}\""),
                1 => t = format!("'{t}'"),
                2 => t = format!("`{t}`"),
                _ => {}
            }
            t
        })
        .collect();
    v.extend(
        [
            "\"",
            "'",
            "`",
            "\"\\",
            "\"\\x",
            "\"\\u",
            "\"\\U",
            "\"\\U0010FFFF\"",
            "\"\\UFFFFFFFF\"",
            "\"\\777\"",
            "'\\",
            "'\\u12345'",
            "\"\\\u{1F600}\"",
            "\"\u{1F600}",
            "\u{1F600}\"",
            "\"\\x\u{e9}\"",
            "\"\\u00\u{e9}0\"",
        ]
        .iter()
        .map(|x| x.to_string()),
    );
    v.push(format!("\"{}\"", "\\x80".repeat(50_000)));
    v.push(format!("\"{}", "\\\"".repeat(100_000)));
    v.push("\u{1F600}".repeat(100_000));
    v.push("\x1b[".repeat(100_000));
    v
}

#[test]
fn hostile_strings_and_templates_never_panic() {
    let inputs = hostile_strings();
    let n = inputs.len();
    let entries = || inputs.iter().map(|i| line(i, "/x")).collect::<Vec<_>>();
    let mut p = pipeline(
        r#"
- {type: unquote, field: body}
- {type: regex_replace, id: ansi, field: body, regex_name: ansi_control_sequences}
- {type: regex_replace, id: empty, field: body, regex: 'x*|\b', replace_with: '<${1}$0$x${999999999}$99999999999999999999$$$>'}
- {type: regex_replace, id: groups, field: body, regex: '(\\)?(?P<q>["''`])|(é)', replace_with: '${q}${'}
"#,
    );
    let (out, stats) = run(&mut p, entries());
    assert_eq!(out.len(), n, "on_error send keeps every entry");
    assert!(stats.errors > 0 && stats.errors < n as u64, "{stats:?}");
    assert!(out.iter().all(|e| matches!(e.body, Some(Value::Str(_)))));

    // the same through drop: what fails is dropped, nothing else happens
    let mut p = pipeline("[{type: unquote, field: body, on_error: drop_quiet}]");
    let (out, stats) = run(&mut p, entries());
    assert_eq!(out.len() as u64 + stats.dropped, n as u64);
    assert_eq!(stats.dropped, stats.errors);
}
