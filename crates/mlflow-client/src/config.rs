//! Turning a tracking URI plus the environment into a client configuration.
//!
//! Copy talks to two servers at once, so every variable can be given per side: the lookup tries
//! `<PREFIX>_<NAME>` (e.g. `DST_MLFLOW_TRACKING_TOKEN`) before `<NAME>`. Credentials are kept out
//! of the base URL so that no URL we print can carry them.

use std::{fmt, path::PathBuf, time::Duration};

use url::Url;

use crate::{Error, Result};

/// How requests authenticate.
#[derive(Clone, Default)]
pub enum Auth {
    #[default]
    None,
    Basic {
        username: String,
        password: String,
    },
    Bearer(String),
    /// A Databricks service principal: OAuth machine-to-machine tokens asked for at the
    /// workspace's token endpoint with this client id and secret, refreshed before they expire.
    OAuthM2m {
        client_id: String,
        client_secret: String,
    },
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Basic { username, .. } => write!(f, "Basic({username}, ***)"),
            Auth::Bearer(_) => f.write_str("Bearer(***)"),
            Auth::OAuthM2m { client_id, .. } => write!(f, "OAuthM2m({client_id}, ***)"),
        }
    }
}

/// Per-request retry limits: exponential backoff with jitter, at least `Retry-After`.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_retries: 7, initial_backoff: Duration::from_millis(500), max_backoff: Duration::from_secs(30) }
    }
}

/// Everything needed to build an [`crate::MlflowClient`].
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Server base URL including any path prefix, without credentials or trailing slash.
    pub base_url: String,
    pub auth: Auth,
    pub insecure_tls: bool,
    pub ca_cert_path: Option<PathBuf>,
    pub timeout: Duration,
    pub retry: RetryPolicy,
    /// Requests in flight at once against this server.
    pub max_in_flight: usize,
    /// Requests started per second against this server; `None` for no limit. Hosted servers
    /// (Databricks) throttle at a few per second: pacing below that avoids a storm of 429s.
    pub max_requests_per_second: Option<f64>,
    /// The server's `--artifacts-destination` as a folder this machine can read and write, when
    /// it can: `mlflow-artifacts:` files are then moved there directly instead of one request
    /// per file through the server's proxy. Not used by the client itself; carried for the
    /// code that moves artifacts.
    pub artifacts_destination: Option<PathBuf>,
    /// `SRC` or `DST` when resolved for one side of a copy: the prefix under which that side's
    /// variables are looked up first. Not used by the client itself; carried for the code that
    /// reads the side's object-store credentials.
    pub side: Option<String>,
    /// The workspace of a server run with `--enable-workspaces` (MLflow 3.10+), sent as
    /// `X-MLFLOW-WORKSPACE` on every request but those that manage workspaces themselves, as
    /// the Python client does. `None` sends no header: the server's `default` workspace.
    pub workspace: Option<String>,
    /// Whether the server is a Databricks workspace (`databricks`, `databricks://PROFILE`): its
    /// run artifacts move through the credentials routes, not the open-source ones.
    pub databricks: bool,
    /// Whether its registered models are in Unity Catalog (`databricks-uc`,
    /// `databricks-uc://PROFILE`: the workspace of `databricks[://PROFILE]`, as MLflow resolves
    /// that registry URI): the registry calls go to the `unity-catalog` routes, the tracking
    /// calls to the workspace as usual.
    pub unity_catalog: bool,
}

