//! The Table of core/v1 Events, as upstream's hand-written event printer
//! makes it (its columns cannot be written as printer columns): no leading
//! name column, `LAST SEEN` falling back to the first time and `eventTime`,
//! `OBJECT` as `kind/name` in lower case, and with `-o wide` the sub-object,
//! source, first time, count and name.

use kapi_generated::ApiResource;
use serde_json::{Value, json};

/// Whether the resource is core/v1 `events`.
pub fn is_events(r: &ApiResource) -> bool {
    r.group.is_empty() && r.plural == "events"
}

/// Upstream's column definitions of an Event Table.
pub fn column_definitions() -> Value {
    let col = |name: &str, priority: i32, description: &str| {
        // Upstream formats only the name column.
        let format = if name == "Name" { "name" } else { "" };
        json!({"name": name, "type": "string", "format": format, "priority": priority, "description": description})
    };
    json!([
        col("Last Seen", 0, "Time since the event last occurred."),
        col("Type", 0, "Normal or Warning."),
        col("Reason", 0, "Why the event happened, in one word."),
        col("Object", 0, "The object the event is about."),
        col(
            "Subobject",
            1,
            "The part of the object the event is about, as a field path."
        ),
        col("Source", 1, "The component that reported the event."),
        col("Message", 0, "What happened, for people."),
        col("First Seen", 1, "Time since the event first occurred."),
        col("Count", 1, "How often the event occurred."),
        col("Name", 1, "The event's name."),
    ])
}

fn text<'a>(obj: &'a Value, path: &[&str]) -> &'a str {
    let mut v = obj;
    for p in path {
        match v.get(p) {
            Some(next) => v = next,
            None => return "",
        }
    }
    v.as_str().unwrap_or("")
}

/// An age since a timestamp, `<unknown>` when there is none (Go's zero time).
fn since(ts: &str, now: jiff::Timestamp) -> String {
    match ts.parse::<jiff::Timestamp>() {
        Ok(t) => crate::table::human_duration(now.as_second() - t.as_second()),
        Err(_) => "<unknown>".into(),
    }
}

fn first_non_empty<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.is_empty() { b } else { a }
}

/// The cells of one Event row, all ten (kubectl hides priority-1 columns unless `-o wide`).
pub fn cells(obj: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let first = match text(obj, &["firstTimestamp"]) {
        "" => since(text(obj, &["eventTime"]), now),
        t => since(t, now),
    };
    let mut last = match text(obj, &["lastTimestamp"]) {
        "" => first.clone(),
        t => since(t, now),
    };
    let mut count = obj.get("count").and_then(Value::as_i64).unwrap_or(0);
    if let Some(series) = obj.get("series").filter(|s| s.is_object()) {
        last = since(text(series, &["lastObservedTime"]), now);
        count = series.get("count").and_then(Value::as_i64).unwrap_or(0);
    } else if count == 0 {
        // Singleton events of the new API carry no count.
        count = 1;
    }
    let kind = text(obj, &["involvedObject", "kind"]).to_lowercase();
    let name = text(obj, &["involvedObject", "name"]);
    let target = if name.is_empty() {
        kind
    } else {
        format!("{kind}/{name}")
    };
    let component = first_non_empty(
        text(obj, &["source", "component"]),
        text(obj, &["reportingComponent"]),
    );
    let instance = first_non_empty(
        text(obj, &["source", "host"]),
        text(obj, &["reportingInstance"]),
    );
    let source = if instance.is_empty() {
        component.to_string()
    } else {
        format!("{component}, {instance}")
    };
    vec![
        json!(last),
        json!(text(obj, &["type"])),
        json!(text(obj, &["reason"])),
        json!(target),
        json!(text(obj, &["involvedObject", "fieldPath"])),
        json!(source),
        json!(text(obj, &["message"]).trim()),
        json!(first),
        json!(count),
        json!(text(obj, &["metadata", "name"])),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> jiff::Timestamp {
        "2026-01-01T00:10:00Z".parse().expect("timestamp")
    }

    #[test]
    fn core_event_row() {
        let ev = json!({
            "metadata": {"name": "cm.1"},
            "involvedObject": {"kind": "ConfigMap", "name": "app", "fieldPath": "data"},
            "reason": "Synced", "message": " done \n", "type": "Normal", "count": 3,
            "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:05:00Z",
            "source": {"component": "ctl", "host": "node-1"},
        });
        assert_eq!(
            cells(&ev, now()),
            vec![
                json!("5m"),
                json!("Normal"),
                json!("Synced"),
                json!("configmap/app"),
                json!("data"),
                json!("ctl, node-1"),
                json!("done"),
                json!("10m"),
                json!(3),
                json!("cm.1"),
            ]
        );
    }

    #[test]
    fn new_api_event_falls_back_to_event_time_and_reporting_fields() {
        let ev = json!({
            "metadata": {"name": "l.2"},
            "involvedObject": {"kind": "Lease", "name": "l"},
            "reason": "Renewed", "type": "Warning",
            "eventTime": "2026-01-01T00:08:00.000000Z",
            "reportingComponent": "r", "reportingInstance": "r-1",
        });
        let c = cells(&ev, now());
        assert_eq!(c[0], json!("2m"));
        assert_eq!(c[3], json!("lease/l"));
        assert_eq!(c[5], json!("r, r-1"));
        assert_eq!(c[7], json!("2m"));
        assert_eq!(c[8], json!(1));

        let series =
            json!({"series": {"count": 4, "lastObservedTime": "2026-01-01T00:07:00.000000Z"}});
        let c = cells(&series, now());
        assert_eq!(c[0], json!("3m"));
        assert_eq!(c[7], json!("<unknown>"));
        assert_eq!(c[8], json!(4));
        assert_eq!(c[3], json!(""));
    }

    #[test]
    fn ten_columns() {
        let cols = column_definitions();
        let names: Vec<&str> = cols
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str())
            .collect();
        assert_eq!(
            names,
            [
                "Last Seen",
                "Type",
                "Reason",
                "Object",
                "Subobject",
                "Source",
                "Message",
                "First Seen",
                "Count",
                "Name"
            ]
        );
    }
}
