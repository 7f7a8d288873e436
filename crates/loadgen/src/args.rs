//! A tiny `--name value` parser: the tool has few options, and a parser crate would be most of its build.

use std::collections::HashMap;
use std::str::FromStr;

pub struct Args {
    named: HashMap<String, String>,
    pub positional: Vec<String>,
}

impl Args {
    pub fn parse(argv: &[String]) -> Result<Self, String> {
        let mut named = HashMap::new();
        let mut positional = Vec::new();
        let mut it = argv.iter();
        while let Some(arg) = it.next() {
            if let Some(name) = arg.strip_prefix("--") {
                let value = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
                named.insert(name.to_owned(), value.clone());
            } else {
                positional.push(arg.clone());
            }
        }
        Ok(Self { named, positional })
    }

    pub fn opt(&self, name: &str) -> Option<&str> {
        self.named.get(name).map(String::as_str)
    }

    pub fn req(&self, name: &str) -> Result<&str, String> {
        self.opt(name).ok_or_else(|| format!("--{name} is required"))
    }

    pub fn num<T: FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.opt(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| format!("--{name}: not a number: {v}")),
        }
    }

    /// `A:B` as two integers.
    pub fn range(&self, name: &str) -> Result<Option<(i64, i64)>, String> {
        let Some(v) = self.opt(name) else { return Ok(None) };
        let (a, b) = v.split_once(':').ok_or_else(|| format!("--{name}: expected A:B, got {v}"))?;
        let parse = |s: &str| s.trim().parse::<i64>().map_err(|_| format!("--{name}: not a number: {s}"));
        Ok(Some((parse(a)?, parse(b)?)))
    }
}
