use pipeline_api::config::ConfigValue;
use pipeline_api::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use pipeline_api::proto::tonic::resource::v1::Resource;
use pipeline_api::proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Status};
use pipeline_api::telemetry::ComponentTelemetry;
use pipeline_api::testing::{string_attr, Collect};
use pipeline_api::ComponentKind;

use super::*;

fn yaml(s: &str) -> ConfigValue {
    serde_yaml_ng::from_str(s).expect("test yaml")
}

fn graph(cfg: &str) -> (Arc<ServiceGraph>, Arc<Collect>) {
    let target = Collect::new();
    let cfg: Config = pipeline_api::config::parse_typed(&yaml(cfg)).unwrap();
    let id = ComponentId::parse("servicegraph").unwrap();
    let tel = ComponentTelemetry::detached(ComponentKind::Connector, &id);
    let counter = |n: &str| tel.counter(n, "test", &[]);
    (
        Arc::new(ServiceGraph {
            id,
            bounds: cfg.bounds(),
            peers: cfg.peer_attributes(),
            databases: cfg.database_attributes(),
            cfg,
            state: Mutex::new(State::default()),
            next: target.clone(),
            started: now_nanos(),
            tasks: Mutex::new(None),
            stopped: std::sync::atomic::AtomicBool::new(false),
            dropped: counter("dropped"),
            expired: counter("expired"),
            total: counter("total"),
        }),
        target,
    )
}

#[allow(clippy::too_many_arguments)]
fn span(
    kind: span::SpanKind,
    trace: u8,
    id: u8,
    parent: u8,
    ms: u64,
    failed: bool,
    attrs: Vec<KeyValue>,
) -> Span {
    Span {
        trace_id: vec![trace; 16],
        span_id: vec![id; 8],
        parent_span_id: if parent == 0 { vec![] } else { vec![parent; 8] },
        kind: kind as i32,
        start_time_unix_nano: 1_000_000_000,
        end_time_unix_nano: 1_000_000_000 + ms * 1_000_000,
        status: failed.then(|| Status {
            code: status::StatusCode::Error as i32,
            ..Default::default()
        }),
        attributes: attrs,
        ..Default::default()
    }
}

