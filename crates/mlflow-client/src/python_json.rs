//! Python's `json` module writes non-finite floats as the bare tokens `NaN`, `Infinity` and
//! `-Infinity`, which are not JSON. MLflow's REST routes quote them (`"NaN"`); its `ajax-api`
//! routes do not, and neither do files the Python export tool wrote. Quoting them outside
//! strings lets one lenient float reader take all of these.

const TOKENS: [&[u8]; 3] = [b"-Infinity", b"Infinity", b"NaN"];

/// `bytes` with every bare non-finite token outside a string put in quotes; `None` when there
/// was none, so that a caller's parse error stands as it was.
pub fn quote_non_finite(bytes: &[u8]) -> Option<Vec<u8>> {
    if !TOKENS.iter().any(|t| bytes.windows(t.len()).any(|w| w == *t)) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() + 64);
    let (mut in_string, mut escaped, mut changed, mut i) = (false, false, false, 0);
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else if b == b'"' {
            in_string = true;
        } else if let Some(t) = TOKENS.iter().find(|t| bytes[i..].starts_with(t)) {
            out.push(b'"');
            out.extend_from_slice(t);
            out.push(b'"');
            i += t.len();
            changed = true;
            continue;
        }
        out.push(b);
        i += 1;
    }
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quoted(s: &str) -> Option<String> {
        quote_non_finite(s.as_bytes()).map(|b| String::from_utf8(b).unwrap())
    }

    #[test]
    fn bare_tokens_are_quoted_and_strings_left_alone() {
        assert_eq!(
            quoted(r#"[{"value": NaN}, {"value": -Infinity}, {"value":Infinity}]"#).unwrap(),
            r#"[{"value": "NaN"}, {"value": "-Infinity"}, {"value":"Infinity"}]"#
        );
        assert_eq!(quoted(r#"{"key": "NaN \" Infinity", "value": 1.5}"#), None);
        assert_eq!(quoted(r#"{"value": 2}"#), None);
    }
}
