use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pipeline_api::config::ConfigValue;
use pipeline_api::storage::{StorageClient, StorageOp};
use pipeline_api::telemetry::ComponentTelemetry;
use pipeline_api::{storage_client, BuildContext, ComponentId, ComponentKind, Extension};

use super::config::{INVALID_OCTAL, INVALID_PERMISSION_BITS};
use super::*;

use pipeline_api::testing::TempDir;

/// The names in `dir`, sorted.
fn files(dir: &TempDir) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("read temp dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn id(s: &str) -> ComponentId {
    ComponentId::parse(s).expect("valid id")
}

fn parse_raw(yaml: &str) -> Result<FileStorageConfig, Vec<pipeline_api::config::ConfigError>> {
    let value: ConfigValue = serde_yaml_ng::from_str(yaml).expect("yaml");
    pipeline_api::config::parse_typed::<FileStorageConfig>(&value)
}

/// Parse with `directory: .` (which exists) unless the text sets a directory: without
/// create_directory, validate wants the directory to exist.
fn parse(yaml: &str) -> Result<FileStorageConfig, Vec<pipeline_api::config::ConfigError>> {
    if yaml.lines().any(|l| l.starts_with("directory:")) {
        parse_raw(yaml)
    } else {
        parse_raw(&format!("directory: .\n{yaml}"))
    }
}

fn config_in(dir: &Path, extra: &str) -> FileStorageConfig {
    let yaml = format!("directory: {:?}\n{extra}", dir.display().to_string());
    parse(&yaml).expect("valid config")
}

fn build(dir: &Path, extra: &str) -> Result<FileStorage, BuildError> {
    FileStorage::new(id("file_storage"), config_in(dir, extra))
}

fn client(
    ext: &FileStorage,
    kind: ComponentKind,
    component: &str,
    name: &str,
) -> Arc<dyn StorageClient> {
    ext.client(kind, &id(component), name).expect("client")
}

fn messages(errors: &[pipeline_api::config::ConfigError]) -> Vec<String> {
    errors.iter().map(|e| e.to_string()).collect()
}

// ---- config ----

#[test]
fn defaults_validate_and_match_go_create_default_config() {
    let cfg = FileStorageConfig::default();
    assert_eq!(parse("").expect("defaults parse").directory, ".");
    // Go's default directory must exist, as Go's validate wants it (unless create_directory)
    match parse_raw("") {
        Ok(c) => {
            assert_eq!(c, cfg);
            assert!(Path::new(&cfg.directory).is_dir());
        }
        Err(e) => assert!(messages(&e)[0].starts_with("directory: directory must exist: stat /var/lib/otelcol/file_storage: no such file or directory"), "{e:?}"),
    }
    // Go defaults: directory /var/lib/otelcol/file_storage (Linux), timeout 1s, fsync false,
    // create_directory false, directory_permissions 0750, max_size 0.
    assert_eq!(cfg.directory, "/var/lib/otelcol/file_storage");
    assert_eq!(cfg.timeout.get(), Duration::from_secs(1));
    assert!(!cfg.fsync);
    assert!(!cfg.create_directory);
    assert_eq!(cfg.directory_permissions, "0750");
    assert_eq!(cfg.max_size, 0);
    assert!(!cfg.recreate);
    // Go compaction defaults: max_transaction_size 65536, rebound thresholds 100/10 MiB,
    // check_interval 5s, the default directory.
    let c = &cfg.compaction;
    assert!(!c.on_start && !c.on_rebound && !c.cleanup_on_start);
    assert_eq!(c.directory, "/var/lib/otelcol/file_storage");
    assert_eq!(c.max_transaction_size, 65_536);
    assert_eq!(c.rebound_needed_threshold_mib, 100);
    assert_eq!(c.rebound_trigger_threshold_mib, 10);
    assert_eq!(c.check_interval.get(), Duration::from_secs(5));
    assert_eq!(
        factory().parse_config(&ConfigValue::Null).is_ok(),
        Path::new(&cfg.directory).is_dir()
    );
    assert_eq!(factory().type_name(), "file_storage");
}

