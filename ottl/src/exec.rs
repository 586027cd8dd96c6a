//! Running OTTL over OTLP requests: visiting every item of a context with a [`Ctx`], and
//! dropping the items a predicate selects.

use pipeline_api::proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use pipeline_api::proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use pipeline_api::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use pipeline_api::proto::tonic::logs::v1::{ResourceLogs, ScopeLogs};
use pipeline_api::proto::tonic::metrics::v1::{metric, Metric, ResourceMetrics, ScopeMetrics};
use pipeline_api::proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};

use pipeline_api::proto::tonic::logs::v1::LogRecord;
use pipeline_api::proto::tonic::trace::v1::Span;
use pipeline_api::wire_items::{
    DataPoint, ItemRef, Level, LogParts, MetricParts, Parts, PointParts, SpanParts,
};
use pipeline_api::{Batch, Signal};

use crate::context::{ContextKind, Ctx, Item, MetricHeader, Point, Siblings, WirePoint};

/// What a visitor does with one context.
pub type Visit<'f> = dyn FnMut(&mut Ctx<'_>) -> Result<(), String> + 'f;
/// A drop predicate: true drops the item.
pub type Pred<'f> = dyn FnMut(&Ctx<'_>) -> Result<bool, String> + 'f;

/// Call `f` for every item of `kind` (resource, scope, span or span event).
pub fn visit_traces(
    req: &mut ExportTraceServiceRequest,
    kind: ContextKind,
    f: &mut Visit<'_>,
) -> Result<(), String> {
    for rs in &mut req.resource_spans {
        let ResourceSpans {
            resource,
            scope_spans,
            schema_url,
            ..
        } = rs;
        if kind == ContextKind::Resource {
            f(&mut Ctx::new(resource, schema_url))?;
            continue;
        }
        for ss in scope_spans.iter_mut() {
            let ScopeSpans {
                scope,
                spans,
                schema_url: surl,
                ..
            } = ss;
            if kind == ContextKind::Scope {
                f(&mut Ctx::new(resource, schema_url).with_scope(scope, surl))?;
                continue;
            }
            for span in spans.iter_mut() {
                if kind == ContextKind::Span {
                    f(&mut Ctx::new(resource, schema_url)
                        .with_scope(scope, surl)
                        .with_item(Item::Span(span)))?;
                    continue;
                }
                let mut events = std::mem::take(&mut span.events);
                let mut res = Ok(());
                // Go's transform does not give its span event contexts an index:
                // `event_index` reads as nothing there (the oracle shows it).
                for event in events.iter_mut() {
                    let item = Item::SpanEvent {
                        span: &mut *span,
                        event,
                        index: -1,
                    };
                    res = f(&mut Ctx::new(resource, schema_url)
                        .with_scope(scope, surl)
                        .with_item(item));
                    if res.is_err() {
                        break;
                    }
                }
                span.events = events;
                res?;
            }
        }
    }
    Ok(())
}

/// Call `f` for every item of `kind` (resource, scope, span or log) of a trace or logs
/// batch still in its wire form, keeping it in that form: resources and scopes are decoded,
/// a span's or log record's fields but its lists, and of its attributes only what the
/// statements read or write ([`pipeline_api::wire_items`]). `None` when the batch is not a
/// trace or logs batch in the wire form, the context is another or the bytes cannot be
/// walked: nothing was changed and the caller visits the decoded form with
/// [`visit_traces`] or [`visit_logs`].
pub fn visit_wire(
    batch: &mut Batch,
    kind: ContextKind,
    f: &mut Visit<'_>,
) -> Option<Result<(), String>> {
    let level = wire_level(batch.signal(), kind)?;
    match batch.signal() {
        Signal::Traces => batch.edit_items_wire(level, &mut |parts: SpanParts<'_, '_>| {
            f(&mut wire_ctx(parts, span_item).0)
        }),
        Signal::Logs => batch.edit_items_wire(level, &mut |parts: LogParts<'_, '_>| {
            f(&mut wire_ctx(parts, log_item).0)
        }),
        Signal::Metrics if kind == ContextKind::DataPoint => batch
            .edit_items_wire(level, &mut |parts: PointParts<'_, '_>| {
                f(&mut point_ctx(parts).0)
            }),
        Signal::Metrics => batch.edit_items_wire(level, &mut |parts: MetricParts<'_, '_>| {
            f(&mut wire_ctx(parts, metric_item).0)
        }),
    }
}

