//! Runs the official client's scripts through a fork server (`scripts/py_zygote.py`) that has
//! imported `mlflow` once: a request then costs a `fork`, not the seconds of CPU `import mlflow`
//! takes, which hundreds of calls per test binary would otherwise pay. Each request runs in a
//! fresh child with exactly the environment, arguments and working directory a spawned
//! `python` would have had. Without the server (it failed to start, or
//! `MLFLOW_EIM_NO_ZYGOTE` is set) the interpreter is spawned as before.

use std::{
    ffi::OsStr,
    io::{BufRead, BufReader, Read, Write},
    os::unix::{net::UnixStream, process::ExitStatusExt},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Output, Stdio},
    sync::OnceLock,
};

/// What to run: a script with its arguments, or code (`python -c CODE ARGS`).
pub enum Program<'a> {
    Script(&'a Path, &'a [&'a str]),
    Code(&'a str, &'a [&'a str]),
}

struct Zygote {
    socket: PathBuf,
    /// Exits by itself once this process is gone.
    _process: Child,
}

/// The output of `program` run by the venv's Python with `env` added to this process's
/// environment.
pub fn output<K: AsRef<OsStr>, V: AsRef<OsStr>>(program: Program<'_>, env: &[(K, V)]) -> Output {
    if let Some(zygote) = zygote() {
        if let Some(out) = zygote.run(&program, env) {
            return out;
        }
    }
    let mut cmd = Command::new(crate::python());
    match program {
        Program::Script(script, args) => cmd.arg(script).args(args),
        Program::Code(code, args) => cmd.arg("-c").arg(code).args(args),
    };
    cmd.envs(env.iter().map(|(k, v)| (k, v)))
        .env("GIT_PYTHON_REFRESH", "quiet")
        .env("PYTHONIOENCODING", "utf-8")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", crate::python().display()))
}

fn zygote() -> Option<&'static Zygote> {
    static ZYGOTE: OnceLock<Option<Zygote>> = OnceLock::new();
    ZYGOTE
        .get_or_init(|| {
            if std::env::var_os("MLFLOW_EIM_NO_ZYGOTE").is_some() {
                return None;
            }
            Zygote::start().map_err(|e| eprintln!("python fork server not started ({e}); spawning python")).ok()
        })
        .as_ref()
}

impl Zygote {
    fn start() -> Result<Zygote, String> {
        let socket = std::env::temp_dir().join(format!("{}.sock", crate::unique_name("py-zygote")));
        let mut process = Command::new(crate::python())
            .arg(crate::script("py_zygote.py"))
            .arg(&socket)
            .arg(std::process::id().to_string())
            .env("GIT_PYTHON_REFRESH", "quiet")
            .env("PYTHONIOENCODING", "utf-8")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        let mut line = String::new();
        let stdout = process.stdout.take().ok_or("no stdout")?;
        BufReader::new(stdout).read_line(&mut line).map_err(|e| e.to_string())?;
        if line.trim() != "ready" {
            let _ = process.kill();
            return Err(format!("it said {line:?}"));
        }
        Ok(Zygote { socket, _process: process })
    }

    /// The request's output; `None` when the server cannot be reached (the program is then
    /// spawned instead).
    fn run<K: AsRef<OsStr>, V: AsRef<OsStr>>(&self, program: &Program<'_>, extra: &[(K, V)]) -> Option<Output> {
        let text = |s: &OsStr| s.to_string_lossy().into_owned();
        let mut env: serde_json::Map<String, serde_json::Value> =
            std::env::vars_os().map(|(k, v)| (text(&k), text(&v).into())).collect();
        env.insert("GIT_PYTHON_REFRESH".into(), "quiet".into());
        env.insert("PYTHONIOENCODING".into(), "utf-8".into());
        for (k, v) in extra {
            env.insert(text(k.as_ref()), text(v.as_ref()).into());
        }
        let files = std::env::temp_dir().join(crate::unique_name("py-out"));
        let (stdout, stderr) = (files.with_extension("out"), files.with_extension("err"));
        let mut request = serde_json::json!({
            "env": env,
            "cwd": std::env::current_dir().ok()?,
            "stdout": stdout,
            "stderr": stderr,
        });
        match program {
            Program::Script(script, args) => {
                request["script"] = script.display().to_string().into();
                request["args"] = serde_json::json!(args);
            }
            Program::Code(code, args) => {
                request["code"] = (*code).into();
                request["args"] = serde_json::json!(args);
            }
        }
        let mut conn = UnixStream::connect(&self.socket).ok()?;
        // Once sent, the request may have run: it is never sent twice (a seed would seed twice).
        let mut answer = String::new();
        conn.write_all(request.to_string().as_bytes())
            .and_then(|()| conn.shutdown(std::net::Shutdown::Write))
            .and_then(|()| conn.read_to_string(&mut answer))
            .unwrap_or_else(|e| panic!("python fork server: {e}"));
        let code = serde_json::from_str::<serde_json::Value>(&answer)
            .ok()
            .and_then(|a| a["code"].as_i64())
            .unwrap_or_else(|| panic!("python fork server answered {answer:?}"));
        let read = |p: &Path| {
            let bytes = std::fs::read(p).unwrap_or_default();
            let _ = std::fs::remove_file(p);
            bytes
        };
        Some(Output {
            status: ExitStatus::from_raw(i32::try_from(code.clamp(0, 255)).unwrap_or(1) << 8),
            stdout: read(&stdout),
            stderr: read(&stderr),
        })
    }
}
