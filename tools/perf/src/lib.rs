//! Small helpers shared by the evidence tools: order statistics and argument
//! parsing without a CLI framework (so the tools build in seconds).

use std::time::Duration;

/// The `p`-th percentile (0..=100) of `samples` by nearest rank; `None` when empty.
pub fn percentile(samples: &[Duration], p: f64) -> Option<Duration> {
    if samples.is_empty() {
        return None;
    }
    let mut s = samples.to_vec();
    s.sort_unstable();
    let rank = ((p / 100.0) * s.len() as f64).ceil() as usize;
    Some(s[rank.clamp(1, s.len()) - 1])
}

/// The median (the lower one of an even count, by nearest rank).
pub fn median(samples: &[Duration]) -> Option<Duration> {
    percentile(samples, 50.0)
}

/// Milliseconds with two decimals, or `-` when absent.
pub fn ms(d: Option<Duration>) -> String {
    d.map_or_else(
        || "-".to_owned(),
        |d| format!("{:.2}", d.as_secs_f64() * 1e3),
    )
}

/// Arguments as `--name value` pairs and positionals.
pub struct Args {
    pub options: Vec<(String, String)>,
    pub positional: Vec<String>,
}

impl Args {
    /// Parse `std::env::args()`; every `--name` takes one value.
    pub fn parse(usage: &str) -> Args {
        let mut options = Vec::new();
        let mut positional = Vec::new();
        let mut it = std::env::args().skip(1);
        while let Some(a) = it.next() {
            if a == "-h" || a == "--help" {
                println!("{usage}");
                std::process::exit(0);
            }
            if let Some(name) = a.strip_prefix("--") {
                let Some(v) = it.next() else {
                    eprintln!("--{name} needs a value\n\n{usage}");
                    std::process::exit(2);
                };
                options.push((name.to_owned(), v));
            } else {
                positional.push(a);
            }
        }
        Args {
            options,
            positional,
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.options
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn num<T: std::str::FromStr>(&self, name: &str, default: T) -> T {
        match self.get(name) {
            None => default,
            Some(v) => v.parse().unwrap_or_else(|_| {
                eprintln!("--{name}: not a number: {v}");
                std::process::exit(2)
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let s: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(median(&s), Some(Duration::from_millis(50)));
        assert_eq!(percentile(&s, 99.0), Some(Duration::from_millis(99)));
        assert_eq!(percentile(&s, 100.0), Some(Duration::from_millis(100)));
        assert_eq!(percentile(&s, 0.0), Some(Duration::from_millis(1)));
        assert_eq!(median(&[]), None);
        let three = [3, 1, 2].map(Duration::from_millis);
        assert_eq!(median(&three), Some(Duration::from_millis(2)));
    }
}