/// As [`filter_traces`] or [`filter_logs`] over a trace or logs batch still in its wire
/// form, which stays in it ([`pipeline_api::wire_items::filter_items`]); the items
/// dropped. Scope and resource entries left without items go at the span or log context,
/// and at the resource context with `prune` (the filter's last rule: a decoded request is
/// pruned after all of them). `None` as for [`visit_wire`]: nothing was changed and the
/// caller filters the decoded form.
pub fn filter_wire(
    batch: &mut Batch,
    kind: ContextKind,
    prune: bool,
    pred: &mut Pred<'_>,
) -> Option<Result<usize, String>> {
    let level = match wire_level(batch.signal(), kind)? {
        // the filter has no scope context
        Level::Scope => return None,
        l => l,
    };
    // as `filter_traces` and `filter_logs` do at the item context
    let prune = prune || level == Level::Item;
    match batch.signal() {
        Signal::Traces => batch.filter_items_wire(level, prune, &mut |parts: SpanParts<'_, '_>| {
            let (ctx, drop) = wire_ctx(parts, span_item);
            *drop = pred(&ctx)?;
            Ok(())
        }),
        Signal::Logs => batch.filter_items_wire(level, prune, &mut |parts: LogParts<'_, '_>| {
            let (ctx, drop) = wire_ctx(parts, log_item);
            *drop = pred(&ctx)?;
            Ok(())
        }),
        Signal::Metrics if kind == ContextKind::DataPoint => {
            batch.filter_items_wire(level, prune, &mut |parts: PointParts<'_, '_>| {
                let (ctx, drop) = point_ctx(parts);
                *drop = pred(&ctx)?;
                Ok(())
            })
        }
        Signal::Metrics => {
            batch.filter_items_wire(level, prune, &mut |parts: MetricParts<'_, '_>| {
                let (ctx, drop) = wire_ctx(parts, metric_item);
                *drop = pred(&ctx)?;
                Ok(())
            })
        }
    }
}

/// The walk's level of a context of `signal`'s requests.
fn wire_level(signal: Signal, kind: ContextKind) -> Option<Level> {
    match (signal, kind) {
        (_, ContextKind::Resource) => Some(Level::Resource),
        (_, ContextKind::Scope) => Some(Level::Scope),
        (Signal::Traces, ContextKind::Span)
        | (Signal::Logs, ContextKind::Log)
        | (Signal::Metrics, ContextKind::Metric | ContextKind::DataPoint) => Some(Level::Item),
        _ => None,
    }
}

/// The context of a span the wire walk hands over, as [`visit_wire`] builds it, for a
/// caller that walks a batch itself (and reads the walk's place or the span's lists first).
pub fn span_ctx<'p>(parts: SpanParts<'p, '_>) -> Ctx<'p> {
    wire_ctx(parts, span_item).0
}

/// The context of a log record the wire walk hands over, as [`span_ctx`] for spans.
pub fn log_ctx<'p>(parts: LogParts<'p, '_>) -> Ctx<'p> {
    wire_ctx(parts, log_item).0
}

fn span_item<'p>(item: ItemRef<'p, '_, Span>) -> Item<'p> {
    Item::WireSpan {
        span: item.item,
        attrs: item.attrs,
        decoded: item.decoded,
        changed: item.changed,
    }
}

fn log_item<'p>(item: ItemRef<'p, '_, LogRecord>) -> Item<'p> {
    Item::WireLog {
        log: item.item,
        attrs: item.attrs,
        decoded: item.decoded,
        changed: item.changed,
    }
}

fn metric_item<'p>(item: ItemRef<'p, '_, Metric>) -> Item<'p> {
    Item::WireMetric {
        metric: item.item,
        attrs: item.attrs,
        decoded: item.decoded,
        changed: item.changed,
    }
}

/// The context of a data point the walk hands over, with its metric, and its drop flag.
fn point_ctx<'p>(parts: Parts<'p, '_, DataPoint>) -> (Ctx<'p>, &'p mut bool) {
    let mut ctx = Ctx::new(parts.resource, parts.resource_schema_url);
    if let Some((scope, url)) = parts.scope {
        ctx = ctx.with_scope(scope, url);
    }
    if let (Some(i), Some(metric)) = (parts.item, parts.metric) {
        let header = MetricHeader::of(metric.data.as_ref());
        let point = match i.item {
            DataPoint::Number(p) => Point::Number(p),
            DataPoint::Histogram(p) => Point::Histogram(p),
            DataPoint::ExpHistogram(p) => Point::ExpHistogram(p),
            DataPoint::Summary(p) => Point::Summary(p),
        };
        ctx = ctx.with_item(Item::DataPoint {
            metric,
            header,
            point,
            siblings: (&[], &[]),
            wire: Some(WirePoint {
                attrs: i.attrs,
                decoded: i.decoded,
                changed: i.changed,
            }),
        });
    }
    (ctx, parts.drop)
}

