//! `wirescan`: the receive side's own work on the wire form, one thread, no I/O: the
//! validating scan (`pipeline_api::wire::scan`) of a loadgen request, traces and logs, and
//! the item walk (`Batch::filter_items_wire`) reading three attributes of every span, as a
//! filter condition does; and the `transform` processor of the `otlp-transform` scenario over
//! a traces request, its first statement, its first two, and so on. Prints the best time per
//! item over `--rounds` rounds, so that a change to the scan, the walk or a statement can be
//! compared build against build on a busy machine, where the end-to-end scenarios' CPU
//! figures move by more than the change.
#![forbid(unsafe_code)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;

use bench::payload::{Encoding, Shape, Template};
use bench::Signal;
use clap::Parser;
use mimalloc::MiMalloc;
use opentelemetry_proto::tonic::trace::v1::Span;
use pipeline_api::wire_items::{Level, Parts, WireMap};
use pipeline_api::{Batch, ConsumeError, Consumer, RequestContext};
use processors::transform::{Config, StatementsEntry, TransformProcessor};

// the collector's allocator, so that the allocations of the walk and the statements cost
// what they cost there
#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

#[derive(Parser, Debug)]
#[command(
    name = "wirescan",
    about = "Time the wire scan, the item walk and the otlp-transform scenario's statements over a loadgen request, best of N rounds"
)]
struct Cli {
    /// Rounds; the best is printed.
    #[arg(long, default_value_t = 15)]
    rounds: usize,
    /// Requests scanned per round (the walk runs a quarter as many).
    #[arg(long, default_value_t = 4000)]
    requests: usize,
    /// A collector config whose `transform` processor is timed instead of the
    /// `otlp-transform` scenario's.
    #[arg(long)]
    transform_config: Option<std::path::PathBuf>,
    /// Only the `transform` processor's times (to profile it alone).
    #[arg(long)]
    transform_only: bool,
    /// Time only the whole statement list (with `--transform-only`, to profile the
    /// statements as the scenario runs them), not each statement's share
    #[arg(long)]
    whole: bool,
}

/// The best nanoseconds per item of `rounds` rounds of `requests` calls of `f`.
fn best(rounds: usize, requests: usize, items: usize, mut f: impl FnMut()) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..rounds.max(1) {
        let start = Instant::now();
        for _ in 0..requests {
            f();
        }
        let per_item = start.elapsed().as_nanos() as f64 / (requests.max(1) * items) as f64;
        best = best.min(per_item);
    }
    best
}

/// A loadgen request of `signal` (its default shape: 100 items, 12 attributes each).
fn request(signal: Signal) -> anyhow::Result<(Vec<u8>, usize)> {
    let shape = Shape {
        signal,
        ..Shape::default()
    };
    let template = Template::new(&shape, Encoding::Proto)?;
    let mut bytes = Vec::new();
    template.render(0, 1, &mut bytes);
    Ok((bytes, template.items()))
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let (bytes, items) = request(Signal::Traces)?;
    let bytes = bytes::Bytes::from(bytes);
    if !cli.transform_only {
        scan_and_walk(&cli, &bytes, items)?;
    }
    transform(&cli, &bytes, items)
}

/// The scan of a traces and a logs request, and the walk of the traces request.
fn scan_and_walk(cli: &Cli, traces: &bytes::Bytes, items: usize) -> anyhow::Result<()> {
    for (name, signal, scanned) in [
        ("traces", Signal::Traces, pipeline_api::Signal::Traces),
        ("logs", Signal::Logs, pipeline_api::Signal::Logs),
    ] {
        let (bytes, items) = request(signal)?;
        pipeline_api::wire::scan(scanned, &bytes)?;
        let ns = best(cli.rounds, cli.requests, items, || {
            black_box(pipeline_api::wire::scan(scanned, black_box(&bytes)).ok());
        });
        println!(
            "scan {name}: {} bytes an item, {ns:.1} ns an item",
            bytes.len() / items
        );
    }
    let signal = pipeline_api::Signal::Traces;
    let ns = best(cli.rounds, cli.requests / 4, items, || {
        let Ok(mut batch) = Batch::from_wire(signal, traces.clone(), RequestContext::default())
        else {
            return;
        };
        let mut found = 0usize;
        let mut read = |p: Parts<'_, '_, Span>| {
            if let Some(item) = p.item {
                for key in ["http.route", "db.system", "no.such.key"] {
                    item.attrs
                        .with_value(key, &mut |v| found += usize::from(v.is_some()));
                }
            }
            Ok(())
        };
        black_box(batch.filter_items_wire::<Span>(Level::Item, false, &mut read));
        black_box(found);
    });
    println!("scan and walk traces, three attributes read a span: {ns:.1} ns a span");
    Ok(())
}

