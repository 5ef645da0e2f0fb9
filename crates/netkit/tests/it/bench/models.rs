//! `netkit bench models` with a short duration: a row per model and a chart,
//! HTTP served from a temporary directory, rungs a model cannot take marked.

use super::*;

#[test]
fn models_has_a_row_per_model_and_draws_a_chart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let svg = dir.path().join("models.svg");
    let r = bench_json(&[
        "models",
        "--service",
        "echo",
        "-d",
        "100ms",
        "--ladder",
        "1,3",
        "--svg",
        svg.to_str().expect("utf-8 path"),
    ]);
    let rows = r["rows"].as_array().expect("rows");
    let names: Vec<&str> = rows
        .iter()
        .map(|row| row["model"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        names,
        [
            "iterative",
            "thread",
            "pool",
            "fork",
            "select",
            "poll",
            "epoll",
            "async",
            "uring"
        ]
    );
    for row in rows {
        let rungs = row["rungs"].as_array().expect("rungs");
        assert_eq!(rungs.len(), 2, "{row}");
        assert_eq!(rungs[0]["outcome"], "ok", "{row}");
        assert!(
            rungs[0]["requests_per_sec"].as_f64().unwrap_or(0.0) > 0.0,
            "{row}"
        );
        assert!(num(&rungs[0], &["peak_rss_kib"]) > 0, "{row}");
    }
    let chart = std::fs::read_to_string(&svg).expect("svg written");
    assert!(
        chart.starts_with("<svg") && chart.contains("epoll") && chart.contains("uring"),
        "{chart:.200}"
    );
}

#[test]
fn models_serves_http_from_a_temporary_directory() {
    let r = bench_json(&[
        "models",
        "--service",
        "http",
        "--models",
        "thread,epoll",
        // Long enough that a loaded machine still completes a request in
        // each rung (100 ms once measured none while other builds ran).
        "-d",
        "500ms",
        "--ladder",
        "1,2",
    ]);
    assert_eq!(r["service"], "http");
    for row in r["rows"].as_array().expect("rows") {
        for rung in row["rungs"].as_array().expect("rungs") {
            assert_eq!(rung["outcome"], "ok", "{row}");
            assert!(
                rung["requests_per_sec"].as_f64().unwrap_or(0.0) > 0.0,
                "{row}"
            );
            assert_eq!(num(rung, &["errors", "status"]), 0, "{row}");
        }
    }
}

#[test]
fn models_marks_rungs_a_model_cannot_take() {
    let r = bench_json(&[
        "models",
        "--models",
        "iterative",
        "-d",
        "50ms",
        "--ladder",
        "1,200",
    ]);
    let rungs = r["rows"][0]["rungs"].as_array().expect("rungs").clone();
    assert_eq!(rungs[0]["outcome"], "ok");
    assert_eq!(rungs[1]["outcome"], "skipped");
    assert!(rungs[1]["note"]
        .as_str()
        .unwrap_or("")
        .contains("one client"));
}