/// The context of what the walk hands over, and its drop flag.
fn wire_ctx<'p, 'a: 'p, T>(
    parts: Parts<'p, 'a, T>,
    item: impl FnOnce(ItemRef<'p, 'a, T>) -> Item<'p>,
) -> (Ctx<'p>, &'p mut bool) {
    let mut ctx = Ctx::new(parts.resource, parts.resource_schema_url);
    if let Some((scope, url)) = parts.scope {
        ctx = ctx.with_scope(scope, url);
    }
    if let Some(i) = parts.item {
        ctx = ctx.with_item(item(i));
    }
    (ctx, parts.drop)
}

/// Call `f` for every item of `kind` (resource, scope or log).
pub fn visit_logs(
    req: &mut ExportLogsServiceRequest,
    kind: ContextKind,
    f: &mut Visit<'_>,
) -> Result<(), String> {
    for rl in &mut req.resource_logs {
        let ResourceLogs {
            resource,
            scope_logs,
            schema_url,
            ..
        } = rl;
        if kind == ContextKind::Resource {
            f(&mut Ctx::new(resource, schema_url))?;
            continue;
        }
        for sl in scope_logs.iter_mut() {
            let ScopeLogs {
                scope,
                log_records,
                schema_url: surl,
                ..
            } = sl;
            if kind == ContextKind::Scope {
                f(&mut Ctx::new(resource, schema_url).with_scope(scope, surl))?;
                continue;
            }
            for log in log_records.iter_mut() {
                f(&mut Ctx::new(resource, schema_url)
                    .with_scope(scope, surl)
                    .with_item(Item::Log(log)))?;
            }
        }
    }
    Ok(())
}

