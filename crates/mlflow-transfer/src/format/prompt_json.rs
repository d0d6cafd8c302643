//! `prompt.json`: one prompt version per folder, as the Python tool writes it
//! (`mlflow.prompt = {name, version, template, tags, commit_message, ...}`), and the bulk
//! `prompts/` folder of `export-prompts`/`export-all` (`<name>_v<version>/prompt.json` and
//! `prompts_summary.json`).
//!
//! The Python tool keeps only the template, the user tags and the commit message; we add, in
//! fields its importer never reads, what it loses: `response_format`, `model_config`,
//! `aliases` (of this version), the prompt's own `prompt_description` and `prompt_tags`, and
//! `model_version_tags`, every tag of the version verbatim (a chat template re-serialized
//! would not be the same string).

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use serde_json::{json, Value};

use super::{
    json::{read_json, system_value, Obj},
    ExportSystem, FormatError,
};
use crate::model::{prompt_tags, ModelVersionRecord, RegisteredModelRecord};

pub const PROMPT_FILE: &str = "prompt.json";
pub const SUMMARY_FILE: &str = "prompts_summary.json";

/// The folder of one version in a bulk `prompts/` folder.
pub fn version_folder(name: &str, version: &str) -> String {
    format!("{name}_v{version}")
}

/// Renders the `prompt.json` of version `v` of `prompt`.
pub fn write_prompt_json(prompt: &RegisteredModelRecord, v: &ModelVersionRecord, system: &ExportSystem) -> Value {
    let text = v.tags.get(prompt_tags::TEXT).cloned().unwrap_or_default();
    let chat = v.tags.get(prompt_tags::TYPE).map(String::as_str) == Some("chat");
    // A chat template is JSON in its tag; the Python tool writes it parsed (a list of messages).
    let template = if chat { serde_json::from_str(&text).unwrap_or(Value::String(text.clone())) } else { json!(text) };
    let parsed = |key: &str| v.tags.get(key).map(|t| serde_json::from_str(t).unwrap_or_else(|_| json!(t)));
    let user_tags: BTreeMap<&String, &String> = v.tags.iter().filter(|(k, _)| !prompt_tags::is_reserved(k)).collect();
    let aliases: Vec<&String> = prompt.aliases.iter().filter(|(_, n)| **n == v.version).map(|(a, _)| a).collect();
    let version: Value = v.version.parse::<u64>().map(Value::from).unwrap_or_else(|_| json!(v.version));
    json!({
        "system": system_value(system),
        "mlflow": {
            "prompt": {
                "name": prompt.name,
                "version": version,
                "template": template,
                "tags": user_tags,
                "creation_timestamp": v.creation_timestamp,
                "last_updated_timestamp": v.last_updated_timestamp,
                "user_id": v.user_id,
                "description": v.description,
                "commit_message": v.description,
                "variables": variables(&text),
                "uri": format!("prompts:/{}/{}", prompt.name, v.version),
                "response_format": parsed(prompt_tags::RESPONSE_FORMAT),
                "model_config": parsed(prompt_tags::MODEL_CONFIG),
                "aliases": aliases,
                "prompt_description": prompt.description,
                "prompt_tags": prompt.tags,
                "model_version_tags": v.tags,
                "source": v.source,
            }
        }
    })
}

/// Renders `prompts_summary.json`: counts of versions, as the Python tool's (which calls each
/// version a prompt).
pub fn write_summary_json(system: &ExportSystem, ok: usize, failed: usize) -> Value {
    json!({
        "system": system_value(system),
        "mlflow": {"total_prompts": ok + failed, "successful_exports": ok, "failed_exports": failed},
    })
}

/// The `{{ name }}` variables of a template, in order of first use (MLflow's
/// `PROMPT_TEMPLATE_VARIABLE_PATTERN`: dotted identifiers).
fn variables(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        rest = &rest[start + 2..];
        let Some(end) = rest.find("}}") else { break };
        let name = rest[..end].trim();
        let ident = |part: &str| {
            let mut chars = part.chars();
            chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        if name.split('.').all(ident) && !out.iter().any(|n| n == name) {
            out.push(name.to_string());
        }
        rest = &rest[end + 2..];
    }
    out
}

