use std::sync::Arc;

use pipeline_api::config::parse_typed;
use pipeline_api::proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use pipeline_api::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use pipeline_api::proto::tonic::common::v1::{AnyValue, KeyValue};
use pipeline_api::proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use pipeline_api::proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use pipeline_api::telemetry::ComponentTelemetry;
use pipeline_api::{Batch, Processor, Signal};

use super::sampling::*;
use super::*;
use crate::testutil::{attr, ctx, d, i, kv, metric, s, wire_form_agrees, yaml, Collect};

fn messages(y: &str) -> Vec<String> {
    match factory().parse_config(&yaml(y)) {
        Ok(_) => vec![],
        Err(errs) => errs.iter().map(|e| e.to_string()).collect(),
    }
}

fn tid(hex: &str) -> Vec<u8> {
    (0..16)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

fn cfg(y: &str) -> Config {
    parse_typed(&yaml(y)).expect("config")
}

/// Sample one span; returns the kept span.
fn sample_one(
    c: &Config,
    trace_id: Vec<u8>,
    tracestate: &str,
    attrs: Vec<KeyValue>,
) -> Option<Span> {
    let sampler = Sampler::new(c, false);
    let mut span = Span {
        trace_id,
        span_id: vec![0, 0, 0, 0, 0xfe, 0xfe, 0xfe, 0xfe],
        trace_state: tracestate.into(),
        attributes: attrs,
        ..Default::default()
    };
    sampler
        .sample_span(&mut span, c.fail_closed)
        .sampled
        .then_some(span)
}

/// A deterministic 64-bit generator (splitmix64).
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn trace_id(&mut self) -> Vec<u8> {
        let mut id = self.next().to_be_bytes().to_vec();
        id.extend(self.next().to_be_bytes());
        id
    }
}

// ---------- config ----------

#[test]
fn defaults_validate_and_are_go_defaults() {
    // Go createDefaultConfig: attribute_source traceID, fail_closed true, mode unset,
    // sampling_precision 4; sampling_percentage 0 (samples nothing) validates.
    let c = cfg("{}");
    assert_eq!(c, Config::default());
    assert!(c.fail_closed);
    assert_eq!(c.sampling_precision, 4);
    assert_eq!(c.mode, SamplerMode::Unset);
    assert_eq!(c.attribute_source, AttributeSource::TraceId);
    assert!(messages("{}").is_empty());
    assert!(matches!(Sampler::new(&c, false), Sampler::Never));
}

#[test]
fn invalid_configs_fail_with_go_messages_and_paths() {
    // Go config_test TestLoadInvalidConfig messages.
    assert_eq!(
        messages("sampling_percentage: -15.3"),
        vec!["sampling_percentage: sampling rate is negative: -15.300000%"]
    );
    assert_eq!(
        messages("sampling_percentage: .inf"),
        vec!["sampling_percentage: sampling rate is invalid: +Inf%"]
    );
    assert!(messages("sampling_percentage: 1.0e-20")[0]
        .starts_with("sampling_percentage: sampling rate is too small"));
    assert_eq!(
        messages("sampling_percentage: 50\nsampling_precision: 15"),
        vec!["sampling_precision: sampling precision is too great, should be <= 14: 15"]
    );
    assert_eq!(
        messages("sampling_precision: 0"),
        vec!["sampling_precision: invalid sampling precision: 0"]
    );
    assert_eq!(
        messages("mode: fast"),
        vec!["mode: unsupported sampler mode \"fast\"; expected one of hash_seed, equalizing, proportional"]
    );
    assert_eq!(
        messages("sampling_percentag: 5"),
        vec!["sampling_percentag: unknown key \"sampling_percentag\"; did you mean \"sampling_percentage\"?"]
    );
    assert!(messages("attribute_source: traceid")[0]
        .starts_with("attribute_source: invalid value \"traceid\""));
}

#[test]
fn metrics_pipelines_are_refused() {
    let c = factory()
        .parse_config(&yaml("sampling_percentage: 5"))
        .unwrap();
    assert!(factory()
        .build(
            ctx("probabilistic_sampler", Signal::Metrics),
            &*c,
            Signal::Metrics,
            Collect::new()
        )
        .is_err());
    assert_eq!(factory().signals(), &[Signal::Traces, Signal::Logs]);
}

// ---------- hash_seed: the same decisions as Go ----------

