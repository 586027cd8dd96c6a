use std::sync::Arc;
use std::time::Duration;

use pipeline_api::config::parse_typed;
use pipeline_api::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use pipeline_api::proto::tonic::common::v1::KeyValue;
use pipeline_api::proto::tonic::resource::v1::Resource;
use pipeline_api::proto::tonic::trace::v1::{status, ResourceSpans, ScopeSpans, Span, Status};
use pipeline_api::telemetry::ComponentTelemetry;
use pipeline_api::{Batch, ConsumeError, Consumer, Processor, Signal};
use prost::Message;
use tokio::time::{sleep, Instant};

use super::policy::{build_policies, Now, TraceData};
use super::*;
use crate::testutil::{b, ctx, i, kv, metric, s, yaml, Collect};

fn messages(y: &str) -> Vec<String> {
    match factory().parse_config(&yaml(y)) {
        Ok(_) => vec![],
        Err(errs) => errs.iter().map(|e| e.to_string()).collect(),
    }
}

fn id(n: u8) -> Vec<u8> {
    let mut v = vec![0xab; 16];
    v[15] = n;
    v
}

/// A span of trace `n` lasting `ms` milliseconds from `start_ms`.
fn span(n: u8, name: &str, start_ms: u64, ms: u64) -> Span {
    Span {
        trace_id: id(n),
        span_id: vec![n, 1, 2, 3, 4, 5, 6, 7],
        parent_span_id: vec![9; 8],
        name: name.into(),
        start_time_unix_nano: 1_000_000_000 + start_ms * 1_000_000,
        end_time_unix_nano: 1_000_000_000 + (start_ms + ms) * 1_000_000,
        ..Default::default()
    }
}

