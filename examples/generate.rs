//! Writes a synthetic agent trace in the native format to standard output, for benchmarks and
//! load tests.
//!
//! ```text
//! cargo run -p agenttrace-core --example generate -- --steps 10000 --bytes 20000000 > big.json
//! ```

use agenttrace_core::synth::{SynthSpec, generate};
use std::io::Write;

fn main() {
    let mut spec = SynthSpec {
        steps: 1000,
        target_bytes: 0,
        seed: 1,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().and_then(|v| v.parse::<u64>().ok());
        match (flag.as_str(), value) {
            ("--steps", Some(v)) => spec.steps = usize::try_from(v).unwrap_or(usize::MAX),
            ("--bytes", Some(v)) => spec.target_bytes = usize::try_from(v).unwrap_or(usize::MAX),
            ("--seed", Some(v)) => spec.seed = v,
            _ => {
                eprintln!("usage: generate [--steps N] [--bytes N] [--seed N]");
                std::process::exit(2);
            }
        }
    }
    let doc = generate(spec);
    let mut out = std::io::stdout().lock();
    let written = serde_json::to_writer(&mut out, &doc).map_err(std::io::Error::from);
    if let Err(e) = written.and_then(|()| out.write_all(b"\n")) {
        eprintln!("generate: {e}");
        std::process::exit(1);
    }
}
