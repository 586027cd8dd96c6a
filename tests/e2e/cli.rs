//! The command line: validate, components, print-config, healthcheck, bad configs, and
//! every file in config-examples/.

use std::time::Duration;

use crate::harness::{run, temp_dir, Collector, Ports};

fn write(name: &str, text: &str) -> String {
    let path = temp_dir(name).join("config.yaml");
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn validate_accepts_every_config_example() {
    let dir = format!("{}/config-examples", env!("CARGO_MANIFEST_DIR"));
    let mut checked = 0;
    let mut stack = vec![std::path::PathBuf::from(&dir)];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            // Ferrotel configs are the YAML files named *config*.yaml (Compose files and
            // backend configs in the same folders are not ours)
            if !(name.ends_with(".yaml") || name.ends_with(".yml")) || !name.contains("config") {
                continue;
            }
            let (code, _, stderr) = run(&["validate", "--config", path.to_str().unwrap()]);
            assert_eq!(code, 0, "{}:\n{stderr}", path.display());
            checked += 1;
        }
    }
    assert!(
        checked >= 3,
        "config-examples holds at least three configs, found {checked}"
    );
}

#[test]
fn validate_prints_every_error_with_its_path_and_exits_1() {
    let path = write(
        "bad",
        r#"
receivers:
  otlp:
    protocols:
      grpc:
        endpiont: 0.0.0.0:4317
processors:
  batch:
    timeout: 5 s
exporters:
  debug:
    verbosity: loud
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch, batch]
      exporters: [debug, otlp/tempo]
"#,
    );
    let (code, stdout, stderr) = run(&["validate", "--config", &path]);
    assert_eq!(code, 1);
    assert!(stdout.is_empty());
    for needle in [
        r#"receivers::otlp::protocols::grpc::endpiont: unknown key "endpiont"; did you mean "endpoint"?"#,
        r#"processors::batch::timeout: invalid duration "5 s""#,
        r#"exporters::debug::verbosity: unknown metrics level "loud""#,
        r#"service::pipelines::traces::processors::1: references processor "batch" multiple times"#,
        r#"service::pipelines::traces::exporters::1: references exporter "otlp/tempo" which is not configured"#,
    ] {
        assert!(stderr.contains(needle), "missing {needle:?} in:\n{stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");

    // the same config makes the collector itself exit 1 without starting
    let (code, _, stderr) = run(&["--config", &path]);
    assert_eq!(code, 1);
    assert!(stderr.contains("endpiont"), "{stderr}");
}