fn from(service: &str, spans: Vec<Span>) -> ResourceSpans {
    ResourceSpans {
        resource: Some(Resource {
            attributes: vec![string_attr("service.name", service)],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            spans,
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn batch(rs: Vec<ResourceSpans>) -> Batch {
    Batch::from_traces(ExportTraceServiceRequest { resource_spans: rs })
}

/// (client, server, connection_type, failed) → request count.
fn edges(g: &ServiceGraph) -> Vec<(String, String, String, bool, i64)> {
    let Some(req) = g.build() else { return vec![] };
    let metrics = &req.resource_metrics[0].scope_metrics[0].metrics;
    let Some(metric::Data::Sum(total)) = &metrics[0].data else {
        panic!()
    };
    assert_eq!(metrics[0].name, "traces_service_graph_request_total");
    let mut out: Vec<_> = total
        .data_points
        .iter()
        .map(|p| {
            let get = |k: &str| attr_text(&p.attributes, k).unwrap_or_default();
            let v = match p.value {
                Some(number_data_point::Value::AsInt(v)) => v,
                _ => 0,
            };
            (
                get("client"),
                get("server"),
                get("connection_type"),
                get("failed") == "true",
                v,
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn defaults_are_go_s() {
    let c: Config = pipeline_api::config::parse_typed(&ConfigValue::Null).unwrap();
    assert_eq!(c.store.max_items, 1000);
    assert_eq!(c.store.ttl.get(), Duration::from_secs(2));
    assert_eq!(c.flush_interval(), Duration::from_secs(60));
    assert_eq!(c.bounds(), DEFAULT_BUCKETS_S.to_vec());
    assert_eq!(c.database_attributes(), vec!["db.name"]);
    assert!(pipeline_api::config::parse_typed::<Config>(&yaml(
        "latency_histogram_buckets: [1s]\nexponential_histogram_max_size: 10"
    ))
    .is_err());
}

#[test]
fn a_client_and_its_server_span_make_one_request() {
    let (g, _) = graph("");
    g.aggregate(&mut batch(vec![
        from(
            "frontend",
            vec![span(span::SpanKind::Client, 1, 10, 0, 120, false, vec![])],
        ),
        from(
            "api",
            vec![span(span::SpanKind::Server, 1, 11, 10, 100, true, vec![])],
        ),
    ]));
    // the server side first, in another trace: order does not matter
    g.aggregate(&mut batch(vec![from(
        "api",
        vec![span(span::SpanKind::Server, 2, 21, 20, 50, false, vec![])],
    )]));
    g.aggregate(&mut batch(vec![from(
        "frontend",
        vec![span(span::SpanKind::Client, 2, 20, 0, 60, false, vec![])],
    )]));
    assert_eq!(
        edges(&g),
        vec![
            ("frontend".into(), "api".into(), "".into(), false, 1),
            ("frontend".into(), "api".into(), "".into(), true, 1),
        ]
    );
    let req = g.build().unwrap();
    let m = &req.resource_metrics[0].scope_metrics[0].metrics;
    let names: Vec<&str> = m.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "traces_service_graph_request_total",
            "traces_service_graph_request_failed_total",
            "traces_service_graph_request_server",
            "traces_service_graph_request_client"
        ]
    );
    let Some(metric::Data::Histogram(server)) = &m[2].data else {
        panic!()
    };
    let ok = server
        .data_points
        .iter()
        .find(|p| attr_text(&p.attributes, "failed").as_deref() == Some("false"))
        .unwrap();
    assert_eq!(ok.count, 1);
    assert_eq!(ok.sum, Some(0.05), "the server span's 50 ms, in seconds");
    let Some(metric::Data::Histogram(client)) = &m[3].data else {
        panic!()
    };
    let ok = client
        .data_points
        .iter()
        .find(|p| attr_text(&p.attributes, "failed").as_deref() == Some("false"))
        .unwrap();
    assert_eq!(ok.sum, Some(0.06), "the client span's 60 ms");
    assert_eq!(m[2].unit, "s");
}

#[test]
fn a_database_call_is_an_edge_at_once_and_dimensions_come_from_resource_then_span() {
    let (g, _) = graph("dimensions: [region]");
    g.aggregate(&mut batch(vec![from(
        "api",
        vec![span(
            span::SpanKind::Client,
            3,
            30,
            0,
            5,
            false,
            vec![
                string_attr("db.name", "orders"),
                string_attr("region", "eu"),
            ],
        )],
    )]));
    assert_eq!(
        edges(&g),
        vec![("api".into(), "orders".into(), "database".into(), false, 1)]
    );
    let req = g.build().unwrap();
    let Some(metric::Data::Sum(total)) = &req.resource_metrics[0].scope_metrics[0].metrics[0].data
    else {
        panic!()
    };
    assert_eq!(
        attr_text(&total.data_points[0].attributes, "client_region").as_deref(),
        Some("eu")
    );
}

#[test]
fn unpaired_spans_expire_into_virtual_nodes() {
    let (g, _) = graph("store: {ttl: 1ms}");
    g.aggregate(&mut batch(vec![
        // a call out to something that sends no spans
        from(
            "api",
            vec![span(
                span::SpanKind::Client,
                4,
                40,
                0,
                5,
                false,
                vec![string_attr("peer.service", "stripe")],
            )],
        ),
        // a request from outside: a root server span
        from(
            "api",
            vec![span(span::SpanKind::Server, 5, 50, 0, 5, false, vec![])],
        ),
    ]));
    assert!(edges(&g).is_empty(), "still waiting for their pair");
    std::thread::sleep(Duration::from_millis(5));
    g.expire();
    assert_eq!(
        edges(&g),
        vec![
            (
                "api".into(),
                "stripe".into(),
                "virtual_node".into(),
                false,
                1
            ),
            ("user".into(), "api".into(), "virtual_node".into(), false, 1),
        ]
    );
}

#[test]
fn a_full_store_drops_the_span_and_counts_it() {
    let (g, _) = graph("store: {max_items: 1, ttl: 1h}");
    g.aggregate(&mut batch(vec![from(
        "api",
        vec![
            span(span::SpanKind::Client, 6, 60, 0, 5, false, vec![]),
            span(span::SpanKind::Client, 6, 61, 0, 5, false, vec![]),
        ],
    )]));
    assert_eq!(g.dropped.get(), 1);
    assert_eq!(g.state.lock().unwrap().edges.len(), 1);
}

/// A client span and its server span under trace `n`.
fn pair(n: u32) -> Vec<ResourceSpans> {
    let trace = |s: &mut Span| s.trace_id[..4].copy_from_slice(&n.to_be_bytes());
    let mut client = span(span::SpanKind::Client, 1, 7, 0, 5, false, vec![]);
    let mut server = span(span::SpanKind::Server, 1, 8, 7, 3, false, vec![]);
    trace(&mut client);
    trace(&mut server);
    vec![from("api", vec![client]), from("backend", vec![server])]
}

#[test]
fn completed_edges_do_not_pile_up_in_the_expiry_order() {
    let (g, _) = graph("store: {max_items: 100000, ttl: 1h}");
    // one edge that never completes, then many that do
    g.aggregate(&mut batch(vec![from(
        "api",
        vec![span(span::SpanKind::Client, 2, 9, 0, 5, false, vec![])],
    )]));
    for n in 0..10_000 {
        g.aggregate(&mut batch(pair(n)));
    }
    let state = g.state.lock().unwrap();
    assert_eq!(state.edges.len(), 1);
    assert!(
        state.order.len() <= 2 * state.edges.len() + 65,
        "{} entries for {} waiting edges",
        state.order.len(),
        state.edges.len()
    );
    drop(state);
    assert_eq!(
        edges(&g),
        vec![("api".into(), "backend".into(), String::new(), false, 10_000)]
    );
}

#[test]
fn an_expired_edge_behind_a_completed_one_whose_key_came_back_expires() {
    let (g, _) = graph("store: {ttl: 50ms}");
    // edge K completes, edge L waits, then K's key is taken again by a new client span
    g.aggregate(&mut batch(pair(1)));
    g.aggregate(&mut batch(vec![from(
        "api",
        vec![span(span::SpanKind::Client, 3, 9, 0, 5, false, vec![])],
    )]));
    std::thread::sleep(Duration::from_millis(60));
    let mut again = pair(1);
    again.truncate(1);
    g.aggregate(&mut batch(again));
    g.expire();
    assert_eq!(
        edges(&g),
        vec![
            ("api".into(), "backend".into(), String::new(), false, 1),
            (
                "api".into(),
                "unknown".into(),
                "virtual_node".into(),
                false,
                1
            ),
        ],
        "L has expired; K's new edge has not"
    );
    assert_eq!(g.state.lock().unwrap().edges.len(), 1);
}

/// Every metric point without its times: what two instances fed the same spans must agree
/// on.
fn points(g: &ServiceGraph) -> Vec<String> {
    let Some(mut req) = g.build() else {
        return vec![];
    };
    let mut out = vec![];
    for rm in &mut req.resource_metrics {
        for sm in &mut rm.scope_metrics {
            for m in &mut sm.metrics {
                match &mut m.data {
                    Some(metric::Data::Sum(s)) => {
                        for p in &mut s.data_points {
                            (p.start_time_unix_nano, p.time_unix_nano) = (0, 0);
                            out.push(format!("{} {p:?}", m.name));
                        }
                    }
                    Some(metric::Data::Histogram(h)) => {
                        for p in &mut h.data_points {
                            (p.start_time_unix_nano, p.time_unix_nano) = (0, 0);
                            out.push(format!("{} {p:?}", m.name));
                        }
                    }
                    other => out.push(format!("{} {other:?}", m.name)),
                }
            }
        }
    }
    out.sort();
    out
}

/// Spans read from the wire form count as the same spans decoded: random requests
/// (services present or not, attributes of every type, a `peer.service` or `db.name`
/// now and then) whose spans pair up across requests, fed to one instance as received
/// bytes and to another decoded; the same edges, metrics and counters.
#[test]
fn spans_in_the_wire_form_count_as_the_decoded_form() {
    use pipeline_api::testing::random::{self, Rng};
    let cfg = "{dimensions: [a, http.method], store: {ttl: 1h, max_items: 64}}";
    let (wire, _) = graph(cfg);
    let (decoded, _) = graph(cfg);
    let mut rng = Rng(0x5e7c);
    for n in 0..300usize {
        let mut data = random::request(Signal::Traces, &mut rng);
        for (k, s) in random::spans_mut(&mut data).enumerate() {
            let m = n + k;
            s.kind = (m % 6) as i32;
            s.trace_id = vec![(m % 5) as u8; 16];
            s.span_id = vec![(m % 4 + 1) as u8; 8];
            s.parent_span_id = if m % 7 == 0 {
                vec![]
            } else {
                vec![((m + 1) % 4 + 1) as u8; 8]
            };
            match m % 9 {
                0 => s.attributes.push(string_attr("peer.service", "stripe")),
                1 => s.attributes.insert(0, string_attr("db.name", "orders")),
                _ => {}
            }
        }
        let (mut w, mut d) = pipeline_api::testing::random::both_forms(data);
        wire.aggregate(&mut w);
        decoded.aggregate(&mut d);
        assert!(!w.is_decoded(), "request {n}: the wire form was decoded");
    }
    let edges_of = |g: &ServiceGraph| g.state.lock().unwrap().edges.len();
    assert_eq!(edges_of(&wire), edges_of(&decoded));
    // the edges still waiting expire into virtual nodes (their peers read from the spans)
    for g in [&wire, &decoded] {
        let now = Instant::now();
        for e in g.state.lock().unwrap().edges.values_mut() {
            e.expires = Some(now);
        }
        g.expire();
    }
    assert_eq!(wire.expired.get(), decoded.expired.get());
    assert_eq!(wire.total.get(), decoded.total.get());
    assert_eq!(wire.dropped.get(), decoded.dropped.get());
    let got = points(&wire);
    assert!(got.len() > 20, "{got:?}");
    assert_eq!(got, points(&decoded));
    // the cases exercise what they are about: databases, peers, dimensions, failures
    let all = got.join("\n");
    for want in [
        "orders",
        "\"client_a\"",
        "\"server_http.method\"",
        "BoolValue(true)",
        "stripe",
        "\"database\"",
    ] {
        assert!(all.contains(want), "no {want} in {all}");
    }
}