#[test]
fn go_all_settings_example_parses() {
    // The keys of Go's testdata `file_storage/all_settings`.
    let cfg = parse(
        "directory: .\ntimeout: 2s\nfsync: true\ncreate_directory: false\ndirectory_permissions: \"0750\"\n\
         max_size: 1048576\nrecreate: true\n\
         compaction:\n  on_start: true\n  on_rebound: true\n  directory: .\n  max_transaction_size: 2048\n\
         \x20 rebound_trigger_threshold_mib: 16\n  rebound_needed_threshold_mib: 128\n  check_interval: 5s\n  cleanup_on_start: true\n",
    )
    .expect("all settings");
    assert_eq!(cfg.timeout.get(), Duration::from_secs(2));
    assert!(cfg.fsync && cfg.recreate);
    assert_eq!(cfg.max_size, 1_048_576);
    assert_eq!(cfg.compaction.max_transaction_size, 2048);
    assert_eq!(cfg.compaction.rebound_trigger_threshold_mib, 16);
    assert_eq!(cfg.compaction.rebound_needed_threshold_mib, 128);
    assert!(
        cfg.compaction.on_start && cfg.compaction.on_rebound && cfg.compaction.cleanup_on_start
    );
    // `compaction:` with no value keeps the defaults.
    let cfg = parse("compaction:\n").expect("null compaction");
    assert_eq!(cfg.compaction, CompactionConfig::default());
}

#[test]
fn unknown_keys_are_rejected_with_their_path() {
    let errors = parse("fsnyc: true\ncompaction:\n  on_strat: true\n").unwrap_err();
    let msgs = messages(&errors);
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("fsnyc:") && m.contains("did you mean \"fsync\"")),
        "{msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("compaction::on_strat:")
                && m.contains("did you mean \"on_start\"")),
        "{msgs:?}"
    );
    let errors = factory()
        .parse_config(&serde_yaml_ng::from_str("directroy: /x").expect("yaml"))
        .unwrap_err();
    // the typo is named; the default directory the section falls back to is validated too
    assert!(
        errors
            .iter()
            .any(|e| e.path == vec!["directroy".to_string()]),
        "{errors:?}"
    );
}

#[test]
fn go_validation_messages() {
    let errors = parse("compaction:\n  max_transaction_size: -1\n").unwrap_err();
    assert_eq!(
        messages(&errors),
        vec!["compaction::max_transaction_size: max transaction size for compaction cannot be less than 0"]
    );
    let errors = parse("compaction:\n  on_rebound: true\n  check_interval: 0s\n  directory: .\n")
        .unwrap_err();
    assert_eq!(
        messages(&errors),
        vec!["compaction::check_interval: compaction check interval must be positive when rebound compaction is set"]
    );
    let errors = parse("directory: \"\"\n").unwrap_err();
    assert_eq!(messages(&errors), vec!["directory: must not be empty"]);
}

#[test]
fn directory_permissions_checked_as_go_only_with_create_directory() {
    // Go's cases: "invalid string", "rwxr--r--", "0778" are not octal; "07771" sets bits
    // beyond the permissions; with create_directory false nothing is checked.
    for (perms, expected) in [
        ("invalid string", INVALID_OCTAL),
        ("rwxr--r--", INVALID_OCTAL),
        ("0778", INVALID_OCTAL),
        ("", INVALID_OCTAL),
        ("07771", INVALID_PERMISSION_BITS),
        ("-1", INVALID_PERMISSION_BITS),
    ] {
        let yaml = format!("create_directory: true\ndirectory_permissions: {perms:?}\n");
        let errors = parse(&yaml).unwrap_err();
        assert_eq!(
            messages(&errors),
            vec![format!("directory_permissions: {expected}")],
            "{perms:?}"
        );
        let yaml = format!("create_directory: false\ndirectory_permissions: {perms:?}\n");
        assert!(
            parse(&yaml).is_ok(),
            "{perms:?} ignored without create_directory"
        );
    }
    for ok in ["0700", "0750", "750", "0"] {
        let yaml = format!("create_directory: true\ndirectory_permissions: {ok:?}\n");
        assert!(parse(&yaml).is_ok(), "{ok}");
    }
}