fn batch(resource: Vec<KeyValue>, spans: Vec<Span>) -> Batch {
    Batch::from_traces(ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: resource,
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
}

fn names(c: &Collect) -> Vec<String> {
    let mut out: Vec<String> = c
        .take()
        .iter()
        .flat_map(|b| b.as_traces().unwrap().resource_spans.clone())
        .flat_map(|r| r.scope_spans)
        .flat_map(|s| s.spans)
        .map(|s| s.name)
        .collect();
    out.sort();
    out
}

async fn started(
    component: &str,
    y: &str,
) -> (Arc<TailSamplingProcessor>, Arc<Collect>, ComponentTelemetry) {
    let cfg: Config = parse_typed(&yaml(y)).expect("config");
    let next = Collect::new();
    let bctx = ctx(component, Signal::Traces);
    let t = bctx.telemetry.clone();
    let p = Arc::new(TailSamplingProcessor::new(&bctx, &cfg, next.clone()).expect("build"));
    p.start().await.unwrap();
    (p, next, t)
}

/// Let every ready task run (time is paused).
async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

const ALWAYS: &str = "policies: [{name: all, type: always_sample}]\n";

// ---------- config ----------

#[test]
fn defaults_validate_and_are_go_defaults() {
    // Go createDefaultConfig: DecisionWait 30s, NumTraces 50000.
    let cfg: Config = parse_typed(&yaml("{}")).unwrap();
    assert_eq!(cfg, Config::default());
    assert_eq!(cfg.decision_wait.get(), Duration::from_secs(30));
    assert_eq!(cfg.num_traces, 50_000);
    assert_eq!(cfg.expected_new_traces_per_sec, 0);
    assert_eq!(cfg.decision_cache, DecisionCacheConfig::default());
    assert!(messages("{}").is_empty());
    assert_eq!(factory().signals(), &[Signal::Traces]);
}

#[test]
fn unknown_keys_and_types_are_rejected_with_paths() {
    assert_eq!(
        messages("policies: [{name: a, type: latency, latency: {treshold_ms: 5}}]"),
        vec!["policies::0::latency::treshold_ms: unknown key \"treshold_ms\"; did you mean \"threshold_ms\"?"]
    );
    assert!(messages("policies: [{name: a, type: always_sampl}]")[0]
        .starts_with("policies::0::type: invalid value \"always_sampl\""));
    assert_eq!(
        messages("desicion_wait: 5s"),
        vec!["desicion_wait: unknown key \"desicion_wait\"; did you mean \"decision_wait\"?"]
    );
    // `composite` is not a key of an and sub-policy (Go AndSubPolicyCfg).
    assert!(messages("policies: [{name: a, type: and, and: {and_sub_policy: [{name: b, type: always_sample, composite: {}}]}}]")[0]
        .starts_with("policies::0::and::and_sub_policy::0::composite: unknown key"));
}

#[test]
fn invalid_policies_are_config_errors_with_paths() {
    let m = messages(
        "policies:\n\
         - {name: s, type: string_attribute, string_attribute: {key: k, values: [ok, '(bad'], enabled_regex_matching: true}}\n\
         - {name: o, type: ottl_condition, ottl_condition: {span: ['attributes[\"x\"] ==']}}\n\
         - {name: s, type: always_sample}\n\
         - {type: always_sample}\n\
         - {name: n, type: numeric_attribute, numeric_attribute: {key: k}}\n\
         - {name: c, type: status_code, status_code: {status_codes: [FAILED]}}\n\
         - {name: a, type: and, and: {and_sub_policy: [{name: x, type: composite}]}}\n",
    );
    let expect = [
        "policies::0::string_attribute::values::1: invalid regex \"(bad\"",
        "policies::1::ottl_condition::span::0: ",
        "policies::2::name: duplicate policy name \"s\"",
        "policies::3::name: policy name cannot be empty",
        "policies::4::numeric_attribute: at least one of min_value or max_value must be set",
        "policies::5::status_code::status_codes::0: unknown status code \"FAILED\", supported: OK, ERROR, UNSET",
        "policies::6::and::and_sub_policy::0::type: unknown sampling policy type \"composite\"",
    ];
    assert_eq!(m.len(), expect.len(), "{m:#?}");
    for (got, want) in m.iter().zip(expect) {
        assert!(got.starts_with(want), "{got}\n  should start with\n{want}");
    }
    assert_eq!(
        messages("num_traces: 0"),
        vec!["num_traces: num_traces must be greater than zero"]
    );
}

// ---------- policies ----------

fn trace_data(resource: Vec<KeyValue>, spans: Vec<Span>) -> TraceData {
    let count = spans.len() as i64;
    TraceData {
        trace_id: {
            let mut a = [0u8; 16];
            a.copy_from_slice(&spans[0].trace_id);
            a
        },
        batches: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: resource,
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
        span_count: count,
        size_bytes: 100,
    }
}

fn decide(policy_yaml: &str, trace: &TraceData) -> Decision {
    let cfg: Config = parse_typed(&yaml(&format!("policies: [{policy_yaml}]"))).expect("policy");
    let mut policies = build_policies(&cfg.policies).expect("valid");
    let now = Now {
        second: 0,
        instant: Instant::now(),
    };
    policies[0].evaluator.evaluate(&mut trace.clone(), now)
}

fn with_attrs(mut sp: Span, attrs: Vec<KeyValue>) -> Span {
    sp.attributes = attrs;
    sp
}

#[tokio::test]
async fn each_policy_kind() {
    use Decision::*;
    let t = trace_data(vec![], vec![span(1, "a", 0, 100), span(1, "b", 450, 100)]);
    assert_eq!(decide("{name: p, type: always_sample}", &t), Sampled);
    // latency: earliest start to latest end is 550ms.
    assert_eq!(
        decide("{name: p, type: latency, latency: {threshold_ms: 500}}", &t),
        Sampled
    );
    assert_eq!(
        decide("{name: p, type: latency, latency: {threshold_ms: 551}}", &t),
        NotSampled
    );
    assert_eq!(
        decide(
            "{name: p, type: latency, latency: {threshold_ms: 100, upper_threshold_ms: 549}}",
            &t
        ),
        NotSampled
    );
    assert_eq!(
        decide(
            "{name: p, type: latency, latency: {threshold_ms: 100, upper_threshold_ms: 550}}",
            &t
        ),
        Sampled
    );

    let status = |code| Span {
        status: Some(Status {
            code,
            ..Default::default()
        }),
        ..span(2, "s", 0, 1)
    };
    let t = trace_data(
        vec![],
        vec![
            status(status::StatusCode::Ok as i32),
            status(status::StatusCode::Error as i32),
        ],
    );
    assert_eq!(
        decide(
            "{name: p, type: status_code, status_code: {status_codes: [ERROR]}}",
            &t
        ),
        Sampled
    );
    let t = trace_data(vec![], vec![span(2, "s", 0, 1)]);
    assert_eq!(
        decide(
            "{name: p, type: status_code, status_code: {status_codes: [ERROR, OK]}}",
            &t
        ),
        NotSampled
    );
    assert_eq!(
        decide(
            "{name: p, type: status_code, status_code: {status_codes: [UNSET]}}",
            &t
        ),
        Sampled
    );

    // numeric_attribute: Int() of a span or resource attribute; 0 is "no bound".
    let t = trace_data(
        vec![],
        vec![with_attrs(
            span(3, "n", 0, 1),
            vec![kv("http.status_code", i(503))],
        )],
    );
    assert_eq!(decide("{name: p, type: numeric_attribute, numeric_attribute: {key: http.status_code, min_value: 500, max_value: 599}}", &t), Sampled);
    assert_eq!(decide("{name: p, type: numeric_attribute, numeric_attribute: {key: http.status_code, min_value: 500}}", &t), Sampled);
    assert_eq!(decide("{name: p, type: numeric_attribute, numeric_attribute: {key: http.status_code, max_value: 499}}", &t), NotSampled);
    assert_eq!(decide("{name: p, type: numeric_attribute, numeric_attribute: {key: http.status_code, min_value: 500, invert_match: true}}", &t), InvertNotSampled);
    assert_eq!(decide("{name: p, type: numeric_attribute, numeric_attribute: {key: other, min_value: 500, invert_match: true}}", &t), InvertSampled);
    let t = trace_data(vec![kv("retries", i(3))], vec![span(3, "n", 0, 1)]);
    assert_eq!(decide("{name: p, type: numeric_attribute, numeric_attribute: {key: retries, min_value: 1, max_value: 5}}", &t), Sampled);
    let t = trace_data(
        vec![],
        vec![with_attrs(span(3, "n", 0, 1), vec![kv("code", s("503"))])],
    );
    assert_eq!(
        decide(
            "{name: p, type: numeric_attribute, numeric_attribute: {key: code, min_value: 500}}",
            &t
        ),
        NotSampled,
        "Int() of a string is 0"
    );

    // string_attribute: exact, regex (unanchored), invert; resource attributes too.
    let t = trace_data(
        vec![kv("service.name", s("checkout"))],
        vec![with_attrs(
            span(4, "x", 0, 1),
            vec![kv("http.route", s("/api/v1/pay"))],
        )],
    );
    assert_eq!(decide("{name: p, type: string_attribute, string_attribute: {key: service.name, values: [checkout, cart]}}", &t), Sampled);
    assert_eq!(decide("{name: p, type: string_attribute, string_attribute: {key: http.route, values: [/api/v1]}}", &t), NotSampled);
    assert_eq!(decide("{name: p, type: string_attribute, string_attribute: {key: http.route, values: ['v1/p'], enabled_regex_matching: true}}", &t), Sampled);
    assert_eq!(decide("{name: p, type: string_attribute, string_attribute: {key: service.name, values: [checkout], invert_match: true}}", &t), InvertNotSampled);
    assert_eq!(decide("{name: p, type: string_attribute, string_attribute: {key: service.name, values: [cart], invert_match: true}}", &t), InvertSampled);

    // boolean_attribute.
    let t = trace_data(
        vec![],
        vec![with_attrs(span(5, "x", 0, 1), vec![kv("error", b(true))])],
    );
    assert_eq!(
        decide(
            "{name: p, type: boolean_attribute, boolean_attribute: {key: error, value: true}}",
            &t
        ),
        Sampled
    );
    assert_eq!(
        decide(
            "{name: p, type: boolean_attribute, boolean_attribute: {key: error, value: false}}",
            &t
        ),
        NotSampled
    );

    // span_count: min and (when not 0) max.
    let t = trace_data(
        vec![],
        vec![span(6, "a", 0, 1), span(6, "b", 0, 1), span(6, "c", 0, 1)],
    );
    assert_eq!(
        decide(
            "{name: p, type: span_count, span_count: {min_spans: 3}}",
            &t
        ),
        Sampled
    );
    assert_eq!(
        decide(
            "{name: p, type: span_count, span_count: {min_spans: 1, max_spans: 2}}",
            &t
        ),
        NotSampled
    );

    // trace_state.
    let mut sp = span(7, "x", 0, 1);
    sp.trace_state = "vendor=abc, team=payments".into();
    let t = trace_data(vec![], vec![sp]);
    assert_eq!(
        decide(
            "{name: p, type: trace_state, trace_state: {key: team, values: [payments]}}",
            &t
        ),
        Sampled
    );
    assert_eq!(
        decide(
            "{name: p, type: trace_state, trace_state: {key: team, values: [search]}}",
            &t
        ),
        NotSampled
    );

    // and / drop / not.
    let t = trace_data(
        vec![],
        vec![with_attrs(
            span(8, "x", 0, 1),
            vec![kv("http.status_code", i(500)), kv("env", s("prod"))],
        )],
    );
    let and = "{name: p, type: and, and: {and_sub_policy: [{name: a, type: numeric_attribute, numeric_attribute: {key: http.status_code, min_value: 500}}, {name: b, type: string_attribute, string_attribute: {key: env, values: [ENV]}}]}}";
    assert_eq!(decide(&and.replace("ENV", "prod"), &t), Sampled);
    assert_eq!(decide(&and.replace("ENV", "dev"), &t), NotSampled);
    assert_eq!(decide("{name: p, type: drop, drop: {drop_sub_policy: [{name: a, type: string_attribute, string_attribute: {key: env, values: [prod]}}]}}", &t), Dropped);
    assert_eq!(decide("{name: p, type: drop, drop: {drop_sub_policy: [{name: a, type: string_attribute, string_attribute: {key: env, values: [dev]}}]}}", &t), NotSampled);
    assert_eq!(decide("{name: p, type: not, not: {not_sub_policy: {name: a, type: string_attribute, string_attribute: {key: env, values: [dev]}}}}", &t), Sampled);
}

#[tokio::test]
async fn probabilistic_policy_is_go_fnv64_with_salt() {
    // Go calculateThreshold with big.Float: MaxUint64 * 0.5 = 2^63 - 0.5 has 64 significant
    // bits, so it truncates to 2^63 - 1.
    assert_eq!(probabilistic_threshold(0.5), (1u64 << 63) - 1);
    assert_eq!(probabilistic_threshold(1.0), u64::MAX);
    assert_eq!(probabilistic_threshold(0.0), 0);
    // FNV-1a 64 of "a" (published vector).
    assert_eq!(fnv1a64(&[b"a"]), 0xaf63_dc4c_8601_ec8c);
    let mut kept = 0;
    for n in 0..10_000u32 {
        let mut tid = [0u8; 16];
        tid[..4].copy_from_slice(&n.to_be_bytes());
        tid[4..8].copy_from_slice(&n.wrapping_mul(2_654_435_761).to_le_bytes());
        let mut sp = span(1, "x", 0, 1);
        sp.trace_id = tid.to_vec();
        let mut t = trace_data(vec![], vec![sp]);
        t.trace_id = tid;
        let d = decide("{name: p, type: probabilistic, probabilistic: {sampling_percentage: 10, hash_salt: s1}}", &t);
        let expected = fnv1a64(&[b"s1", &tid]) <= probabilistic_threshold(0.1);
        assert_eq!(d == Decision::Sampled, expected);
        kept += usize::from(expected);
    }
    // Binomial n=10000, p=0.1: sd 30; ±5 sd.
    assert!((850..=1150).contains(&kept), "{kept}");
}

#[tokio::test]
async fn rate_limiting_and_composite_count_spans_per_second() {
    let cfg: Config = parse_typed(&yaml(
        "policies:\n\
         - {name: rl, type: rate_limiting, rate_limiting: {spans_per_second: 5}}\n\
         - name: c\n  type: composite\n  composite:\n    max_total_spans_per_second: 4\n    composite_sub_policy:\n      - {name: errs, type: status_code, status_code: {status_codes: [UNSET]}}\n      - {name: rest, type: always_sample}\n    rate_allocation: [{policy: errs, percent: 50}, {policy: rest, percent: 0}]\n",
    ))
    .unwrap();
    let mut p = build_policies(&cfg.policies).unwrap();
    let t2 = trace_data(vec![], vec![span(1, "a", 0, 1), span(1, "b", 0, 1)]);
    let at = |second| Now {
        second,
        instant: Instant::now(),
    };
    let rl =
        |p: &mut Vec<super::policy::Policy>, sec| p[0].evaluator.evaluate(&mut t2.clone(), at(sec));
    // Go: sampled while spans so far + this trace's < spans_per_second.
    assert_eq!(rl(&mut p, 1), Decision::Sampled);
    assert_eq!(rl(&mut p, 1), Decision::Sampled);
    assert_eq!(rl(&mut p, 1), Decision::NotSampled);
    assert_eq!(
        rl(&mut p, 2),
        Decision::Sampled,
        "a new second resets the count"
    );
    // Composite: errs gets 50% of 4 = 2 spans/s; the first sub-policy that samples is
    // charged, and over its allocation the trace is not sampled.
    let c =
        |p: &mut Vec<super::policy::Policy>, sec| p[1].evaluator.evaluate(&mut t2.clone(), at(sec));
    assert_eq!(c(&mut p, 1), Decision::Sampled);
    assert_eq!(c(&mut p, 1), Decision::NotSampled);
    assert_eq!(c(&mut p, 2), Decision::Sampled);
}

// ---------- the processor ----------

#[tokio::test(start_paused = true)]
async fn spans_are_held_for_decision_wait_then_released_together() {
    let (p, next, t) = started("tail_sampling", ALWAYS).await;
    p.consume(batch(vec![], vec![span(1, "first", 0, 10)]))
        .await
        .unwrap();
    sleep(Duration::from_secs(5)).await;
    p.consume(batch(
        vec![],
        vec![span(1, "second", 5, 10), span(2, "other", 0, 1)],
    ))
    .await
    .unwrap();
    sleep(Duration::from_secs(24)).await; // t = 29s
    settle().await;
    assert_eq!(next.count(), 0, "nothing before decision_wait");
    assert_eq!(
        metric(
            &t,
            "otelcol_processor_tail_sampling_sampling_traces_on_memory",
            &[]
        ),
        2.0
    );
    sleep(Duration::from_millis(1500)).await; // t = 30.5s: trace 1 decided
    settle().await;
    assert_eq!(names(&next), vec!["first", "second"]);
    sleep(Duration::from_secs(5)).await; // t = 35.5s: trace 2 decided
    settle().await;
    assert_eq!(names(&next), vec!["other"]);
    assert_eq!(
        metric(
            &t,
            "otelcol_processor_tail_sampling_count_traces_sampled",
            &[
                ("policy", "all"),
                ("sampled", "true"),
                ("decision", "sampled")
            ]
        ),
        2.0
    );
    assert_eq!(
        metric(
            &t,
            "otelcol_processor_tail_sampling_global_count_traces_sampled",
            &[("sampled", "true")]
        ),
        2.0
    );
    assert_eq!(
        metric(
            &t,
            "otelcol_processor_tail_sampling_new_trace_id_received",
            &[]
        ),
        2.0
    );
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn policy_decision_precedence_and_metrics() {
    // Drop wins over always_sample; an error-keeping policy samples; the policy label
    // carries the component name as Go's "<name>.<policy>".
    let y = "decision_wait: 1s\npolicies:\n\
      - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}\n\
      - {name: no-health, type: drop, drop: {drop_sub_policy: [{name: h, type: string_attribute, string_attribute: {key: http.route, values: [/health]}}]}}\n";
    let (p, next, t) = started("tail_sampling/edge", y).await;
    let mut err = span(1, "error", 0, 1);
    err.status = Some(Status {
        code: status::StatusCode::Error as i32,
        ..Default::default()
    });
    let mut health = with_attrs(
        span(2, "health", 0, 1),
        vec![kv("http.route", s("/health"))],
    );
    health.status = err.status.clone();
    p.consume(batch(vec![], vec![err, health, span(3, "ok", 0, 1)]))
        .await
        .unwrap();
    sleep(Duration::from_secs(2)).await;
    settle().await;
    assert_eq!(names(&next), vec!["error"]);
    let m = "otelcol_processor_tail_sampling_count_traces_sampled";
    assert_eq!(
        metric(
            &t,
            m,
            &[("policy", "edge.no-health"), ("decision", "dropped")]
        ),
        1.0
    );
    assert_eq!(
        metric(&t, m, &[("policy", "edge.errors"), ("decision", "sampled")]),
        1.0,
        "the drop policy ran first for the health trace"
    );
    assert_eq!(
        metric(
            &t,
            "otelcol_processor_tail_sampling_global_count_traces_sampled",
            &[("decision", "not_sampled")]
        ),
        1.0
    );
    assert_eq!(
        metric(
            &t,
            "otelcol_processor_tail_sampling_spans_dropped",
            &[("reason", "not_sampled")]
        ),
        2.0
    );
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn keeping_errors_slow_and_a_share_of_the_rest() {
    // The config example's shape.
    let y = "decision_wait: 10s\npolicies:\n\
      - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}\n\
      - {name: slow, type: latency, latency: {threshold_ms: 500}}\n\
      - {name: rest, type: probabilistic, probabilistic: {sampling_percentage: 5}}\n";
    let (p, next, _) = started("tail_sampling", y).await;
    let mut err = span(1, "error", 0, 10);
    err.status = Some(Status {
        code: status::StatusCode::Error as i32,
        ..Default::default()
    });
    p.consume(batch(vec![], vec![err, span(2, "slow", 0, 700)]))
        .await
        .unwrap();
    for n in 10..=250u8 {
        p.consume(batch(vec![], vec![span(n, "fast", 0, 5)]))
            .await
            .unwrap();
    }
    sleep(Duration::from_secs(11)).await;
    settle().await;
    let got = names(&next);
    assert!(got.contains(&"error".to_string()) && got.contains(&"slow".to_string()));
    let fast = got.iter().filter(|n| *n == "fast").count();
    assert!(fast < 40, "about 5% of 241 fast traces, got {fast}");
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn num_traces_evicts_the_oldest_and_counts_it() {
    let y = format!("num_traces: 2\n{ALWAYS}");
    let (p, next, t) = started("tail_sampling", &y).await;
    for n in 1..=3u8 {
        p.consume(batch(
            vec![],
            vec![
                span(n, &format!("t{n}"), 0, 1),
                span(n, &format!("t{n}b"), 0, 1),
            ],
        ))
        .await
        .unwrap();
    }
    assert_eq!(
        metric(
            &t,
            "otelcol_processor_tail_sampling_sampling_trace_dropped_too_early",
            &[]
        ),
        1.0
    );
    assert_eq!(
        metric(
            &t,
            "otelcol_processor_tail_sampling_spans_dropped",
            &[("reason", "evicted")]
        ),
        2.0
    );
    assert_eq!(
        metric(
            &t,
            "otelcol_processor_tail_sampling_sampling_traces_on_memory",
            &[]
        ),
        2.0
    );
    sleep(Duration::from_secs(31)).await;
    settle().await;
    assert_eq!(names(&next), vec!["t2", "t2b", "t3", "t3b"]);
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn block_on_overflow_refuses_with_a_retryable_error() {
    let y = format!("num_traces: 1\nblock_on_overflow: true\n{ALWAYS}");
    let (p, next, _) = started("tail_sampling", &y).await;
    p.consume(batch(vec![], vec![span(1, "a", 0, 1)]))
        .await
        .unwrap();
    let e: ConsumeError = p
        .consume(batch(vec![], vec![span(2, "b", 0, 1)]))
        .await
        .unwrap_err();
    assert!(e.is_retryable());
    assert_eq!(e.message(), ERR_FULL);
    // Spans of a trace already held are still accepted.
    p.consume(batch(vec![], vec![span(1, "a2", 0, 1)]))
        .await
        .unwrap();
    sleep(Duration::from_secs(31)).await;
    settle().await;
    assert_eq!(names(&next), vec!["a", "a2"]);
    // Once decided, the slot is reusable.
    p.consume(batch(vec![], vec![span(2, "b", 0, 1)]))
        .await
        .unwrap();
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn late_spans_follow_the_decision_without_a_cache() {
    // Without a decision cache the decided trace stays in the map (Go), so late spans
    // follow its decision.
    let y = "decision_wait: 2s\npolicies: [{name: keep1, type: string_attribute, string_attribute: {key: k, values: ['1']}}]\n";
    let (p, next, t) = started("tail_sampling", y).await;
    p.consume(batch(
        vec![],
        vec![
            with_attrs(span(1, "kept", 0, 1), vec![kv("k", s("1"))]),
            span(2, "dropped", 0, 1),
        ],
    ))
    .await
    .unwrap();
    sleep(Duration::from_secs(3)).await;
    settle().await;
    assert_eq!(names(&next), vec!["kept"]);
    p.consume(batch(
        vec![],
        vec![span(1, "late-kept", 0, 1), span(2, "late-dropped", 0, 1)],
    ))
    .await
    .unwrap();
    settle().await;
    assert_eq!(
        names(&next),
        vec!["late-kept"],
        "forwarded at once, not held again"
    );
    assert_eq!(
        metric(
            &t,
            "otelcol_processor_tail_sampling_spans_dropped",
            &[("reason", "late_not_sampled")]
        ),
        1.0
    );
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn late_spans_follow_the_decision_cache() {
    let y = "decision_wait: 2s\ndecision_cache: {sampled_cache_size: 10, non_sampled_cache_size: 10}\n\
             policies: [{name: keep1, type: string_attribute, string_attribute: {key: k, values: ['1']}}]\n";
    let (p, next, t) = started("tail_sampling", y).await;
    p.consume(batch(
        vec![],
        vec![
            with_attrs(span(1, "kept", 0, 1), vec![kv("k", s("1"))]),
            span(2, "dropped", 0, 1),
        ],
    ))
    .await
    .unwrap();
    sleep(Duration::from_secs(3)).await;
    settle().await;
    assert_eq!(names(&next), vec!["kept"]);
    assert_eq!(
        metric(
            &t,
            "otelcol_processor_tail_sampling_sampling_traces_on_memory",
            &[]
        ),
        0.0,
        "cached traces leave the map"
    );
    p.consume(batch(
        vec![],
        vec![span(1, "late-kept", 0, 1), span(2, "late-dropped", 0, 1)],
    ))
    .await
    .unwrap();
    settle().await;
    assert_eq!(names(&next), vec!["late-kept"]);
    let early = "otelcol_processor_tail_sampling_early_releases_from_cache_decision";
    assert_eq!(metric(&t, early, &[("sampled", "true")]), 1.0);
    assert_eq!(metric(&t, early, &[("sampled", "false")]), 1.0);
    p.shutdown().await;
}

#[test]
fn lru_decision_cache_evicts_least_recently_used() {
    let mut c = LruSet::new(2);
    c.put([1; 16]);
    c.put([2; 16]);
    assert!(c.get(&[1; 16]));
    c.put([3; 16]);
    assert!(c.contains(&[1; 16]) && c.contains(&[3; 16]) && !c.contains(&[2; 16]));
    assert_eq!(c.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn root_span_shortens_the_wait() {
    let y = format!("decision_wait_after_root_received: 2s\n{ALWAYS}");
    let (p, next, _) = started("tail_sampling", &y).await;
    let mut root = span(1, "root", 0, 1);
    root.parent_span_id = vec![];
    p.consume(batch(
        vec![],
        vec![span(1, "child", 0, 1), span(2, "no-root", 0, 1)],
    ))
    .await
    .unwrap();
    sleep(Duration::from_secs(1)).await;
    p.consume(batch(vec![], vec![root])).await.unwrap();
    sleep(Duration::from_millis(2500)).await;
    settle().await;
    assert_eq!(names(&next), vec!["child", "root"]);
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn maximum_trace_size_drops_large_traces() {
    let y = format!("maximum_trace_size_bytes: 300\n{ALWAYS}");
    let (p, next, t) = started("tail_sampling", &y).await;
    let big = with_attrs(
        span(1, "big", 0, 1),
        vec![kv("payload", s(&"x".repeat(400)))],
    );
    p.consume(batch(vec![], vec![big, span(2, "small", 0, 1)]))
        .await
        .unwrap();
    sleep(Duration::from_secs(31)).await;
    settle().await;
    assert_eq!(names(&next), vec!["small"]);
    assert_eq!(
        metric(
            &t,
            "otelcol_processor_tail_sampling_spans_dropped",
            &[("reason", "too_large")]
        ),
        1.0
    );
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_decides_what_is_held_then_hands_on() {
    let (p, next, _) = started("tail_sampling", ALWAYS).await;
    p.consume(batch(vec![], vec![span(1, "held", 0, 1)]))
        .await
        .unwrap();
    p.shutdown().await;
    assert_eq!(
        names(&next),
        vec!["held"],
        "Go decides pending traces at shutdown"
    );
    p.consume(batch(vec![], vec![span(2, "after", 0, 1)]))
        .await
        .unwrap();
    assert_eq!(
        names(&next),
        vec!["after"],
        "handed straight on after shutdown"
    );
    p.shutdown().await; // twice is fine
}

#[tokio::test(start_paused = true)]
async fn shutdown_can_drop_pending_traces_and_counts_them() {
    let y = format!("drop_pending_traces_on_shutdown: true\n{ALWAYS}");
    let (p, next, t) = started("tail_sampling", &y).await;
    p.consume(batch(
        vec![],
        vec![span(1, "held", 0, 1), span(1, "held2", 0, 1)],
    ))
    .await
    .unwrap();
    p.shutdown().await;
    assert_eq!(next.count(), 0);
    assert_eq!(
        metric(
            &t,
            "otelcol_processor_tail_sampling_spans_dropped",
            &[("reason", "shutdown")]
        ),
        2.0
    );
}

#[tokio::test(start_paused = true)]
async fn not_started_is_retryable_and_forward_failures_are_counted() {
    let cfg: Config = parse_typed(&yaml(ALWAYS)).unwrap();
    let next = Collect::new();
    let bctx = ctx("tail_sampling", Signal::Traces);
    let t = bctx.telemetry.clone();
    let p = TailSamplingProcessor::new(&bctx, &cfg, next.clone()).unwrap();
    let e = p
        .consume(batch(vec![], vec![span(1, "x", 0, 1)]))
        .await
        .unwrap_err();
    assert!(e.is_retryable());
    p.start().await.unwrap();
    *next.fail.lock().unwrap() = Some(ConsumeError::permanent("backend said no"));
    p.consume(batch(vec![], vec![span(1, "x", 0, 1), span(1, "y", 0, 1)]))
        .await
        .unwrap();
    sleep(Duration::from_secs(31)).await;
    settle().await;
    assert_eq!(next.count(), 1);
    assert_eq!(
        metric(
            &t,
            "otelcol_processor_tail_sampling_spans_dropped",
            &[("reason", "forward_failed")]
        ),
        2.0
    );
    p.shutdown().await;
}

#[test]
fn split_by_trace_keeps_resource_and_scopes() {
    let b = batch(
        vec![kv("service.name", s("svc"))],
        vec![span(1, "a", 0, 1), span(2, "b", 0, 1), span(1, "c", 0, 1)],
    );
    let BatchDataTraces(rs) = BatchDataTraces::from(b);
    let parts = split_by_trace(rs);
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0].spans, 2);
    let first = ResourceSpans::decode(&parts[0].bytes[..]).unwrap();
    assert_eq!(first.scope_spans.len(), 1);
    assert_eq!(first.scope_spans[0].spans.len(), 2);
    assert_eq!(
        first.resource.as_ref().unwrap().attributes[0].key,
        "service.name"
    );
    assert!(!parts[0].has_root);
}

/// A batch in its wire form is split into the same pieces, byte for byte, as its decoded
/// form: random requests (resources and scopes with and without spans, several traces in
/// a scope, a trace across scopes and resources, roots of both kinds, empty ids).
#[test]
fn the_wire_form_splits_by_trace_as_the_decoded_form() {
    use pipeline_api::testing::random::{self, Rng};
    let mut rng = Rng(0x7a11);
    let (mut pieces, mut several, mut roots) = (0, 0, 0);
    for _ in 0..300 {
        let mut data = random::request(Signal::Traces, &mut rng);
        // roots of both kinds, an empty trace id (the scan refuses other lengths), a trace
        // id shared across resources
        for (i, span) in random::spans_mut(&mut data).enumerate() {
            match i % 6 {
                0 => span.parent_span_id = vec![0; 8],
                1 => span.parent_span_id.clear(),
                2 => span.trace_id.clear(),
                3 => span.trace_id = vec![9; 16],
                _ => {}
            }
        }
        let (wire, decoded) = random::both_forms(data);
        let got = split_wire(&wire).expect("a wire batch splits");
        assert!(!wire.is_decoded());
        let want = split_by_trace(decoded.as_traces().unwrap().resource_spans.clone());
        assert_eq!(got, want);
        assert!(
            split_wire(&decoded).is_none(),
            "a decoded batch is not split as bytes"
        );
        pieces += got.len();
        several += got.iter().filter(|p| p.spans > 1).count();
        roots += got.iter().filter(|p| p.has_root).count();
    }
    assert!(
        pieces > 200 && several > 20 && roots > 20,
        "{pieces} {several} {roots}"
    );
}

struct BatchDataTraces(Vec<ResourceSpans>);

impl From<Batch> for BatchDataTraces {
    fn from(b: Batch) -> Self {
        BatchDataTraces(b.as_traces().unwrap().resource_spans.clone())
    }
}

/// Go's `ottl_condition` policy: sampled when any span meets a `span` condition or any span
/// event a `spanevent` condition; conditions read the span's resource and scope too.
#[test]
fn ottl_condition_samples_on_a_span_or_an_event_match() {
    let slow = span(1, "GET /health", 0, 10);
    let mut failing = span(1, "POST /pay", 0, 10);
    failing
        .events
        .push(pipeline_api::proto::tonic::trace::v1::span::Event {
            name: "exception".into(),
            ..Default::default()
        });
    let trace = trace_data(vec![kv("service.name", s("api"))], vec![slow, failing]);
    let policy = |cond: &str| {
        format!("{{name: o, type: ottl_condition, ottl_condition: {{error_mode: ignore, {cond}}}}}")
    };
    let sampled = |cond: &str| decide(&policy(cond), &trace);
    assert_eq!(
        sampled(r#"span: ['name == "GET /health"']"#),
        Decision::Sampled
    );
    assert_eq!(
        sampled(r#"span: ['name == "POST /orders"']"#),
        Decision::NotSampled
    );
    assert_eq!(
        sampled(r#"span: ['resource.attributes["service.name"] == "api" and name != "x"']"#),
        Decision::Sampled
    );
    assert_eq!(
        sampled(r#"spanevent: ['name == "exception"']"#),
        Decision::Sampled
    );
    assert_eq!(
        sampled(r#"spanevent: ['name == "retry"']"#),
        Decision::NotSampled
    );
    // any condition of the list (or)
    assert_eq!(
        sampled(r#"span: ['name == "nope"', 'IsMatch(name, "^GET ")']"#),
        Decision::Sampled
    );
    // paths with their context name, as Go's parser takes them too
    assert_eq!(
        sampled(r#"span: ['span.name == "GET /health"']"#),
        Decision::Sampled
    );
    // no conditions at all: refused (Go)
    assert_eq!(
        messages("policies: [{name: o, type: ottl_condition}]"),
        vec!["policies::0::ottl_condition: expected at least one OTTL condition to filter on"]
    );
}

/// Random requests in their wire form and decoded come out of the processor alike: the
/// same traces sampled, forwarded in the same requests with the same bytes.
#[tokio::test(start_paused = true)]
async fn wire_and_decoded_batches_are_sampled_and_forwarded_alike() {
    use pipeline_api::testing::random::{self, Rng};
    let y = "decision_wait: 2s\npolicies: [{name: a, type: string_attribute, string_attribute: {key: a, values: ['^v[0-4]'], enabled_regex_matching: true}}, {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}]\n";
    let (wire_p, wire_next, _) = started("tail_sampling", y).await;
    let (dec_p, dec_next, _) = started("tail_sampling", y).await;
    let mut rng = Rng(0x7a12);
    for round in 0..100 {
        let (wire, decoded) = random::both_forms(random::request(Signal::Traces, &mut rng));
        wire_p.consume(wire).await.unwrap();
        dec_p.consume(decoded).await.unwrap();
        if round % 25 == 24 {
            sleep(Duration::from_secs(3)).await;
            settle().await;
        }
    }
    wire_p.shutdown().await;
    dec_p.shutdown().await;
    let encoded =
        |c: &Collect| -> Vec<Vec<u8>> { c.take().iter().map(|b| b.encode().to_vec()).collect() };
    let (got, want) = (encoded(&wire_next), encoded(&dec_next));
    let spans = |c: &[Vec<u8>]| -> usize {
        c.iter()
            .map(|b| pipeline_api::wire::scan(Signal::Traces, b).unwrap())
            .sum()
    };
    assert!(
        got.len() >= 4 && spans(&got) > 50,
        "{} requests, {} spans",
        got.len(),
        spans(&got)
    );
    eprintln!("{} requests, {} spans", got.len(), spans(&got));
    assert!(
        got == want,
        "the forms were sampled or forwarded differently"
    );
}

/// The pieces of one tick are packed into requests of whole traces, each at most the bound
/// unless one trace alone is larger, every piece once and in order.
#[test]
fn forwarded_requests_hold_whole_traces_up_to_the_bound() {
    let piece = |trace: u8, len: usize| TraceBatch {
        id: {
            let mut id = [0; 16];
            id[0] = trace;
            id
        },
        bytes: vec![0; len],
        spans: 1,
        has_root: false,
    };
    // framed lengths: 100 bytes take 1 + 1 + 100; 300 bytes 1 + 2 + 300
    let pieces = vec![
        piece(1, 100),
        piece(1, 100),
        piece(2, 300),
        piece(3, 100),
        piece(4, 100),
        piece(4, 100),
        piece(4, 100),
        piece(5, 100),
    ];
    assert_eq!(request_sizes(&pieces, 400), vec![2, 1, 1, 3, 1]);
    assert_eq!(request_sizes(&pieces, 204), vec![2, 1, 1, 3, 1]);
    assert_eq!(request_sizes(&pieces, 10_000), vec![8]);
    assert_eq!(request_sizes(&pieces, 1), vec![2, 1, 1, 3, 1]);
    assert_eq!(request_sizes(&pieces, 408), vec![2, 2, 4]);
    assert_eq!(request_sizes(&pieces, 407), vec![2, 2, 3, 1]);
    assert!(request_sizes(&[], 400).is_empty());
}

/// A tick that samples more than [`FORWARD_MAX_BYTES`] hands it on in several requests, none
/// over the bound, no trace across two, every span once.
#[tokio::test(start_paused = true)]
async fn a_large_tick_is_forwarded_in_bounded_requests_of_whole_traces() {
    let (p, next, _) = started("tail_sampling", ALWAYS).await;
    // each trace's two spans in two requests: two pieces a trace, of sizes that vary
    for round in 0..60u8 {
        let spans = (0..100u8)
            .map(|n| {
                let blob = "x".repeat(1000 + n as usize * 7 + round as usize % 2 * 301);
                let mut sp = with_attrs(span(n, "s", 0, 1), vec![kv("blob", s(&blob))]);
                sp.trace_id[0] = round / 2;
                sp.span_id[1] = round % 2;
                sp
            })
            .collect();
        p.consume(batch(vec![], spans)).await.unwrap();
    }
    sleep(Duration::from_secs(31)).await;
    settle().await;
    let got = next.take();
    // the request each trace went in
    let mut request_of = std::collections::HashMap::new();
    let mut spans = 0;
    for (i, b) in got.iter().enumerate() {
        let bytes = b.encode();
        assert!(bytes.len() <= FORWARD_MAX_BYTES, "{} bytes", bytes.len());
        let req = ExportTraceServiceRequest::decode(&bytes[..]).unwrap();
        for sp in req
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| &s.spans)
        {
            let first = *request_of.entry(sp.trace_id.clone()).or_insert(i);
            assert_eq!(first, i, "a trace in two requests");
            spans += 1;
        }
    }
    assert_eq!(spans, 6000);
    assert_eq!(request_of.len(), 3000);
    assert!(got.len() >= 3, "{} requests", got.len());
    p.shutdown().await;
}
