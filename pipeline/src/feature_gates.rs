//! `--feature-gates`: the Go collector's gates that concern what Ferrotel ships. A gate
//! Ferrotel implements is honoured; one whose behaviour Ferrotel has either way is accepted;
//! one Ferrotel implements only at its default is refused when set the other way, saying
//! why; an unknown gate is warned about (Go refuses it: a config for a newer Go collector
//! should not stop Ferrotel). Stable gates cannot be disabled and deprecated ones cannot
//! be enabled, as in Go.

use std::collections::BTreeSet;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Alpha,
    Beta,
    Stable,
    Deprecated,
}

impl Stage {
    /// Go: alpha and deprecated gates are off by default, beta and stable on.
    pub fn default_on(self) -> bool {
        matches!(self, Stage::Beta | Stage::Stable)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Ferrotel does what the gate turns on.
    Honoured,
    /// Ferrotel behaves the same whatever the gate says.
    Same(&'static str),
    /// Ferrotel has only the default behaviour.
    DefaultOnly(&'static str),
}

pub struct Gate {
    pub id: &'static str,
    pub stage: Stage,
    pub effect: Effect,
}

const fn gate(id: &'static str, stage: Stage, effect: Effect) -> Gate {
    Gate { id, stage, effect }
}

use Effect::{DefaultOnly, Honoured, Same};
use Stage::{Alpha, Beta, Deprecated, Stable};

/// The gates of the Go collector (core and contrib) that concern the collector core and the
/// components Ferrotel ships.
pub const GATES: &[Gate] = &[
    gate("confmap.enableMergeAppendOption", Alpha, Honoured),
    gate(
        "confmap.newExpandedValueSanitizer",
        Beta,
        Same("a value expanded from a reference is taken as a string where a string is expected"),
    ),
    gate("service.AllowNoPipelines", Alpha, Honoured),
    gate(
        "service.profilesSupport",
        Alpha,
        DefaultOnly("Ferrotel has no profiles pipelines"),
    ),
    gate(
        "service.receiverPartialReload",
        Alpha,
        Same("a reload always rebuilds only what changed"),
    ),
    gate(
        "telemetry.newPipelineTelemetry",
        Alpha,
        DefaultOnly("the own metrics keep their current names and labels"),
    ),
    gate(
        "telemetry.UseLocalHostAsDefaultMetricsAddress",
        Beta,
        DefaultOnly("the own metrics listen on localhost:8888 unless configured"),
    ),
    gate(
        "component.UseLocalHostAsDefaultHost",
        Stable,
        Same("servers default to localhost"),
    ),
    gate(
        "otelcol.printInitialConfig",
        Beta,
        Same("print-config is always available"),
    ),
    gate(
        "exporter.PersistRequestContext",
        Stable,
        Same("the persistent queue keeps no span context"),
    ),
    gate(
        "pkg.exporterhelper.exporterQueueBatchEnabled",
        Alpha,
        DefaultOnly("set sending_queue.batch to batch in the exporter"),
    ),
    gate(
        "receiver.newTelemetryError",
        Alpha,
        DefaultOnly("receivers count refused and failed items as today"),
    ),
    gate(
        "confighttp.framedSnappy",
        Beta,
        DefaultOnly("snappy means block snappy, x-snappy-framed framed snappy"),
    ),
    gate(
        "configgrpc.nativeGRPCMetrics",
        Alpha,
        DefaultOnly("Ferrotel emits no gRPC library metrics"),
    ),
    gate(
        "pdata.useProtoPooling",
        Alpha,
        Same("a memory allocation strategy of the Go implementation"),
    ),
    gate(
        "stanza.synchronousLogEmitter",
        Alpha,
        Same("filelog hands each batch on and waits for it"),
    ),
    gate(
        "pkg.stanza.addDefaultScopeName",
        Beta,
        DefaultOnly("filelog's scope is as it is"),
    ),
    gate("logs.assignKeys", Beta, Same("accepted")),
    gate("logs.jsonParserArray", Beta, Same("accepted")),
    gate(
        "filelog.allowFileDeletion",
        Alpha,
        DefaultOnly("filelog does not delete files after reading"),
    ),
    gate(
        "filelog.allowHeaderMetadataParsing",
        Beta,
        DefaultOnly("filelog's header setting is as documented"),
    ),
    gate(
        "filelog.mtimeSortType",
        Alpha,
        DefaultOnly("filelog orders files as documented"),
    ),
    gate(
        "filelog.protobufCheckpointEncoding",
        Beta,
        Same("Ferrotel's checkpoints have their own encoding"),
    ),
    gate(
        "filelog.container.removeOriginalTimeField",
        Alpha,
        DefaultOnly("the container operator keeps the time attribute as Go does by default"),
    ),
    gate(
        "processor.tailsamplingprocessor.recordpolicy",
        Alpha,
        DefaultOnly("tail_sampling adds no policy attributes"),
    ),
    gate(
        "processor.tailsamplingprocessor.metricstatcountspanssampled",
        Alpha,
        DefaultOnly("tail_sampling's metrics are as documented"),
    ),
    gate(
        "processor.tailsamplingprocessor.metricstatcountbytessampled",
        Alpha,
        DefaultOnly("tail_sampling's metrics are as documented"),
    ),
    gate(
        "processor.tailsamplingprocessor.defaultOTTLErrorModeIgnore",
        Alpha,
        DefaultOnly("Ferrotel has no ottl_condition policy yet"),
    ),
    gate(
        "processor.tailsamplingprocessor.tailstorageextension",
        Alpha,
        DefaultOnly("tail_sampling keeps traces in memory"),
    ),
    gate(
        "exporter.prometheusexporter.DisableAddMetricSuffixes",
        Alpha,
        DefaultOnly("add_metric_suffixes is honoured beside translation_strategy"),
    ),
    gate(
        "exporter.prometheusexporter.ResourceConstantLabels",
        Alpha,
        DefaultOnly(
            "resource_to_telemetry_conversion is the way to turn resource attributes into labels",
        ),
    ),
    gate(
        "exporter.prometheusremotewritexporter.enableSendingRW2",
        Alpha,
        DefaultOnly("Ferrotel sends Remote Write 1.0"),
    ),
    gate(
        "exporter.prometheusremotewritexporter.EnableMultipleWorkers",
        Alpha,
        Same("sending_queue.num_consumers sets the concurrency"),
    ),
    gate(
        "exporter.prometheusremotewritexporter.RetryOn429",
        Alpha,
        DefaultOnly("429 is handled as the exporter documents"),
    ),
    gate(
        "pkg.translator.prometheus.PermissiveLabelSanitization",
        Alpha,
        DefaultOnly("labels starting with '_' become 'key_' as Go does by default"),
    ),
    gate(
        "processor.k8sattributes.EmitV1K8sConventions",
        Alpha,
        DefaultOnly(
            "k8s_attributes names labels and annotations k8s.pod.labels.<key> (the legacy names)",
        ),
    ),
    gate(
        "processor.k8sattributes.DontEmitV0K8sConventions",
        Alpha,
        DefaultOnly(
            "k8s_attributes names labels and annotations k8s.pod.labels.<key> (the legacy names)",
        ),
    ),
    gate(
        "processor.k8sattributes.ShareProcessorBetweenPipelines",
        Alpha,
        DefaultOnly("each pipeline's k8s_attributes watches the API on its own"),
    ),
    gate(
        "postgresqlreceiver.preciselagmetrics",
        Beta,
        DefaultOnly("the postgresql receiver records replication lag as postgresql.wal.delay"),
    ),
    gate(
        "receiver.postgresql.connectionPool",
        Beta,
        Same("the postgresql receiver keeps one connection per database either way"),
    ),
    gate(
        "receiver.postgresql.separateSchemaAttr",
        Alpha,
        DefaultOnly("the postgresql receiver names tables schema.table in postgresql.table.name"),
    ),
    gate(
        "extension.healthcheck.useComponentStatus",
        Alpha,
        DefaultOnly("health_check answers from the pipelines' readiness"),
    ),
    gate(
        "telemetry.disableHighCardinalityMetrics",
        Deprecated,
        Same("removed from Go"),
    ),
];

static ON: OnceLock<BTreeSet<&'static str>> = OnceLock::new();

/// Apply the `--feature-gates` values (comma-separated, `id`, `+id` or `-id`, as Go). Returns
/// the warnings, or every error.
pub fn apply(values: &[String]) -> Result<Vec<String>, Vec<String>> {
    let (on, warnings) = resolve(values)?;
    let _ = ON.set(on);
    Ok(warnings)
}

/// The gates on after `values`, and the warnings.
pub fn resolve(values: &[String]) -> Result<(BTreeSet<&'static str>, Vec<String>), Vec<String>> {
    let mut on: BTreeSet<&'static str> = GATES
        .iter()
        .filter(|g| g.stage.default_on())
        .map(|g| g.id)
        .collect();
    let mut warnings = Vec::new();
    let mut errors = Vec::new();
    for item in values.iter().flat_map(|v| v.split(',')) {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let (id, enable) = match item.as_bytes()[0] {
            b'-' => (&item[1..], false),
            b'+' => (&item[1..], true),
            _ => (item, true),
        };
        let Some(g) = GATES.iter().find(|g| g.id == id) else {
            warnings.push(format!(
                "--feature-gates: no such feature gate {id:?} in Ferrotel; ignored"
            ));
            continue;
        };
        if g.stage == Stage::Stable && !enable {
            errors.push(format!(
                "--feature-gates: feature gate {id:?} is stable, can not be disabled"
            ));
            continue;
        }
        if g.stage == Stage::Deprecated && enable {
            errors.push(format!(
                "--feature-gates: feature gate {id:?} is deprecated, can not be enabled"
            ));
            continue;
        }
        match g.effect {
            Effect::DefaultOnly(why) if enable != g.stage.default_on() => {
                errors.push(format!(
                    "--feature-gates: Ferrotel does not implement feature gate {id:?} {}: {why}",
                    if enable { "on" } else { "off" }
                ));
                continue;
            }
            Effect::Same(why) if enable != g.stage.default_on() => {
                warnings.push(format!(
                    "--feature-gates: {id:?} changes nothing in Ferrotel: {why}"
                ));
            }
            _ => {}
        }
        if enable {
            on.insert(g.id);
        } else {
            on.remove(g.id);
        }
    }
    if errors.is_empty() {
        Ok((on, warnings))
    } else {
        Err(errors)
    }
}

/// Whether a gate is on (its default unless `apply` changed it).
pub fn enabled(id: &str) -> bool {
    match ON.get() {
        Some(on) => on.contains(id),
        None => GATES.iter().any(|g| g.id == id && g.stage.default_on()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<String> {
        vec![s.to_string()]
    }

    #[test]
    fn gates_parse_as_go_and_refuse_what_ferrotel_lacks() {
        let (on, w) = resolve(&v("service.AllowNoPipelines,-otelcol.printInitialConfig")).unwrap();
        assert!(on.contains("service.AllowNoPipelines"));
        assert!(!on.contains("otelcol.printInitialConfig"));
        assert!(
            on.contains("component.UseLocalHostAsDefaultHost"),
            "stable: on"
        );
        assert_eq!(w.len(), 1, "{w:?}");
        let (_, w) = resolve(&v("+no.such.gate")).unwrap();
        assert!(w[0].contains("no such feature gate"), "{w:?}");
        let e = resolve(&v("-component.UseLocalHostAsDefaultHost,telemetry.newPipelineTelemetry,+telemetry.disableHighCardinalityMetrics")).unwrap_err();
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(e[0].contains("is stable, can not be disabled"));
        assert!(e[1].contains("does not implement"));
        assert!(e[2].contains("is deprecated, can not be enabled"));
        // set to its default: fine
        assert!(resolve(&v("-telemetry.newPipelineTelemetry")).is_ok());
    }
}
