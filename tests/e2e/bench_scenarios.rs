//! Every benchmark scenario of `bench/scenarios/`, run by `bench/run.sh` itself at a tiny
//! size, so the instruments keep working: the table row must show everything sent delivered
//! (or acknowledged, for the `nop` exporter), and the raw TCP ceiling run must deliver too.
//! No figure is asserted: speed is measured by the benchmarks, not by tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::temp_dir;

/// The instruments sit beside the `ferrotel` binary in the same target directory
/// (`cargo test --workspace` builds the `bench` package's binaries for its own tests).
fn instruments() -> PathBuf {
    // made once for the whole test binary: the tests that use it run in parallel, and each
    // making it anew emptied the directory under the other's running script
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let ferrotel = PathBuf::from(env!("CARGO_BIN_EXE_ferrotel"));
        let built = ferrotel.parent().unwrap();
        let dir = temp_dir("bench-bin");
        for name in ["ferrotel", "loadgen", "sink", "tcpcopy"] {
            let src = built.join(name);
            assert!(
                src.exists(),
                "{} is missing: run the workspace's tests (cargo test --workspace), which build the bench binaries",
                src.display()
            );
            std::os::unix::fs::symlink(&src, dir.join(name)).unwrap();
        }
        dir
    })
    .clone()
}

fn scenario_meta(config: &str, key: &str) -> Option<String> {
    config
        .lines()
        .find_map(|l| l.strip_prefix(&format!("# bench: {key}=")))
        .map(str::to_string)
}

/// The cores a script pins the collector and the load to: `(collector, load)`.
fn cores() -> (&'static str, &'static str) {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpus >= 2 {
        ("1", "0")
    } else {
        ("0", "0")
    }
}

/// Run a bench script to its end or `deadline`: whether it succeeded, and its whole output.
fn run_bounded(mut command: Command, limit: Duration) -> (bool, String) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bash runs");
    let deadline = Instant::now() + limit;
    let ok = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.success();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break false;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = child.wait_with_output().unwrap();
    let text = format!(
        "{}\n--- stderr\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (ok, text)
}

/// Run `bench/run.sh NAME` with a deadline; its whole output.
fn run_scenario(root: &Path, bin: &Path, name: &str, cache: &Path) -> (bool, String) {
    let (collector_cpu, load_cpu) = cores();
    let out_dir = temp_dir(&format!("bench-out-{name}"));
    let mut command = Command::new("bash");
    command
        .arg(root.join("bench/run.sh"))
        .arg(name)
        .env("BENCH_BIN", bin)
        .env("BENCH_CACHE", cache)
        .env("BENCH_OUT", &out_dir)
        .env("LOAD_SECONDS", "1")
        .env("LOADGEN_ARGS", "--rate 20000")
        .env("FILELOG_LINES", "3000")
        .env("IDLE_SECONDS", "1")
        .env("CEILING", "1")
        .env("COLLECTOR_CPU", collector_cpu)
        .env("LOAD_CPU", load_cpu);
    run_bounded(command, Duration::from_secs(150))
}

/// `A / B` and `(nop) A acked / B sent` from the row's last cell.
fn delivered_and_expected(cell: &str) -> (u64, u64) {
    let nums: Vec<u64> = cell
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(nums.len(), 2, "cell {cell:?}");
    (nums[0], nums[1])
}

#[test]
fn every_bench_scenario_runs_at_a_tiny_size_and_delivers_what_was_sent() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for tool in ["taskset", "curl", "jq"] {
        assert!(
            Command::new("sh")
                .arg("-c")
                .arg(format!("command -v {tool}"))
                .stdout(Stdio::null())
                .status()
                .unwrap()
                .success(),
            "bench/run.sh needs {tool} (.ci/run installs it)"
        );
    }
    let bin = instruments();
    let cache = temp_dir("bench-cache");
    let mut names: Vec<String> = std::fs::read_dir(root.join("bench/scenarios"))
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".yaml").map(str::to_string)
        })
        .collect();
    names.sort();
    assert!(names.len() >= 7, "{names:?}");
    let mut ceilings = 0;
    for name in &names {
        let config =
            std::fs::read_to_string(root.join(format!("bench/scenarios/{name}.yaml"))).unwrap();
        let kind = scenario_meta(&config, "kind").expect("every scenario names its kind");
        let (ok, out) = run_scenario(&root, &bin, name, &cache);
        assert!(ok, "{name}: run.sh failed:\n{out}");
        let row = out
            .lines()
            .rev()
            .find(|l| l.starts_with(&format!("| {name} |")))
            .unwrap_or_else(|| panic!("{name}: no table row:\n{out}"));
        let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
        assert_eq!(cells.len(), 5, "{name}: {row}");
        match kind.as_str() {
            "idle" => assert!(out.contains("idle RSS:"), "{name}:\n{out}"),
            "load" | "filelog" => {
                let (delivered, expected) = delivered_and_expected(cells[4]);
                assert!(expected > 0, "{name}: nothing was sent:\n{out}");
                assert_eq!(delivered, expected, "{name}: lost or duplicated:\n{out}");
                let per_s: f64 = cells[1].parse().unwrap();
                assert!(per_s > 0.0, "{name}: no rate:\n{out}");
            }
            other => panic!("{name}: unknown kind {other}"),
        }
        if let Some(line) = out.lines().find(|l| l.starts_with("raw TCP copy:")) {
            // "(X of Y acknowledged delivered; ..."
            let inner = line.split('(').nth(1).unwrap();
            let (x, y) = delivered_and_expected(inner.split(';').next().unwrap());
            assert!(y > 0 && x == y, "{name}: the relay lost items: {line}");
            assert!(out.contains("collector share:"), "{name}:\n{out}");
            ceilings += 1;
        }
    }
    assert!(
        ceilings >= 2,
        "the raw TCP ceiling ran for the passthrough scenarios"
    );
}