/// Environment lookup, injectable for tests.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Reads the process environment.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl ClientConfig {
    /// Resolves `uri` (`http(s)://…`, `databricks`, `databricks://PROFILE`, `databricks-uc`,
    /// `databricks-uc://PROFILE`) and credentials.
    ///
    /// `side` is `None` for single-server commands or `Some("SRC")`/`Some("DST")` for copy.
    pub fn resolve(uri: &str, side: Option<&str>, env: EnvLookup<'_>) -> Result<Self> {
        let var = |name: &str| side.and_then(|s| env(&format!("{s}_{name}"))).or_else(|| env(name));
        let unity_catalog = uri == "databricks-uc" || uri.starts_with("databricks-uc://");
        let is_databricks = unity_catalog || uri == "databricks" || uri.starts_with("databricks://");
        let (base_url, auth) = if is_databricks {
            databricks(uri.split_once("://").map(|(_, profile)| profile), &var, env)?
        } else {
            http_uri(uri, &var, env)?
        };
        let insecure_tls = var("MLFLOW_TRACKING_INSECURE_TLS")
            .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes"));
        let ca_cert_path = var("MLFLOW_TRACKING_SERVER_CERT_PATH").map(PathBuf::from);
        if insecure_tls && ca_cert_path.is_some() {
            return Err(Error::Config(
                "MLFLOW_TRACKING_INSECURE_TLS and MLFLOW_TRACKING_SERVER_CERT_PATH cannot both be set".into(),
            ));
        }
        let mut retry = RetryPolicy::default();
        if let Some(n) = var("MLFLOW_HTTP_REQUEST_MAX_RETRIES") {
            retry.max_retries = n
                .parse()
                .map_err(|_| Error::Config(format!("MLFLOW_HTTP_REQUEST_MAX_RETRIES is not a number: {n:?}")))?;
        }
        let timeout = match var("MLFLOW_HTTP_REQUEST_TIMEOUT") {
            Some(s) => Duration::from_secs(s.parse().map_err(|_| {
                Error::Config(format!("MLFLOW_HTTP_REQUEST_TIMEOUT is not a number of seconds: {s:?}"))
            })?),
            None => Duration::from_secs(120),
        };
        Ok(Self {
            base_url,
            auth,
            insecure_tls,
            ca_cert_path,
            timeout,
            retry,
            max_in_flight: 8,
            max_requests_per_second: None,
            artifacts_destination: None,
            side: side.map(str::to_string),
            workspace: var("MLFLOW_WORKSPACE").map(|w| w.trim().to_string()).filter(|w| !w.is_empty()),
            databricks: is_databricks,
            unity_catalog,
        })
    }
}

fn http_uri(uri: &str, var: &dyn Fn(&str) -> Option<String>, env: EnvLookup<'_>) -> Result<(String, Auth)> {
    let mut url = Url::parse(uri).map_err(|e| Error::Config(format!("invalid tracking URI {:?}: {e}", redact(uri))))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::Config(format!(
            "unsupported tracking URI {:?}: expected http://, https://, databricks[-uc] or databricks[-uc]://PROFILE",
            redact(uri)
        )));
    }
    let from_url = (!url.username().is_empty()).then(|| Auth::Basic {
        username: decode(url.username()),
        password: url.password().map(decode).unwrap_or_default(),
    });
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_query(None);
    url.set_fragment(None);
    // Basic wins over a token, as in the Python client.
    let auth = match (var("MLFLOW_TRACKING_USERNAME"), var("MLFLOW_TRACKING_PASSWORD")) {
        (Some(username), Some(password)) => Auth::Basic { username, password },
        _ => match (from_url, var("MLFLOW_TRACKING_TOKEN")) {
            (Some(a), _) => a,
            (None, Some(t)) => Auth::Bearer(t),
            (None, None) => mlflow_credentials_file(env).unwrap_or_default(),
        },
    };
    Ok((url.as_str().trim_end_matches('/').to_string(), auth))
}

fn decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
}

/// `~/.mlflow/credentials`, section `[mlflow]`, as the Python client reads it.
fn mlflow_credentials_file(env: EnvLookup<'_>) -> Option<Auth> {
    let path = PathBuf::from(env("HOME")?).join(".mlflow/credentials");
    let text = std::fs::read_to_string(path).ok()?;
    let section = ini_section(&text, "mlflow")?;
    Some(Auth::Basic {
        username: section.get("mlflow_tracking_username")?.clone(),
        password: section.get("mlflow_tracking_password")?.clone(),
    })
}

/// The fields of one Databricks configuration (a profile, or the environment) by key.
type Fields<'a> = Box<dyn Fn(&str) -> Option<String> + 'a>;

/// A Databricks workspace's host and credentials, as the Databricks SDK reads them
/// (databricks-rest.md §1.3–1.5): `DATABRICKS_HOST` with `DATABRICKS_TOKEN` or
/// `DATABRICKS_CLIENT_ID`/`DATABRICKS_CLIENT_SECRET` when no profile is named, else the profile's
/// `host`, `token`, `client_id`, `client_secret` and `auth_type` in `~/.databrickscfg`.
fn databricks(
    profile: Option<&str>,
    var: &dyn Fn(&str) -> Option<String>,
    env: EnvLookup<'_>,
) -> Result<(String, Auth)> {
    let profile = profile.filter(|p| !p.is_empty());
    let from_env = |k: &str| var(&format!("DATABRICKS_{}", k.to_ascii_uppercase()));
    let env_has_auth = from_env("token").is_some() || from_env("client_id").is_some();
    let (host, field, origin): (String, Fields<'_>, String) = match (profile, from_env("host")) {
        (None, Some(h)) if env_has_auth => (h, Box::new(from_env), "the DATABRICKS_* variables".into()),
        _ => {
            let name = profile
                .map(str::to_string)
                .or_else(|| var("DATABRICKS_CONFIG_PROFILE"))
                .unwrap_or_else(|| "DEFAULT".into());
            let path = var("DATABRICKS_CONFIG_FILE")
                .map(PathBuf::from)
                .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".databrickscfg")))
                .ok_or_else(|| Error::Config("cannot locate ~/.databrickscfg: HOME is not set".into()))?;
            let text = std::fs::read_to_string(&path)
                .map_err(|source| Error::Io { path: path.display().to_string(), source })?;
            let section = ini_section(&text, &name)
                .ok_or_else(|| Error::Config(format!("profile [{name}] not found in {}", path.display())))?;
            let origin = format!("profile [{name}] in {}", path.display());
            let host = section.get("host").cloned().ok_or_else(|| Error::Config(format!("{origin} has no `host`")))?;
            (host, Box::new(move |k: &str| section.get(k).cloned().filter(|v| !v.is_empty())), origin)
        }
    };
    let auth = databricks_auth(&*field, &origin)?;
    let host = if host.starts_with("http") { host } else { format!("https://{host}") };
    Ok((host.trim_end_matches('/').to_string(), auth))
}

