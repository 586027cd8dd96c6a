//! Small facts about OTLP metrics that several components need.

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::{metric, Metric};

/// Go's pmetric `MetricType.String()`.
pub fn type_name(m: &Metric) -> &'static str {
    match &m.data {
        None => "Empty",
        Some(metric::Data::Gauge(_)) => "Gauge",
        Some(metric::Data::Sum(_)) => "Sum",
        Some(metric::Data::Histogram(_)) => "Histogram",
        Some(metric::Data::ExponentialHistogram(_)) => "ExponentialHistogram",
        Some(metric::Data::Summary(_)) => "Summary",
    }
}

/// Call `f` on the attributes of every data point of a metric, whatever its type.
pub fn for_each_point_attributes(m: &mut Metric, mut f: impl FnMut(&mut Vec<KeyValue>)) {
    match &mut m.data {
        Some(metric::Data::Gauge(g)) => g.data_points.iter_mut().for_each(|p| f(&mut p.attributes)),
        Some(metric::Data::Sum(s)) => s.data_points.iter_mut().for_each(|p| f(&mut p.attributes)),
        Some(metric::Data::Histogram(h)) => {
            h.data_points.iter_mut().for_each(|p| f(&mut p.attributes))
        }
        Some(metric::Data::ExponentialHistogram(h)) => {
            h.data_points.iter_mut().for_each(|p| f(&mut p.attributes))
        }
        Some(metric::Data::Summary(s)) => {
            s.data_points.iter_mut().for_each(|p| f(&mut p.attributes))
        }
        None => {}
    }
}