/// The kill-and-restart soak (`bench/src/bin/soak.rs`) at a tiny size: the agent killed 3
/// times and its gateway stopped once while log lines and spans flow; every line and every
/// acknowledged span arrives. The full size (20 kills) is run by hand, figures in
/// bench/README.md.
#[test]
fn the_soak_loses_nothing_at_a_tiny_size() {
    let ferrotel = PathBuf::from(env!("CARGO_BIN_EXE_ferrotel"));
    let soak = ferrotel.parent().unwrap().join("soak");
    assert!(
        soak.exists(),
        "{} is missing: run the workspace's tests (cargo test --workspace), which build the bench binaries",
        soak.display()
    );
    let dir = temp_dir("soak");
    let out = Command::new(&soak)
        .args(["--ferrotel"])
        .arg(&ferrotel)
        .args([
            "--kills",
            "3",
            "--gateway-stops",
            "1",
            "--lines-per-sec",
            "500",
            "--spans-per-sec",
            "500",
            "--max-gap",
            "2",
            "--deadline",
            "60",
            "--seed",
            "7",
            "--dir",
        ])
        .arg(dir.join("work"))
        .output()
        .expect("the soak runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("soak: PASS"), "{text}");
    assert!(text.contains("missing 0"), "{text}");
}

/// The overload scenario (`bench/overload.sh`) at a tiny size: 2 s at the sustainable rate,
/// 3 s at ten times it. Every refused request is refused with UNAVAILABLE or
/// RESOURCE_EXHAUSTED (none fails otherwise), memory stays under the memory_limiter's limit
/// and the sustainable rate is served again without a refusal. The full size is run by
/// hand, figures in bench/README.md.
#[test]
fn overload_at_a_tiny_size_refuses_with_a_status_and_recovers() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let bin = instruments();
    let (collector_cpu, load_cpu) = cores();
    let mut command = Command::new("bash");
    command
        .arg(root.join("bench/overload.sh"))
        .env("BIN_DIR", &bin)
        .env("BASELINE_SECONDS", "2")
        .env("OVERLOAD_SECONDS", "3")
        .env("COLLECTOR_CPU", collector_cpu)
        .env("LOAD_CPU", load_cpu);
    let (ok, text) = run_bounded(command, Duration::from_secs(120));
    assert!(
        ok && text.contains("\nOK"),
        "overload.sh failed or ran over 120 s:\n{text}"
    );
    let refused: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("overload: "))
        .and_then(|l| l.split("refused ").nth(1))
        .and_then(|r| r.split(',').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no overload line:\n{text}"));
    assert!(
        refused > 0,
        "ten times the sustainable rate was never refused:\n{text}"
    );
    let statuses = text
        .lines()
        .find_map(|l| l.strip_prefix("overload statuses: "))
        .unwrap_or_else(|| panic!("no statuses:\n{text}"));
    for part in statuses.trim_matches(|c| c == '{' || c == '}').split(',') {
        // loadgen's names: "gRPC Unavailable", "gRPC ResourceExhausted", ...
        let name = part.split(':').next().unwrap_or("").trim_matches('"');
        let code = name.to_uppercase().replace([' ', '_'], "");
        assert!(
            name.is_empty() || code.contains("UNAVAILABLE") || code.contains("RESOURCEEXHAUSTED"),
            "a refusal other than UNAVAILABLE/RESOURCE_EXHAUSTED: {statuses}\n{text}"
        );
    }
}