/// One exported prompt: the prompt with the versions read, and the server it came from.
#[derive(Debug)]
pub struct ExportedPrompt {
    pub prompt: RegisteredModelRecord,
    pub tracking_uri: Option<String>,
}

/// Reads the single version in `dir/prompt.json` (an `export-prompt` folder).
pub fn read_prompt_dir(dir: &Path) -> Result<ExportedPrompt, FormatError> {
    let path = dir.join(PROMPT_FILE);
    if !path.is_file() {
        return Err(FormatError::NotAnExport {
            dir: dir.to_path_buf(),
            what: "a prompt export: prompt.json is missing",
        });
    }
    let root = read_json(&path)?;
    parse_prompt(&root).map_err(|what| FormatError::Shape { path, what })
}

/// A prompt of a bulk folder, or the folder that could not be read and why.
pub type PromptEntry = Result<ExportedPrompt, (String, String)>;

/// Reads a bulk `prompts/` folder: every `*/prompt.json`, grouped into prompts by name,
/// versions in ascending order. A folder that cannot be read is returned as (folder, why),
/// so that it fails alone.
pub fn read_prompts_dir(dir: &Path) -> Result<Vec<PromptEntry>, FormatError> {
    let io = |source| FormatError::Io { path: dir.to_path_buf(), source };
    let mut folders: Vec<PathBuf> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.join(PROMPT_FILE).is_file() {
            folders.push(path);
        }
    }
    folders.sort();
    let mut by_name: BTreeMap<String, ExportedPrompt> = BTreeMap::new();
    let mut out = Vec::new();
    for folder in folders {
        match read_prompt_dir(&folder) {
            Ok(one) => match by_name.get_mut(&one.prompt.name) {
                Some(p) => {
                    p.prompt.versions.extend(one.prompt.versions);
                    p.prompt.aliases.extend(one.prompt.aliases);
                }
                None => {
                    by_name.insert(one.prompt.name.clone(), one);
                }
            },
            Err(e) => out.push(Err((folder.display().to_string(), e.to_string()))),
        }
    }
    for (_, mut p) in by_name {
        p.prompt.versions.sort_by_key(|v| crate::model::version_number(&v.version));
        out.push(Ok(p));
    }
    Ok(out)
}

fn parse_prompt(root: &Value) -> Result<ExportedPrompt, String> {
    let top = Obj::top(root)?;
    let tracking_uri = match top.object("system")? {
        Some(system) => system.opt_str("mlflow_tracking_uri")?,
        None => None,
    };
    let p = top.required_object("mlflow")?.required_object("prompt")?;
    let name = p.opt_str("name")?.ok_or_else(|| p.missing("name"))?;
    let version = p.opt_id("version")?.ok_or_else(|| p.missing("version"))?;
    let tags = match p.get("model_version_tags") {
        Some(_) => p.tags("model_version_tags")?,
        None => python_version_tags(&p)?,
    };
    let mut prompt_tags_map = p.tags("prompt_tags")?;
    prompt_tags_map.insert(prompt_tags::IS_PROMPT.into(), "true".into());
    let description = match p.opt_str("commit_message")? {
        Some(m) => Some(m),
        None => p.opt_str("description")?,
    };
    let aliases = p.list_of::<String>("aliases")?.into_iter().map(|a| (a, version.clone())).collect();
    let v = ModelVersionRecord {
        version,
        description: description.filter(|d| !d.is_empty()),
        tags,
        source: p.opt_str("source")?.unwrap_or_else(|| prompt_tags::SOURCES[0].to_string()),
        user_id: p.opt_str("user_id")?,
        creation_timestamp: p.opt_int("creation_timestamp")?,
        last_updated_timestamp: p.opt_int("last_updated_timestamp")?,
        ..Default::default()
    };
    let prompt = RegisteredModelRecord {
        name,
        description: p.opt_str("prompt_description")?.filter(|d| !d.is_empty()),
        tags: prompt_tags_map,
        aliases,
        versions: vec![v],
        ..Default::default()
    };
    Ok(ExportedPrompt { prompt, tracking_uri: tracking_uri.map(|u| mlflow_client::redact(&u)) })
}