/// The scenario whose `transform` processor is timed.
const TRANSFORM_SCENARIO: &str = include_str!("../../scenarios/otlp-transform.yaml");

/// Where the processor would hand its batches on: nowhere, `process_batch` is timed alone.
struct Discard;

#[pipeline_api::async_trait]
impl Consumer for Discard {
    async fn consume(&self, _batch: Batch) -> Result<(), ConsumeError> {
        Ok(())
    }
}

/// The `transform` processor of the `otlp-transform` scenario over the traces request as the
/// receiver hands it on (its wire form, scanned), then encoded as the exporter sends it: the
/// same work without the processor first, then the first statement, the first two, and so on
/// to all of them.
fn transform(cli: &Cli, bytes: &bytes::Bytes, items: usize) -> anyhow::Result<()> {
    let text = match &cli.transform_config {
        Some(path) => std::fs::read_to_string(path)?,
        None => TRANSFORM_SCENARIO.to_string(),
    };
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text)?;
    let section = doc
        .get("processors")
        .and_then(|p| p.get("transform"))
        .context("the config has no transform processor")?;
    let config: Config = serde_yaml_ng::from_value(section.clone())?;
    let signal = pipeline_api::Signal::Traces;
    let build = |config: &Config| {
        TransformProcessor::new(config, signal, Arc::new(Discard)).map_err(anyhow::Error::msg)
    };
    let mut out = Vec::with_capacity(bytes.len() * 2);
    let mut time = |processor: Option<&TransformProcessor>| -> anyhow::Result<f64> {
        // once outside the clock, so that a statement that fails is an error, not a time
        let mut batch = Batch::from_wire(signal, bytes.clone(), RequestContext::default())?;
        if let Some(p) = processor {
            p.process_batch(&mut batch).map_err(anyhow::Error::msg)?;
        }
        Ok(best(cli.rounds, (cli.requests / 16).max(1), items, || {
            let Ok(mut batch) = Batch::from_wire(signal, bytes.clone(), RequestContext::default())
            else {
                return;
            };
            if let Some(p) = processor {
                black_box(p.process_batch(&mut batch).ok());
            }
            out.clear();
            batch.encode_to(&mut out);
            black_box(&out);
        }))
    };
    // twice: the first rounds of a run are at times slower by half (the machine warming)
    let baseline = time(None)?.min(time(None)?);
    println!("transform baseline, the request in and its bytes out: {baseline:.1} ns a span");
    if cli.whole {
        let ns = time(Some(&build(&config)?))?;
        println!(
            "transform, all {} statements: {ns:.1} ns a span, {:.1} over the baseline",
            config.trace_statements.len(),
            ns - baseline
        );
        return Ok(());
    }
    // the first statement, the first two, …: what each adds where the ones before it ran
    let mut before = baseline;
    for (n, entry) in config.trace_statements.iter().enumerate() {
        let StatementsEntry::Statement(statement) = entry else {
            anyhow::bail!("the transform processor's statements are grouped");
        };
        let first = Config {
            trace_statements: config.trace_statements[..=n].to_vec(),
            ..config.clone()
        };
        let ns = time(Some(&build(&first)?))?;
        println!(
            "transform, statements 1 to {}: {ns:.1} ns a span, {:.1} over the baseline, \
             {:+.1} for statement {}: {statement}",
            n + 1,
            ns - baseline,
            ns - before,
            n + 1
        );
        before = ns;
    }
    Ok(())
}