#[test]
fn fnv_hash_golden_values_from_go_tests() {
    // Go TestEmptyHashFunction: computeHash([]byte{}, 0) & 0x3fff == 0x3515, and 16 zero
    // bytes give 0x2455.
    assert_eq!(compute_hash(&[], 0) & 0x3fff, 0x3515);
    assert_eq!(compute_hash(&[0u8; 16], 0) & 0x3fff, 0x2455);
    // FNV-1a 32 of "" is the offset basis; of "a" the published 0xe40c292c. With seed 0
    // the 4 zero seed bytes come first.
    let mut h: u32 = 0x811c_9dc5;
    for b in [0u8, 0, 0, 0, b'a'] {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    assert_eq!(compute_hash(b"a", 0), h);
}

/// Go TestHashingFunction: 100 (seed, trace id) → sampled-at-50% vectors recorded from the
/// legacy implementation before the OTEP 235 refactoring.
const GO_50PCT_VECTORS: [(u32, &str, bool); 100] = [
    (653, "474a03c76d75951a4b4c537ced8f1122", true),
    (563, "53a518291e91307e43cd8467bb06f986", true),
    (142, "a56a02f843b9bc6ee0b13889249e90e6", true),
    (904, "4e40762d3ee97a1c0932e4fa584f89a8", false),
    (445, "5224507db93db513f0ea2a4b4e0578c8", true),
    (38, "0c8717ced36216037af657e9d7f8b35b", true),
    (561, "2a8aa76c18d08e1e8be935541f9318c7", false),
    (757, "9e3d0f9481dc422cb613ea550897ae71", false),
    (22, "66a66c516ac22054673e5da5e6492545", false),
    (172, "84a1ce7bcea3e66194e72b4aa2694e31", true),
    (552, "a811a7def34ca4b98d8e320afd115fad", false),
    (546, "e3a345cc8dbb6f014bfa1edad3981820", true),
    (315, "a71effb50e28d27cbdc9892f3765b8c2", false),
    (510, "55ee665a3fa22f8ea1b744ce15a7339d", false),
    (230, "7a5006be4d0ce7b542d59f83cd6f1c41", false),
    (544, "825b8fb9cfd45867794f4cd8a5a699bd", false),
    (790, "7629ecbea89398bfd9752a2f51c2c137", true),
    (555, "de6cdfb44d69e211f886c57120d7bda0", true),
    (147, "a8a5c3bb9205883fae17ead6675b2450", false),
    (238, "937e6cb3332dbe87062fa3997f48f425", false),
    (122, "5a357e150995e005847816c431ba502d", false),
    (963, "20cb3dcebe2cf8abe6102f4a2e548245", false),
    (141, "1b0afbd09abaaf7996cd26f8f6533795", false),
    (666, "3ee60b013303bcfda06be89071b90bd1", true),
    (305, "c90c7cf3471bbc3a804a8a831633705b", true),
    (270, "18dda74dfca45a7b0261510f385fb4de", true),
    (381, "600cf70c7bb4918e54aefd78c84f3996", true),
    (35, "855f493c5b5b1e2fcbc9993f8061eac8", false),
    (839, "89bc498feb21d969cf0eabf916aa621a", false),
    (561, "0a0af00f63e098a39883705a423b0aa8", true),
    (667, "0c38553d71f54dfc37155c22cc8bf243", false),
    (603, "49493809d1a49ea879e6aba37afde958", true),
    (92, "eb60d98b8f8fe22d8970f44f0e2b6bad", true),
    (70, "19c386ee7a9f2d56ff9ab2e6374540af", false),
    (567, "2a033c15405f1c7a311f653719ed47b7", false),
    (936, "62dda24e4be24f5198e4d8dd4010c811", true),
    (210, "bb134e26ee92e282e29cabdb1d00d333", true),
    (835, "6c77db08bbded7bdd5c99c6e2fea41d2", false),
    (864, "99f6a7e7b50845b4fb64b7c2ee49f53c", true),
    (775, "e908cb91224bee8fd4b5f3632f65717f", true),
    (687, "45a5ace7234d92d9983b4f3858bc0b8e", false),
    (761, "8c8a25d232fd4d3a37a5f70ccb82d752", false),
    (400, "54156d7434a894ef07f2a80dbf0f1138", true),
    (741, "67e3bfb02b0526dbb79420468d7b83dd", false),
    (871, "f6ea221283dcb42f89bfb15fa33398d2", false),
    (244, "b663ca45004decf8123a19fb5d7f7115", true),
    (885, "d0e299d54d6dc6469276fd4e48301d73", true),
    (607, "03240c2748aa67a185909a9345d84aba", false),
    (434, "b00de72ba67e6fe0ed661decac911f7e", true),
    (889, "20fff68a7cc715b30e4e6d69d53e0f60", false),
    (810, "6bf2bb105e594f6220803da5253551af", false),
    (494, "54fbb1d3ebe3883b0a01bbf2c9a2bf3e", true),
    (413, "a8a2ecba129d8537e360cf54de9d7460", false),
    (215, "2df034262b775136f2a313fdcc09738a", true),
    (557, "e3c1b943d9c1199d1108a69aa32a4587", false),
    (662, "1975d5f5640bac1064d53c2c21e02aae", false),
    (482, "6e4f16727dec3c09539b5f50d35d2c13", false),
    (223, "63a088446ef0ed60a9cace4698ede026", false),
    (261, "9b662cd6f67a4e3d1f904b4c5d4275b1", true),
    (112, "a2db788dbadc402b8c466b93b8749a6c", true),
    (6, "d6a68b47c66d1f94eed46b8ddc72faf4", false),
    (575, "e8a83c42f4515568d0942ec4472c9d2c", true),
    (568, "030e14c2954e3f08134b355f33414ba9", false),
    (965, "022315846d42a38322d6fd26250444b3", true),
    (512, "b3ba1ed226288dede87ac1f2ba88de2b", true),
    (108, "c57d0dcf43d5b154ef04c7953c94cd12", true),
    (248, "a835fe521d9cbfcfb724b603f87c7403", false),
    (46, "eda867e6df95e74abefac336c7f4cd1a", false),
    (879, "09e9e67a261ea3e00d817105b57ffd4e", false),
    (853, "6a780cf250cb3d2b699394042e6723a8", false),
    (639, "4c99d7f14c66b3123caf57980f8e2a31", false),
    (111, "79dc8d7a54bc3e8ef513b9cd8d830564", true),
    (135, "9c2e5d9d713e5219b0f9e5b884835e69", false),
    (209, "3ccb300bf7b983229979e0c46db267b0", true),
    (629, "0bb7b9da64da250c3934bb39130dc990", true),
    (910, "b25713ca4cea377871eaa334bc2dd382", true),
    (667, "69afc041003851cec60f41db97e005a9", true),
    (449, "c844b5428abe0cf82eaf02566781870a", true),
    (16, "2533c732bed8c1ba4721c25a1205f06c", false),
    (936, "ecc770b4be885dfc8d6fa135bc2c93bb", true),
    (595, "63b67cbb42de52e9916241ad94fcd5e8", true),
    (83, "fc4998bc53ccd42a5b8e7c86a93d4c88", false),
    (878, "59f0677dffe1a0a8c5895cb263e3a019", false),
    (206, "eb897eff9e7c7363e063b340a0c6b315", true),
    (710, "89e4c7e6af305be6cd139abcae953db5", true),
    (650, "97563d45ee254231e1ace05fb746bcce", false),
    (233, "3f580864f295ff13f179c3c907032ea9", true),
    (836, "e9b78e03706265a6936bff2a41530104", false),
    (568, "c458603ee921fa8711085c15b871b245", false),
    (816, "4bbfffab5b5975c1b007ebc518bf416d", false),
    (397, "61a1a65746287d78a431c6848ed1ffb3", false),
    (847, "53eee02f4672a72e93369b2c2ecf36eb", false),
    (354, "6ea23c3068a2c304488c8e67a072db97", false),
    (961, "eed247645e510ded87bd9afcf1d3e237", false),
    (799, "092af4ff2fdea5bb1c708b2169bdfd95", false),
    (99, "497f02db51c898ac441aae18a8b7ced9", false),
    (773, "988481445600bb91bbe23e3103034bcd", true),
    (928, "f1813835ac0f456721ef3aac39c0269a", true),
    (235, "1999920085682c007eb3a6984d2a7f05", true),
    (460, "60c3b9a2dde734d71ba5cca7eb164bce", true),
];

#[test]
fn hash_seed_makes_gos_decisions_for_its_own_test_vectors() {
    for (seed, id, want) in GO_50PCT_VECTORS {
        let c = Config {
            hash_seed: seed,
            sampling_percentage: 50.0,
            ..Config::default()
        };
        // Derivation: FNV-1a 32 over seed (LE) ++ trace id; bucket = low 14 bits;
        // sampled iff bucket < uint32(float32(50) * 163.84) = 8192.
        let bucket = compute_hash(&tid(id), seed) & 0x3fff;
        assert_eq!(bucket < 8192, want, "legacy rule, seed {seed} id {id}");
        assert_eq!(
            sample_one(&c, tid(id), "", vec![]).is_some(),
            want,
            "seed {seed} id {id}"
        );
    }
}

#[test]
fn hash_seed_writes_the_14_bit_threshold_into_tracestate() {
    // Go Test_tracesamplerprocessor_HashSeedTraceState: th is the 14-bit reject threshold
    // (10% is e668, not e666; 33.33% is aaac), and rv passes it.
    let mut rng = SplitMix(7);
    for (pct, tv) in [
        (100.0, "0"),
        (75.0, "4"),
        (50.0, "8"),
        (25.0, "c"),
        (10.0, "e668"),
        (100.0f32 / 3.0, "aaac"),
    ] {
        let c = Config {
            sampling_percentage: pct,
            hash_seed: 4312,
            mode: SamplerMode::HashSeed,
            ..Config::default()
        };
        let mut found = 0;
        while found < 10 {
            let Some(span) = sample_one(&c, rng.trace_id(), "", vec![]) else {
                continue;
            };
            let (ts, err) = W3cTraceState::parse(&span.trace_state);
            assert!(err.is_none(), "{}", span.trace_state);
            assert_eq!(ts.otel().tvalue(), tv, "pct {pct}");
            let rnd = ts.otel().randomness().expect("rv written");
            assert!(ts.otel().threshold().unwrap().should_sample(rnd));
            found += 1;
        }
    }
}

#[test]
fn hash_seed_leaves_items_with_otel_sampling_alone() {
    // Go: an rv or th in hash_seed mode is an error (fail_closed drops, else kept as is).
    let id = tid("474a03c76d75951a4b4c537ced8f1122");
    let closed = Config {
        sampling_percentage: 100.0,
        ..Config::default()
    };
    assert!(sample_one(&closed, id.clone(), "ot=th:8", vec![]).is_none());
    let open = Config {
        fail_closed: false,
        ..closed
    };
    let kept = sample_one(&open, id, "ot=th:8", vec![]).unwrap();
    assert_eq!(kept.trace_state, "ot=th:8");
}

#[test]
fn sampled_share_is_within_statistical_bounds_over_100k_trace_ids() {
    // Binomial: n = 100 000, p = 0.1 → sd ≈ 95; allow ±5 sd.
    for mode in [
        SamplerMode::HashSeed,
        SamplerMode::Proportional,
        SamplerMode::Equalizing,
    ] {
        let c = Config {
            sampling_percentage: 10.0,
            hash_seed: 22,
            mode,
            ..Config::default()
        };
        let sampler = Sampler::new(&c, false);
        let mut rng = SplitMix(42);
        let mut kept = 0;
        for _ in 0..100_000 {
            let mut span = Span {
                trace_id: rng.trace_id(),
                ..Default::default()
            };
            if sampler.sample_span(&mut span, true).sampled {
                kept += 1;
            }
        }
        assert!((9525..=10475).contains(&kept), "{mode:?}: {kept}");
    }
}

// ---------- proportional / equalizing: Go's tracestate table ----------

#[test]
fn consistent_modes_follow_gos_tracestate_table() {
    // Rows of Go Test_tracesamplerprocessor_TraceState: (pct, precision, trace id,
    // tracestate in, equalizing out, proportional out); None: not sampled.
    let default_tid = "fefefefefefefefefe80000000000000";
    let improbable = "111111111111111111ffffffffffffff";
    type Row = (
        f32,
        i64,
        &'static str,
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
    );
    // Go's table uses `Config{}` values: precision 0 (full, i.e. 14) unless set, and
    // fail_closed false.
    let rows: Vec<Row> = vec![
        (100.0, 14, default_tid, "", Some("ot=th:0"), Some("ot=th:0")),
        (50.0, 14, default_tid, "", Some("ot=th:8"), Some("ot=th:8")),
        (
            25.0,
            14,
            "ddddddddddddddddddc0000000000000",
            "",
            Some("ot=th:c"),
            Some("ot=th:c"),
        ),
        (25.0, 14, "ddddddddddddddddddb0000000000000", "", None, None),
        (
            1.0,
            14,
            default_tid,
            "ot=rv:FD70A3D70A3D71",
            Some("ot=rv:FD70A3D70A3D71;th:fd70a3d70a3d71"),
            Some("ot=rv:FD70A3D70A3D71;th:fd70a3d70a3d71"),
        ),
        (
            1.0,
            4,
            default_tid,
            "ot=rv:FD70A3D70A3D71",
            Some("ot=rv:FD70A3D70A3D71;th:fd70a"),
            Some("ot=rv:FD70A3D70A3D71;th:fd70a"),
        ),
        (1.0, 3, default_tid, "ot=rv:FD70A3D70A3D71", None, None),
        (1.0, 14, default_tid, "ot=rv:FD70A3D70A3D70", None, None),
        (49.0, 14, default_tid, "", None, None),
        (
            1.0,
            14,
            default_tid,
            "ot=rv:fd70B000000000",
            Some("ot=rv:fd70B000000000;th:fd70a3d70a3d71"),
            Some("ot=rv:fd70B000000000;th:fd70a3d70a3d71"),
        ),
        (
            1.0,
            4,
            "a0a0a0a0a0a0a0a0a0fe000000000000",
            "",
            Some("ot=th:fd70a"),
            Some("ot=th:fd70a"),
        ),
        (
            50.0,
            14,
            default_tid,
            "ot=rv:90000000000000;th:80000000000000",
            Some("ot=rv:90000000000000;th:8"),
            None,
        ),
        (25.0, 14, default_tid, "ot=th:8", None, None),
        (
            25.0,
            14,
            "ffffffffffffffffffffffffffffffff",
            "ot=th:8",
            Some("ot=th:c"),
            Some("ot=th:e"),
        ),
        (
            50.0,
            14,
            default_tid,
            "ot=rv:c0000000000000;th:8",
            Some("ot=rv:c0000000000000;th:8"),
            Some("ot=rv:c0000000000000;th:c"),
        ),
        (
            100.0,
            14,
            default_tid,
            "ot=rv:40000000000000;th:8",
            Some("ot=rv:40000000000000;th:0"),
            Some("ot=rv:40000000000000;th:0"),
        ),
        (
            40.0,
            3,
            default_tid,
            "ot=rv:a0000000000000",
            Some("ot=rv:a0000000000000;th:99a"),
            Some("ot=rv:a0000000000000;th:99a"),
        ),
        (
            40.0,
            6,
            "a0a0a0a0a0a0a0a0a0d0000000000000",
            "ot=th:8",
            Some("ot=th:99999a"),
            Some("ot=th:cccccd"),
        ),
        (
            40.0,
            3,
            "a0a0a0a0a0a0a0a0a0b0000000000000",
            "ot=th:8",
            Some("ot=th:99a"),
            None,
        ),
        (
            40.0,
            3,
            "a0a0a0a0a0a0a0a0a080000000000000",
            "ot=th:8",
            None,
            None,
        ),
        (200.0, 14, default_tid, "", Some("ot=th:0"), Some("ot=th:0")),
        (
            100.0 * (1.0 / 16384.0),
            14,
            improbable,
            "ot=th:fffc",
            Some("ot=th:fffc"),
            Some("ot=th:fffffff"),
        ),
        (
            (1.0 - 8e-7) * 100.0,
            10,
            improbable,
            "",
            Some("ot=th:00000cccccccd"),
            Some("ot=th:00000cccccccd"),
        ),
        (
            1.0 / 16.0,
            14,
            improbable,
            "ot=th:fffffffffffff8",
            Some("ot=th:fffffffffffff8"),
            None,
        ),
    ];
    for (n, (pct, precision, id, ts_in, eq, prop)) in rows.into_iter().enumerate() {
        for (mode, want) in [
            (SamplerMode::Equalizing, eq),
            (SamplerMode::Proportional, prop),
        ] {
            let c = Config {
                sampling_percentage: pct,
                sampling_precision: precision,
                mode,
                hash_seed: 4312,
                fail_closed: false,
                ..Config::default()
            };
            let got = sample_one(&c, tid(id), ts_in, vec![]).map(|s| s.trace_state);
            assert_eq!(
                got.as_deref(),
                want,
                "row {n} ({mode:?}, {pct}%, {ts_in:?})"
            );
        }
    }
}

#[test]
fn consistent_modes_fail_closed_on_bad_or_missing_randomness() {
    // Go Test_tracesamplerprocessor_TraceStateErrors.
    let default_tid = tid("fefefefefefefefefe80000000000000");
    for mode in [SamplerMode::Equalizing, SamplerMode::Proportional] {
        let c = Config {
            sampling_percentage: 100.0,
            mode,
            fail_closed: true,
            ..Config::default()
        };
        let sampler = Sampler::new(&c, false);
        for (id, ts, msg) in [
            (vec![0u8; 16], "", "missing randomness"),
            (
                default_tid.clone(),
                "ot=rv:abababababababab",
                "r-value must have 14 hex digits",
            ),
            (
                default_tid.clone(),
                "ot=th:abababababababab",
                "t-value exceeds 14 hex digits",
            ),
            (default_tid.clone(), "ot=th:-1", "invalid syntax"),
            (
                tid("ffffffffffffffffff70000000000000"),
                "ot=th:8",
                "inconsistent arriving threshold",
            ),
            (
                default_tid.clone(),
                "ot=th:8;rv:70000000000000",
                "inconsistent arriving threshold",
            ),
        ] {
            let mut span = Span {
                trace_id: id,
                trace_state: ts.into(),
                ..Default::default()
            };
            let o = sampler.sample_span(&mut span, true);
            assert!(!o.sampled, "{mode:?} {ts}");
            let e = o.error.expect("an error").to_string();
            assert!(e.contains(msg), "{mode:?} {ts}: {e}");
        }
    }
}

#[test]
fn sampling_priority_overrides_in_every_mode() {
    // Go Test_tracesamplerprocessor_SpanSamplingPriority: the trace id 01 00.. has zero
    // W3C randomness (sampled only at 100%).
    let id = {
        let mut v = vec![0u8; 16];
        v[0] = 1;
        v
    };
    for mode in [
        SamplerMode::HashSeed,
        SamplerMode::Equalizing,
        SamplerMode::Proportional,
    ] {
        for (pct, value, want) in [
            (0.0, i(2), true),
            (0.0, d(1.0), true),
            (0.0, s("1"), true),
            (100.0, i(0), false),
            (100.0, d(0.0), false),
            (100.0, s("0"), false),
            (100.0, s("0.0"), false),
            (0.0, s("NaN"), false),
            (100.0, i(-1), true),
        ] {
            let c = Config {
                sampling_percentage: pct,
                hash_seed: 4312,
                mode,
                ..Config::default()
            };
            let got = sample_one(
                &c,
                id.clone(),
                "",
                vec![kv("sampling.priority", value.clone())],
            );
            assert_eq!(got.is_some(), want, "{mode:?} {pct} {value:?}");
        }
    }
}

#[test]
fn threshold_encoding_and_probability() {
    assert_eq!(ALWAYS_SAMPLE.tvalue(), "0");
    assert_eq!(NEVER_SAMPLE.tvalue(), "");
    assert_eq!(Threshold::from_tvalue("8").unwrap().unsigned(), 1 << 55);
    assert_eq!(Threshold::from_probability(0.5, 4).unwrap().tvalue(), "8");
    assert_eq!(
        Threshold::from_probability(0.01, 0).unwrap().tvalue(),
        "fd70a3d70a3d71"
    );
    assert_eq!(
        Threshold::from_probability(0.01, 4).unwrap().tvalue(),
        "fd70a"
    );
    assert_eq!(
        Threshold::from_probability(0.01, 3).unwrap().tvalue(),
        "fd71"
    );
    assert!(Threshold::from_probability(0.0, 4).is_err());
    assert!(
        Threshold::from_tvalue("+1").is_err(),
        "no sign, as ParseUint"
    );
    assert_eq!(
        Randomness::from_trace_id(&[0xff; 16]).rvalue(),
        "ffffffffffffff"
    );
    let (ts, err) = W3cTraceState::parse("vendor=x, ot=th:8;foo:bar ,other=y");
    assert!(err.is_none());
    assert_eq!(ts.serialize(), "ot=th:8;foo:bar,vendor=x,other=y");
    assert!(W3cTraceState::parse("Bad=x").1.is_some());
}

// ---------- logs ----------

fn logs(records: Vec<LogRecord>) -> Batch {
    Batch::from_logs(ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
}

fn kept_logs(b: &[Batch]) -> Vec<LogRecord> {
    b.iter()
        .flat_map(|b| b.as_logs().unwrap().resource_logs.clone())
        .flat_map(|r| r.scope_logs)
        .flat_map(|s| s.log_records)
        .collect()
}

fn logs_processor(y: &str) -> (Arc<dyn Processor>, Arc<Collect>, ComponentTelemetry) {
    let c = factory().parse_config(&yaml(y)).unwrap();
    let next = Collect::new();
    let bctx = ctx("probabilistic_sampler/logs", Signal::Logs);
    let t = bctx.telemetry.clone();
    let p = factory()
        .build(bctx, &*c, Signal::Logs, next.clone())
        .unwrap();
    (p, next, t)
}

#[tokio::test]
async fn logs_by_trace_id_then_from_attribute() {
    // attribute_source traceID: the record's trace id; without one, from_attribute.
    let (p, next, t) =
        logs_processor("sampling_percentage: 50\nhash_seed: 653\nfrom_attribute: log.id");
    let with_tid = |hex: &str| LogRecord {
        trace_id: tid(hex),
        ..Default::default()
    };
    let with_attr = |v: &str| LogRecord {
        attributes: vec![kv("log.id", s(v))],
        ..Default::default()
    };
    p.consume(logs(vec![
        with_tid("474a03c76d75951a4b4c537ced8f1122"), // Go vector: seed 653 sampled
        with_attr("a"),
        with_attr("b"),
        LogRecord::default(),
    ]))
    .await
    .unwrap();
    let kept = kept_logs(&next.take());
    let expect_attr = |v: &str| compute_hash(v.as_bytes(), 653) & 0x3fff < 8192;
    let want = 1 + usize::from(expect_attr("a")) + usize::from(expect_attr("b"));
    assert_eq!(kept.len(), want);
    // The kept record carries the randomness and threshold attributes (Go recordCarrier).
    assert_eq!(
        attr(&kept[0].attributes, "sampling.threshold"),
        Some(&s("8"))
    );
    assert!(attr(&kept[0].attributes, "sampling.randomness").is_some());
    // The record with neither source: missing randomness, fail_closed drops it.
    assert_eq!(
        metric(
            &t,
            "otelcol_processor_probabilistic_sampler_count_logs_sampled",
            &[("policy", "missing_randomness"), ("sampled", "false")]
        ),
        1.0
    );
    assert_eq!(
        metric(
            &t,
            "otelcol_processor_probabilistic_sampler_count_logs_sampled",
            &[("policy", "trace_id_hash"), ("sampled", "true")]
        ),
        1.0
    );
    let by_attr: f64 = ["true", "false"]
        .iter()
        .map(|v| {
            metric(
                &t,
                "otelcol_processor_probabilistic_sampler_count_logs_sampled",
                &[("policy", "log.id"), ("sampled", v)],
            )
        })
        .sum();
    assert_eq!(by_attr, 2.0);
}

#[tokio::test]
async fn logs_attribute_source_record_ignores_the_trace_id() {
    let (p, next, _) =
        logs_processor("sampling_percentage: 100\nattribute_source: record\nfrom_attribute: id");
    p.consume(logs(vec![
        LogRecord {
            trace_id: tid("474a03c76d75951a4b4c537ced8f1122"),
            ..Default::default()
        },
        LogRecord {
            attributes: vec![kv(
                "id",
                AnyValue {
                    value: Some(
                        pipeline_api::proto::tonic::common::v1::any_value::Value::BytesValue(vec![
                            1, 2,
                        ]),
                    ),
                },
            )],
            ..Default::default()
        },
    ]))
    .await
    .unwrap();
    let kept = kept_logs(&next.take());
    assert_eq!(
        kept.len(),
        1,
        "only the record with the attribute has randomness"
    );
    assert!(kept[0].trace_id.is_empty());
}

#[tokio::test]
async fn logs_sampling_priority_attribute_sets_the_probability() {
    // Go logsProcessor: a sampling_priority of 100 keeps, 0 is ignored.
    let (p, next, t) = logs_processor("sampling_percentage: 0\nsampling_priority: prio");
    let rec = |v| LogRecord {
        trace_id: tid("fefefefefefefefefe80000000000000"),
        attributes: vec![kv("prio", v)],
        ..Default::default()
    };
    p.consume(logs(vec![
        rec(i(100)),
        rec(d(100.0)),
        rec(i(0)),
        rec(s("100")),
    ]))
    .await
    .unwrap();
    let kept = kept_logs(&next.take());
    assert_eq!(kept.len(), 2);
    assert_eq!(
        metric(
            &t,
            "otelcol_processor_probabilistic_sampler_count_logs_sampled",
            &[("policy", "sampling_priority"), ("sampled", "true")]
        ),
        2.0
    );
}

// ---------- the processor ----------

#[tokio::test]
async fn traces_processor_drops_counts_and_skips_empty_batches() {
    let c = factory()
        .parse_config(&yaml("sampling_percentage: 50\nhash_seed: 904"))
        .unwrap();
    let next = Collect::new();
    let bctx = ctx("probabilistic_sampler", Signal::Traces);
    let t = bctx.telemetry.clone();
    let p = factory()
        .build(bctx, &*c, Signal::Traces, next.clone())
        .unwrap();
    let span = |hex: &str| Span {
        trace_id: tid(hex),
        ..Default::default()
    };
    let batch = |spans: Vec<Span>| {
        Batch::from_traces(ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        })
    };
    // Go vector: seed 904 with this id is not sampled at 50%.
    p.consume(batch(vec![span("4e40762d3ee97a1c0932e4fa584f89a8")]))
        .await
        .unwrap();
    assert_eq!(next.count(), 0, "an emptied batch is not handed on");
    let mut rng = SplitMix(1);
    let spans: Vec<Span> = (0..1000)
        .map(|_| Span {
            trace_id: rng.trace_id(),
            ..Default::default()
        })
        .collect();
    p.consume(batch(spans)).await.unwrap();
    let kept = next.items();
    let name = "otelcol_processor_probabilistic_sampler_count_traces_sampled";
    let yes = metric(
        &t,
        name,
        &[("policy", "trace_id_hash"), ("sampled", "true")],
    );
    let no = metric(
        &t,
        name,
        &[("policy", "trace_id_hash"), ("sampled", "false")],
    );
    assert_eq!(yes as usize, kept);
    assert_eq!((yes + no) as usize, 1001, "every span is counted");
    assert!((400..600).contains(&kept), "{kept}");
}

/// Sample random requests of `signal` (each changed by `edit`, given the request's index)
/// with each config, through the wire form and the decoded form: the same items kept, the
/// same bytes, the same item count and the same counters by policy; more than 50 requests
/// lose items.
fn sampled_alike(
    signal: Signal,
    cases: &[&str],
    seed: u64,
    mut edit: impl FnMut(&mut pipeline_api::BatchData, usize),
) {
    use pipeline_api::testing::random::{self, Rng};
    let mut rng = Rng(seed);
    for (case, y) in cases.iter().enumerate() {
        let c = cfg(y);
        let (cw, cd) = (
            ctx("probabilistic_sampler/w", signal),
            ctx("probabilistic_sampler/d", signal),
        );
        let pw = ProbabilisticSamplerProcessor::new(&cw, &c, signal, Collect::new()).unwrap();
        let pd = ProbabilisticSamplerProcessor::new(&cd, &c, signal, Collect::new()).unwrap();
        let request = |n: usize| {
            let mut data = random::request(signal, &mut rng);
            edit(&mut data, n);
            data
        };
        let what = format!("{signal} case {case}");
        let seen = wire_form_agrees(signal, request, &what, true, false, |b, wire| {
            if wire {
                return Ok::<_, String>(pw.sample_wire(b).expect("a wire batch"));
            }
            b.data();
            assert!(pd.sample_wire(b).is_none());
            Ok(b.edit(|data| pd.sample(data)))
        });
        let name = format!(
            "otelcol_processor_probabilistic_sampler_count_{}_sampled",
            if signal == Signal::Logs {
                "logs"
            } else {
                "traces"
            }
        );
        for policy in [
            "trace_id_hash",
            "trace_id_w3c",
            "sampling_randomness",
            "sampling_priority",
            "missing_randomness",
            "attribute",
        ] {
            for sampled in ["true", "false"] {
                let labels = [("policy", policy), ("sampled", sampled)];
                assert_eq!(
                    metric(&cw.telemetry, &name, &labels),
                    metric(&cd.telemetry, &name, &labels),
                    "{what}: {policy} {sampled}"
                );
            }
        }
        assert!(
            seen.shrunk > 50,
            "{what}: only {} requests lost items",
            seen.shrunk
        );
    }
}

/// A trace batch in the wire form is sampled exactly as the decoded form: the same spans
/// kept, the same bytes (rewritten tracestates included), the same item count and the same
/// counters. Random requests, with tracestates valid, carrying a threshold or randomness,
/// and malformed, and `sampling.priority` attributes of each type on some spans.
#[test]
fn spans_in_the_wire_form_are_sampled_as_the_decoded_form() {
    const STATES: [&str; 5] = [
        "",
        "ot=th:8",
        "ot=rv:abcdef01234567",
        "ot=th:x;junk",
        "vendor=a",
    ];
    let priorities = [i(0), i(5), s("1"), s("no"), d(0.0)];
    let cases = [
        "sampling_percentage: 30",
        "{sampling_percentage: 30, hash_seed: 22}",
        "{sampling_percentage: 50, mode: proportional}",
        "{sampling_percentage: 50, mode: equalizing, fail_closed: false}",
        "sampling_percentage: 0",
    ];
    sampled_alike(Signal::Traces, &cases, 0x5a3, |data, n| {
        for (k, span) in pipeline_api::testing::random::spans_mut(data).enumerate() {
            span.trace_state = STATES[(n + k) % STATES.len()].into();
            if (n + k).is_multiple_of(3) {
                let v = priorities[(n + k) % priorities.len()].clone();
                let at = (k % 2).min(span.attributes.len());
                span.attributes.insert(at, kv("sampling.priority", v));
            }
        }
    });
}

/// Log records sampled over the wire form give what sampling the decoded records gives:
/// the same records kept, the same randomness and threshold written into their attributes
/// (the same bytes), the same counts by policy. The records carry thresholds and randomness
/// values (valid or not) and priorities of each type, among random attributes.
#[test]
fn log_records_in_the_wire_form_are_sampled_as_the_decoded_form() {
    let carried = [
        ("sampling.threshold", s("8")),
        ("sampling.threshold", s("x")),
        ("sampling.randomness", s("abcdef01234567")),
        ("sampling.randomness", s("zz")),
        ("prio", i(0)),
        ("prio", i(70)),
        ("prio", d(25.0)),
        ("prio", s("5")),
    ];
    let cases = [
        "sampling_percentage: 30",
        "{sampling_percentage: 30, attribute_source: record, from_attribute: a, sampling_priority: prio}",
        "{sampling_percentage: 40, hash_seed: 9, from_attribute: b}",
        "{sampling_percentage: 50, mode: proportional, sampling_priority: prio}",
        "{sampling_percentage: 50, mode: equalizing, fail_closed: false}",
        "sampling_percentage: 0",
    ];
    sampled_alike(Signal::Logs, &cases, 0x1095, |data, n| {
        for (k, log) in pipeline_api::testing::random::log_records_mut(data).enumerate() {
            for j in 0..(n + k) % 3 {
                let (key, v) = &carried[(n + 2 * k + j) % carried.len()];
                let at = (k + j).min(log.attributes.len());
                log.attributes.insert(at, kv(key, v.clone()));
            }
        }
    });
}
