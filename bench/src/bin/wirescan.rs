//! `wirescan`: the receive side's own work on the wire form, one thread, no I/O: the
//! validating scan (`pipeline_api::wire::scan`) of a loadgen request, traces and logs, and
//! the item walk (`Batch::filter_items_wire`) reading three attributes of every span, as a
//! filter condition does. Prints the best time per item over `--rounds` rounds, so that a
//! change to the scan or the walk can be compared build against build on a busy machine,
//! where the end-to-end scenarios' CPU figures move by more than the change.
#![forbid(unsafe_code)]

use std::hint::black_box;
use std::time::Instant;

use bench::payload::{Encoding, Shape, Template};
use bench::Signal;
use clap::Parser;
use opentelemetry_proto::tonic::trace::v1::Span;
use pipeline_api::wire_items::{Level, Parts, WireMap};
use pipeline_api::{Batch, RequestContext};

#[derive(Parser, Debug)]
#[command(
    name = "wirescan",
    about = "Time the wire scan and the item walk of a loadgen request, best of N rounds"
)]
struct Cli {
    /// Rounds; the best is printed.
    #[arg(long, default_value_t = 15)]
    rounds: usize,
    /// Requests scanned per round (the walk runs a quarter as many).
    #[arg(long, default_value_t = 4000)]
    requests: usize,
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
    let (bytes, items) = request(Signal::Traces)?;
    let bytes = bytes::Bytes::from(bytes);
    let signal = pipeline_api::Signal::Traces;
    let ns = best(cli.rounds, cli.requests / 4, items, || {
        let Ok(mut batch) = Batch::from_wire(signal, bytes.clone(), RequestContext::default())
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
