//! Throughput of the ingest pipeline on a 5 MB / 1000-step trace: parse + decode + limits +
//! stats alone, and the whole `prepare` with redaction. Run with
//! `cargo bench -p agenttrace-core --bench core`.

use agenttrace_core::ingest::{IngestOptions, prepare};
use agenttrace_core::limits::{Limits, parse_json, precheck};
use agenttrace_core::redact::Redactor;
use agenttrace_core::synth::{SynthSpec, generate};
use agenttrace_core::{native, stats};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

fn five_mb_trace() -> Vec<u8> {
    let doc = generate(SynthSpec {
        steps: 1000,
        target_bytes: 5_000_000,
        seed: 1,
    });
    serde_json::to_vec(&doc).unwrap_or_default()
}

fn bench_ingest(c: &mut Criterion) {
    let bytes = five_mb_trace();
    let limits = Limits::default();
    let redactor = Redactor::with_defaults();
    let mut group = c.benchmark_group("ingest_5mb_1000_steps");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.sample_size(30);
    group.bench_function("decode_validate_stats", |b| {
        b.iter(|| {
            let text = precheck(black_box(&bytes), &limits).ok()?;
            let doc = parse_json(text).ok()?;
            let decoded = native::decode(doc, &limits, bytes.len() as u64).ok()?;
            Some(stats::compute(&decoded.trace.steps))
        });
    });
    group.bench_function("prepare_with_redaction", |b| {
        b.iter(|| {
            prepare(
                black_box(&bytes),
                IngestOptions {
                    limits: &limits,
                    redactor: &redactor,
                    name: None,
                    fallback_name: None,
                },
            )
            .ok()
        });
    });
    group.finish();
}

criterion_group!(benches, bench_ingest);
criterion_main!(benches);
