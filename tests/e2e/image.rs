//! The Docker image and the Compose examples, checked without a Docker engine: the
//! Dockerfile says what the README says, and every Compose file parses and names only
//! images, folders and files that exist.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_yaml_ng::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One Dockerfile instruction: keyword (upper case) and its arguments, continuation lines
/// joined, comments dropped.
#[derive(Debug, Clone)]
struct Instruction {
    keyword: String,
    args: String,
}

struct Stage {
    from: String,
    name: Option<String>,
    instructions: Vec<Instruction>,
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn parse_dockerfile(text: &str) -> (Vec<Instruction>, Vec<Stage>) {
    let mut all = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        if !current.is_empty() && trimmed.starts_with('#') {
            continue; // a comment inside a continued instruction
        }
        if let Some(body) = trimmed.strip_suffix('\\') {
            current.push_str(body);
            current.push(' ');
            continue;
        }
        current.push_str(trimmed);
        let text = std::mem::take(&mut current);
        let (keyword, args) = text.split_once(char::is_whitespace).unwrap_or((&text, ""));
        all.push(Instruction {
            keyword: keyword.to_ascii_uppercase(),
            args: collapse(args),
        });
    }
    assert!(
        current.is_empty(),
        "the Dockerfile ends inside a continuation"
    );
    // ARGs before the first FROM are the defaults FROM lines may use
    let mut args: Vec<(String, String)> = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    for i in &all {
        match (i.keyword.as_str(), stages.last_mut()) {
            ("ARG", None) => {
                if let Some((k, v)) = i.args.split_once('=') {
                    args.push((k.to_string(), v.to_string()));
                }
            }
            ("FROM", _) => {
                let mut from = i.args.clone();
                for (k, v) in &args {
                    from = from.replace(&format!("${{{k}}}"), v);
                }
                let words: Vec<&str> = from.split_whitespace().collect();
                let name = match words.as_slice() {
                    [_, as_, name] if as_.eq_ignore_ascii_case("as") => Some(name.to_string()),
                    _ => None,
                };
                stages.push(Stage {
                    from: words[0].to_string(),
                    name,
                    instructions: Vec::new(),
                });
            }
            (_, Some(stage)) => stage.instructions.push(i.clone()),
            (k, None) => panic!("{k} before the first FROM"),
        }
    }
    (all, stages)
}

fn only<'a>(stage: &'a Stage, keyword: &str) -> &'a Instruction {
    let found: Vec<&Instruction> = stage
        .instructions
        .iter()
        .filter(|i| i.keyword == keyword)
        .collect();
    assert_eq!(found.len(), 1, "one {keyword} in the runtime stage");
    found[0]
}

/// The inline code spans of the README's "Docker image" section.
fn readme_docker_section() -> (String, Vec<String>) {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme
        .find("\n## Docker image")
        .expect("README has a \"## Docker image\" section");
    let rest = &readme[start + 1..];
    let end = rest[3..].find("\n## ").map(|e| e + 3).unwrap_or(rest.len());
    let section = rest[..end].to_string();
    let mut spans = Vec::new();
    for line in section.lines() {
        let mut parts = line.split('`');
        parts.next();
        while let (Some(code), Some(_)) = (parts.next(), parts.next()) {
            spans.push(code.to_string());
        }
    }
    (section, spans)
}