/// The one authentication method of a Databricks configuration: `auth_type` chooses when
/// given; otherwise a token and a client id together are refused, as the SDK refuses them
/// ("more than one authorization method configured").
fn databricks_auth(field: &dyn Fn(&str) -> Option<String>, origin: &str) -> Result<Auth> {
    let token = field("token");
    let client = field("client_id").zip(field("client_secret"));
    let m2m = |client: Option<(String, String)>| {
        client
            .map(|(client_id, client_secret)| Auth::OAuthM2m { client_id, client_secret })
            .ok_or_else(|| Error::Config(format!("{origin}: auth_type oauth-m2m needs client_id and client_secret")))
    };
    match field("auth_type").as_deref() {
        Some("pat") => {
            token.map(Auth::Bearer).ok_or_else(|| Error::Config(format!("{origin}: auth_type pat needs a token")))
        }
        Some("oauth-m2m") => m2m(client),
        Some(other) => {
            Err(Error::Config(format!("{origin}: auth_type {other:?} is not supported (use pat or oauth-m2m)")))
        }
        None => match (token, client) {
            (Some(_), Some(_)) => Err(Error::Config(format!(
                "{origin}: more than one authorization method configured (token and client_id); set auth_type"
            ))),
            (Some(t), None) => Ok(Auth::Bearer(t)),
            (None, Some(c)) => m2m(Some(c)),
            (None, None) => Err(Error::Config(format!("{origin} has no `token`, nor `client_id` and `client_secret`"))),
        },
    }
}

/// The `key = value` pairs of section `[name]` of an INI file (`~/.mlflow/credentials`,
/// `~/.databrickscfg`, `~/.aws/credentials`), or `None` when the section is absent.
pub fn ini_section(text: &str, name: &str) -> Option<std::collections::HashMap<String, String>> {
    let mut current = None::<String>;
    let mut found = None;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') && line.ends_with(']') {
            current = Some(line[1..line.len() - 1].trim().to_string());
            if current.as_deref() == Some(name) {
                found.get_or_insert_with(std::collections::HashMap::new);
            }
        } else if let (Some(sec), Some((k, v))) = (&current, line.split_once('=')) {
            if sec == name && !line.starts_with('#') && !line.starts_with(';') {
                found
                    .get_or_insert_with(std::collections::HashMap::new)
                    .insert(k.trim().to_string(), v.trim().to_string());
            }
        }
    }
    found
}

