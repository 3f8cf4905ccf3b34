//! In-process metrics (SPEC §8.1): labelled counters and a webhook latency histogram,
//! rendered as Prometheus text at `/metrics` and as JSON at `/api/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

type Labels = Vec<(&'static str, String)>;

/// Upper bounds (seconds) of the webhook latency histogram.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

pub const WEBHOOK_REQUESTS: &str = "switchboard_webhook_requests_total";
pub const INVARIANT_VIOLATIONS: &str = "switchboard_invariant_violations_total";
pub const TEXTBACKS: &str = "switchboard_textbacks_total";
pub const SMS_SENT: &str = "switchboard_sms_total";
pub const UNKNOWN_NUMBERS: &str = "switchboard_unknown_number_total";
pub const WEBHOOK_ERRORS: &str = "switchboard_webhook_errors_total";
pub const PASSWORD_HASH_REJECTED: &str = "switchboard_password_hash_rejected_total";
const WEBHOOK_LATENCY: &str = "switchboard_webhook_latency_seconds";

const HELP: &[(&str, &str)] = &[
    (
        WEBHOOK_ERRORS,
        "Webhooks that failed on our side (answered 5xx, or, where a caller was waiting, with an apology) by provider and cause.",
    ),
    (
        "switchboard_vapi_assistant_fallback_total",
        "Vapi assistant requests answered without an agent, by result.",
    ),
    (
        WEBHOOK_REQUESTS,
        "Webhook requests by provider, route and HTTP status.",
    ),
    (
        INVARIANT_VIOLATIONS,
        "Invariant violations by name; each one is also logged.",
    ),
    (
        TEXTBACKS,
        "Missed-call text-backs by result (sent, blocked) and reason.",
    ),
    (SMS_SENT, "Outbound SMS by kind and result."),
    (
        PASSWORD_HASH_REJECTED,
        "Sign-ins and new passwords refused with 503 because the hashing threads were busy, by reason.",
    ),
    (
        UNKNOWN_NUMBERS,
        "Webhooks for numbers that are not in phone_numbers (treated as system).",
    ),
];

#[derive(Debug, Clone, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
pub struct Metrics {
    counters: Mutex<BTreeMap<(&'static str, Labels), u64>>,
    latency: Mutex<BTreeMap<Labels, Histogram>>,
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn render_labels(labels: &Labels, extra: Option<(&str, String)>) -> String {
    let mut parts: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
        .collect();
    if let Some((k, v)) = extra {
        parts.push(format!("{k}=\"{v}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

impl Metrics {
    pub fn incr(&self, name: &'static str, labels: &[(&'static str, &str)]) {
        let key = (
            name,
            labels.iter().map(|(k, v)| (*k, v.to_string())).collect(),
        );
        *self
            .counters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key)
            .or_insert(0) += 1;
    }

    /// Counts an invariant violation and logs it loudly (principle 3).
    pub fn invariant(&self, name: &'static str, context: &str) {
        log::error!("invariant violation {name}: {context}");
        self.incr(INVARIANT_VIOLATIONS, &[("name", name)]);
    }

    pub fn observe_webhook(&self, provider: &str, route: &str, status: u16, seconds: f64) {
        let status = status.to_string();
        self.incr(
            WEBHOOK_REQUESTS,
            &[
                ("provider", provider),
                ("route", route),
                ("status", &status),
            ],
        );
        let key: Labels = vec![
            ("provider", provider.to_string()),
            ("route", route.to_string()),
        ];
        let mut hist = self.latency.lock().unwrap_or_else(|p| p.into_inner());
        let h = hist.entry(key).or_default();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += seconds;
    }

    /// The current value of one counter (tests and the JSON view).
    pub fn counter(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        let counters = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        counters
            .iter()
            .filter(|((n, l), _)| {
                *n == name
                    && labels
                        .iter()
                        .all(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|(_, v)| *v)
            .sum()
    }

    /// Prometheus text exposition; `gauges` (values computed at scrape time, as
    /// (name with optional labels, help, value)) are appended.
    pub fn render_prometheus(&self, gauges: &[(&str, &str, f64)]) -> String {
        let mut out = String::new();
        let counters = self
            .counters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut last = "";
        for ((name, labels), value) in &counters {
            if *name != last {
                let help = HELP
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, h)| *h)
                    .unwrap_or("");
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
                last = name;
            }
            let _ = writeln!(out, "{name}{} {value}", render_labels(labels, None));
        }
        let hist = self
            .latency
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if !hist.is_empty() {
            let _ = writeln!(out, "# HELP {WEBHOOK_LATENCY} Webhook handling time.\n# TYPE {WEBHOOK_LATENCY} histogram");
        }
        for (labels, h) in &hist {
            for (i, bound) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "{WEBHOOK_LATENCY}_bucket{} {}",
                    render_labels(labels, Some(("le", bound.to_string()))),
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "{WEBHOOK_LATENCY}_bucket{} {}",
                render_labels(labels, Some(("le", "+Inf".into()))),
                h.count
            );
            let _ = writeln!(
                out,
                "{WEBHOOK_LATENCY}_sum{} {}",
                render_labels(labels, None),
                h.sum
            );
            let _ = writeln!(
                out,
                "{WEBHOOK_LATENCY}_count{} {}",
                render_labels(labels, None),
                h.count
            );
        }
        let mut last_base = "";
        for (name, help, value) in gauges {
            // A gauge may carry labels (`name{a="b"}`); HELP and TYPE name the bare metric once.
            let base = name.split('{').next().unwrap_or(name);
            if base != last_base {
                let kind = if base.ends_with("_total") {
                    "counter"
                } else {
                    "gauge"
                };
                let _ = writeln!(out, "# HELP {base} {help}\n# TYPE {base} {kind}");
                last_base = base;
            }
            let _ = writeln!(out, "{name} {value}");
        }
        out
    }

    /// The counters as `{"name{labels}": value}`.
    pub fn counters_json(&self) -> serde_json::Map<String, serde_json::Value> {
        let counters = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        counters
            .iter()
            .map(|((name, labels), v)| {
                (
                    format!("{name}{}", render_labels(labels, None)),
                    (*v).into(),
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render_as_prometheus_text() {
        let m = Metrics::default();
        m.incr(INVARIANT_VIOLATIONS, &[("name", "voice_onboarding_number")]);
        m.incr(INVARIANT_VIOLATIONS, &[("name", "voice_onboarding_number")]);
        m.observe_webhook("twilio", "/twilio/voice", 200, 0.003);
        let text = m.render_prometheus(&[("switchboard_up", "Always 1.", 1.0)]);
        assert!(text.contains("# TYPE switchboard_invariant_violations_total counter\n"));
        assert!(text.contains(
            "switchboard_invariant_violations_total{name=\"voice_onboarding_number\"} 2\n"
        ));
        assert!(text.contains("switchboard_webhook_requests_total{provider=\"twilio\",route=\"/twilio/voice\",status=\"200\"} 1\n"));
        assert!(text.contains("switchboard_webhook_latency_seconds_bucket{provider=\"twilio\",route=\"/twilio/voice\",le=\"0.005\"} 1\n"));
        assert!(text.contains("switchboard_webhook_latency_seconds_bucket{provider=\"twilio\",route=\"/twilio/voice\",le=\"0.001\"} 0\n"));
        assert!(text.contains("switchboard_up 1\n"));
        assert_eq!(
            m.counter(INVARIANT_VIOLATIONS, &[("name", "voice_onboarding_number")]),
            2
        );
    }
}