fn version_tuple(v: &str) -> Vec<u32> {
    v.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

#[test]
fn dockerfile_matches_the_readme() {
    let text = std::fs::read_to_string(root().join("Dockerfile")).expect("Dockerfile");
    let (_, stages) = parse_dockerfile(&text);
    assert!(stages.len() >= 2, "a multi-stage build");
    let build = &stages[0];
    let runtime = stages.last().unwrap();
    let (section, spans) = readme_docker_section();

    // the build stage: the official Rust image, at least the workspace's rust-version
    let cargo_toml = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let rust_version = cargo_toml
        .lines()
        .find_map(|l| l.trim().strip_prefix("rust-version = "))
        .map(|v| v.trim_matches('"').to_string())
        .expect("workspace rust-version");
    let tag = build.from.strip_prefix("rust:").unwrap_or_else(|| {
        panic!(
            "build stage from the official rust image, not {}",
            build.from
        )
    });
    let image_version = tag.split('-').next().unwrap();
    assert!(
        version_tuple(image_version) >= version_tuple(&rust_version),
        "rust:{tag} is older than rust-version {rust_version}"
    );
    assert!(
        section.contains(&format!("rust:{tag}")),
        "README names the build image rust:{tag}"
    );

    // the build stage's cargo command is the one the README gives
    let run = build
        .instructions
        .iter()
        .find(|i| i.keyword == "RUN" && i.args.contains("cargo build"))
        .expect("a RUN with cargo build in the build stage");
    let cargo = run.args[run.args.find("cargo build").unwrap()..]
        .split("&&")
        .next()
        .unwrap()
        .trim()
        .to_string();
    assert!(
        cargo.contains("--release") && cargo.contains("--locked"),
        "{cargo}"
    );
    let documented: Vec<&String> = spans
        .iter()
        .filter(|s| s.starts_with("cargo build"))
        .collect();
    assert_eq!(
        documented,
        vec![&cargo],
        "README's build command vs the Dockerfile's"
    );
    assert!(
        run.args.contains("target/release/ferrotel"),
        "the build copies out the release binary: {}",
        run.args
    );

    // the runtime stage: exactly what the README says, and what the Go image does
    assert_eq!(
        runtime.from, "scratch",
        "the runtime stage needs no registry"
    );
    assert_eq!(runtime.name.as_deref(), Some("runtime"));
    for keyword in ["ENTRYPOINT", "CMD", "EXPOSE", "USER"] {
        let i = only(runtime, keyword);
        let line = format!("{keyword} {}", i.args);
        assert!(
            spans.contains(&line),
            "README's Docker image section lacks `{line}`; it has {spans:?}"
        );
    }
    let json = |k: &str| -> Vec<String> {
        serde_json::from_str(&only(runtime, k).args)
            .unwrap_or_else(|e| panic!("{k} exec form: {e}"))
    };
    assert_eq!(json("ENTRYPOINT"), ["/ferrotel"]);
    assert_eq!(json("CMD"), ["--config=/etc/otelcol/config.yaml"]);
    let ports: BTreeSet<&str> = only(runtime, "EXPOSE").args.split(' ').collect();
    assert_eq!(ports, BTreeSet::from(["4317", "4318", "8888", "13133"]));
    assert_eq!(only(runtime, "USER").args.split(':').next(), Some("10001"));
    // the image's HEALTHCHECK runs the binary's own check against the config's endpoint
    let health = &only(runtime, "HEALTHCHECK").args;
    let cmd = &health[health.find("CMD ").expect("HEALTHCHECK ... CMD [...]") + 4..];
    let cmd: Vec<String> = serde_json::from_str(cmd).expect("HEALTHCHECK CMD exec form");
    assert_eq!(
        cmd,
        [
            "/ferrotel",
            "healthcheck",
            "--config=/etc/otelcol/config.yaml"
        ]
    );
    assert!(
        section.contains("HEALTHCHECK"),
        "README's Docker image section describes the HEALTHCHECK"
    );
    // every runtime file comes from the staged tree (ci/docker/stage-rootfs.sh), the
    // file_storage directory owned by the runtime user
    let copies: Vec<&Instruction> = runtime
        .instructions
        .iter()
        .filter(|i| i.keyword == "COPY")
        .collect();
    let copies: Vec<&str> = copies.iter().map(|c| c.args.as_str()).collect();
    assert_eq!(
        copies,
        [
            "--from=build /stage/rootfs/ /",
            "--from=build --chown=10001:10001 /stage/rootfs/var/lib/otelcol /var/lib/otelcol"
        ]
    );
    let stage = std::fs::read_to_string(root().join("ci/docker/stage-rootfs.sh")).unwrap();
    for needed in [
        "config-examples/default-config.yaml",
        "etc/otelcol/config.yaml",
        "/etc/ssl/certs/ca-certificates.crt",
        "/usr/share/zoneinfo",
        "otel:x:10001:10001",
        "var/lib/otelcol/file_storage",
        "ldd",
    ] {
        assert!(stage.contains(needed), "stage-rootfs.sh lacks {needed}");
    }
    assert!(root().join("config-examples/default-config.yaml").is_file());

    // Dockerfile.prebuilt: no registry at all, and the very same runtime stage
    let prebuilt =
        std::fs::read_to_string(root().join("Dockerfile.prebuilt")).expect("Dockerfile.prebuilt");
    let (_, pre_stages) = parse_dockerfile(&prebuilt);
    for st in &pre_stages {
        assert_eq!(st.from, "scratch", "Dockerfile.prebuilt pulls {}", st.from);
    }
    let pre_runtime = pre_stages.last().unwrap();
    let text = |st: &Stage| -> Vec<String> {
        st.instructions
            .iter()
            .map(|i| format!("{} {}", i.keyword, i.args))
            .collect()
    };
    assert_eq!(
        text(pre_runtime),
        text(runtime),
        "Dockerfile.prebuilt's runtime stage differs from Dockerfile's"
    );
    assert_eq!(pre_runtime.name, runtime.name);
    let labels: String = runtime
        .instructions
        .iter()
        .filter(|i| i.keyword == "LABEL")
        .map(|i| i.args.clone())
        .collect();
    for label in [
        "org.opencontainers.image.title",
        "org.opencontainers.image.description",
        "org.opencontainers.image.licenses",
        "org.opencontainers.image.version",
    ] {
        assert!(labels.contains(label), "OCI label {label} missing");
    }
    assert!(
        section.contains("docker build -t ferrotel ."),
        "README gives the docker build command"
    );
    assert!(
        section.contains(r#"["CMD", "/ferrotel", "healthcheck"]"#),
        "README shows the Compose healthcheck"
    );
    assert!(
        build.name.is_some(),
        "the build stage is named for COPY --from"
    );

    // .dockerignore keeps out target/ and .git/ but nothing the build needs
    let ignore = std::fs::read_to_string(root().join(".dockerignore")).expect(".dockerignore");
    let patterns: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert!(patterns.contains(&"target/") && patterns.contains(&".git/"));
    for needed in [
        "Cargo.toml",
        "Cargo.lock",
        "src/main.rs",
        "pipeline/src/lib.rs",
        "pipeline/api/src/lib.rs",
        "receivers/src/lib.rs",
        "processors/src/lib.rs",
        "exporters/src/lib.rs",
        "tests/e2e/main.rs",
        "config-examples/default-config.yaml",
        "ci/docker/stage-rootfs.sh",
    ] {
        for p in &patterns {
            let p = p.trim_end_matches('/');
            assert!(
                !(needed == p || needed.starts_with(&format!("{p}/"))),
                ".dockerignore pattern {p:?} excludes {needed}, which the build needs"
            );
        }
    }
}

/// A compose service's build context and Dockerfile, resolved from the compose folder.
fn build_paths(folder: &Path, build: &Value) -> (PathBuf, PathBuf) {
    let (context, dockerfile) = match build {
        Value::String(s) => (s.clone(), "Dockerfile".to_string()),
        Value::Mapping(_) => (
            build["context"].as_str().unwrap_or(".").to_string(),
            build["dockerfile"]
                .as_str()
                .unwrap_or("Dockerfile")
                .to_string(),
        ),
        other => panic!("build: {other:?}"),
    };
    let context = folder.join(context);
    let dockerfile = context.join(dockerfile);
    (context, dockerfile)
}

/// Every source of a Dockerfile's COPY/ADD (without --from) exists in the build context.
fn check_dockerfile_sources(context: &Path, dockerfile: &Path) {
    let text = std::fs::read_to_string(dockerfile)
        .unwrap_or_else(|e| panic!("{}: {e}", dockerfile.display()));
    let (all, _) = parse_dockerfile(&text);
    for i in all
        .iter()
        .filter(|i| i.keyword == "COPY" || i.keyword == "ADD")
    {
        if i.args.contains("--from=") {
            continue;
        }
        let words: Vec<&str> = i.args.split(' ').filter(|w| !w.starts_with("--")).collect();
        for src in &words[..words.len() - 1] {
            if *src == "." {
                continue;
            }
            assert!(
                context.join(src).exists(),
                "{}: COPY {src}: no such file in {}",
                dockerfile.display(),
                context.display()
            );
        }
    }
}

fn compose_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let base = root().join("config-examples/compose");
    for entry in std::fs::read_dir(&base).expect("config-examples/compose") {
        let dir = entry.unwrap().path();
        let file = dir.join("docker-compose.yaml");
        if file.is_file() {
            out.push(file);
        }
    }
    out.sort();
    out
}

#[test]
fn compose_examples_parse_and_name_only_what_exists() {
    let files = compose_files();
    let names: Vec<String> = files
        .iter()
        .map(|f| {
            f.parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert!(
        names.contains(&"lgtm".to_string()) && names.contains(&"docker-logs".to_string()),
        "{names:?}"
    );
    for file in &files {
        let folder = file.parent().unwrap();
        let text = std::fs::read_to_string(file).unwrap();
        let doc: Value = serde_yaml_ng::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not YAML: {e}", file.display()));
        let services = doc["services"]
            .as_mapping()
            .unwrap_or_else(|| panic!("{}: no services", file.display()));
        let declared_volumes: BTreeSet<String> = doc["volumes"]
            .as_mapping()
            .map(|m| {
                m.keys()
                    .filter_map(|k| k.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let mut ferrotel_services = 0;
        for (name, svc) in services {
            let name = name.as_str().unwrap();
            let here = format!("{}: service {name}", file.display());
            let image = svc["image"].as_str();
            let build = &svc["build"];
            assert!(
                image.is_some() || !build.is_null(),
                "{here}: neither image nor build"
            );
            if !build.is_null() {
                let (context, dockerfile) = build_paths(folder, build);
                assert!(
                    context.is_dir(),
                    "{here}: no build context {}",
                    context.display()
                );
                assert!(dockerfile.is_file(), "{here}: no {}", dockerfile.display());
                check_dockerfile_sources(&context, &dockerfile);
            } else {
                // pulled from a registry: pinned to a version
                let image = image.unwrap();
                let tag = image.rsplit_once(':').map(|(_, t)| t).unwrap_or("");
                assert!(
                    !tag.is_empty() && tag != "latest" && !tag.contains('/'),
                    "{here}: pin {image} to a version"
                );
                assert!(
                    !image.starts_with("ferrotel"),
                    "{here}: the ferrotel image is built here (build:), not pulled"
                );
            }
            let is_ferrotel = image.is_some_and(|i| i.starts_with("ferrotel"));
            let mut mounted_config = false;
            for v in svc["volumes"].as_sequence().into_iter().flatten() {
                let spec = v
                    .as_str()
                    .unwrap_or_else(|| panic!("{here}: long volume syntax"));
                let (src, rest) = spec.split_once(':').unwrap_or((spec, ""));
                let target = rest.split(':').next().unwrap_or("");
                if src.starts_with("./") || src.starts_with("../") {
                    let path = folder.join(src);
                    assert!(path.exists(), "{here}: mounts {src}, which does not exist");
                    let file_name = path.file_name().unwrap().to_string_lossy().into_owned();
                    let yaml = file_name.ends_with(".yaml") || file_name.ends_with(".yml");
                    if is_ferrotel && target == "/etc/otelcol/config.yaml" {
                        // named *config*.yaml, so tests/e2e/cli.rs validates it
                        assert!(yaml && file_name.contains("config"), "{here}: {file_name}");
                        mounted_config = true;
                    } else if yaml {
                        assert!(
                            !file_name.contains("config"),
                            "{here}: {file_name} is not a Ferrotel config: keep \"config\" out of its name"
                        );
                    }
                } else if !src.starts_with('/') {
                    assert!(
                        declared_volumes.contains(src),
                        "{here}: named volume {src} is not declared under volumes:"
                    );
                }
            }
            if is_ferrotel {
                ferrotel_services += 1;
                assert!(
                    mounted_config,
                    "{here}: mounts its config at /etc/otelcol/config.yaml"
                );
                let test: Vec<&str> = svc["healthcheck"]["test"]
                    .as_sequence()
                    .map(|s| s.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                assert_eq!(test, ["CMD", "/ferrotel", "healthcheck"], "{here}");
                let (context, _) = build_paths(folder, build);
                assert_eq!(
                    context.canonicalize().unwrap(),
                    root().canonicalize().unwrap(),
                    "{here}: built from the repository root"
                );
            }
        }
        assert_eq!(
            ferrotel_services,
            1,
            "{}: one Ferrotel service",
            file.display()
        );
        let readme = std::fs::read_to_string(folder.join("README.md"))
            .unwrap_or_else(|_| panic!("{}: no README.md", folder.display()));
        assert!(
            readme.contains("LogQL"),
            "{}: README names the queries",
            folder.display()
        );
    }
}

/// Every PromQL expression of a Grafana dashboard's panels.
pub fn dashboard_exprs(dash: &serde_json::Value) -> Vec<String> {
    dash["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t["expr"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn lgtm_dashboard_and_provisioning_are_well_formed() {
    let lgtm = root().join("config-examples/compose/lgtm");
    let dash: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(lgtm.join("grafana/dashboards/ferrotel-dashboard.json")).unwrap(),
    )
    .expect("dashboard JSON");
    let exprs = dashboard_exprs(&dash);
    assert!(exprs.len() >= 10, "{exprs:?}");
    // only the Go collector's names, without the _total suffix Ferrotel does not add
    for e in &exprs {
        assert!(e.contains("otelcol_"), "{e}");
        assert!(!e.contains("_total"), "{e}");
        // rate() drops the metric name: over several names, the series of one component
        // collide ("vector cannot contain metrics with the same labelset"; tests/e2e/
        // dashboard.rs runs every query in Prometheus)
        assert!(!e.contains("{__name__=~"), "one query per metric name: {e}");
    }
    // the flask app records milliseconds (the SDK's default buckets are for ms) and takes
    // its address from the environment
    let flask = std::fs::read_to_string(lgtm.join("apps/flask/app.py")).unwrap();
    assert!(flask.contains(r#"unit="ms""#), "flask histogram unit");
    assert!(flask.matches("* 1000").count() >= 2, "flask records ms");
    assert!(
        flask.contains(r#"os.environ.get("PORT""#) && flask.contains(r#"os.environ.get("HOST""#)
    );
    let datasources =
        std::fs::read_to_string(lgtm.join("grafana/provisioning/datasources/datasources.yaml"))
            .unwrap();
    // trace → logs links: one copy of each line (the `pipeline` label), and no
    // service.name tag from Jaeger
    for q in datasources
        .lines()
        .filter(|l| l.trim_start().starts_with("query:"))
    {
        assert!(q.contains(r#"pipeline="ferrotel-loki""#), "{q}");
    }
    let readme = std::fs::read_to_string(lgtm.join("README.md")).unwrap();
    for query in [
        "TraceQL",
        "LogQL",
        "PromQL",
        "ferrotel-dashboard.json",
        "15983",
    ] {
        assert!(readme.contains(query), "lgtm README lacks {query}");
    }
    let ds: Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(lgtm.join("grafana/provisioning/datasources/datasources.yaml"))
            .unwrap(),
    )
    .unwrap();
    let types: BTreeSet<&str> = ds["datasources"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|d| d["type"].as_str())
        .collect();
    assert_eq!(
        types,
        BTreeSet::from(["jaeger", "loki", "prometheus", "tempo"])
    );
}