/// Removes `user:password@` (or a bare `token@`), and any query or fragment, from anything
/// URL-shaped, for messages, reports and identity tags. Edited as text so the rest stays byte-for-byte as given (a URL
/// parser would normalise it, e.g. `http://host` into `http://host/`).
pub fn redact(uri: &str) -> String {
    let Some(scheme_end) = uri.find("://").map(|i| i + 3) else {
        return uri.to_string();
    };
    // A query or fragment names no server; it may carry a token (`?token=…`, a SAS).
    let uri = &uri[..uri[scheme_end..].find(['?', '#']).map_or(uri.len(), |i| scheme_end + i)];
    let rest = &uri[scheme_end..];
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    match authority.rfind('@') {
        Some(at) => format!("{}{}", &uri[..scheme_end], &rest[at + 1..]),
        None => uri.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn prefix_is_kept_and_credentials_leave_the_url() {
        let env = env_of(&[]);
        let c = ClientConfig::resolve("https://bob:s3cr%40t@host:8443/mlflow/", None, &env).unwrap();
        assert_eq!(c.base_url, "https://host:8443/mlflow");
        match c.auth {
            Auth::Basic { username, password } => assert_eq!((username.as_str(), password.as_str()), ("bob", "s3cr@t")),
            other => panic!("{other:?}"),
        }
        assert!(!format!("{:?}", ClientConfig::resolve("https://bob:pw@h", None, &env).unwrap()).contains("pw"));
    }

    #[test]
    fn side_prefixed_variables_win() {
        let env = env_of(&[("MLFLOW_TRACKING_TOKEN", "a"), ("DST_MLFLOW_TRACKING_TOKEN", "b")]);
        let src = ClientConfig::resolve("http://h", Some("SRC"), &env).unwrap();
        let dst = ClientConfig::resolve("http://h", Some("DST"), &env).unwrap();
        assert!(matches!(src.auth, Auth::Bearer(ref t) if t == "a"));
        assert!(matches!(dst.auth, Auth::Bearer(ref t) if t == "b"));
    }

    #[test]
    fn databricks_profile_from_config_file() {
        let dir = std::env::temp_dir().join(format!("dbcfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("cfg");
        std::fs::write(
            &file,
            "[DEFAULT]\nhost = https://a.example\ntoken = t1\n[prod]\nhost = b.example\ntoken = t2\n",
        )
        .unwrap();
        let f = file.display().to_string();
        let env = env_of(&[("DATABRICKS_CONFIG_FILE", &f)]);
        let c = ClientConfig::resolve("databricks://prod", None, &env).unwrap();
        assert_eq!(c.base_url, "https://b.example");
        assert!(matches!(c.auth, Auth::Bearer(ref t) if t == "t2"));
        let c = ClientConfig::resolve("databricks", None, &env).unwrap();
        assert_eq!(c.base_url, "https://a.example");
        assert!(c.databricks && !c.unity_catalog);
        // A Unity Catalog registry URI names the same workspace.
        let c = ClientConfig::resolve("databricks-uc://prod", None, &env).unwrap();
        assert_eq!(c.base_url, "https://b.example");
        assert!(c.databricks && c.unity_catalog);
        let c = ClientConfig::resolve("databricks-uc", None, &env).unwrap();
        assert_eq!(c.base_url, "https://a.example");
        assert!(c.unity_catalog);
        assert!(ClientConfig::resolve("databricks-ucx://prod", None, &env).is_err());
    }

    #[test]
    fn databricks_oauth_from_profile_and_environment() {
        let dir = std::env::temp_dir().join(format!("dbcfg-m2m-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("cfg");
        std::fs::write(
            &file,
            "[sp]\nhost = https://w.example\nclient_id = cid\nclient_secret = s3cret\nauth_type = oauth-m2m\n\
             [both]\nhost = h\ntoken = t\nclient_id = c\nclient_secret = s\n",
        )
        .unwrap();
        let f = file.display().to_string();
        let env = env_of(&[("DATABRICKS_CONFIG_FILE", &f)]);
        let c = ClientConfig::resolve("databricks://sp", None, &env).unwrap();
        assert!(
            matches!(c.auth, Auth::OAuthM2m { ref client_id, ref client_secret } if client_id == "cid" && client_secret == "s3cret")
        );
        assert!(!format!("{c:?}").contains("s3cret"));
        let e = ClientConfig::resolve("databricks://both", None, &env).unwrap_err().to_string();
        assert!(e.contains("more than one authorization method"), "{e}");
        let env = env_of(&[
            ("DST_DATABRICKS_HOST", "http://127.0.0.1:9"),
            ("DST_DATABRICKS_CLIENT_ID", "a"),
            ("DST_DATABRICKS_CLIENT_SECRET", "b"),
        ]);
        let c = ClientConfig::resolve("databricks", Some("DST"), &env).unwrap();
        assert_eq!(c.base_url, "http://127.0.0.1:9");
        assert!(matches!(c.auth, Auth::OAuthM2m { .. }));
    }

    #[test]
    fn redact_strips_userinfo_and_nothing_else() {
        assert_eq!(redact("http://u:p@h:1/x"), "http://h:1/x");
        assert_eq!(redact("https://u:p@host:5000/x?q=a@b"), "https://host:5000/x");
        assert_eq!(redact("http://host/?token=s3cret#frag"), "http://host/");
        assert_eq!(redact("http://host?token=s3cret"), "http://host");
        assert_eq!(redact("http://token@host"), "http://host");
        assert_eq!(redact("http://host/a@b"), "http://host/a@b");
        assert_eq!(redact("databricks://profile"), "databricks://profile");
        assert_eq!(redact("databricks"), "databricks");
    }
}
