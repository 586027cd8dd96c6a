//! HTML of the zpages: a drawn graph per pipeline (inline SVG) with counts and rates, and
//! the service summary. No scripts, no external assets: it renders anywhere.

use std::fmt::Write;

use super::model::{NodeView, PipelineView, Pipelinez};

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// `12345` → `12.3k`; rates with one decimal below 10.
fn short(n: f64) -> String {
    let a = n.abs();
    if a >= 1e9 {
        format!("{:.1}G", n / 1e9)
    } else if a >= 1e6 {
        format!("{:.1}M", n / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", n / 1e3)
    } else if a >= 10.0 || n.fract() == 0.0 {
        format!("{n:.0}")
    } else {
        format!("{n:.1}")
    }
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1f2328;background:#fff}\
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 6px}\
.sub{color:#57606a;font-size:13px;margin-bottom:16px}\
table{border-collapse:collapse;font-size:13px;margin:6px 0 4px}\
td,th{border:1px solid #d0d7de;padding:3px 8px;text-align:right}\
th{background:#f6f8fa}td:first-child,th:first-child{text-align:left}\
.err{color:#cf222e;font-weight:600}.muted{color:#57606a}\
a{color:#0969da}nav a{margin-right:14px}\
svg text{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif}";

fn page(title: &str, refresh: bool, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title>{r}\
         <style>{STYLE}</style></head>\n<body>\n<nav><a href=\"/debug/servicez\">servicez</a>\
         <a href=\"/debug/pipelinez\">pipelinez</a><a href=\"/debug/pipelinez?format=json\">pipelinez JSON</a></nav>\n\
         {body}</body></html>\n",
        t = escape(title),
        r = if refresh {
            "<meta http-equiv=\"refresh\" content=\"5\">"
        } else {
            ""
        },
    )
}

const BOX_W: f64 = 200.0;
const BOX_H: f64 = 58.0;
const GAP_X: f64 = 56.0;
const GAP_Y: f64 = 14.0;
const PAD: f64 = 12.0;

struct Placed<'a> {
    node: &'a NodeView,
    kind: &'static str,
    x: f64,
    y: f64,
}

fn column_ys(n: usize, height: f64) -> Vec<f64> {
    let used = n as f64 * BOX_H + n.saturating_sub(1) as f64 * GAP_Y;
    let top = (height - used) / 2.0;
    (0..n).map(|i| top + i as f64 * (BOX_H + GAP_Y)).collect()
}

fn node_svg(out: &mut String, p: &Placed) {
    let (fill, stroke) = match p.kind {
        "receiver" => ("#ddf4ff", "#54aeff"),
        "processor" => ("#f6f8fa", "#8c959f"),
        _ => ("#dafbe1", "#4ac26b"),
    };
    let failing = p.node.errors.unwrap_or(0) > 0;
    let stroke = if failing { "#cf222e" } else { stroke };
    let rate = match p.node.items_per_second {
        Some(r) => format!("{}/s", short(r)),
        None => "–/s".into(),
    };
    let _ = write!(
        out,
        "<g><title>{kind} {id}: {counters}</title>\
         <rect x=\"{x}\" y=\"{y}\" width=\"{BOX_W}\" height=\"{BOX_H}\" rx=\"7\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"{sw}\"/>\
         <text x=\"{tx}\" y=\"{ty1}\" font-size=\"13\" font-weight=\"600\" text-anchor=\"middle\">{id}</text>\
         <text x=\"{tx}\" y=\"{ty2}\" font-size=\"12\" text-anchor=\"middle\" fill=\"#424a53\">{items} items · {rate}</text>",
        kind = p.kind,
        id = escape(&p.node.id),
        counters = escape(
            &p.node
                .counters
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        x = p.x,
        y = p.y,
        sw = if failing { 2.5 } else { 1.2 },
        tx = p.x + BOX_W / 2.0,
        ty1 = p.y + 22.0,
        ty2 = p.y + 40.0,
        items = short(p.node.items as f64),
    );
    if let Some(e) = p.node.errors {
        let color = if e > 0 { "#cf222e" } else { "#57606a" };
        let _ = write!(
            out,
            "<text x=\"{tx}\" y=\"{ty}\" font-size=\"11\" text-anchor=\"middle\" fill=\"{color}\">{e} errors</text>",
            tx = p.x + BOX_W / 2.0,
            ty = p.y + 53.0,
            e = short(e as f64),
        );
    } else if let (Some(i), Some(o)) = (
        p.node.counters.get("incoming"),
        p.node.counters.get("outgoing"),
    ) {
        let _ = write!(
            out,
            "<text x=\"{tx}\" y=\"{ty}\" font-size=\"11\" text-anchor=\"middle\" fill=\"#57606a\">in {i} → out {o}</text>",
            tx = p.x + BOX_W / 2.0,
            ty = p.y + 53.0,
            i = short(*i as f64),
            o = short(*o as f64),
        );
    }
    out.push_str("</g>");
}

fn edge(out: &mut String, marker: &str, from: &Placed, to: &Placed) {
    let (x1, y1) = (from.x + BOX_W, from.y + BOX_H / 2.0);
    let (x2, y2) = (to.x - 2.0, to.y + BOX_H / 2.0);
    let mx = (x1 + x2) / 2.0;
    let _ = write!(
        out,
        "<path d=\"M{x1},{y1} C{mx},{y1} {mx},{y2} {x2},{y2}\" fill=\"none\" stroke=\"#8c959f\" stroke-width=\"1.5\" marker-end=\"url(#{marker})\"/>"
    );
}

/// One pipeline drawn left to right: receivers → processors (in order) → exporters.
pub fn pipeline_svg(p: &PipelineView) -> String {
    let rows = p.receivers.len().max(p.exporters.len()).max(1);
    let height = PAD * 2.0 + rows as f64 * BOX_H + (rows - 1) as f64 * GAP_Y;
    let columns = 2 + p.processors.len();
    let width = PAD * 2.0 + columns as f64 * BOX_W + (columns - 1) as f64 * GAP_X;
    let col_x = |c: usize| PAD + c as f64 * (BOX_W + GAP_X);
    fn place<'a>(
        nodes: &'a [NodeView],
        kind: &'static str,
        x: f64,
        height: f64,
    ) -> Vec<Placed<'a>> {
        nodes
            .iter()
            .zip(column_ys(nodes.len(), height))
            .map(|(node, y)| Placed { node, kind, x, y })
            .collect()
    }
    let receivers = place(&p.receivers, "receiver", col_x(0), height);
    let processors: Vec<Placed> = p
        .processors
        .iter()
        .enumerate()
        .map(|(i, node)| Placed {
            node,
            kind: "processor",
            x: col_x(1 + i),
            y: (height - BOX_H) / 2.0,
        })
        .collect();
    let exporters = place(&p.exporters, "exporter", col_x(columns - 1), height);
    // one marker per drawing: ids must be unique in the page
    let marker: String = format!("arrow-{}", p.id)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"pipeline {id}\">\
         <defs><marker id=\"{marker}\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\">\
         <path d=\"M0,0 L10,5 L0,10 z\" fill=\"#8c959f\"/></marker></defs>",
        id = escape(&p.id)
    );
    match (processors.first(), processors.last()) {
        (Some(first), Some(last)) => {
            for r in &receivers {
                edge(&mut out, &marker, r, first);
            }
            for w in processors.windows(2) {
                edge(&mut out, &marker, &w[0], &w[1]);
            }
            for e in &exporters {
                edge(&mut out, &marker, last, e);
            }
        }
        _ => {
            for r in &receivers {
                for e in &exporters {
                    edge(&mut out, &marker, r, e);
                }
            }
        }
    }
    for n in receivers.iter().chain(&processors).chain(&exporters) {
        node_svg(&mut out, n);
    }
    out.push_str("</svg>");
    out
}

fn opt_rate(r: Option<f64>) -> String {
    r.map(|r| format!("{}/s", short(r)))
        .unwrap_or_else(|| "–".into())
}

fn table(p: &PipelineView) -> String {
    let mut out = String::from(
        "<table><tr><th>component</th><th>items</th><th>items/s</th><th>errors</th><th>errors/s</th><th>details</th></tr>",
    );
    for (kind, nodes) in [
        ("receiver", &p.receivers),
        ("processor", &p.processors),
        ("exporter", &p.exporters),
    ] {
        for n in nodes {
            let errors = match n.errors {
                Some(e) if e > 0 => format!("<span class=\"err\">{e}</span>"),
                Some(e) => e.to_string(),
                None => "<span class=\"muted\">n/a</span>".into(),
            };
            let details = n
                .counters
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ");
            let _ = write!(
                out,
                "<tr><td><span class=\"muted\">{kind}</span> {id}</td><td>{items}</td><td>{rate}</td><td>{errors}</td><td>{erate}</td><td class=\"muted\">{details}</td></tr>",
                id = escape(&n.id),
                items = n.items,
                rate = opt_rate(n.items_per_second),
                erate = opt_rate(n.errors_per_second),
                details = escape(&details),
            );
        }
    }
    out.push_str("</table>");
    out
}

/// `/debug/pipelinez`.
pub fn pipelinez_html(z: &Pipelinez) -> String {
    let mut body = String::from("<h1>Pipelines</h1>");
    let window = match z.rate_window_seconds {
        Some(s) => format!("rates over the last {s:.0}s"),
        None => "rates appear after the first sample (5s)".into(),
    };
    let _ = write!(
        body,
        "<div class=\"sub\">Ferrotel {} · the running graph · counts since start, per component id (a component in several pipelines shows its total in each) · {window} · refreshes every 5s</div>",
        escape(&z.version)
    );
    if z.pipelines.is_empty() {
        body.push_str("<p>No pipeline is running.</p>");
    }
    for p in &z.pipelines {
        let _ = write!(
            body,
            "<h2 id=\"{id}\">{id} <span class=\"muted\">({signal})</span></h2>",
            id = escape(&p.id),
            signal = escape(&p.signal)
        );
        body.push_str(&pipeline_svg(p));
        body.push_str(&table(p));
    }
    page("pipelinez", true, &body)
}

/// `/debug/servicez`: build, uptime, and a summary of the running config.
pub fn servicez_html(s: &serde_json::Value) -> String {
    let get = |k: &str| s[k].as_str().unwrap_or("").to_string();
    let mut body = String::from("<h1>Service</h1>");
    let _ = write!(
        body,
        "<div class=\"sub\">{}</div><h2>Build</h2><table>\
         <tr><td>command</td><td>{}</td></tr><tr><td>description</td><td>{}</td></tr>\
         <tr><td>version</td><td>{}</td></tr><tr><td>target</td><td>{}</td></tr></table>\
         <h2>Runtime</h2><table><tr><td>start time</td><td>{}</td></tr>\
         <tr><td>uptime</td><td>{}</td></tr><tr><td>pid</td><td>{}</td></tr></table>",
        escape(&get("description")),
        escape(&get("command")),
        escape(&get("description")),
        escape(&get("version")),
        escape(&get("target")),
        escape(&get("start_time")),
        escape(&get("uptime")),
        s["pid"],
    );
    body.push_str("<h2>Config</h2><table><tr><th>kind</th><th>count</th><th>ids</th></tr>");
    for kind in ["receivers", "processors", "exporters", "extensions"] {
        let ids: Vec<String> = s["config"][kind]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let _ = write!(
            body,
            "<tr><td>{kind}</td><td>{}</td><td>{}</td></tr>",
            ids.len(),
            escape(&ids.join(", "))
        );
    }
    body.push_str("</table><h2>Pipelines</h2><table><tr><th>pipeline</th><th>receivers → processors → exporters</th></tr>");
    if let Some(pipes) = s["config"]["pipelines"].as_array() {
        for p in pipes {
            let list = |k: &str| {
                p[k].as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default()
            };
            let id = p["id"].as_str().unwrap_or("");
            let _ = write!(
                body,
                "<tr><td><a href=\"/debug/pipelinez#{id}\">{id}</a></td><td>[{}] → [{}] → [{}]</td></tr>",
                escape(&list("receivers")),
                escape(&list("processors")),
                escape(&list("exporters")),
                id = escape(id),
            );
        }
    }
    body.push_str("</table>");
    page("servicez", false, &body)
}