fn visit_points(
    m: &mut Metric,
    data: &mut Option<metric::Data>,
    header: MetricHeader,
    mut f: impl FnMut(Item<'_>) -> Result<(), String>,
) -> Result<(), String> {
    let none: Siblings<'_> = (&[], &[]);
    match data {
        None => Ok(()),
        Some(metric::Data::Gauge(g)) => g.data_points.iter_mut().try_for_each(|p| {
            f(Item::DataPoint {
                metric: &mut *m,
                header,
                point: Point::Number(p),
                siblings: none,
                wire: None,
            })
        }),
        Some(metric::Data::Sum(s)) => s.data_points.iter_mut().try_for_each(|p| {
            f(Item::DataPoint {
                metric: &mut *m,
                header,
                point: Point::Number(p),
                siblings: none,
                wire: None,
            })
        }),
        Some(metric::Data::Histogram(h)) => h.data_points.iter_mut().try_for_each(|p| {
            f(Item::DataPoint {
                metric: &mut *m,
                header,
                point: Point::Histogram(p),
                siblings: none,
                wire: None,
            })
        }),
        Some(metric::Data::ExponentialHistogram(h)) => h.data_points.iter_mut().try_for_each(|p| {
            f(Item::DataPoint {
                metric: &mut *m,
                header,
                point: Point::ExpHistogram(p),
                siblings: none,
                wire: None,
            })
        }),
        Some(metric::Data::Summary(s)) => {
            for i in 0..s.data_points.len() {
                let (before, rest) = s.data_points.split_at_mut(i);
                let Some((p, after)) = rest.split_first_mut() else {
                    break;
                };
                f(Item::DataPoint {
                    metric: &mut *m,
                    header,
                    point: Point::Summary(p),
                    siblings: (before, after),
                    wire: None,
                })?;
            }
            Ok(())
        }
    }
}

/// Run `f` on one context and keep the metrics it appended.
fn visit_one(f: &mut Visit<'_>, mut ctx: Ctx<'_>, added: &mut Vec<Metric>) -> Result<(), String> {
    let r = f(&mut ctx);
    added.append(&mut ctx.added_metrics);
    r
}

/// How many metrics the statements of one visit may append to a scope, per metric it had:
/// Go visits appended metrics too, so `copy_metric()` without a `where` clause would copy
/// its own copies until memory runs out.
pub const MAX_ADDED_METRICS_PER_METRIC: usize = 100;

/// Call `f` for every item of `kind` (resource, scope, metric or data point). Metrics the
/// statements append (`copy_metric`...) go to the end of their scope's list and are visited
/// in turn, as in Go.
pub fn visit_metrics(
    req: &mut ExportMetricsServiceRequest,
    kind: ContextKind,
    f: &mut Visit<'_>,
) -> Result<(), String> {
    for rm in &mut req.resource_metrics {
        let ResourceMetrics {
            resource,
            scope_metrics,
            schema_url,
            ..
        } = rm;
        if kind == ContextKind::Resource {
            f(&mut Ctx::new(resource, schema_url))?;
            continue;
        }
        for sm in scope_metrics.iter_mut() {
            let ScopeMetrics {
                scope,
                metrics,
                schema_url: surl,
                ..
            } = sm;
            if kind == ContextKind::Scope {
                f(&mut Ctx::new(resource, schema_url).with_scope(scope, surl))?;
                continue;
            }
            let limit = metrics
                .len()
                .saturating_mul(MAX_ADDED_METRICS_PER_METRIC + 1)
                .max(MAX_ADDED_METRICS_PER_METRIC);
            let mut added = Vec::new();
            let mut k = 0;
            while k < metrics.len() {
                let m = &mut metrics[k];
                let res = if kind == ContextKind::Metric {
                    visit_one(
                        f,
                        Ctx::new(resource, schema_url)
                            .with_scope(scope, surl)
                            .with_item(Item::Metric(m)),
                        &mut added,
                    )
                } else {
                    let header = MetricHeader::of(m.data.as_ref());
                    let mut data = m.data.take();
                    let res = visit_points(m, &mut data, header, |item| {
                        visit_one(
                            f,
                            Ctx::new(resource, schema_url)
                                .with_scope(scope, surl)
                                .with_item(item),
                            &mut added,
                        )
                    });
                    m.data = data;
                    res
                };
                metrics.append(&mut added);
                res?;
                if metrics.len() > limit {
                    return Err(format!(
                        "the statements appended more than {MAX_ADDED_METRICS_PER_METRIC} metrics per metric of a scope (a copy_metric without a where clause copies its own copies)"
                    ));
                }
                k += 1;
            }
        }
    }
    Ok(())
}

/// Run `pred` inside `retain`: the first error stops evaluation (the rest is kept).
fn keep(err: &mut Option<String>, r: impl FnOnce() -> Result<bool, String>) -> bool {
    if err.is_some() {
        return true;
    }
    match r() {
        Ok(drop) => !drop,
        Err(e) => {
            *err = Some(e);
            true
        }
    }
}

/// Drop the items of `kind` (resource, span or span event) that `pred` selects; resources
/// and scopes left without spans go too. Returns the spans dropped.
pub fn filter_traces(
    req: &mut ExportTraceServiceRequest,
    kind: ContextKind,
    pred: &mut Pred<'_>,
) -> Result<usize, String> {
    let mut err = None;
    let mut dropped = 0;
    req.resource_spans.retain_mut(|rs| {
        let ResourceSpans {
            resource,
            scope_spans,
            schema_url,
            ..
        } = rs;
        if kind == ContextKind::Resource {
            let k = keep(&mut err, || pred(&Ctx::new(resource, schema_url)));
            if !k {
                dropped += scope_spans.iter().map(|s| s.spans.len()).sum::<usize>();
            }
            return k;
        }
        scope_spans.retain_mut(|ss| {
            let ScopeSpans {
                scope,
                spans,
                schema_url: surl,
                ..
            } = ss;
            if kind == ContextKind::Span {
                let before = spans.len();
                spans.retain_mut(|span| {
                    keep(&mut err, || {
                        pred(
                            &Ctx::new(resource, schema_url)
                                .with_scope(scope, surl)
                                .with_item(Item::Span(span)),
                        )
                    })
                });
                dropped += before - spans.len();
                return !spans.is_empty();
            }
            for span in spans.iter_mut() {
                let mut events = std::mem::take(&mut span.events);
                let mut i = 0;
                events.retain_mut(|event| {
                    let item = Item::SpanEvent {
                        span: &mut *span,
                        event,
                        index: i,
                    };
                    i += 1;
                    keep(&mut err, || {
                        pred(
                            &Ctx::new(resource, schema_url)
                                .with_scope(scope, surl)
                                .with_item(item),
                        )
                    })
                });
                span.events = events;
            }
            true
        });
        kind != ContextKind::Span || !scope_spans.is_empty()
    });
    match err {
        Some(e) => Err(e),
        None => Ok(dropped),
    }
}

/// Drop the items of `kind` (resource or log) that `pred` selects; resources and scopes
/// left without logs go too. Returns the logs dropped.
pub fn filter_logs(
    req: &mut ExportLogsServiceRequest,
    kind: ContextKind,
    pred: &mut Pred<'_>,
) -> Result<usize, String> {
    let mut err = None;
    let mut dropped = 0;
    req.resource_logs.retain_mut(|rl| {
        let ResourceLogs {
            resource,
            scope_logs,
            schema_url,
            ..
        } = rl;
        if kind == ContextKind::Resource {
            let k = keep(&mut err, || pred(&Ctx::new(resource, schema_url)));
            if !k {
                dropped += scope_logs
                    .iter()
                    .map(|s| s.log_records.len())
                    .sum::<usize>();
            }
            return k;
        }
        scope_logs.retain_mut(|sl| {
            let ScopeLogs {
                scope,
                log_records,
                schema_url: surl,
                ..
            } = sl;
            let before = log_records.len();
            log_records.retain_mut(|log| {
                keep(&mut err, || {
                    pred(
                        &Ctx::new(resource, schema_url)
                            .with_scope(scope, surl)
                            .with_item(Item::Log(log)),
                    )
                })
            });
            dropped += before - log_records.len();
            !log_records.is_empty()
        });
        !scope_logs.is_empty()
    });
    match err {
        Some(e) => Err(e),
        None => Ok(dropped),
    }
}

/// The number of data points of a metric.
pub fn point_count(m: &Metric) -> usize {
    match &m.data {
        None => 0,
        Some(metric::Data::Gauge(g)) => g.data_points.len(),
        Some(metric::Data::Sum(s)) => s.data_points.len(),
        Some(metric::Data::Histogram(h)) => h.data_points.len(),
        Some(metric::Data::ExponentialHistogram(h)) => h.data_points.len(),
        Some(metric::Data::Summary(s)) => s.data_points.len(),
    }
}

/// Drop the items of `kind` (resource, metric or data point) that `pred` selects; metrics
/// left without data points, and scopes and resources left empty, go too. Returns the data
/// points dropped.
pub fn filter_metrics(
    req: &mut ExportMetricsServiceRequest,
    kind: ContextKind,
    pred: &mut Pred<'_>,
) -> Result<usize, String> {
    let mut err = None;
    let mut dropped = 0;
    req.resource_metrics.retain_mut(|rm| {
        let ResourceMetrics {
            resource,
            scope_metrics,
            schema_url,
            ..
        } = rm;
        if kind == ContextKind::Resource {
            let k = keep(&mut err, || pred(&Ctx::new(resource, schema_url)));
            if !k {
                dropped += scope_metrics
                    .iter()
                    .flat_map(|s| &s.metrics)
                    .map(point_count)
                    .sum::<usize>();
            }
            return k;
        }
        scope_metrics.retain_mut(|sm| {
            let ScopeMetrics {
                scope,
                metrics,
                schema_url: surl,
                ..
            } = sm;
            metrics.retain_mut(|m| {
                if kind == ContextKind::Metric {
                    let n = point_count(m);
                    let k = keep(&mut err, || {
                        pred(
                            &Ctx::new(resource, schema_url)
                                .with_scope(scope, surl)
                                .with_item(Item::Metric(m)),
                        )
                    });
                    if !k {
                        dropped += n;
                    }
                    return k;
                }
                let header = MetricHeader::of(m.data.as_ref());
                let mut data = m.data.take();
                macro_rules! points {
                    ($pts:expr, $variant:ident) => {{
                        let before = $pts.len();
                        $pts.retain_mut(|p| {
                            let item = Item::DataPoint {
                                metric: &mut *m,
                                header,
                                point: Point::$variant(p),
                                siblings: (&[], &[]),
                                wire: None,
                            };
                            keep(&mut err, || {
                                pred(
                                    &Ctx::new(resource, schema_url)
                                        .with_scope(scope, surl)
                                        .with_item(item),
                                )
                            })
                        });
                        dropped += before - $pts.len();
                        !$pts.is_empty()
                    }};
                }
                let any_left = match &mut data {
                    None => true,
                    Some(metric::Data::Gauge(g)) => points!(g.data_points, Number),
                    Some(metric::Data::Sum(s)) => points!(s.data_points, Number),
                    Some(metric::Data::Histogram(h)) => points!(h.data_points, Histogram),
                    Some(metric::Data::ExponentialHistogram(h)) => {
                        points!(h.data_points, ExpHistogram)
                    }
                    Some(metric::Data::Summary(s)) => points!(s.data_points, Summary),
                };
                m.data = data;
                any_left
            });
            !metrics.is_empty()
        });
        !scope_metrics.is_empty()
    });
    match err {
        Some(e) => Err(e),
        None => Ok(dropped),
    }
}
