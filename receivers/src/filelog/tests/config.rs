//! Config: Go defaults, sizes, unknown keys and bad patterns reported with their paths.

use pipeline_api::config::{parse_typed, ConfigValue, Validate};
use pipeline_api::Signal;

use crate::filelog::config::{ByteSize, OnTruncate, StartAt};
use crate::filelog::{factory, FileLogConfig};

fn errors(yaml: &str) -> Vec<String> {
    let v: ConfigValue = serde_yaml_ng::from_str(yaml).unwrap();
    match parse_typed::<FileLogConfig>(&v) {
        Ok(_) => Vec::new(),
        Err(es) => es.iter().map(|e| e.to_string()).collect(),
    }
}

#[test]
fn defaults_are_go_create_default_config_and_validate() {
    let c = FileLogConfig {
        include: vec!["/var/log/*.log".into()],
        ..Default::default()
    };
    assert!(c.validate().is_empty(), "{:?}", c.validate());
    assert!(c.include_file_name);
    assert!(!c.include_file_path);
    assert_eq!(c.poll_interval.get().as_millis(), 200);
    assert_eq!(c.fingerprint_size, ByteSize(1000));
    assert_eq!(c.max_log_size, ByteSize(1024 * 1024));
    assert_eq!(c.max_concurrent_files, 1024);
    assert_eq!(c.start_at, StartAt::End);
    assert_eq!(c.encoding, "utf-8");
    assert_eq!(c.force_flush_period.get().as_millis(), 500);
    assert!(!c.retry_on_failure.enabled);
    assert_eq!(c.retry_on_failure.initial_interval.get().as_secs(), 1);
    assert_eq!(c.retry_on_failure.max_interval.get().as_secs(), 30);
    assert_eq!(c.retry_on_failure.max_elapsed_time.get().as_secs(), 300);
    assert_eq!(c.on_truncate, OnTruncate::ReadWholeFile);
    // the same through the parser
    let parsed: FileLogConfig =
        parse_typed(&serde_yaml_ng::from_str("include: [a.log]").unwrap()).unwrap();
    assert_eq!(parsed.fingerprint_size, ByteSize(1000));
}