/// A version's tags rebuilt from the Python tool's fields: its user tags, and the registry's
/// own from the template (a list of messages is a chat prompt, stored as JSON the way Python's
/// `json.dumps` writes it), response format and model config.
fn python_version_tags(p: &Obj<'_>) -> Result<BTreeMap<String, String>, String> {
    let mut tags = p.tags("tags")?;
    let (text, kind) = match p.get("template") {
        Some(Value::String(s)) => (s.clone(), "text"),
        Some(v @ Value::Array(_)) => (python_dumps(v), "chat"),
        _ => return Err(format!("{} is neither text nor a list of messages", p.path_of("template"))),
    };
    tags.insert(prompt_tags::IS_PROMPT.into(), "true".into());
    tags.insert(prompt_tags::TEXT.into(), text);
    tags.insert(prompt_tags::TYPE.into(), kind.into());
    for (field, key) in [("response_format", prompt_tags::RESPONSE_FORMAT), ("model_config", prompt_tags::MODEL_CONFIG)]
    {
        if let Some(v) = p.get(field) {
            tags.insert(key.into(), python_dumps(v));
        }
    }
    Ok(tags)
}

/// JSON as Python's `json.dumps` writes it by default (`", "` and `": "` separators, non-ASCII
/// escaped), so that a template rebuilt from an export reads as the string MLflow stores; only
/// the key order may differ (ours is sorted), which parses to the same messages.
fn python_dumps(v: &Value) -> String {
    use std::io::Write;
    struct PythonStyle;
    impl serde_json::ser::Formatter for PythonStyle {
        fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> std::io::Result<()> {
            if first {
                Ok(())
            } else {
                w.write_all(b", ")
            }
        }
        fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> std::io::Result<()> {
            if first {
                Ok(())
            } else {
                w.write_all(b", ")
            }
        }
        fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
            w.write_all(b": ")
        }
        fn write_string_fragment<W: ?Sized + Write>(&mut self, w: &mut W, fragment: &str) -> std::io::Result<()> {
            for c in fragment.chars() {
                if c.is_ascii() {
                    w.write_all(&[c as u8])?;
                } else {
                    for unit in c.encode_utf16(&mut [0; 2]) {
                        write!(w, "\\u{unit:04x}")?;
                    }
                }
            }
            Ok(())
        }
    }
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, PythonStyle);
    serde::Serialize::serialize(v, &mut ser).expect("a JSON value serializes");
    String::from_utf8(out).expect("escaped JSON is ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_dumps_matches_json_dumps() {
        let v = json!([{"role": "user", "content": "Héllo {{name}}"}]);
        assert_eq!(python_dumps(&v), r#"[{"content": "H\u00e9llo {{name}}", "role": "user"}]"#);
    }

    #[test]
    fn variables_in_order_once() {
        assert_eq!(variables("{{ a }} {{b.c}} {{a}} {{ 1x }}"), vec!["a", "b.c"]);
    }

    /// A Python tool export (template, user tags, commit message only) rebuilds the tags MLflow
    /// stores; ours round-trips every tag verbatim.
    #[test]
    fn python_and_our_prompt_json_read() {
        let python = json!({"system": {"mlflow_tracking_uri": "http://src:5000"}, "mlflow": {"prompt": {
            "name": "p", "version": 2, "template": [{"role": "system", "content": "x"}],
            "tags": {"team": "a"}, "commit_message": "second", "description": "second"}}});
        let got = parse_prompt(&python).unwrap();
        let v = &got.prompt.versions[0];
        assert_eq!((v.version.as_str(), v.description.as_deref()), ("2", Some("second")));
        assert_eq!(v.tags[prompt_tags::TEXT], r#"[{"content": "x", "role": "system"}]"#);
        assert_eq!(v.tags[prompt_tags::TYPE], "chat");
        assert_eq!(v.tags["team"], "a");
        assert_eq!(got.tracking_uri.as_deref(), Some("http://src:5000"));

        let mut prompt = got.prompt.clone();
        prompt.aliases.insert("prod".into(), "2".into());
        prompt.description = Some("about p".into());
        let ours = write_prompt_json(&prompt, v, &ExportSystem::default());
        let back = parse_prompt(&ours).unwrap();
        assert_eq!(back.prompt.versions, prompt.versions);
        assert_eq!(back.prompt.aliases, prompt.aliases);
        assert_eq!(back.prompt.description, prompt.description);
        assert_eq!(ours["mlflow"]["prompt"]["template"], json!([{"role": "system", "content": "x"}]));
    }
}