#[test]
fn garbage_configs_never_panic() {
    for (name, text) in [
        ("notyaml", "receivers: [unclosed"),
        ("scalar", "42"),
        ("nulls", "receivers:\nexporters:\nservice:\n"),
        ("types", "receivers: 5\nservice: {pipelines: {traces: 3}}\n"),
        ("deep", "receivers: {otlp: {protocols: {grpc: {endpoint: [1, 2]}}}}\nservice: {pipelines: {}}\n"),
    ] {
        let path = write(name, text);
        let (code, _, stderr) = run(&["validate", "--config", &path]);
        assert_eq!(code, 1, "{name}: {stderr}");
        assert!(stderr.starts_with("Error: invalid configuration"), "{name}: {stderr}");
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    }
    let (code, _, stderr) = run(&["validate", "--config", "/nonexistent/ferrotel.yaml"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("cannot read config file \"/nonexistent/ferrotel.yaml\""),
        "{stderr}"
    );
}

#[test]
fn config_sources_merge_in_order_and_set_applies_last() {
    let a = write("merge-a", "receivers:\n  otlp:\n    protocols:\n      grpc:\nexporters:\n  debug:\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [debug]\n");
    let (code, stdout, stderr) = run(&[
        "print-config",
        "--config",
        &a,
        "--config=yaml:processors::batch::timeout: 1s",
        "--set=processors.batch.send_batch_size=10",
        "--set",
        "exporters.debug.verbosity=detailed",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let tree: serde_yaml_ng::Value = serde_yaml_ng::from_str(&stdout).unwrap();
    assert_eq!(tree["processors"]["batch"]["timeout"].as_str(), Some("1s"));
    assert_eq!(
        tree["processors"]["batch"]["send_batch_size"].as_u64(),
        Some(10)
    );
    assert_eq!(
        tree["exporters"]["debug"]["verbosity"].as_str(),
        Some("detailed")
    );
}

#[test]
fn env_expansion_in_the_binary() {
    let a = write(
        "env",
        "receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: ${env:E2E_HOST:-127.0.0.1}:${E2E_PORT}\n        response_headers:\n          x-token: ${env:E2E_TOKEN}\n          x-literal: $${literal} and $HOME\nexporters:\n  debug:\n    verbosity: ${env:E2E_VERBOSITY}\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [debug]\n",
    );
    let run_with = |verbosity: &str| {
        std::process::Command::new(crate::harness::BIN)
            .args(["print-config", "--mode", "unredacted", "--config", &a])
            .env("E2E_PORT", "4999")
            .env("E2E_TOKEN", "s3cret")
            .env("E2E_VERBOSITY", verbosity)
            .output()
            .unwrap()
    };
    let out = run_with("detailed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("endpoint: 127.0.0.1:4999"), "{stdout}");
    assert!(stdout.contains("x-token: s3cret"), "{stdout}");
    assert!(
        stdout.contains("x-literal: ${literal} and $HOME"),
        "$$ is a literal $, a bare $VAR stays: {stdout}"
    );
    assert!(stdout.contains("verbosity: detailed"), "{stdout}");
    // an expanded value is checked like a written one
    let out = run_with("shouty");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exporters::debug::verbosity"));
}

#[test]
fn print_config_redacts_secrets_by_default() {
    let a = write(
        "redact",
        "receivers:\n  otlp:\n    protocols:\n      http:\nexporters:\n  debug:\nextensions:\n  health_check:\n    endpoint: localhost:0\nservice:\n  extensions: [health_check]\n  pipelines:\n    logs:\n      receivers: [otlp]\n      exporters: [debug]\n",
    );
    let (code, stdout, _) = run(&[
        "print-config",
        "--config",
        &a,
        "--set=receivers.otlp.protocols.http.cors.allowed_headers=[x]",
    ]);
    assert_eq!(code, 0);
    assert!(stdout.contains("allowed_headers"), "{stdout}");
    let (code, stdout, _) = run(&["print-config", "--config", &a, "--format", "json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["extensions"]["health_check"]["endpoint"], "localhost:0");
}

#[test]
fn components_lists_canonical_names_and_aliases() {
    let (code, stdout, _) = run(&["components"]);
    assert_eq!(code, 0);
    let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(&stdout).unwrap();
    let names = |kind: &str| -> Vec<String> {
        v[kind]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(names("receivers").contains(&"otlp".to_string()));
    assert!(names("processors").contains(&"batch".to_string()));
    assert!(names("processors").contains(&"memory_limiter".to_string()));
    assert!(names("exporters").contains(&"debug".to_string()));
    assert!(names("extensions").contains(&"health_check".to_string()));
    assert!(names("connectors").contains(&"forward".to_string()));
    assert!(
        stdout.contains("name: logging"),
        "the deprecated alias is listed:\n{stdout}"
    );
    // Go v0.155.0's snake_case type names, beside the older spellings
    for alias in [
        "host_metrics",
        "resource_detection",
        "prometheus_remote_write",
        "file_log",
        "span_metrics",
        "otlp_http",
        "otlp_grpc",
    ] {
        assert!(
            stdout.contains(&format!("- name: {alias}\n          deprecated: false")),
            "{alias} listed as an alias:\n{stdout}"
        );
    }
    assert!(names("receivers").contains(&"hostmetrics".to_string()));
    assert!(names("receivers").contains(&"docker_stats".to_string()));
    assert!(names("processors").contains(&"resourcedetection".to_string()));
}

#[test]
fn version_and_help() {
    let (code, stdout, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert!(stdout.starts_with("ferrotel "), "{stdout}");
    let (code, stdout, _) = run(&["--help"]);
    assert_eq!(code, 0);
    for sub in [
        "validate",
        "components",
        "print-config",
        "healthcheck",
        "--config",
        "--set",
    ] {
        assert!(stdout.contains(sub), "{sub} in help:\n{stdout}");
    }
}

#[test]
fn healthcheck_subcommand_follows_the_health_endpoint() {
    let ports = Ports::new();
    let config = ports.fill(
        "extensions:\n  health_check:\n    endpoint: 127.0.0.1:HEALTH_PORT\nreceivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:HTTP_PORT\nexporters:\n  debug:\nservice:\n  extensions: [health_check]\n  telemetry:\n    metrics:\n      address: 127.0.0.1:METRICS_PORT\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [debug]\n",
    );
    let collector = Collector::start("health", &config);
    let endpoint = format!("http://127.0.0.1:{}/", ports.health);
    let (status, body) = crate::harness::http_get(&endpoint);
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["status"], "Server available");
    assert!(json["upSince"].as_str().unwrap().ends_with('Z'));
    let (code, _, _) = run(&["healthcheck", "--endpoint", &endpoint]);
    assert_eq!(code, 0);
    collector.stop();
    std::thread::sleep(Duration::from_millis(100));
    let (code, _, stderr) = run(&["healthcheck", "--endpoint", &endpoint]);
    assert_eq!(code, 1, "nothing listens any more: {stderr}");
}

/// `healthcheck --config` checks the endpoint and path of that config's health_check
/// extension; a wildcard host is reached on localhost.
#[test]
fn healthcheck_reads_the_endpoint_from_the_config() {
    let ports = Ports::new();
    let template = |endpoint: &str, path: &str| {
        ports.fill(&format!(
            "extensions:\n  health_check:\n    endpoint: {endpoint}\n    path: {path}\nreceivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:HTTP_PORT\nexporters:\n  debug:\nservice:\n  extensions: [health_check]\n  telemetry:\n    metrics:\n      address: 127.0.0.1:METRICS_PORT\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [debug]\n"
        ))
    };
    let running = template("127.0.0.1:HEALTH_PORT", "/health/status");
    let collector = Collector::start("health-config", &running);
    let check = |name: &str, config: &str| {
        let path = write(name, config);
        run(&["healthcheck", "--config", &path])
    };
    let (code, _, stderr) = check("hc-same", &running);
    assert_eq!(code, 0, "{stderr}");
    // what the running collector's config says, seen from inside its container
    let (code, _, stderr) = check(
        "hc-wild",
        &template("0.0.0.0:HEALTH_PORT", "/health/status"),
    );
    assert_eq!(code, 0, "0.0.0.0 is reached on localhost: {stderr}");
    let (code, _, stderr) = check("hc-empty", &template(":HEALTH_PORT", "/health/status"));
    assert_eq!(code, 0, "an empty host is localhost: {stderr}");
    // the path is the config's too: the default path is not served here
    let (code, _, stderr) = check("hc-path", &template("127.0.0.1:HEALTH_PORT", "/"));
    assert_eq!(code, 1, "{stderr}");
    // --endpoint wins over --config
    let endpoint = format!("http://127.0.0.1:{}/health/status", ports.health);
    let path = write("hc-both", &template("127.0.0.1:HEALTH_PORT", "/"));
    let (code, _, stderr) = run(&["healthcheck", "--config", &path, "--endpoint", &endpoint]);
    assert_eq!(code, 0, "{stderr}");
    // an invalid config is an error, not a check of some other endpoint
    let (code, _, stderr) = check("hc-bad", "extensions:\n  health_check:\n    endpiont: x\n");
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("the config is invalid"), "{stderr}");
    collector.stop();
    std::thread::sleep(Duration::from_millis(100));
    let (code, _, stderr) = check("hc-gone", &running);
    assert_eq!(code, 1, "nothing listens any more: {stderr}");
}

/// `validate` prints one line on success: the pipelines and the components they use.
#[test]
fn validate_prints_a_summary_on_success() {
    let path = write(
        "validate-summary",
        "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:0\nprocessors:\n  batch:\n  batch/unused:\nexporters:\n  debug:\n  nop:\nextensions:\n  health_check:\n    endpoint: 127.0.0.1:0\nservice:\n  extensions: [health_check]\n  pipelines:\n    traces:\n      receivers: [otlp]\n      processors: [batch]\n      exporters: [debug]\n    logs/x:\n      receivers: [otlp]\n      exporters: [debug, nop]\n",
    );
    let (code, stdout, stderr) = run(&["validate", "--config", &path]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout.trim(),
        "Config is valid: 2 pipeline(s) (traces, logs/x); receivers: otlp; processors: batch; exporters: debug, nop; extensions: health_check"
    );
}

/// An exporter's listener counts among the listen addresses checked for clashes.
#[test]
fn validate_refuses_an_exporter_listening_where_the_own_metrics_do() {
    let path = write(
        "exporter-listener-clash",
        r#"
receivers:
  otlp:
    protocols: {grpc: {endpoint: "127.0.0.1:4317"}}
exporters:
  prometheus:
    endpoint: "0.0.0.0:8889"
service:
  telemetry: {metrics: {address: "127.0.0.1:8889"}}
  pipelines:
    metrics: {receivers: [otlp], exporters: [prometheus]}
"#,
    );
    let (code, _, stderr) = run(&["validate", "--config", &path]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("is also used by exporters::prometheus::endpoint"),
        "{stderr}"
    );
}

/// Serve `body` over HTTP on loopback to at most `n` requests (`/missing` gets a 404).
fn serve(body: &'static str, n: usize) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(n) {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let read = s.read(&mut buf).unwrap_or(0);
            let request = String::from_utf8_lossy(&buf[..read]).to_string();
            let (status, text) = if request.starts_with("GET /missing") {
                ("404 Not Found", "")
            } else {
                ("200 OK", body)
            };
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            );
        }
    });
    port
}

/// `--config=http://…` and `${http://…}` references load over HTTP, as Go's http provider.
#[test]
fn configs_and_references_load_over_http() {
    const CONFIG: &str = "receivers:\n  otlp:\n    protocols: {grpc: {endpoint: \"127.0.0.1:4317\"}}\nexporters:\n  debug:\nservice:\n  pipelines:\n    traces: {receivers: [otlp], exporters: [debug]}\n";
    let port = serve(CONFIG, 8);
    let url = format!("http://127.0.0.1:{port}/config.yaml");
    let (code, stdout, stderr) = run(&["validate", "--config", &url]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("receivers: otlp"), "{stdout}");

    const PART: &str = "verbosity: detailed\n";
    let port = serve(PART, 8);
    let path = write(
        "http-reference",
        &CONFIG.replace(
            "  debug:\n",
            &format!("  debug: ${{http://127.0.0.1:{port}/debug.yaml}}\n"),
        ),
    );
    let (code, stdout, stderr) = run(&["print-config", "--config", &path]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("verbosity: detailed"), "{stdout}");

    let missing = format!("http://127.0.0.1:{port}/missing");
    let (code, _, stderr) = run(&["validate", "--config", &missing]);
    assert_eq!(code, 1);
    assert!(stderr.contains("404"), "{stderr}");
}

/// `--feature-gates` as Go parses it: the gates Ferrotel implements change what it does,
/// those it implements only at their default are refused when flipped, unknown ones warned.
#[test]
fn feature_gates_are_honoured_or_refused() {
    let no_pipelines = write(
        "gates-no-pipelines",
        "receivers:\n  otlp:\n    protocols: {grpc: {endpoint: \"127.0.0.1:4317\"}}\nservice:\n  pipelines: {}\n",
    );
    let (code, _, stderr) = run(&["validate", "--config", &no_pipelines]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("must have at least one pipeline"),
        "{stderr}"
    );
    let (code, _, stderr) = run(&[
        "validate",
        "--feature-gates=service.AllowNoPipelines",
        "--config",
        &no_pipelines,
    ]);
    assert_eq!(code, 0, "{stderr}");

    // merge-append: the component lists of several sources add up
    let base = write(
        "gates-append-a",
        "extensions:\n  health_check: {endpoint: \"127.0.0.1:0\"}\n  zpages: {endpoint: \"127.0.0.1:0\"}\nreceivers:\n  otlp:\n    protocols: {grpc: {endpoint: \"127.0.0.1:4317\"}}\nexporters:\n  debug:\n  nop:\nservice:\n  extensions: [health_check]\n  pipelines:\n    traces: {receivers: [otlp], exporters: [debug]}\n",
    );
    let extra = "yaml:service::extensions: [zpages]";
    let over = "yaml:service::pipelines::traces::exporters: [nop]";
    let print = |gates: &[&str]| {
        let mut args = vec![
            "print-config",
            "--format",
            "json",
            "--config",
            &base,
            "--config",
            extra,
            "--config",
            over,
        ];
        args.extend_from_slice(gates);
        let (code, stdout, stderr) = run(&args);
        assert_eq!(code, 0, "{stderr}");
        let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        (
            v["service"]["extensions"].clone(),
            v["service"]["pipelines"]["traces"]["exporters"].clone(),
        )
    };
    let (ext, exp) = print(&[]);
    assert_eq!(
        ext,
        serde_json::json!(["zpages"]),
        "lists are replaced by default"
    );
    assert_eq!(exp, serde_json::json!(["nop"]));
    let (ext, exp) = print(&["--feature-gates=confmap.enableMergeAppendOption"]);
    assert_eq!(ext, serde_json::json!(["health_check", "zpages"]));
    assert_eq!(exp, serde_json::json!(["debug", "nop"]));

    let (code, _, stderr) = run(&[
        "validate",
        "--feature-gates=telemetry.newPipelineTelemetry,-component.UseLocalHostAsDefaultHost",
        "--config",
        &no_pipelines,
    ]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("does not implement feature gate \"telemetry.newPipelineTelemetry\" on"),
        "{stderr}"
    );
    assert!(
        stderr.contains("is stable, can not be disabled"),
        "{stderr}"
    );
    let (code, _, stderr) = run(&[
        "validate",
        "--feature-gates=some.future.gate,service.AllowNoPipelines",
        "--config",
        &no_pipelines,
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("no such feature gate \"some.future.gate\""),
        "{stderr}"
    );
}

/// docs/configuration.md lists every feature gate Ferrotel knows.
#[test]
fn the_configuration_reference_lists_every_feature_gate() {
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/configuration.md"
    ))
    .unwrap();
    let missing: Vec<&str> = pipeline::feature_gates::GATES
        .iter()
        .map(|g| g.id)
        .filter(|id| !docs.contains(&format!("`{id}`")))
        .collect();
    assert!(missing.is_empty(), "{missing:?}");
}

/// Checks Go makes when it builds a component run for the components pipelines use only:
/// an unused `attributes` processor without actions is accepted (as Go accepts it), a used
/// one is refused with its path.
#[test]
fn build_time_checks_apply_to_used_components() {
    let template = "receivers:\n  otlp:\n    protocols: {grpc: {endpoint: \"127.0.0.1:4317\"}}\nprocessors:\n  attributes/unused: {}\n  attributes/bad:\n    actions: [{pattern: '(', action: delete}]\nexporters:\n  debug:\nservice:\n  pipelines:\n    traces: {receivers: [otlp], processors: [PROCESSORS], exporters: [debug]}\n";
    let ok = write("used-unused-ok", &template.replace("PROCESSORS", ""));
    let (code, _, stderr) = run(&["validate", "--config", &ok]);
    assert_eq!(code, 0, "{stderr}");
    let bad = write(
        "used-unused-bad",
        &template.replace("PROCESSORS", "attributes/bad, attributes/unused"),
    );
    let (code, _, stderr) = run(&["validate", "--config", &bad]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("processors::attributes/bad::actions::0::pattern:"),
        "{stderr}"
    );
    assert!(
        stderr.contains("processors::attributes/unused::actions: missing required field"),
        "{stderr}"
    );
}

/// `service.telemetry.logs.output_paths`: the logs go to stdout and a file (appended to), not
/// to stderr; JSON encoding there too; a file that cannot be opened stops the start.
#[test]
fn logs_go_to_the_output_paths() {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let dir = temp_dir("logs-output-paths");
    let file = dir.join("collector.log");
    std::fs::write(&file, "earlier line\n").unwrap();
    let ports = Ports::new();
    let config = write(
        "logs-output-paths.yaml",
        &ports.fill(&format!(
            "receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:HTTP_PORT\nexporters:\n  nop:\nservice:\n  telemetry:\n    logs:\n      encoding: json\n      output_paths: [stdout, {}]\n    metrics:\n      address: 127.0.0.1:METRICS_PORT\n  pipelines:\n    traces: {{receivers: [otlp], exporters: [nop]}}\n",
            file.display()
        )),
    );
    let mut child = Command::new(crate::harness::BIN)
        .args(["--config", &config])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&file)
        .unwrap()
        .contains("Everything is ready")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no ready line in the log file"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    assert!(status.success());
    let (mut out, mut err) = (String::new(), String::new());
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("earlier line\n"), "appended: {text}");
    let ready = text
        .lines()
        .find(|l| l.contains("Everything is ready"))
        .unwrap();
    let json: serde_json::Value = serde_json::from_str(ready).unwrap();
    assert_eq!(json["level"], "INFO", "{ready}");
    assert!(out.contains("Everything is ready"), "stdout: {out}");
    assert!(!err.contains("Everything is ready"), "stderr: {err}");

    let bad = write(
        "logs-output-paths-bad.yaml",
        &ports.fill("receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:HTTP_PORT\nexporters:\n  nop:\nservice:\n  telemetry:\n    logs:\n      output_paths: [/nonexistent-dir/x.log]\n  pipelines:\n    traces: {receivers: [otlp], exporters: [nop]}\n"),
    );
    let out = Command::new(crate::harness::BIN)
        .args(["--config", &bad])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("service::telemetry::logs::output_paths")
            && err.contains("/nonexistent-dir/x.log"),
        "{err}"
    );
}
