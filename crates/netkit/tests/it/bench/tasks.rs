//! `netkit bench tasks` with small jobs: the same checksums in every mode, and
//! the seeds' times printed only for the seeds job.

use super::*;

#[test]
fn tasks_give_the_same_checksums_in_every_mode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let svg = dir.path().join("tasks.svg");
    let r = bench_json(&[
        "tasks",
        "--jobs",
        "3",
        "--primes-below",
        "20000",
        "--io-trips",
        "3",
        "--io-delay",
        "1ms",
        "--svg",
        svg.to_str().expect("utf-8 path"),
    ]);
    let results = r["results"].as_array().expect("results");
    assert_eq!(results.len(), 2);
    for job in results {
        let seq = &job["sequential"]["checksums"];
        assert_eq!(seq.as_array().map(Vec::len), Some(3), "{job}");
        assert_eq!(seq, &job["threads"]["checksums"], "{job}");
        assert_eq!(seq, &job["processes"]["checksums"], "{job}");
        assert!(job["thread_speedup"].as_f64().unwrap_or(0.0) > 0.0);
    }
    // 2262 primes below 20000: the CPU job really counted.
    assert_eq!(
        results[0]["sequential"]["checksums"][0]
            .as_u64()
            .map(|c| c >> 32),
        Some(2262)
    );
    assert!(std::fs::read_to_string(&svg).expect("svg").contains("<svg"));
}

/// With any other job than the seed's, the seed's Python times (measured
/// for its job only) are not printed; one copy reads "1 thread".
#[test]
fn tasks_print_the_seeds_times_only_for_the_seeds_job() {
    let dir = tempfile::tempdir().expect("tempdir");
    let svg = dir.path().join("tasks.svg");
    let out = netkit(&["bench", "tasks", "--jobs", "1", "--primes-below", "20000"])
        .args(["--io-trips", "2", "--io-delay", "1ms", "--svg"])
        .arg(&svg)
        .output()
        .expect("run bench tasks");
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("Python"), "{stdout}");
    assert!(stdout.contains("1 copy of each job"), "{stdout}");
    let chart = std::fs::read_to_string(&svg).expect("svg");
    assert!(
        chart.lines().any(|l| l.trim() == "1 thread"),
        "the bar says 1 thread"
    );
    assert!(!chart.contains("1 threads"), "no '1 threads'");
}