#[test]
fn byte_sizes_as_go_helper_bytesize() {
    for (s, want) in [
        ("1kb", 1000),
        ("1KiB", 1024),
        ("16KB", 16000),
        ("1MiB", 1024 * 1024),
        ("1.5kb", 1500),
        ("2mb", 2_000_000),
        ("100", 100),
    ] {
        assert_eq!(ByteSize::parse(s).unwrap(), ByteSize(want), "{s}");
    }
    assert!(ByteSize::parse("12 parsecs").is_err());
    let c: FileLogConfig = parse_typed(
        &serde_yaml_ng::from_str("include: [a]\nfingerprint_size: 2048\nmax_log_size: 16KiB")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(c.fingerprint_size, ByteSize(2048));
    assert_eq!(c.max_log_size, ByteSize(16 * 1024));
}

#[test]
fn go_validation_rules() {
    let e = errors("exclude: [x]");
    assert!(e.iter().any(|m| m.starts_with("include:")), "{e:?}");
    let e = errors("include: [a]\nfingerprint_size: 8");
    assert!(
        e.iter().any(|m| m.starts_with("fingerprint_size:")),
        "{e:?}"
    );
    let e = errors("include: [a]\nmax_concurrent_files: 0");
    assert!(
        e.iter().any(|m| m.starts_with("max_concurrent_files:")),
        "{e:?}"
    );
    let e = errors("include: [a]\ndelete_after_read: true");
    assert!(
        e.iter().any(|m| m.starts_with("delete_after_read:")),
        "{e:?}"
    );
    let e = errors("include: [a]\nencoding: klingon");
    assert!(e.iter().any(|m| m.starts_with("encoding:")), "{e:?}");
    let e = errors("include: [a]\nstart_at: middle");
    assert!(e.iter().any(|m| m.starts_with("start_at:")), "{e:?}");
    let e = errors("include: ['[']");
    assert!(e.iter().any(|m| m.starts_with("include::0:")), "{e:?}");
    let e = errors("include: [a]\nmultiline: {line_start_pattern: a, line_end_pattern: b}");
    assert!(e.iter().any(|m| m.starts_with("multiline:")), "{e:?}");
}

#[test]
fn unknown_keys_are_rejected_with_their_path_even_inside_operators() {
    let e = errors("include: [a]\ninclde: [b]");
    assert!(
        e.iter().any(|m| m.starts_with("inclde: unknown key") && m.contains("did you mean \"include\"")),
        "{e:?}"
    );
    let e = errors(
        "include: [a]\noperators:\n  - type: json_parser\n    parse_fom: body\n  - type: regex_parser\n    regex: '(?P<a>x)'\n    severity: {parse_fom: attributes.a}\n",
    );
    assert!(
        e.iter()
            .any(|m| m.starts_with("operators::0::parse_fom: unknown key")
                && m.contains("did you mean \"parse_from\"")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|m| m.starts_with("operators::1::severity::parse_fom: unknown key")),
        "{e:?}"
    );
    let e = errors("include: [a]\nretry_on_failure: {enabeld: true}");
    assert!(
        e.iter()
            .any(|m| m.starts_with("retry_on_failure::enabeld:")),
        "{e:?}"
    );
}

#[test]
fn bad_patterns_and_expressions_are_config_errors_with_their_path() {
    let e = errors("include: [a]\noperators:\n  - type: regex_parser\n    regex: '(unclosed'\n");
    assert!(
        e.iter()
            .any(|m| m.starts_with("operators::0::regex: invalid regex")),
        "{e:?}"
    );
    let e = errors("include: [a]\noperators:\n  - type: regex_parser\n    regex: 'no groups'\n");
    assert!(
        e.iter().any(|m| m.starts_with("operators::0::regex:")),
        "{e:?}"
    );
    let e = errors("include: [a]\nmultiline: {line_start_pattern: '(x'}");
    assert!(
        e.iter()
            .any(|m| m.starts_with("multiline::line_start_pattern:")),
        "{e:?}"
    );
    let e = errors("include: [a]\noperators:\n  - type: move\n    from: body.a\n    to: attributes.a\n    if: 'len(body) > 1'\n");
    assert!(
        e.iter().any(|m| m.starts_with("operators::0::if:")),
        "{e:?}"
    );
    let e = errors(
        "include: [a]\noperators:\n  - type: move\n    from: nowhere.a\n    to: attributes.a\n",
    );
    assert!(
        e.iter().any(|m| m.starts_with("operators::0::from:")),
        "{e:?}"
    );
    let e = errors("include: [a]\noperators:\n  - type: json_parsr\n");
    assert!(
        e.iter()
            .any(|m| m.starts_with("operators::0::type:") && m.contains("json_parser")),
        "{e:?}"
    );
    let e = errors("include: [a]\noperators:\n  - type: time_parser\n    parse_from: attributes.t\n    layout: '%Y%Q'\n");
    assert!(
        e.iter().any(|m| m.starts_with("operators::0::layout:")),
        "{e:?}"
    );
}

#[test]
fn operator_graph_errors() {
    // an id given twice (unnamed operators of one type are numbered, as Go)
    let e = errors("include: [a]\noperators:\n  - type: json_parser\n    id: p\n  - type: json_parser\n    id: p\n");
    assert!(
        e.iter().any(|m| m.starts_with("operators::1::id:")),
        "{e:?}"
    );
    let e = errors("include: [a]\noperators:\n  - type: json_parser\n    output: nowhere\n");
    assert!(
        e.iter().any(|m| m.starts_with("operators::0::output:")),
        "{e:?}"
    );
    let e = errors("include: [a]\noperators:\n  - {type: noop, id: a, output: b}\n  - {type: noop, id: b, output: a}\n");
    assert!(e.iter().any(|m| m.contains("loop")), "{e:?}");
    let e = errors("include: [a]\noperators:\n  - type: key_value_parser\n    delimiter: ' '\n");
    assert!(
        e.iter()
            .any(|m| m.starts_with("operators::0::pair_delimiter:")),
        "{e:?}"
    );
}

#[test]
fn factory_is_filelog_for_logs_and_registered() {
    let f = factory();
    assert_eq!(f.type_name(), "filelog");
    assert_eq!(f.signals(), &[Signal::Logs]);
    assert!(crate::factories()
        .iter()
        .any(|f| f.type_name() == "filelog"));
    assert!(f
        .parse_config(&serde_yaml_ng::from_str("include: [x]").unwrap())
        .is_ok());
}
