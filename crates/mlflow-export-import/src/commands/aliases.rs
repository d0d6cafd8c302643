//! `aliases`: a folder of links named after the Python tool's console scripts, all pointing at
//! this executable (which then runs the subcommand of that name, see `console_scripts`).
//! Existing files are checked before anything is written, so a refused run changes nothing.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

use anyhow::{bail, Context};

use crate::{
    cli::{AliasesArgs, GlobalArgs},
    console_scripts::SCRIPTS,
};

/// What is at a link's place before this run.
enum Existing {
    Nothing,
    /// Already a link to this executable: left alone, which makes a re-run harmless.
    Ours,
    Other,
}

pub fn run(args: AliasesArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let exe = std::env::current_exe().context("finding this executable")?;
    let exe = exe.canonicalize().with_context(|| format!("resolving {}", exe.display()))?;
    let links: Vec<(PathBuf, Existing)> = SCRIPTS
        .iter()
        .map(|script| {
            let link = args.dir.join(format!("{script}{}", std::env::consts::EXE_SUFFIX));
            let existing = existing(&link, &exe);
            (link, existing)
        })
        .collect();
    let others: Vec<String> =
        links.iter().filter(|(_, e)| matches!(e, Existing::Other)).map(|(l, _)| l.display().to_string()).collect();
    if !others.is_empty() && !args.force {
        bail!("not replacing files that are not links to {} (use --force): {}", exe.display(), others.join(", "));
    }
    if global.dry_run {
        for (link, _) in links.iter().filter(|(_, e)| !matches!(e, Existing::Ours)) {
            println!("would create {} -> {}", link.display(), exe.display());
        }
        return Ok(ExitCode::SUCCESS);
    }
    std::fs::create_dir_all(&args.dir).with_context(|| format!("creating {}", args.dir.display()))?;
    for (link, existing) in &links {
        match existing {
            Existing::Ours => continue,
            Existing::Other => std::fs::remove_file(link).with_context(|| format!("removing {}", link.display()))?,
            Existing::Nothing => {}
        }
        symlink(&exe, link).with_context(|| format!("creating {}", link.display()))?;
        println!("created {} -> {}", link.display(), exe.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn existing(link: &Path, exe: &Path) -> Existing {
    match (link.symlink_metadata(), link.canonicalize()) {
        (Err(_), _) => Existing::Nothing,
        (Ok(meta), Ok(target)) if meta.file_type().is_symlink() && target == exe => Existing::Ours,
        (Ok(_), _) => Existing::Other,
    }
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(windows)]
fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::windows::fs::symlink_file(target, link)
}
