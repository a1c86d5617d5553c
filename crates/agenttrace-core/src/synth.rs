//! Synthetic traces for benchmarks and load tests: realistic agent runs of any size.
//!
//! The generated document is in the native format and deterministic for a given seed: an agent
//! root with turns of an LLM call (chat messages in, a tool call out), a tool step and an
//! observation, nested as frameworks nest them, with some failing tools. Payload text is padded so
//! the document reaches the requested size.

use serde_json::{Value, json};

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct SynthSpec {
    /// Number of steps, the root included.
    pub steps: usize,
    /// Approximate size of the whole document in bytes (0 for small payloads).
    pub target_bytes: usize,
    pub seed: u64,
}

const WORDS: &[&str] = &[
    "the",
    "agent",
    "calls",
    "weather",
    "tool",
    "for",
    "Paris",
    "and",
    "then",
    "summarises",
    "result",
    "user",
    "asked",
    "about",
    "forecast",
    "tomorrow",
    "rain",
    "likely",
    "in",
    "afternoon",
    "search",
    "documents",
    "returned",
    "three",
    "matches",
    "with",
    "score",
    "above",
    "threshold",
];

struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn sentence(&mut self, bytes: usize) -> String {
        let mut text = String::with_capacity(bytes + 16);
        while text.len() < bytes {
            if !text.is_empty() {
                text.push(' ');
            }
            let word = WORDS[usize::try_from(self.below(WORDS.len() as u64)).unwrap_or(0)];
            text.push_str(word);
        }
        text
    }
}

/// Generates a native trace document.
pub fn generate(spec: SynthSpec) -> Value {
    let mut rng = Lcg(spec.seed ^ 0x9E37_79B9_7F4A_7C15);
    let steps_wanted = spec.steps.max(1);
    // Each non-root step carries roughly an equal share of the payload.
    let per_step = (spec.target_bytes / steps_wanted)
        .saturating_sub(420)
        .max(16);
    let start_ms: u64 = 1_705_329_022_000;
    let mut clock = start_ms;
    let mut steps = Vec::with_capacity(steps_wanted);
    steps.push(json!({
        "id": "root",
        "type": "agent",
        "name": "weather-agent",
        "start_time": start_ms,
        "input": {"question": rng.sentence(60)},
    }));
    let mut turn = 0usize;
    let mut llm_id = String::new();
    while steps.len() < steps_wanted {
        let slot = steps.len() % 3;
        let duration = 20 + rng.below(800);
        let step = match slot {
            1 => {
                turn += 1;
                llm_id = format!("llm-{turn}");
                json!({
                    "id": llm_id,
                    "parent_id": "root",
                    "type": "llm",
                    "name": "chat",
                    "model": "gpt-4o-mini",
                    "start_time": clock,
                    "duration_ms": duration,
                    "usage": {"input_tokens": 200 + rng.below(800), "output_tokens": 20 + rng.below(200)},
                    "cost": 0.0001 * (1 + rng.below(30)) as f64,
                    "input": [
                        {"role": "system", "content": "You are a helpful weather agent."},
                        {"role": "user", "content": rng.sentence(per_step / 2)},
                    ],
                    "output": {"role": "assistant", "content": rng.sentence(per_step / 2),
                               "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
                })
            }
            2 => {
                let failed = rng.below(10) == 0;
                let mut tool = json!({
                    "id": format!("tool-{turn}"),
                    "parent_id": llm_id,
                    "type": "tool",
                    "name": "get_weather",
                    "start_time": clock,
                    "duration_ms": duration,
                    "input": {"city": "Paris", "units": "metric"},
                    "output": {"forecast": rng.sentence(per_step)},
                });
                if failed {
                    tool["error"] =
                        json!({"type": "TimeoutError", "message": "upstream timed out after 30 s"});
                }
                tool
            }
            _ => json!({
                "id": format!("obs-{turn}"),
                "parent_id": format!("tool-{turn}"),
                "type": "observation",
                "name": "observation",
                "timestamp": clock,
                "duration_ms": 1,
                "content": rng.sentence(per_step),
            }),
        };
        clock += duration;
        steps.push(step);
    }
    if let Some(root) = steps.first_mut() {
        root["end_time"] = json!(clock);
    }
    json!({
        "name": format!("synthetic run ({} steps)", steps_wanted),
        "description": "generated by agenttrace-core synth",
        "tags": ["synthetic", "benchmark"],
        "metadata": {"generator": "synth", "seed": spec.seed},
        "steps": steps,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn makes_the_requested_size() {
        let doc = generate(SynthSpec {
            steps: 1000,
            target_bytes: 5_000_000,
            seed: 1,
        });
        assert_eq!(doc["steps"].as_array().unwrap().len(), 1000);
        let size = serde_json::to_vec(&doc).unwrap().len();
        assert!((4_000_000..5_242_880).contains(&size), "size {size}");
    }
}
