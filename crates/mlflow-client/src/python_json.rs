//! Python's `json` module writes non-finite floats as the bare tokens `NaN`, `Infinity` and
//! `-Infinity`, which are not JSON. MLflow's REST routes quote them (`"NaN"`); its `ajax-api`
//! routes do not. Quoting them outside strings lets one lenient float reader take both.

use std::borrow::Cow;

const TOKENS: [&[u8]; 3] = [b"-Infinity", b"Infinity", b"NaN"];

/// `body` with every bare non-finite token outside a string put in quotes.
pub(crate) fn quote_non_finite(body: &[u8]) -> Cow<'_, [u8]> {
    if !TOKENS.iter().any(|t| body.windows(t.len()).any(|w| w == *t)) {
        return Cow::Borrowed(body);
    }
    let mut out = Vec::with_capacity(body.len() + 64);
    let (mut in_string, mut escaped, mut i) = (false, false, 0);
    while i < body.len() {
        let b = body[i];
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else if b == b'"' {
            in_string = true;
        } else if let Some(t) = TOKENS.iter().find(|t| body[i..].starts_with(t)) {
            out.push(b'"');
            out.extend_from_slice(t);
            out.push(b'"');
            i += t.len();
            continue;
        }
        out.push(b);
        i += 1;
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quoted(s: &str) -> String {
        String::from_utf8(quote_non_finite(s.as_bytes()).into_owned()).unwrap()
    }

    #[test]
    fn bare_tokens_are_quoted_and_strings_left_alone() {
        assert_eq!(
            quoted(r#"[{"value": NaN}, {"value": -Infinity}, {"value":Infinity}]"#),
            r#"[{"value": "NaN"}, {"value": "-Infinity"}, {"value":"Infinity"}]"#
        );
        let strings = r#"{"key": "NaN \" Infinity", "value": 1.5}"#;
        assert_eq!(quoted(strings), strings);
        assert!(matches!(quote_non_finite(b"{\"value\": 2}"), Cow::Borrowed(_)));
    }
}
