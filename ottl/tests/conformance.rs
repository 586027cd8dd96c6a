//! The conformance table: OTLP in → OTTL statements → OTLP out, with the behaviour Go's
//! `pkg/ottl` tests and function docs describe (facts, not their code). Each row runs the
//! statements over a fixed request and compares the changed fields of every item.

mod common;

use common::*;
use ottl::{exec, infer_context, ContextKind, ErrorMode, PathStyle, Statement, StatementSeq};
use serde_json::Value as J;

#[derive(Clone, Copy)]
enum Sig {
    T,
    L,
    M,
}

const TRACE_CTXS: &[ContextKind] = &[
    ContextKind::Resource,
    ContextKind::Scope,
    ContextKind::Span,
    ContextKind::SpanEvent,
];
const LOG_CTXS: &[ContextKind] = &[ContextKind::Resource, ContextKind::Scope, ContextKind::Log];
const METRIC_CTXS: &[ContextKind] = &[
    ContextKind::Resource,
    ContextKind::Scope,
    ContextKind::Metric,
    ContextKind::DataPoint,
];

/// Run `statements` (context `ctx`, or inferred when empty) and dump the result.
fn run(sig: Sig, ctx: &str, statements: &[&str]) -> Result<Vec<J>, String> {
    let allowed = match sig {
        Sig::T => TRACE_CTXS,
        Sig::L => LOG_CTXS,
        Sig::M => METRIC_CTXS,
    };
    let (kind, style) = if ctx.is_empty() {
        (
            infer_context(statements, &[], allowed)?,
            PathStyle::Prefixed,
        )
    } else {
        (
            ContextKind::from_name(ctx).ok_or("bad ctx")?,
            PathStyle::Contextual,
        )
    };
    let seq = StatementSeq {
        statements: statements
            .iter()
            .map(|s| Statement::compile(s, kind, style).map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?,
        error_mode: ErrorMode::Propagate,
    };
    let mut f = |c: &mut ottl::Ctx<'_>| seq.execute(c);
    Ok(match sig {
        Sig::T => {
            let mut r = traces();
            exec::visit_traces(&mut r, kind, &mut f)?;
            dump_traces(&r)
        }
        Sig::L => {
            let mut r = logs();
            exec::visit_logs(&mut r, kind, &mut f)?;
            dump_logs(&r)
        }
        Sig::M => {
            let mut r = metrics();
            exec::visit_metrics(&mut r, kind, &mut f)?;
            dump_metrics(&r)
        }
    })
}

/// (signal, context, statements, expected per item)
type Case = (Sig, &'static str, &'static [&'static str], &'static str);

const CASES: &[Case] = &[
    // set: literals of every type
    (
        Sig::T,
        "span",
        &[r#"set(attributes["s"], "x")"#],
        r#"[{"attributes":{"http.method":"get","http.path":"/health","http.url":"http://localhost/health?user=alice","total.string":"123456789","count":10,"ratio":0.5,"flag":true,"s":"x"}},{"attributes":{"http.method":"post","db.statement":"SELECT * FROM users WHERE id = 42","s":"x"}}]"#,
    ),
    (
        Sig::L,
        "log",
        &[r#"set(attributes["i"], 5) where body == "debug details""#],
        r#"[{"attributes":{"http.method":"get","http.path":"/health","flags":"A|B|C","json":"{\"a\":1,\"b\":\"x\",\"c\":{\"d\":true}}","kv":"k1=v1 k2=\"v 2\"","n":3}},{"attributes":{"http.method":"post","i":5}}]"#,
    ),
    (
        Sig::L,
        "log",
        &[r#"set(attributes, {"f": 1.5}) where severity_number == 5"#],
        r#"[{"severity_number":9},{"attributes":{"f":1.5}}]"#,
    ),
    (
        Sig::L,
        "log",
        &[r#"set(attributes, {}) where severity_number == 5"#],
        r#"[{"severity_number":9},{"attributes":{}}]"#,
    ),
    (
        Sig::L,
        "log",
        &[
            r#"set(attributes, {"b": true, "l": [1, "a"], "m": {"x": nil}}) where severity_number == 5"#,
        ],
        r#"[{"severity_number":9},{"attributes":{"b":true,"l":[1,"a"],"m":{"x":null}}}]"#,
    ),
    (
        Sig::L,
        "log",
        &[r#"set(body, ["a", "b"]) where severity_number == 5"#],
        r#"[{"body":"operationA"},{"body":["a","b"]}]"#,
    ),
    (
        Sig::L,
        "log",
        &[r#"set(body, {"k": "v"}) where severity_number == 5"#],
        r#"[{"body":"operationA"},{"body":{"k":"v"}}]"#,
    ),
    (
        Sig::L,
        "log",
        &[r#"set(body, 0x0102) where severity_number == 5"#],
        r#"[{"body":"operationA"},{"body":"AQI="}]"#,
    ),
    // set nil is a no-op
    (
        Sig::L,
        "log",
        &[
            r#"set(body, nil)"#,
            r#"set(attributes["http.method"], attributes["missing"])"#,
        ],
        r#"[{"body":"operationA","attributes":{"http.method":"get","http.path":"/health","flags":"A|B|C","json":"{\"a\":1,\"b\":\"x\",\"c\":{\"d\":true}}","kv":"k1=v1 k2=\"v 2\"","n":3}},{"body":"debug details"}]"#,
    ),
    // set: scalar fields
    (
        Sig::T,
        "span",
        &[r#"set(name, "renamed") where name == "operationA""#],
        r#"[{"name":"renamed"},{"name":"operationB"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"set(status.code, STATUS_CODE_ERROR) where attributes["http.path"] == "/health""#],
        r#"[{"status":{"code":2,"message":""}},{"status":{"code":2,"message":"boom"}}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"set(status.message, "ok") where status.code == STATUS_CODE_UNSET"#],
        r#"[{"status":{"code":0,"message":"ok"}},{"status":{"code":2,"message":"boom"}}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"set(kind, SPAN_KIND_INTERNAL) where kind == SPAN_KIND_CLIENT"#],
        r#"[{"kind":2},{"kind":1}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"set(attributes["k"], kind.string)"#],
        r#"[{"attributes":{"http.method":"get","http.path":"/health","http.url":"http://localhost/health?user=alice","total.string":"123456789","count":10,"ratio":0.5,"flag":true,"k":"Server"}},{"attributes":{"http.method":"post","db.statement":"SELECT * FROM users WHERE id = 42","k":"Client"}}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"set(attributes["k"], kind.deprecated_string) where kind == 3"#],
        r#"[{"kind":2},{"attributes":{"http.method":"post","db.statement":"SELECT * FROM users WHERE id = 42","k":"SPAN_KIND_CLIENT"}}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"set(kind.string, "Producer") where name == "operationA""#],
        r#"[{"kind":4},{"kind":3}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"set(attributes["t"], trace_id.string) where name == "operationB""#],
        r#"[{"name":"operationA"},{"attributes":{"http.method":"post","db.statement":"SELECT * FROM users WHERE id = 42","t":"0102030405060708090a0b0c0d0e0f10"}}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"set(attributes["p"], parent_span_id.string)"#],
        r#"[{"attributes":{"http.method":"get","http.path":"/health","http.url":"http://localhost/health?user=alice","total.string":"123456789","count":10,"ratio":0.5,"flag":true,"p":""}},{"attributes":{"http.method":"post","db.statement":"SELECT * FROM users WHERE id = 42","p":"0102030405060708"}}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"set(span_id.string, "1111111111111111") where name == "operationA""#],
        r#"[{"span_id":"1111111111111111"},{"span_id":"0807060504030201"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[
            r#"set(trace_id, TraceID(0x11111111111111111111111111111111)) where name == "operationA""#,
        ],
        r#"[{"trace_id":"11111111111111111111111111111111"},{"trace_id":"0102030405060708090a0b0c0d0e0f10"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"set(span_id, SpanID(0x2222222222222222)) where name == "operationB""#],
        r#"[{"span_id":"0102030405060708"},{"span_id":"2222222222222222"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"set(trace_state, "a=b") where IsRootSpan()"#],
        r#"[{"trace_state":"a=b"},{"trace_state":""}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"set(end_time_unix_nano, start_time_unix_nano + 1000) where name == "operationA""#],
        r#"[{"end":1581452772000001000},{"end":0}]"#,
    ),
    (
        Sig::T,
        "span",
        &[
            r#"set(attributes["dur"], end_time_unix_nano - start_time_unix_nano) where name == "operationA""#,
        ],
        r#"[{"attributes":{"http.method":"get","http.path":"/health","http.url":"http://localhost/health?user=alice","total.string":"123456789","count":10,"ratio":0.5,"flag":true,"dur":500000000}},{"name":"operationB"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[
            r#"set(attributes["dur"], Milliseconds(end_time - start_time)) where name == "operationA""#,
        ],
        r#"[{"attributes":{"http.method":"get","http.path":"/health","http.url":"http://localhost/health?user=alice","total.string":"123456789","count":10,"ratio":0.5,"flag":true,"dur":500}},{"name":"operationB"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"set(end_time, start_time) where name == "operationA""#],
        r#"[{"end":1581452772000000000},{"end":0}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"set(dropped_attributes_count, 7) where name == "operationA""#],
        r#"[{"dropped_attributes_count":7},{"dropped_attributes_count":0}]"#,
    ),
    // arithmetic
    (
        Sig::T,
        "span",
        &[r#"set(attributes["count"], attributes["count"] * 2 + 1) where name == "operationA""#],
        r#"[{"attributes":{"http.method":"get","http.path":"/health","http.url":"http://localhost/health?user=alice","total.string":"123456789","count":21,"ratio":0.5,"flag":true}},{"name":"operationB"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"set(attributes["ratio"], attributes["ratio"] * 4) where name == "operationA""#],
        r#"[{"attributes":{"http.method":"get","http.path":"/health","http.url":"http://localhost/health?user=alice","total.string":"123456789","count":10,"ratio":2.0,"flag":true}},{"name":"operationB"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"set(attributes["q"], attributes["count"] / 3) where name == "operationA""#],
        r#"[{"attributes":{"http.method":"get","http.path":"/health","http.url":"http://localhost/health?user=alice","total.string":"123456789","count":10,"ratio":0.5,"flag":true,"q":3}},{"name":"operationB"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"set(attributes["q"], (1 + 2) * 3) where name == "operationB""#],
        r#"[{"name":"operationA"},{"attributes":{"http.method":"post","db.statement":"SELECT * FROM users WHERE id = 42","q":9}}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"set(attributes["q"], attributes["count"] + 0.5) where name == "operationA""#],
        r#"[{"attributes":{"http.method":"get","http.path":"/health","http.url":"http://localhost/health?user=alice","total.string":"123456789","count":10,"ratio":0.5,"flag":true,"q":10.5}},{"name":"operationB"}]"#,
    ),
    // where clauses: comparisons and logic
    (
        Sig::T,
        "span",
        &[
            r#"set(attributes["m"], true) where attributes["count"] > 5 and attributes["ratio"] < 1"#,
        ],
        r#"[{"attributes":{"http.method":"get","http.path":"/health","http.url":"http://localhost/health?user=alice","total.string":"123456789","count":10,"ratio":0.5,"flag":true,"m":true}},{"attributes":{"http.method":"post","db.statement":"SELECT * FROM users WHERE id = 42"}}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"set(name, "x") where attributes["count"] >= 10.0"#],
        r#"[{"name":"x"},{"name":"operationB"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"set(name, "x") where attributes["count"] == 10.0"#],
        r#"[{"name":"x"},{"name":"operationB"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"set(name, "x") where attributes["count"] == "10""#],
        r#"[{"name":"operationA"},{"name":"operationB"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"set(name, "x") where attributes["count"] != "10""#],
        r#"[{"name":"x"},{"name":"x"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"set(name, "x") where attributes["missing"] == nil"#],
        r#"[{"name":"x"},{"name":"x"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"set(name, "x") where attributes["count"] != nil"#],
        r#"[{"name":"x"},{"name":"operationB"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"set(name, "x") where attributes["missing"] > 1"#],
        r#"[{"name":"operationA"},{"name":"operationB"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"set(name, "x") where name < "operationB""#],
        r#"[{"name":"x"},{"name":"operationB"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"set(name, "x") where attributes["flag"] == true"#],
        r#"[{"name":"x"},{"name":"operationB"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"set(name, "x") where not (kind == SPAN_KIND_SERVER)"#],
        r#"[{"name":"operationA"},{"name":"x"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"set(name, "x") where kind == SPAN_KIND_SERVER or status.code == STATUS_CODE_ERROR"#],
        r#"[{"name":"x"},{"name":"x"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"set(name, "x") where (kind == 2 or kind == 3) and not IsMatch(name, "B$")"#],
        r#"[{"name":"x"},{"name":"operationB"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"set(name, "x") where true"#],
        r#"[{"name":"x"},{"name":"x"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"set(name, "x") where false"#],
        r#"[{"name":"operationA"},{"name":"operationB"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"set(name, "x") where trace_id == TraceID(0x0102030405060708090a0b0c0d0e0f10)"#],
        r#"[{"name":"x"},{"name":"x"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"set(name, "x") where span_id == SpanID(0x0102030405060708)"#],
        r#"[{"name":"x"},{"name":"operationB"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[
            r#"set(name, "x") where resource.attributes["service.name"] == "svc" and instrumentation_scope.name == "lib""#,
        ],
        r#"[{"name":"x"},{"name":"x"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"set(name, "x") where scope.version == "2.0""#],
        r#"[{"name":"operationA"},{"name":"operationB"}]"#,
    ),
    // resource and scope contexts
    (
        Sig::T,
        "resource",
        &[r#"set(attributes["env"], "prod")"#],
        r#"[{"resource":{"attributes":{"service.name":"svc","host.name":"h1","env":"prod"},"dropped_attributes_count":0}},{"resource":{"attributes":{"service.name":"svc","host.name":"h1","env":"prod"},"dropped_attributes_count":0}}]"#,
    ),
    (
        Sig::T,
        "resource",
        &[r#"delete_key(attributes, "host.name")"#],
        r#"[{"resource":{"attributes":{"service.name":"svc"},"dropped_attributes_count":0}},{"resource":{"attributes":{"service.name":"svc"},"dropped_attributes_count":0}}]"#,
    ),
    (
        Sig::L,
        "scope",
        &[
            r#"set(name, "renamed") where version == "1.0""#,
            r#"set(attributes["a"], "b")"#,
        ],
        r#"[{"scope":{"name":"renamed","version":"1.0","attributes":{"a":"b"}}},{"scope":{"name":"renamed","version":"1.0","attributes":{"a":"b"}}}]"#,
    ),
    (
        Sig::M,
        "resource",
        &[r#"set(attributes["service.name"], Concat([attributes["service.name"], "2"], "-"))"#],
        r#"[{"resource":{"attributes":{"service.name":"svc-2","host.name":"h1"},"dropped_attributes_count":0}},{"name":"temperature"},{"name":"latency"}]"#,
    ),
    // inferred contexts (flat lists of current Go)
    (
        Sig::T,
        "",
        &[r#"set(span.attributes["svc"], resource.attributes["service.name"])"#],
        r#"[{"attributes":{"http.method":"get","http.path":"/health","http.url":"http://localhost/health?user=alice","total.string":"123456789","count":10,"ratio":0.5,"flag":true,"svc":"svc"}},{"attributes":{"http.method":"post","db.statement":"SELECT * FROM users WHERE id = 42","svc":"svc"}}]"#,
    ),
    (
        Sig::T,
        "",
        &[r#"set(resource.attributes["x"], "y")"#],
        r#"[{"resource":{"attributes":{"service.name":"svc","host.name":"h1","x":"y"},"dropped_attributes_count":0}},{"name":"operationB"}]"#,
    ),
    (
        Sig::L,
        "",
        &[r#"set(log.severity_text, "WARN") where log.severity_number == SEVERITY_NUMBER_INFO"#],
        r#"[{"severity_text":"WARN"},{"severity_text":"DEBUG"}]"#,
    ),
    (
        Sig::L,
        "",
        &[
            r#"set(log.attributes["svc"], resource.attributes["service.name"])"#,
            r#"set(resource.attributes["seen"], true)"#,
        ],
        r#"[{"attributes":{"http.method":"get","http.path":"/health","flags":"A|B|C","json":"{\"a\":1,\"b\":\"x\",\"c\":{\"d\":true}}","kv":"k1=v1 k2=\"v 2\"","n":3,"svc":"svc"},"resource":{"attributes":{"service.name":"svc","host.name":"h1","seen":true},"dropped_attributes_count":0}},{"attributes":{"http.method":"post","svc":"svc"}}]"#,
    ),
    (
        Sig::M,
        "",
        &[r#"set(metric.description, "d") where metric.name == "temperature""#],
        r#"[{"description":"requests"},{"description":"d"},{"description":""}]"#,
    ),
    (
        Sig::M,
        "",
        &[
            r#"set(datapoint.attributes["m"], metric.name) where datapoint.attributes["method"] == "GET""#,
        ],
        r#"[{"points":[{"attributes":{"method":"GET","m":"http.requests"},"value":10,"time":100,"flags":0},{"attributes":{"method":"POST"},"value":20,"time":100,"flags":0}]},{"name":"temperature"},{"name":"latency"}]"#,
    ),
    // metric and datapoint contexts
    (
        Sig::M,
        "metric",
        &[r#"set(unit, "s") where type == METRIC_DATA_TYPE_HISTOGRAM"#],
        r#"[{"unit":"1"},{"unit":"Cel"},{"unit":"s"}]"#,
    ),
    (
        Sig::M,
        "metric",
        &[
            r#"set(aggregation_temporality, AGGREGATION_TEMPORALITY_DELTA) where aggregation_temporality == AGGREGATION_TEMPORALITY_CUMULATIVE"#,
        ],
        r#"[{"temporality":1},{"temporality":0},{"temporality":1}]"#,
    ),
    (
        Sig::M,
        "metric",
        &[r#"set(name, Concat(["app", name], ".")) where IsMatch(name, "^http")"#],
        r#"[{"name":"app.http.requests"},{"name":"temperature"},{"name":"latency"}]"#,
    ),
    (
        Sig::M,
        "datapoint",
        &[r#"set(value_int, value_int * 2) where metric.type == METRIC_DATA_TYPE_SUM"#],
        r#"[{"points":[{"attributes":{"method":"GET"},"value":20,"time":100,"flags":0},{"attributes":{"method":"POST"},"value":40,"time":100,"flags":0}]},{"name":"temperature"},{"name":"latency"}]"#,
    ),
    (
        Sig::M,
        "datapoint",
        &[r#"set(value_double, value_double + 273.15) where metric.unit == "Cel""#],
        r#"[{"name":"http.requests"},{"points":[{"attributes":{"room":"a"},"value":294.65,"time":0,"flags":0}]},{"name":"latency"}]"#,
    ),
    (
        Sig::M,
        "datapoint",
        &[
            r#"set(attributes["n"], count) where metric.name == "latency""#,
            r#"set(explicit_bounds, [5.0]) where metric.name == "latency""#,
        ],
        r#"[{"name":"http.requests"},{"name":"temperature"},{"points":[{"attributes":{"n":3},"count":3,"sum":30.0,"bucket_counts":[1,2],"explicit_bounds":[5.0]}]}]"#,
    ),
    (
        Sig::M,
        "datapoint",
        &[r#"set(flags, FLAG_NO_RECORDED_VALUE) where attributes["method"] == "POST""#],
        r#"[{"points":[{"attributes":{"method":"GET"},"value":10,"time":100,"flags":0},{"attributes":{"method":"POST"},"value":20,"time":100,"flags":1}]},{"name":"temperature"},{"name":"latency"}]"#,
    ),
    (
        Sig::M,
        "datapoint",
        &[r#"set(time_unix_nano, 200) where time_unix_nano == 100"#],
        r#"[{"points":[{"attributes":{"method":"GET"},"value":10,"time":200,"flags":0},{"attributes":{"method":"POST"},"value":20,"time":200,"flags":0}]},{"name":"temperature"},{"name":"latency"}]"#,
    ),
    (
        Sig::M,
        "datapoint",
        &[r#"set(metric.name, "renamed") where attributes["room"] == "a""#],
        r#"[{"name":"http.requests"},{"name":"renamed"},{"name":"latency"}]"#,
    ),
    // metric-only functions
    (
        Sig::M,
        "metric",
        &[r#"convert_sum_to_gauge() where name == "http.requests""#],
        r#"[{"type":"gauge","points":[{"attributes":{"method":"GET"},"value":10,"time":100,"flags":0},{"attributes":{"method":"POST"},"value":20,"time":100,"flags":0}]},{"type":"gauge"},{"type":"histogram"}]"#,
    ),
    (
        Sig::M,
        "metric",
        &[r#"convert_gauge_to_sum("delta", false)"#],
        r#"[{"type":"sum","temporality":2},{"type":"sum","temporality":1,"points":[{"attributes":{"room":"a"},"value":21.5,"time":0,"flags":0}]},{"type":"histogram"}]"#,
    ),
    (
        Sig::M,
        "metric",
        &[
            r#"scale_metric(1000.0, "ms") where name == "http.requests""#,
            r#"scale_metric(0.5) where name == "temperature""#,
        ],
        r#"[{"unit":"ms","points":[{"attributes":{"method":"GET"},"value":10000,"time":100,"flags":0},{"attributes":{"method":"POST"},"value":20000,"time":100,"flags":0}]},{"unit":"Cel","points":[{"attributes":{"room":"a"},"value":10.75,"time":0,"flags":0}]},{"type":"histogram"}]"#,
    ),
    (
        Sig::M,
        "metric",
        &[r#"scale_metric(2.0) where name == "latency""#],
        r#"[{"name":"http.requests"},{"name":"temperature"},{"points":[{"attributes":{},"count":3,"sum":60.0,"bucket_counts":[1,2],"explicit_bounds":[20.0]}]}]"#,
    ),
    // span events
    (
        Sig::T,
        "spanevent",
        &[r#"set(attributes["span"], span.name) where name == "event1""#],
        r#"[{"events":[{"name":"event1","attributes":{"k":"v","span":"operationA"}},{"name":"event2","attributes":{}}]},{"events":[]}]"#,
    ),
    (
        Sig::T,
        "spanevent",
        // Go's transform gives span events no index (the oracle shows nothing set)
        &[r#"set(attributes["i"], event_index)"#],
        r#"[{"events":[{"name":"event1","attributes":{"k":"v"}},{"name":"event2","attributes":{}}]},{"events":[]}]"#,
    ),
    (
        Sig::T,
        "",
        &[
            r#"set(spanevent.attributes["t"], UnixSeconds(spanevent.time)) where spanevent.name == "event1""#,
        ],
        r#"[{"events":[{"name":"event1","attributes":{"k":"v","t":1581452772}},{"name":"event2","attributes":{}}]},{"events":[]}]"#,
    ),
    // map keys and nested paths
    (
        Sig::L,
        "log",
        &[r#"set(attributes["a"]["b"], "c") where severity_number == 5"#],
        r#"[{"severity_number":9},{"attributes":{"http.method":"post","a":{"b":"c"}}}]"#,
    ),
    (
        Sig::L,
        "log",
        &[
            r#"set(cache["p"], ParseJSON(attributes["json"])) where severity_number == 9"#,
            r#"set(attributes["d"], cache["p"]["c"]["d"]) where severity_number == 9"#,
        ],
        r#"[{"attributes":{"http.method":"get","http.path":"/health","flags":"A|B|C","json":"{\"a\":1,\"b\":\"x\",\"c\":{\"d\":true}}","kv":"k1=v1 k2=\"v 2\"","n":3,"d":true}},{"attributes":{"http.method":"post"}}]"#,
    ),
    (
        Sig::L,
        "log",
        &[r#"set(attributes["x"], cache["p"])"#],
        r#"[{"severity_number":9},{"attributes":{"http.method":"post"}}]"#,
    ),
    (
        Sig::L,
        "log",
        &[r#"set(attributes["f"], Split(attributes["flags"], "|")[1]) where severity_number == 9"#],
        r#"[{"attributes":{"http.method":"get","http.path":"/health","flags":"A|B|C","json":"{\"a\":1,\"b\":\"x\",\"c\":{\"d\":true}}","kv":"k1=v1 k2=\"v 2\"","n":3,"f":"B"}},{"severity_number":5}]"#,
    ),
    (
        Sig::L,
        "log",
        &[
            r#"set(attributes["f"], Split(attributes["flags"], "|")) where severity_number == 9"#,
            r#"set(attributes["f"][0], "Z") where severity_number == 9"#,
        ],
        r#"[{"attributes":{"http.method":"get","http.path":"/health","flags":"A|B|C","json":"{\"a\":1,\"b\":\"x\",\"c\":{\"d\":true}}","kv":"k1=v1 k2=\"v 2\"","n":3,"f":["Z","B","C"]}},{"severity_number":5}]"#,
    ),
    (
        Sig::L,
        "log",
        &[r#"set(attributes["b"], ParseJSON(attributes["json"])["b"]) where severity_number == 9"#],
        r#"[{"attributes":{"http.method":"get","http.path":"/health","flags":"A|B|C","json":"{\"a\":1,\"b\":\"x\",\"c\":{\"d\":true}}","kv":"k1=v1 k2=\"v 2\"","n":3,"b":"x"}},{"severity_number":5}]"#,
    ),
    (
        Sig::L,
        "log",
        &[r#"set(attributes[attributes["http.method"]], 1) where severity_number == 5"#],
        r#"[{"severity_number":9},{"attributes":{"http.method":"post","post":1}}]"#,
    ),
    // body
    (
        Sig::L,
        "log",
        &[r#"set(body, ParseJSON(attributes["json"])) where severity_number == 9"#],
        r#"[{"body":{"a":1.0,"b":"x","c":{"d":true}}},{"body":"debug details"}]"#,
    ),
    (
        Sig::L,
        "log",
        &[r#"set(attributes["bs"], body.string)"#],
        r#"[{"attributes":{"http.method":"get","http.path":"/health","flags":"A|B|C","json":"{\"a\":1,\"b\":\"x\",\"c\":{\"d\":true}}","kv":"k1=v1 k2=\"v 2\"","n":3,"bs":"operationA"}},{"attributes":{"http.method":"post","bs":"debug details"}}]"#,
    ),
    (
        Sig::L,
        "log",
        &[
            r#"set(body, {"a": 1}) where severity_number == 5"#,
            r#"set(attributes["bs"], body.string) where severity_number == 5"#,
        ],
        r#"[{"body":"operationA"},{"attributes":{"http.method":"post","bs":"{\"a\":1}"}}]"#,
    ),
    (
        Sig::L,
        "log",
        &[r#"set(severity_number, SEVERITY_NUMBER_WARN) where IsMatch(body, "debug")"#],
        r#"[{"severity_number":9},{"severity_number":13}]"#,
    ),
    (
        Sig::L,
        "log",
        &[r#"set(severity_text, "E") where severity_number < SEVERITY_NUMBER_INFO"#],
        r#"[{"severity_text":"INFO"},{"severity_text":"E"}]"#,
    ),
    (
        Sig::L,
        "log",
        &[
            r#"set(attributes["t"], trace_id.string) where severity_number == 9"#,
            r#"set(attributes["s"], span_id.string) where severity_number == 9"#,
        ],
        r#"[{"attributes":{"http.method":"get","http.path":"/health","flags":"A|B|C","json":"{\"a\":1,\"b\":\"x\",\"c\":{\"d\":true}}","kv":"k1=v1 k2=\"v 2\"","n":3,"t":"0102030405060708090a0b0c0d0e0f10","s":"0102030405060708"}},{"severity_number":5}]"#,
    ),
    (
        Sig::L,
        "log",
        &[r#"set(observed_time, time) where severity_number == 9"#],
        r#"[{"observed_time":1581452773000000789},{"observed_time":0}]"#,
    ),
    (
        Sig::L,
        "log",
        &[
            r#"set(time, Time("2023-05-26 12:34:56", "%Y-%m-%d %H:%M:%S")) where severity_number == 5"#,
        ],
        r#"[{"time":1581452773000000789},{"time":1685104496000000000}]"#,
    ),
    (
        Sig::L,
        "log",
        &[
            r#"set(time_unix_nano, UnixNano(Time("2023-05-26T12:34:56Z", "%Y-%m-%dT%H:%M:%SZ"))) where severity_number == 5"#,
        ],
        r#"[{"severity_number":9},{"time":1685104496000000000}]"#,
    ),
    (
        Sig::L,
        "log",
        &[
            r#"set(attributes["y"], Year(time)) where severity_number == 9"#,
            r#"set(attributes["mo"], Month(time)) where severity_number == 9"#,
            r#"set(attributes["h"], Hour(time)) where severity_number == 9"#,
        ],
        r#"[{"attributes":{"http.method":"get","http.path":"/health","flags":"A|B|C","json":"{\"a\":1,\"b\":\"x\",\"c\":{\"d\":true}}","kv":"k1=v1 k2=\"v 2\"","n":3,"y":2020,"mo":2,"h":20}},{"severity_number":5}]"#,
    ),
    (
        Sig::L,
        "log",
        &[r#"set(attributes["ms"], UnixMilli(Unix(1, 500000000))) where severity_number == 5"#],
        r#"[{"severity_number":9},{"attributes":{"http.method":"post","ms":1500}}]"#,
    ),
    (
        Sig::L,
        "log",
        &[r#"set(attributes["d"], Seconds(Duration("1m30s"))) where severity_number == 5"#],
        r#"[{"severity_number":9},{"attributes":{"http.method":"post","d":90.0}}]"#,
    ),
    (
        Sig::L,
        "log",
        &[r#"set(attributes["d"], Hours(Duration("90m"))) where severity_number == 5"#],
        r#"[{"severity_number":9},{"attributes":{"http.method":"post","d":1.5}}]"#,
    ),
    // delete_key, delete_matching_keys, keep_keys, keep_matching_keys
    (
        Sig::T,
        "span",
        &[
            r#"delete_key(attributes, "http.url")"#,
            r#"delete_key(attributes, "missing")"#,
        ],
        r#"[{"attributes":{"http.method":"get","http.path":"/health","total.string":"123456789","count":10,"ratio":0.5,"flag":true}},{"attributes":{"http.method":"post","db.statement":"SELECT * FROM users WHERE id = 42"}}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"delete_matching_keys(attributes, "^http\\.")"#],
        r#"[{"attributes":{"total.string":"123456789","count":10,"ratio":0.5,"flag":true}},{"attributes":{"db.statement":"SELECT * FROM users WHERE id = 42"}}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"keep_keys(attributes, ["http.method", "count"])"#],
        r#"[{"attributes":{"http.method":"get","count":10}},{"attributes":{"http.method":"post"}}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"keep_keys(attributes, [])"#],
        r#"[{"attributes":{}},{"attributes":{}}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"keep_matching_keys(attributes, "^http\\.p")"#],
        r#"[{"attributes":{"http.path":"/health"}},{"attributes":{}}]"#,
    ),
    (
        Sig::T,
        "resource",
        &[r#"keep_keys(attributes, ["service.name"])"#],
        r#"[{"resource":{"attributes":{"service.name":"svc"},"dropped_attributes_count":0}},{"name":"operationB"}]"#,
    ),
    // limit
    (
        Sig::T,
        "span",
        &[r#"limit(attributes, 2, [])"#],
        r#"[{"attributes":{"http.method":"get","http.path":"/health"}},{"attributes":{"http.method":"post","db.statement":"SELECT * FROM users WHERE id = 42"}}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"limit(attributes, 2, ["ratio"])"#],
        r#"[{"attributes":{"http.method":"get","ratio":0.5}},{"attributes":{"http.method":"post","db.statement":"SELECT * FROM users WHERE id = 42"}}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"limit(attributes, 1, ["missing"])"#],
        r#"[{"attributes":{"http.method":"get"}},{"attributes":{"http.method":"post"}}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"limit(attributes, 0, [])"#],
        r#"[{"attributes":{}},{"attributes":{}}]"#,
    ),
    // truncate_all
    (
        Sig::T,
        "span",
        &[r#"truncate_all(attributes, 3)"#],
        r#"[{"attributes":{"http.method":"get","http.path":"/he","http.url":"htt","total.string":"123","count":10,"ratio":0.5,"flag":true}},{"attributes":{"http.method":"pos","db.statement":"SEL"}}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"truncate_all(attributes, 0) where name == "operationB""#],
        r#"[{"name":"operationA"},{"attributes":{"http.method":"","db.statement":""}}]"#,
    ),
    (
        Sig::T,
        "resource",
        &[r#"truncate_all(attributes, 2)"#],
        r#"[{"resource":{"attributes":{"service.name":"sv","host.name":"h1"},"dropped_attributes_count":0}},{"name":"operationB"}]"#,
    ),
    // replace_pattern, replace_all_patterns
    (
        Sig::T,
        "span",
        &[r#"replace_pattern(attributes["http.url"], "user=[^&]*", "user=REDACTED")"#],
        r#"[{"attributes":{"http.method":"get","http.path":"/health","http.url":"http://localhost/health?user=REDACTED","total.string":"123456789","count":10,"ratio":0.5,"flag":true}},{"name":"operationB"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"replace_pattern(name, "^operation(.*)$", "op-$1")"#],
        r#"[{"name":"op-A"},{"name":"op-B"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"replace_pattern(name, "^operation(?P<x>.*)$", "op-${x}")"#],
        r#"[{"name":"op-A"},{"name":"op-B"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"replace_pattern(attributes["db.statement"], "\\d+", "?")"#],
        r#"[{"name":"operationA"},{"attributes":{"http.method":"post","db.statement":"SELECT * FROM users WHERE id = ?"}}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"replace_pattern(attributes["count"], "1", "2")"#],
        r#"[{"attributes":{"http.method":"get","http.path":"/health","http.url":"http://localhost/health?user=alice","total.string":"123456789","count":10,"ratio":0.5,"flag":true}},{"name":"operationB"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"replace_pattern(attributes["http.path"], "health", "$$1")"#],
        r#"[{"attributes":{"http.method":"get","http.path":"/$1","http.url":"http://localhost/health?user=alice","total.string":"123456789","count":10,"ratio":0.5,"flag":true}},{"name":"operationB"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"replace_pattern(attributes["http.method"], "get", "x", SHA256)"#],
        r#"[{"attributes":{"http.method":"2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881","http.path":"/health","http.url":"http://localhost/health?user=alice","total.string":"123456789","count":10,"ratio":0.5,"flag":true}},{"name":"operationB"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"replace_all_patterns(attributes, "value", "^/health$", "/h")"#],
        r#"[{"attributes":{"http.method":"get","http.path":"/h","http.url":"http://localhost/health?user=alice","total.string":"123456789","count":10,"ratio":0.5,"flag":true}},{"name":"operationB"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"replace_all_patterns(attributes, "key", "^http\\.", "h.")"#],
        r#"[{"attributes":{"h.method":"get","h.path":"/health","h.url":"http://localhost/health?user=alice","total.string":"123456789","count":10,"ratio":0.5,"flag":true}},{"attributes":{"h.method":"post","db.statement":"SELECT * FROM users WHERE id = 42"}}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"replace_all_patterns(attributes, "value", "[aeiou]", "")"#],
        r#"[{"attributes":{"http.method":"gt","http.path":"/hlth","http.url":"http://lclhst/hlth?sr=lc","total.string":"123456789","count":10,"ratio":0.5,"flag":true}},{"attributes":{"http.method":"pst","db.statement":"SELECT * FROM srs WHERE d = 42"}}]"#,
    ),
    // replace_match, replace_all_matches (globs)
    (
        Sig::T,
        "span",
        &[r#"replace_match(name, "operation*", "op")"#],
        r#"[{"name":"op"},{"name":"op"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"replace_match(name, "*A", "a")"#],
        r#"[{"name":"a"},{"name":"operationB"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"replace_match(name, "operation?", "one")"#],
        r#"[{"name":"one"},{"name":"one"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"replace_match(name, "operation[AC]", "ac")"#],
        r#"[{"name":"ac"},{"name":"operationB"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"replace_match(name, "operation{B,C}", "bc")"#],
        r#"[{"name":"operationA"},{"name":"bc"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"replace_match(name, "operation", "no")"#],
        r#"[{"name":"operationA"},{"name":"operationB"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"replace_all_matches(attributes, "/hea*", "/x")"#],
        r#"[{"attributes":{"http.method":"get","http.path":"/x","http.url":"http://localhost/health?user=alice","total.string":"123456789","count":10,"ratio":0.5,"flag":true}},{"name":"operationB"}]"#,
    ),
    // merge_maps
    (
        Sig::L,
        "log",
        &[
            r#"merge_maps(attributes, ParseJSON(attributes["json"]), "insert") where severity_number == 9"#,
            r#"keep_keys(attributes, ["a", "b", "n"])"#,
        ],
        r#"[{"attributes":{"n":3,"a":1.0,"b":"x"}},{"attributes":{}}]"#,
    ),
    (
        Sig::L,
        "log",
        &[r#"merge_maps(attributes, {"http.method": "PUT", "new": 1}, "update")"#],
        r#"[{"attributes":{"http.method":"PUT","http.path":"/health","flags":"A|B|C","json":"{\"a\":1,\"b\":\"x\",\"c\":{\"d\":true}}","kv":"k1=v1 k2=\"v 2\"","n":3}},{"attributes":{"http.method":"PUT"}}]"#,
    ),
    (
        Sig::L,
        "log",
        &[
            r#"merge_maps(attributes, {"http.method": "PUT", "new": 1}, "upsert") where severity_number == 5"#,
        ],
        r#"[{"severity_number":9},{"attributes":{"http.method":"PUT","new":1}}]"#,
    ),
    (
        Sig::L,
        "log",
        &[
            r#"merge_maps(attributes, {"http.method": "PUT", "new": 1}, "insert") where severity_number == 5"#,
        ],
        r#"[{"severity_number":9},{"attributes":{"http.method":"post","new":1}}]"#,
    ),
    // flatten
    (
        Sig::L,
        "log",
        &[
            r#"set(attributes, {"a": {"b": {"c": 1}, "l": [1, {"x": 2}]}}) where severity_number == 5"#,
            r#"flatten(attributes) where severity_number == 5"#,
        ],
        r#"[{"severity_number":9},{"attributes":{"a.b.c":1,"a.l.0":1,"a.l.1.x":2}}]"#,
    ),
    (
        Sig::L,
        "log",
        &[
            r#"set(attributes, {"a": {"b": {"c": 1}}}) where severity_number == 5"#,
            r#"flatten(attributes, "p") where severity_number == 5"#,
        ],
        r#"[{"severity_number":9},{"attributes":{"p.a.b.c":1}}]"#,
    ),
    (
        Sig::L,
        "log",
        &[
            r#"set(attributes, {"a": {"b": {"c": 1}}}) where severity_number == 5"#,
            r#"flatten(attributes, depth=1) where severity_number == 5"#,
        ],
        r#"[{"severity_number":9},{"attributes":{"a.b":{"c":1}}}]"#,
    ),
    (
        Sig::L,
        "log",
        &[
            r#"set(body, {"a": {"b": 1}}) where severity_number == 5"#,
            r#"flatten(body) where severity_number == 5"#,
        ],
        r#"[{"severity_number":9},{"body":{"a.b":1}}]"#,
    ),
    // append
    (
        Sig::L,
        "log",
        &[
            r#"append(attributes["l"], "a") where severity_number == 5"#,
            r#"append(attributes["l"], values=["b", "c"]) where severity_number == 5"#,
        ],
        r#"[{"severity_number":9},{"attributes":{"http.method":"post","l":["a","b","c"]}}]"#,
    ),
    (
        Sig::L,
        "log",
        &[r#"append(attributes["http.method"], "put") where severity_number == 5"#],
        r#"[{"severity_number":9},{"attributes":{"http.method":["post","put"]}}]"#,
    ),
    (
        Sig::L,
        "log",
        &[
            r#"append(attributes["n"], 4) where severity_number == 9"#,
            r#"keep_keys(attributes, ["n"])"#,
        ],
        r#"[{"attributes":{"n":[3,4]}},{"attributes":{}}]"#,
    ),
    // converters
    (
        Sig::T,
        "span",
        &[
            r#"set(attributes["c"], Concat([name, attributes["http.method"], attributes["count"]], "|")) where name == "operationA""#,
            r#"keep_keys(attributes, ["c"])"#,
        ],
        r#"[{"attributes":{"c":"operationA|get|10"}},{"attributes":{}}]"#,
    ),
    (
        Sig::T,
        "span",
        &[
            r#"set(attributes["c"], Concat(["a", attributes["missing"]], "")) where name == "operationB""#,
            r#"keep_keys(attributes, ["c"])"#,
        ],
        r#"[{"attributes":{}},{"attributes":{"c":"a<nil>"}}]"#,
    ),
    (
        Sig::T,
        "span",
        &[
            r#"set(attributes["c"], Concat([attributes["ratio"], attributes["flag"]], "-")) where name == "operationA""#,
            r#"keep_keys(attributes, ["c"])"#,
        ],
        r#"[{"attributes":{"c":"0.5-true"}},{"attributes":{}}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"set(name, ConvertCase(name, "upper"))"#],
        r#"[{"name":"OPERATIONA"},{"name":"OPERATIONB"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"set(name, ConvertCase(name, "snake"))"#],
        r#"[{"name":"operation_a"},{"name":"operation_b"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"set(name, ConvertCase("hello_world-foo", "camel"))"#],
        r#"[{"name":"HelloWorldFoo"},{"name":"HelloWorldFoo"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"set(name, ToUpperCase(name))"#],
        r#"[{"name":"OPERATIONA"},{"name":"OPERATIONB"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"set(name, ToLowerCase("ABC"))"#],
        r#"[{"name":"abc"},{"name":"abc"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[
            r#"set(attributes["i"], Int(attributes["total.string"])) where name == "operationA""#,
            r#"keep_keys(attributes, ["i"])"#,
        ],
        r#"[{"attributes":{"i":123456789}},{"attributes":{}}]"#,
    ),
    (
        Sig::T,
        "span",
        &[
            r#"set(attributes["i"], Int(attributes["ratio"])) where name == "operationA""#,
            r#"keep_keys(attributes, ["i"])"#,
        ],
        r#"[{"attributes":{"i":0}},{"attributes":{}}]"#,
    ),
    (
        Sig::T,
        "span",
        &[
            r#"set(attributes["i"], Int(attributes["flag"])) where name == "operationA""#,
            r#"keep_keys(attributes, ["i"])"#,
        ],
        r#"[{"attributes":{"i":1}},{"attributes":{}}]"#,
    ),
    (
        Sig::T,
        "span",
        &[
            r#"set(attributes["i"], Int("abc")) where name == "operationA""#,
            r#"keep_keys(attributes, ["i"])"#,
        ],
        r#"[{"attributes":{}},{"attributes":{}}]"#,
    ),
    (
        Sig::T,
        "span",
        &[
            r#"set(attributes["d"], Double(attributes["count"])) where name == "operationA""#,
            r#"keep_keys(attributes, ["d"])"#,
        ],
        r#"[{"attributes":{"d":10.0}},{"attributes":{}}]"#,
    ),
    (
        Sig::T,
        "span",
        &[
            r#"set(attributes["d"], Double("1.25")) where name == "operationA""#,
            r#"keep_keys(attributes, ["d"])"#,
        ],
        r#"[{"attributes":{"d":1.25}},{"attributes":{}}]"#,
    ),
    (
        Sig::T,
        "span",
        &[
            r#"set(attributes["s"], String(attributes["count"])) where name == "operationA""#,
            r#"keep_keys(attributes, ["s"])"#,
        ],
        r#"[{"attributes":{"s":"10"}},{"attributes":{}}]"#,
    ),
    (
        Sig::T,
        "span",
        &[
            r#"set(attributes["s"], String(trace_id)) where name == "operationA""#,
            r#"keep_keys(attributes, ["s"])"#,
        ],
        r#"[{"attributes":{"s":"0102030405060708090a0b0c0d0e0f10"}},{"attributes":{}}]"#,
    ),
    (
        Sig::T,
        "span",
        &[
            r#"set(attributes["b"], Bool("true")) where name == "operationA""#,
            r#"set(attributes["z"], Bool(0)) where name == "operationA""#,
            r#"keep_keys(attributes, ["b", "z"])"#,
        ],
        r#"[{"attributes":{"b":true,"z":false}},{"attributes":{}}]"#,
    ),
    (
        Sig::T,
        "span",
        &[
            r#"set(name, "s") where IsString(attributes["http.method"]) and IsInt(attributes["count"]) and IsDouble(attributes["ratio"]) and IsBool(attributes["flag"])"#,
        ],
        r#"[{"name":"s"},{"name":"operationB"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"set(name, "s") where IsMap(attributes) and IsList(Split(name, "a"))"#],
        r#"[{"name":"s"},{"name":"s"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"set(name, "s") where IsString(attributes["count"])"#],
        r#"[{"name":"operationA"},{"name":"operationB"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[
            r#"set(attributes["n"], Len(name)) where name == "operationA""#,
            r#"set(attributes["m"], Len(attributes)) where name == "operationA""#,
            r#"keep_keys(attributes, ["n", "m"])"#,
        ],
        r#"[{"attributes":{"n":10,"m":8}},{"attributes":{}}]"#,
    ),
    (
        Sig::T,
        "span",
        &[
            r#"set(name, "long") where attributes["db.statement"] != nil and Len(attributes["db.statement"]) > 20"#,
        ],
        r#"[{"name":"operationA"},{"name":"long"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"set(name, Substring(name, 0, 9))"#],
        r#"[{"name":"operation"},{"name":"operation"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[r#"set(name, Substring(name, 9, 1))"#],
        r#"[{"name":"A"},{"name":"B"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[
            r#"set(attributes["h"], SHA256(name)) where name == "operationB""#,
            r#"keep_keys(attributes, ["h"])"#,
        ],
        r#"[{"attributes":{}},{"attributes":{"h":"0ccf27e51a5a30c3fa52f672699e283899188af87dacb70db41f979b9177c1ab"}}]"#,
    ),
    (
        Sig::T,
        "span",
        &[
            r#"set(attributes["h"], SHA1("hello")) where name == "operationB""#,
            r#"keep_keys(attributes, ["h"])"#,
        ],
        r#"[{"attributes":{}},{"attributes":{"h":"aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"}}]"#,
    ),
    (
        Sig::T,
        "span",
        &[
            r#"set(attributes["h"], MD5("hello")) where name == "operationB""#,
            r#"keep_keys(attributes, ["h"])"#,
        ],
        r#"[{"attributes":{}},{"attributes":{"h":"5d41402abc4b2a76b9719d911017c592"}}]"#,
    ),
    (
        Sig::T,
        "span",
        &[
            r#"set(attributes["h"], SHA256("hello")) where name == "operationB""#,
            r#"keep_keys(attributes, ["h"])"#,
        ],
        r#"[{"attributes":{}},{"attributes":{"h":"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"}}]"#,
    ),
    (
        Sig::T,
        "span",
        &[
            r#"set(attributes["h"], FNV("hello")) where name == "operationB""#,
            r#"keep_keys(attributes, ["h"])"#,
        ],
        r#"[{"attributes":{}},{"attributes":{"h":-6615550055289275125}}]"#,
    ),
    (
        Sig::T,
        "span",
        &[
            r#"set(attributes["h"], Hex(span_id)) where name == "operationB""#,
            r#"keep_keys(attributes, ["h"])"#,
        ],
        r#"[{"attributes":{}},{"attributes":{"h":"0807060504030201"}}]"#,
    ),
    (
        Sig::L,
        "log",
        &[
            r#"set(attributes["p"], ExtractPatterns(attributes["http.path"], "^/(?P<first>[a-z]+)")) where severity_number == 9"#,
            r#"keep_keys(attributes, ["p"])"#,
        ],
        r#"[{"attributes":{"p":{"first":"health"}}},{"attributes":{}}]"#,
    ),
    (
        Sig::L,
        "log",
        &[
            r#"merge_maps(attributes, ExtractPatterns(body, "^(?P<verb>[a-z]+) (?P<rest>.*)$"), "upsert") where severity_number == 5"#,
        ],
        r#"[{"severity_number":9},{"attributes":{"http.method":"post","verb":"debug","rest":"details"}}]"#,
    ),
    (
        Sig::L,
        "log",
        &[
            r#"set(attributes["p"], ParseKeyValue(attributes["kv"])) where severity_number == 9"#,
            r#"keep_keys(attributes, ["p"])"#,
        ],
        r#"[{"attributes":{"p":{"k1":"v1","k2":"v 2"}}},{"attributes":{}}]"#,
    ),
    (
        Sig::L,
        "log",
        &[
            r#"set(attributes["p"], ParseKeyValue("a:1,b:2", ":", ",")) where severity_number == 5"#,
            r#"keep_keys(attributes, ["p"])"#,
        ],
        r#"[{"attributes":{}},{"attributes":{"p":{"a":"1","b":"2"}}}]"#,
    ),
    (
        Sig::L,
        "log",
        &[
            r#"set(attributes["p"], ParseJSON("[1, \"a\"]")) where severity_number == 5"#,
            r#"keep_keys(attributes, ["p"])"#,
        ],
        r#"[{"attributes":{}},{"attributes":{"p":[1.0,"a"]}}]"#,
    ),
    (
        Sig::L,
        "log",
        &[
            r#"set(attributes["k"], Keys(ParseJSON(attributes["json"]))) where severity_number == 9"#,
            r#"keep_keys(attributes, ["k"])"#,
        ],
        r#"[{"attributes":{"k":["a","b","c"]}},{"attributes":{}}]"#,
    ),
    (
        Sig::L,
        "log",
        &[
            r#"set(attributes["v"], Values({"a": 1, "b": "x"})) where severity_number == 9"#,
            r#"keep_keys(attributes, ["v"])"#,
        ],
        r#"[{"attributes":{"v":[1,"x"]}},{"attributes":{}}]"#,
    ),
    (
        Sig::L,
        "log",
        &[
            r#"set(body, "has B") where severity_number == 9 and ContainsValue(Split(attributes["flags"], "|"), "B")"#,
        ],
        r#"[{"body":"has B"},{"body":"debug details"}]"#,
    ),
    (
        Sig::L,
        "log",
        &[
            r#"set(attributes["i"], Index(body, "A")) where severity_number == 9"#,
            r#"set(attributes["j"], Index(Split(attributes["flags"], "|"), "C")) where severity_number == 9"#,
            r#"keep_keys(attributes, ["i", "j"])"#,
        ],
        r#"[{"attributes":{"i":9,"j":2}},{"attributes":{}}]"#,
    ),
    (
        Sig::L,
        "log",
        &[r#"set(body, Trim("  x  "))"#],
        r#"[{"body":"x"},{"body":"x"}]"#,
    ),
    (
        Sig::L,
        "log",
        &[r#"set(body, Trim("--x--", "-"))"#],
        r#"[{"body":"x"},{"body":"x"}]"#,
    ),
    (
        Sig::L,
        "log",
        &[r#"set(body, TrimPrefix(body, "debug ")) where HasPrefix(body, "debug")"#],
        r#"[{"body":"operationA"},{"body":"details"}]"#,
    ),
    (
        Sig::L,
        "log",
        &[r#"set(body, TrimSuffix(body, "A")) where HasSuffix(body, "A")"#],
        r#"[{"body":"operation"},{"body":"debug details"}]"#,
    ),
    (
        Sig::L,
        "log",
        &[r#"set(body, Format("%s has %d attributes", [body, Len(attributes)]))"#],
        r#"[{"body":"operationA has 6 attributes"},{"body":"debug details has 1 attributes"}]"#,
    ),
    (
        Sig::L,
        "log",
        &[
            r#"set(attributes["l"], Log(1.0)) where severity_number == 5"#,
            r#"keep_keys(attributes, ["l"])"#,
        ],
        r#"[{"attributes":{}},{"attributes":{"l":0.0}}]"#,
    ),
    (
        Sig::L,
        "log",
        &[
            r#"set(attributes["u"], true) where severity_number == 5 and UnixSeconds(Now()) > 1600000000"#,
            r#"keep_keys(attributes, ["u"])"#,
        ],
        r#"[{"attributes":{}},{"attributes":{"u":true}}]"#,
    ),
    (
        Sig::T,
        "span",
        &[
            r#"set(attributes["root"], IsRootSpan())"#,
            r#"keep_keys(attributes, ["root"])"#,
        ],
        r#"[{"attributes":{"root":true}},{"attributes":{"root":false}}]"#,
    ),
    // statements run in order and see earlier changes
    (
        Sig::T,
        "span",
        &[
            r#"set(attributes["a"], "1")"#,
            r#"set(attributes["b"], attributes["a"])"#,
            r#"delete_key(attributes, "a")"#,
            r#"keep_keys(attributes, ["a", "b"])"#,
        ],
        r#"[{"attributes":{"b":"1"}},{"attributes":{"b":"1"}}]"#,
    ),
    (
        Sig::T,
        "span",
        &[
            r#"set(name, "x")"#,
            r#"set(attributes["n"], name) where name == "x""#,
            r#"keep_keys(attributes, ["n"])"#,
        ],
        r#"[{"attributes":{"n":"x"}},{"attributes":{"n":"x"}}]"#,
    ),
    // typical config snippets from public configs
    (
        Sig::T,
        "resource",
        &[
            r#"set(attributes["k8s.cluster.name"], "prod") where attributes["k8s.cluster.name"] == nil"#,
        ],
        r#"[{"resource":{"attributes":{"service.name":"svc","host.name":"h1","k8s.cluster.name":"prod"},"dropped_attributes_count":0}},{"name":"operationB"}]"#,
    ),
    (
        Sig::L,
        "log",
        &[
            r#"merge_maps(cache, ParseJSON(body), "upsert") where IsMatch(body, "^\\{")"#,
            r#"set(severity_text, cache["level"]) where cache["level"] != nil"#,
        ],
        r#"[{"severity_text":"INFO"},{"severity_text":"DEBUG"}]"#,
    ),
    (
        Sig::L,
        "log",
        &[
            r#"set(body, "{\"level\":\"warn\",\"msg\":\"m\"}") where severity_number == 5"#,
            r#"merge_maps(cache, ParseJSON(body), "upsert") where IsMatch(body, "^\\{")"#,
            r#"set(severity_text, cache["level"]) where cache["level"] != nil"#,
            r#"set(body, cache["msg"]) where cache["msg"] != nil"#,
        ],
        r#"[{"severity_text":"INFO","body":"operationA"},{"severity_text":"warn","body":"m"}]"#,
    ),
    (
        Sig::T,
        "span",
        &[
            r#"set(attributes["http.route"], attributes["http.path"]) where attributes["http.route"] == nil and attributes["http.path"] != nil"#,
            r#"keep_keys(attributes, ["http.route"])"#,
        ],
        r#"[{"attributes":{"http.route":"/health"}},{"attributes":{}}]"#,
    ),
    (
        Sig::L,
        "log",
        &[
            r#"set(attributes["p"], ParseKeyValue("a=1 b=x=y a=2", "", "")) where severity_number == 5"#,
            r#"keep_keys(attributes, ["p"])"#,
        ],
        r#"[{"attributes":{}},{"attributes":{"p":{"a":"2","b":"x=y"}}}]"#,
    ),
];

#[test]
fn conformance_table() {
    let mut failures = Vec::new();
    for (i, (sig, ctx, statements, expected)) in CASES.iter().enumerate() {
        let case = format!("case {i} {statements:?}");
        let r = std::panic::catch_unwind(|| {
            let got = run(*sig, ctx, statements).unwrap_or_else(|e| panic!("{case}: {e}"));
            let exp: J = serde_json::from_str(expected)
                .unwrap_or_else(|e| panic!("{case}: bad expectation: {e}"));
            check_subset(&case, &got, &exp);
        });
        if r.is_err() {
            failures.push(i);
        }
    }
    assert!(failures.is_empty(), "failed cases: {failures:?}");
    assert!(CASES.len() >= 150, "{} cases", CASES.len());
}

/// Statements that Go refuses at load, with a fragment of the message and the column of the
/// offending token.
const LOAD_ERRORS: &[(&str, &str, &str, usize)] = &[
    ("span", r#"set(name, "x""#, "1:14", 14),
    ("span", r#"set(name "x")"#, "1:10", 10),
    ("span", r#"Set(name, "x")"#, "1:1", 1),
    ("span", r#"set(name, "x") where"#, "1:21", 21),
    (
        "span",
        r#"nosuch(name)"#,
        "undefined function \"nosuch\"",
        1,
    ),
    (
        "span",
        r#"set(name, NoSuch(name))"#,
        "undefined function \"NoSuch\"",
        11,
    ),
    (
        "span",
        r#"set(name, UserAgent(name))"#,
        "Ferrotel does not support",
        11,
    ),
    ("span", r#"set(name)"#, "incorrect number of arguments", 1),
    (
        "span",
        r#"set(name, "a", "b")"#,
        "incorrect number of arguments",
        16,
    ),
    ("span", r#"set(nosuchfield, "a")"#, "not a valid path", 5),
    ("span", r#"set(body, "a")"#, "not a valid path", 5),
    (
        "span",
        r#"set(attributes["a"], "b") where kind == NO_SUCH_ENUM"#,
        "enum symbol, NO_SUCH_ENUM, not found",
        41,
    ),
    (
        "span",
        r#"set(attributes["a"], SEVERITY_NUMBER_INFO)"#,
        "not found",
        22,
    ),
    ("span", r#"set("a", "b")"#, "must be a path", 5),
    (
        "span",
        r#"delete_matching_keys(attributes, "(")"#,
        "not a valid pattern",
        34,
    ),
    (
        "span",
        r#"replace_pattern(name, "[", "x")"#,
        "not a valid pattern",
        23,
    ),
    (
        "span",
        r#"limit(attributes, -1, [])"#,
        "cannot be negative",
        1,
    ),
    ("span", r#"limit(attributes, 1, ["a", "b"])"#, "priority", 1),
    (
        "span",
        r#"truncate_all(attributes, -1)"#,
        "cannot be negative",
        1,
    ),
    (
        "span",
        r#"set(name, ConvertCase(name, "kebab"))"#,
        "invalid case",
        11,
    ),
    (
        "span",
        r#"set(attributes["x"], ExtractPatterns(name, "[a-z]+"))"#,
        "named capture group",
        22,
    ),
    (
        "span",
        r#"merge_maps(attributes, {}, "replace")"#,
        "strategy",
        1,
    ),
    (
        "span",
        r#"replace_all_patterns(attributes, "both", "a", "b")"#,
        "invalid mode",
        1,
    ),
    ("span", r#"set(name, "x") where name"#, "comparison", 22),
    (
        "span",
        r#"set(attributes["a"], "x" + 1)"#,
        "invalid math expression",
        22,
    ),
    ("span", r#"set(attributes["a"], 1 / 0)"#, "divide by 0", 22),
    (
        "span",
        r#"set(name, "x") where log.body == "a""#,
        "not valid in the \"span\" context",
        22,
    ),
    (
        "log",
        r#"set(attributes["a"], IsRootSpan())"#,
        "IsRootSpan is not available",
        22,
    ),
    ("log", r#"set(profile.name, "a")"#, "profile", 5),
    (
        "span",
        r#"set(attributes["a"], TraceID(0x01))"#,
        "16 bytes",
        22,
    ),
    (
        "span",
        r#"set(attributes["a"], SpanID(0x0102))"#,
        "8 bytes",
        22,
    ),
    ("span", r#"append(attributes["a"])"#, "at least one", 1),
    (
        "span",
        r#"set(name, Concat(name, "-"))"#,
        "must be a list",
        11,
    ),
    (
        "span",
        r#"set(name, "x") where IsMatch(name, "(")"#,
        "not a valid pattern",
        36,
    ),
    (
        "span",
        r#"flatten(attributes, depth=-1)"#,
        "cannot be negative",
        1,
    ),
    (
        "span",
        r#"set(name, Substring(name, 0))"#,
        "incorrect number of arguments",
        11,
    ),
    (
        "span",
        r#"set(name, "x", nosuch="y")"#,
        "no such parameter",
        16,
    ),
    (
        "span",
        r#"keep_keys(attributes, [name])"#,
        "string literals",
        23,
    ),
    (
        "span",
        r#"set(target=name, nosuch="y")"#,
        "no such parameter",
        18,
    ),
];

#[test]
fn load_errors_name_the_statement_and_the_problem() {
    for (ctx, text, want, column) in LOAD_ERRORS {
        let kind = ContextKind::from_name(ctx).unwrap();
        let e = Statement::compile(text, kind, PathStyle::Contextual).expect_err(text);
        let msg = e.to_string();
        assert!(msg.contains(want), "{text}: {msg:?} lacks {want:?}");
        assert_eq!(e.column, Some(*column), "{text}: {msg}");
        assert!(msg.contains(&format!("1:{column}: ")), "{text}: {msg}");
        assert!(
            msg.contains(&format!("{text:?}")),
            "{text}: {msg:?} lacks the statement"
        );
    }
}

#[test]
fn inferred_form_requires_context_names() {
    let e = run(Sig::T, "", &[r#"set(attributes["a"], "b")"#]).unwrap_err();
    assert!(e.contains("unable to infer"), "{e}");
    let e = Statement::compile(
        r#"set(attributes["a"], "b")"#,
        ContextKind::Span,
        PathStyle::Prefixed,
    )
    .unwrap_err();
    assert!(e.to_string().contains("missing context name"), "{e}");
    let e = infer_context(&[r#"set(span.name, metric.name)"#], &[], METRIC_CTXS).unwrap_err();
    assert!(e.contains("cannot use paths"), "{e}");
    let e = infer_context(
        &[r#"set(span.name, log.body)"#],
        &[],
        &[ContextKind::Span, ContextKind::Log],
    )
    .unwrap_err();
    assert!(e.contains("cannot use paths"), "{e}");
    assert_eq!(
        infer_context(
            &[
                r#"set(resource.attributes["a"], "b")"#,
                r#"set(span.name, "x")"#
            ],
            &[],
            TRACE_CTXS
        )
        .unwrap(),
        ContextKind::Span
    );
    assert_eq!(
        infer_context(
            &[r#"set(span.name, "x") where spanevent.name == "e""#],
            &[],
            TRACE_CTXS
        )
        .unwrap(),
        ContextKind::SpanEvent
    );
}

#[test]
fn run_time_errors_follow_the_error_mode() {
    let st = |s: &str| Statement::compile(s, ContextKind::Log, PathStyle::Contextual).unwrap();
    for (mode, ok, renamed) in [
        (ErrorMode::Propagate, false, "operationA"),
        (ErrorMode::Ignore, true, "x"),
        (ErrorMode::Silent, true, "x"),
    ] {
        let seq = StatementSeq {
            statements: vec![
                st(r#"set(attributes["j"], ParseJSON(body))"#),
                st(r#"set(body, "x")"#),
            ],
            error_mode: mode,
        };
        let mut r = logs();
        let res = exec::visit_logs(&mut r, ContextKind::Log, &mut |c| seq.execute(c));
        assert_eq!(res.is_ok(), ok, "{mode:?}: {res:?}");
        if let Err(e) = res {
            assert!(e.contains("set(attributes[\"j\"], ParseJSON(body))"), "{e}");
        }
        assert_eq!(dump_logs(&r)[0]["body"], J::from(renamed), "{mode:?}");
    }
}

#[test]
fn conditions_evaluate_against_items() {
    let c = ottl::Condition::compile(
        r#"span.attributes["http.path"] == "/health" or IsMatch(span.name, "B$")"#,
        ContextKind::Span,
        PathStyle::Prefixed,
    )
    .unwrap();
    let mut r = traces();
    let mut hits = Vec::new();
    exec::visit_traces(&mut r, ContextKind::Span, &mut |ctx| {
        hits.push(c.eval(ctx)?);
        Ok(())
    })
    .unwrap();
    assert_eq!(hits, vec![true, true]);
    let c = ottl::Condition::compile(
        r#"kind == SPAN_KIND_CLIENT"#,
        ContextKind::Span,
        PathStyle::Contextual,
    )
    .unwrap();
    let mut r = traces();
    let dropped = exec::filter_traces(&mut r, ContextKind::Span, &mut |ctx| c.eval(ctx)).unwrap();
    assert_eq!(dropped, 1);
    assert_eq!(dump_traces(&r).len(), 1);
}