// ---- file names ----

#[test]
fn file_names_follow_go_scheme() {
    // Go: "{kind}_{type}_{name}" without a storage name, "{kind}_{type}_{name}_{storage}" with.
    assert_eq!(
        file_name(ComponentKind::Receiver, &id("filelog"), ""),
        "receiver_filelog_"
    );
    assert_eq!(
        file_name(ComponentKind::Exporter, &id("otlp/tempo"), "traces"),
        "exporter_otlp_tempo_traces"
    );
    assert_eq!(
        file_name(ComponentKind::Extension, &id("x/a.b-c_d"), ""),
        "extension_x_a.b-c_d"
    );
    // Go's sanitize: unsafe characters become ~ and four or more upper-case hex digits, the
    // tilde included.
    assert_eq!(sanitize("a/b"), "a~002Fb");
    assert_eq!(sanitize("~"), "~007E");
    assert_eq!(sanitize("é"), "~00E9");
    assert_eq!(sanitize("a b:c"), "a~0020b~003Ac");
    assert_eq!(sanitize("\u{1F600}"), "~1F600");
    assert_eq!(
        file_name(ComponentKind::Receiver, &id("filelog/a:b"), "x/y"),
        "receiver_filelog_a~003Ab_x~002Fy"
    );
    // Go's fallback for names too long for the file system: SHA-256 in hex.
    let h = hashed_name("receiver_filelog_");
    assert_eq!(h.len(), 64);
    assert!(h
        .chars()
        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    assert_eq!(
        hashed_name("abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[tokio::test]
async fn two_components_get_separate_files_named_as_go() {
    let dir = TempDir::new("names");
    let ext = build(dir.path(), "").expect("build");
    let a = client(&ext, ComponentKind::Receiver, "filelog", "");
    let b = client(&ext, ComponentKind::Exporter, "otlp/tempo", "traces");
    a.set("k", b"from a".to_vec()).await.expect("set a");
    b.set("k", b"from b".to_vec()).await.expect("set b");
    assert_eq!(a.get("k").await.expect("get"), Some(b"from a".to_vec()));
    assert_eq!(b.get("k").await.expect("get"), Some(b"from b".to_vec()));
    let files = files(&dir);
    assert!(
        files.contains(&"receiver_filelog_".to_string()),
        "{files:?}"
    );
    assert!(
        files.contains(&"exporter_otlp_tempo_traces".to_string()),
        "{files:?}"
    );
    a.close().await.expect("close");
    b.close().await.expect("close");
}

#[tokio::test]
async fn too_long_name_uses_its_hash() {
    let dir = TempDir::new("long");
    let ext = build(dir.path(), "").expect("build");
    let long = format!("otlp/{}", "n".repeat(300));
    let c = client(&ext, ComponentKind::Exporter, &long, "traces");
    c.set("k", vec![1]).await.expect("set");
    c.close().await.expect("close");
    let expected = hashed_name(&file_name(ComponentKind::Exporter, &id(&long), "traces"));
    assert_eq!(files(&dir), vec![expected]);
}

// ---- operations ----

#[tokio::test]
async fn set_get_delete_batch_round_trip() {
    let dir = TempDir::new("ops");
    let ext = build(dir.path(), "").expect("build");
    let c = client(&ext, ComponentKind::Exporter, "otlp", "logs");
    assert_eq!(c.get("missing").await.expect("get"), None);
    c.set("a", b"1".to_vec()).await.expect("set");
    c.set("empty", Vec::new()).await.expect("set empty");
    assert_eq!(c.get("a").await.expect("get"), Some(b"1".to_vec()));
    assert_eq!(c.get("empty").await.expect("get"), Some(Vec::new()));
    c.set("a", b"2".to_vec()).await.expect("overwrite");
    assert_eq!(c.get("a").await.expect("get"), Some(b"2".to_vec()));
    c.delete("a").await.expect("delete");
    assert_eq!(c.get("a").await.expect("get"), None);
    c.delete("never-there")
        .await
        .expect("delete missing is fine");
    let big = vec![7u8; 3 << 20];
    c.batch(vec![
        StorageOp::Set("x".into(), b"x1".to_vec()),
        StorageOp::Set("y".into(), big.clone()),
        StorageOp::Delete("x".into()),
        StorageOp::Set("x".into(), b"x2".to_vec()),
        StorageOp::Delete("empty".into()),
    ])
    .await
    .expect("batch");
    assert_eq!(c.get("x").await.expect("get"), Some(b"x2".to_vec()));
    assert_eq!(c.get("y").await.expect("get"), Some(big));
    assert_eq!(c.get("empty").await.expect("get"), None);
    c.batch(Vec::new()).await.expect("empty batch");
    c.close().await.expect("close");
}

#[tokio::test]
async fn values_survive_closing_and_reopening_the_extension() {
    let dir = TempDir::new("restart");
    for fsync in ["false", "true"] {
        let ext = build(dir.path(), &format!("fsync: {fsync}\n")).expect("build");
        let c = client(&ext, ComponentKind::Receiver, "filelog/in", "");
        c.set("checkpoint", format!("offset-{fsync}").into_bytes())
            .await
            .expect("set");
        c.batch(vec![
            StorageOp::Set("q1".into(), b"one".to_vec()),
            StorageOp::Set("q2".into(), b"two".to_vec()),
        ])
        .await
        .expect("batch");
        c.close().await.expect("close");
        ext.shutdown().await;
        drop(ext);

        let ext = build(dir.path(), "").expect("rebuild");
        let c = client(&ext, ComponentKind::Receiver, "filelog/in", "");
        assert_eq!(
            c.get("checkpoint").await.expect("get"),
            Some(format!("offset-{fsync}").into_bytes())
        );
        assert_eq!(c.get("q2").await.expect("get"), Some(b"two".to_vec()));
        c.close().await.expect("close");
    }
}

#[tokio::test]
async fn a_closed_client_refuses_later_calls() {
    let dir = TempDir::new("closed");
    let ext = build(dir.path(), "").expect("build");
    let c = client(&ext, ComponentKind::Exporter, "otlp", "traces");
    c.set("k", vec![1]).await.expect("set");
    c.close().await.expect("close");
    let err = c.get("k").await.unwrap_err().to_string();
    assert!(err.contains("closed"), "{err}");
    assert!(c.set("k", vec![2]).await.is_err());
    assert!(c.batch(vec![StorageOp::Delete("k".into())]).await.is_err());
    c.close().await.expect("closing twice is fine");
}

#[tokio::test]
async fn same_key_space_twice_in_one_process_shares_the_database() {
    let dir = TempDir::new("twice");
    let ext = build(dir.path(), "").expect("build");
    let other = build(dir.path(), "fsync: true\n").expect("second extension on the same dir");
    let a = client(&ext, ComponentKind::Exporter, "otlp", "traces");
    let b = client(&ext, ComponentKind::Exporter, "otlp", "traces");
    let c = client(&other, ComponentKind::Exporter, "otlp", "traces");
    let run = async {
        a.set("k", b"a".to_vec()).await.expect("set a");
        assert_eq!(b.get("k").await.expect("get b"), Some(b"a".to_vec()));
        c.set("k", b"c".to_vec()).await.expect("set c");
        assert_eq!(a.get("k").await.expect("get a"), Some(b"c".to_vec()));
        // Concurrent writers through different handles of the same file.
        let writes = (0..20).map(|i| {
            let (a, b) = (a.clone(), b.clone());
            async move {
                a.set(&format!("a{i}"), vec![i]).await.expect("a");
                b.set(&format!("b{i}"), vec![i]).await.expect("b");
            }
        });
        futures::future::join_all(writes).await;
        a.close().await.expect("close a");
        // The others still work after one handle closed.
        assert_eq!(b.get("a7").await.expect("get"), Some(vec![7]));
        c.set("after", vec![1]).await.expect("set c");
        b.close().await.expect("close b");
        c.close().await.expect("close c");
    };
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("no deadlock");
    assert_eq!(files(&dir), vec!["exporter_otlp__traces".to_string()]);
    // After every handle closed, the file can be opened again.
    let again = client(&ext, ComponentKind::Exporter, "otlp", "traces");
    assert_eq!(again.get("after").await.expect("get"), Some(vec![1]));
    again.close().await.expect("close");
}

#[tokio::test]
async fn max_size_refuses_writes_atomically() {
    let dir = TempDir::new("max-size");
    let ext = build(dir.path(), "max_size: 1048576\n").expect("build");
    let c = client(&ext, ComponentKind::Exporter, "otlp", "traces");
    c.set("small", vec![1; 1000]).await.expect("small fits");
    let err = c
        .batch(vec![
            StorageOp::Set("other".into(), vec![2; 10]),
            StorageOp::Set("big".into(), vec![3; 4 << 20]),
        ])
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("full"), "{err}");
    // Nothing of the refused batch was applied; deletes and small writes still work.
    assert_eq!(c.get("other").await.expect("get"), None);
    assert_eq!(c.get("big").await.expect("get"), None);
    c.delete("small").await.expect("delete");
    c.set("again", vec![4; 1000]).await.expect("fits again");
    c.close().await.expect("close");
}

// ---- directory ----

#[test]
fn missing_directory_is_an_error_naming_it() {
    let dir = TempDir::new("missing");
    let missing = dir.path().join("not").join("here");
    // validate says so first, as Go's Config.Validate; build says it again
    let yaml = format!("directory: {:?}\n", missing.display().to_string());
    let err = messages(&parse(&yaml).unwrap_err()).join("\n");
    assert!(err.contains(&missing.display().to_string()), "{err}");
    assert!(
        err.starts_with("directory: directory must exist: "),
        "{err}"
    );
    assert!(err.contains("create_directory"), "{err}");
    let mut cfg = config_in(dir.path(), "");
    cfg.directory = missing.display().to_string();
    let err = FileStorage::new(id("file_storage"), cfg)
        .err()
        .expect("missing dir")
        .to_string();
    assert!(err.starts_with("directory must exist: "), "{err}");
    assert!(!missing.exists());

    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").expect("write");
    let yaml = format!("directory: {:?}\n", file.display().to_string());
    assert_eq!(
        messages(&parse(&yaml).unwrap_err()),
        vec![format!("directory: {} is not a directory", file.display())]
    );
}

#[cfg(unix)]
#[tokio::test]
async fn create_directory_creates_it_with_the_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("create");
    for (perms, allowed) in [("0750", 0o750), ("0700", 0o700)] {
        let target = dir.path().join(perms).join("nested");
        let ext = build(
            &target,
            &format!("create_directory: true\ndirectory_permissions: {perms:?}\n"),
        )
        .expect("created");
        let meta = std::fs::metadata(&target).expect("exists");
        assert!(meta.is_dir());
        let mode = meta.permissions().mode() & 0o777;
        // The umask may only remove bits.
        assert_eq!(mode & !allowed, 0, "mode {mode:o} for {perms}");
        let c = client(&ext, ComponentKind::Receiver, "filelog", "");
        c.set("k", vec![1]).await.expect("usable");
        c.close().await.expect("close");
    }
}

// ---- lookup through the contract ----

#[tokio::test]
async fn storage_client_finds_the_extension_by_id() {
    let dir = TempDir::new("lookup");
    let ext: Arc<dyn Extension> = Arc::new(build(dir.path(), "").expect("build"));
    ext.start().await.expect("start");
    assert!(ext.as_storage().is_some());
    let fs_id = id("file_storage/queue");
    let exporter = id("otlp/x");
    let ctx = BuildContext {
        id: exporter.clone(),
        telemetry: ComponentTelemetry::detached(ComponentKind::Exporter, &exporter),
        signals: vec![],
        extensions: Arc::new(BTreeMap::from([(fs_id.clone(), ext.clone())])),
        memory: Default::default(),
    };
    let c = storage_client(&ctx, &fs_id, "metrics").expect("client");
    c.set("k", vec![9]).await.expect("set");
    c.close().await.expect("close");
    assert_eq!(files(&dir), vec!["exporter_otlp_x_metrics".to_string()]);
    ext.shutdown().await;
    ext.shutdown().await;
}

#[test]
fn factory_builds_through_the_contract() {
    let dir = TempDir::new("factory");
    let value: ConfigValue = serde_yaml_ng::from_str(&format!(
        "directory: {:?}",
        dir.path().display().to_string()
    ))
    .expect("yaml");
    let cfg = factory().parse_config(&value).expect("config");
    let fs_id = id("file_storage");
    let ctx = BuildContext {
        id: fs_id.clone(),
        telemetry: ComponentTelemetry::detached(ComponentKind::Extension, &fs_id),
        signals: vec![],
        extensions: Arc::new(BTreeMap::new()),
        memory: Default::default(),
    };
    let ext = factory().build(ctx, cfg.as_ref()).expect("build");
    assert!(ext.as_storage().is_some());
}

// ---- bad files ----

fn pseudo_random_bytes(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

#[tokio::test]
async fn garbage_file_is_a_clear_error_not_a_panic() {
    let dir = TempDir::new("garbage");
    let ext = build(dir.path(), "").expect("build");
    let path = dir.path().join("exporter_otlp_bad_traces");
    for garbage in [
        pseudo_random_bytes(64 << 10, 0x9E37_79B9_7F4A_7C15),
        b"hello".to_vec(),
        vec![0u8; 8192],
        vec![0xFFu8; 1 << 20],
    ] {
        std::fs::write(&path, &garbage).expect("write garbage");
        let err = ext
            .client(ComponentKind::Exporter, &id("otlp/bad"), "traces")
            .err()
            .expect("garbage refused")
            .to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(err.contains("not a valid storage file"), "{err}");
        assert!(err.contains("recreate"), "{err}");
        // The file is left as it was.
        assert_eq!(std::fs::read(&path).expect("read"), garbage);
    }
}

#[tokio::test]
async fn go_bbolt_file_is_named_as_such() {
    let dir = TempDir::new("bbolt");
    let ext = build(dir.path(), "").expect("build");
    // A bbolt meta page: 16-byte page header, then the magic 0xED0CDAED.
    let mut page = vec![0u8; 4096];
    page[16..20].copy_from_slice(&0xED0C_DAEDu32.to_le_bytes());
    std::fs::write(dir.path().join("receiver_filelog_"), &page).expect("write");
    let err = ext
        .client(ComponentKind::Receiver, &id("filelog"), "")
        .err()
        .expect("bbolt refused")
        .to_string();
    assert!(
        err.contains("bbolt") && err.contains("Go collector"),
        "{err}"
    );
}

#[tokio::test]
async fn recreate_moves_an_unreadable_file_aside() {
    let dir = TempDir::new("recreate");
    let ext = build(dir.path(), "recreate: true\n").expect("build");
    let garbage = pseudo_random_bytes(10_000, 42);
    std::fs::write(dir.path().join("receiver_filelog_"), &garbage).expect("write");
    let c = client(&ext, ComponentKind::Receiver, "filelog", "");
    assert_eq!(c.get("k").await.expect("fresh"), None);
    c.set("k", b"v".to_vec()).await.expect("set");
    assert_eq!(c.get("k").await.expect("get"), Some(b"v".to_vec()));
    c.close().await.expect("close");
    let files = files(&dir);
    let backups: Vec<&String> = files.iter().filter(|f| f.ends_with(".backup")).collect();
    assert_eq!(backups.len(), 1, "{files:?}");
    // Go's name: <file>.<2006-01-02T15:04:05.000>.backup
    let stamp = backups[0]
        .strip_prefix("receiver_filelog_.")
        .and_then(|s| s.strip_suffix(".backup"))
        .expect("backup name");
    assert_eq!(stamp.len(), "2006-01-02T15:04:05.000".len(), "{stamp}");
    assert_eq!(&stamp[4..5], "-");
    assert_eq!(&stamp[10..11], "T");
    assert_eq!(
        std::fs::read(dir.path().join(backups[0])).expect("backup kept"),
        garbage
    );
}

/// Damaged copies of a real database (truncated, overwritten in the middle) either open with
/// their last intact state or are refused with an error: never a panic.
#[tokio::test]
async fn damaged_database_never_panics() {
    let dir = TempDir::new("damaged");
    let ext = build(dir.path(), "").expect("build");
    let c = client(&ext, ComponentKind::Exporter, "otlp", "traces");
    for i in 0..200u32 {
        c.set(&format!("k{i}"), vec![i as u8; 3000])
            .await
            .expect("set");
    }
    c.close().await.expect("close");
    let path = dir.path().join("exporter_otlp__traces");
    let good = std::fs::read(&path).expect("read db");
    let len = good.len();
    let damages: Vec<(&str, Vec<u8>)> = vec![
        ("truncated to half", good[..len / 2].to_vec()),
        ("truncated to 100 bytes", good[..100.min(len)].to_vec()),
        ("middle overwritten", {
            let mut d = good.clone();
            let start = len / 3;
            let noise = pseudo_random_bytes(len / 3, 7);
            d[start..start + noise.len()].copy_from_slice(&noise);
            d
        }),
        ("header overwritten", {
            let mut d = good.clone();
            let noise = pseudo_random_bytes(600, 11);
            d[..600].copy_from_slice(&noise);
            d
        }),
    ];
    for (what, bytes) in damages {
        std::fs::write(&path, &bytes).expect("write damaged");
        match ext.client(ComponentKind::Exporter, &id("otlp"), "traces") {
            Ok(c) => {
                // Opened: reads answer or fail cleanly.
                for i in (0..200u32).step_by(17) {
                    let _ = c.get(&format!("k{i}")).await;
                }
                let _ = c.set("new", vec![1]).await;
                let _ = c.close().await;
            }
            Err(e) => {
                let e = e.to_string();
                assert!(e.contains(&path.display().to_string()), "{what}: {e}");
            }
        }
    }
}

// ---- crash safety ----

const WRITER_ENV: &str = "FERROTEL_STORAGE_WRITER";
const WRITER_TEST: &str = "extensions::file_storage::tests::crash_writer_child_process";
const BATCH_WINDOW: u64 = 20;

fn crash_key(round: u32, i: u64) -> String {
    format!("r{round}/k{i}")
}

fn crash_batch_key(round: u32, i: u64) -> String {
    format!("r{round}/b{i}")
}

fn crash_value(round: u32, i: u64) -> Vec<u8> {
    let unit = format!("{round}:{i};");
    let len = 1 + (i as usize * 37) % 6000;
    unit.bytes().cycle().take(len).collect()
}

/// Not a test of its own: with `FERROTEL_STORAGE_WRITER=<dir>|<round>|<fsync>` set it is the
/// child process of [`killed_writer_loses_no_committed_write`], writing until it is killed
/// and printing the index of each write whose call had returned; otherwise it does nothing.
#[test]
fn crash_writer_child_process() {
    let Ok(spec) = std::env::var(WRITER_ENV) else {
        return;
    };
    let mut parts = spec.split('|');
    let dir = PathBuf::from(parts.next().expect("dir"));
    let round: u32 = parts.next().and_then(|r| r.parse().ok()).expect("round");
    let fsync = parts.next() == Some("true");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let ext = build(&dir, &format!("fsync: {fsync}\n")).expect("build");
        let c = client(&ext, ComponentKind::Exporter, "otlp/crash", "traces");
        let mut out = std::io::stdout();
        // Bounded, in case the parent died without killing this process.
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut i = 0u64;
        while Instant::now() < deadline {
            c.set(&crash_key(round, i), crash_value(round, i))
                .await
                .expect("set");
            let mut ops = vec![
                StorageOp::Set(format!("r{round}/last"), i.to_le_bytes().to_vec()),
                StorageOp::Set(crash_batch_key(round, i), crash_value(round, i + 1)),
            ];
            if i >= BATCH_WINDOW {
                ops.push(StorageOp::Delete(crash_batch_key(round, i - BATCH_WINDOW)));
            }
            c.batch(ops).await.expect("batch");
            writeln!(out, "committed {i}").expect("stdout");
            out.flush().expect("flush");
            i += 1;
        }
    });
}

/// Kills the child with SIGKILL when dropped, so a failing test leaves no writer behind.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn verify_crash_rounds(dir: &Path, rounds: &[(u32, u64)]) {
    let ext = build(dir, "").expect("reopen after kill");
    let c = client(&ext, ComponentKind::Exporter, "otlp/crash", "traces");
    for &(round, committed) in rounds {
        for i in 0..=committed {
            assert_eq!(
                c.get(&crash_key(round, i)).await.expect("get"),
                Some(crash_value(round, i)),
                "round {round}: write {i} had returned (last returned {committed}) but is missing or wrong"
            );
        }
        // The batches are atomic: the last batch applied is whole, the delete included.
        let last = c
            .get(&format!("r{round}/last"))
            .await
            .expect("get last")
            .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
            .map(u64::from_le_bytes)
            .expect("last batch index");
        assert!(
            last >= committed,
            "round {round}: last batch {last} < returned {committed}"
        );
        assert!(
            last <= committed + 1,
            "round {round}: batch {last} beyond the one in flight"
        );
        assert_eq!(
            c.get(&crash_batch_key(round, last)).await.expect("get"),
            Some(crash_value(round, last + 1))
        );
        if last >= BATCH_WINDOW {
            assert_eq!(
                c.get(&crash_batch_key(round, last - BATCH_WINDOW))
                    .await
                    .expect("get"),
                None,
                "round {round}: half of batch {last} applied"
            );
        }
    }
    c.close().await.expect("close");
}

