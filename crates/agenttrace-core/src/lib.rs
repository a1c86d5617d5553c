//! AgentTrace core: the trace model, format decoders, limits, secret redaction and stats.
//!
//! Everything here is a pure function over bytes and values: no I/O, no async, no SQL, no HTTP.
//! That is what makes it fuzzable, benchmarkable and usable by the CLI without a server.

pub mod align;
pub mod error;
pub mod ingest;
pub mod limits;
pub mod model;
pub mod native;
pub mod openai_agents;
pub mod otlp;
pub mod redact;
pub mod stats;
pub mod synth;
pub mod timefmt;

pub use error::{IngestError, RejectClass, Warning};
pub use ingest::{Prepared, prepare};
pub use limits::Limits;
pub use model::{Status, Step, StepError, StepKind, Trace, TraceStats, Usage};