#[test]
fn killed_writer_loses_no_committed_write() {
    if std::env::var(WRITER_ENV).is_ok() {
        return;
    }
    let dir = TempDir::new("crash");
    let exe = std::env::current_exe().expect("test binary");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        | 1;
    let mut rounds: Vec<(u32, u64)> = Vec::new();
    for round in 0..6u32 {
        let fsync = round % 3 == 2;
        let child = Command::new(&exe)
            .args([WRITER_TEST, "--exact", "--nocapture", "--test-threads=1"])
            .env(
                WRITER_ENV,
                format!("{}|{round}|{fsync}", dir.path().display()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn writer");
        let mut child = KillOnDrop(child);
        let stdout = child.0.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel::<u64>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // The harness may print its own text before the first line on the same line.
                let index = line
                    .find("committed ")
                    .map(|at| &line[at + "committed ".len()..]);
                if let Some(n) = index.and_then(|n| n.trim().parse().ok()) {
                    if tx.send(n).is_err() {
                        break;
                    }
                }
            }
        });
        let first = match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(n) => n,
            Err(_) => {
                let _ = child.0.kill();
                let out = child.0.wait_with_output_lossy();
                panic!("round {round}: the writer committed nothing: {out}");
            }
        };
        // Kill at a random point of the write loop.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(seed % 300));
        if let Ok(Some(status)) = child.0.try_wait() {
            panic!("round {round}: the writer stopped by itself: {status}");
        }
        child.0.kill().expect("SIGKILL");
        let status = child.0.wait().expect("wait");
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(status.signal(), Some(9), "round {round}: {status}");
        }
        let _ = reader.join();
        let committed = rx.try_iter().fold(first, u64::max);
        rounds.push((round, committed));
        rt.block_on(verify_crash_rounds(dir.path(), &rounds));
    }
}

trait ChildOutput {
    fn wait_with_output_lossy(&mut self) -> String;
}

impl ChildOutput for Child {
    fn wait_with_output_lossy(&mut self) -> String {
        let _ = self.wait();
        let mut err = String::new();
        if let Some(mut e) = self.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut err);
        }
        err
    }
}
