//! `cargo xtask <command>`: the everyday commands of this repository in one place, so nobody has to
//! remember which script takes which flags. Each command runs the real tool and returns its status.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// Every command: name, arguments it takes, what it does.
const COMMANDS: &[(&str, &str, &str)] = &[
    (
        "run",
        "",
        "all six services on SQLite (cargo run --release --bin ecommerce)",
    ),
    (
        "test",
        "",
        "every test; the MongoDB and Redis variants skip without servers",
    ),
    (
        "test-backends",
        "",
        "every test against Redis and FerretDB started for the run (.ci/run test)",
    ),
    (
        "lint",
        "",
        "rustfmt check, clippy -D warnings, cargo deny and cargo machete (.ci/run fmt clippy deps)",
    ),
    ("fmt", "", "format the workspace"),
    (
        "bench",
        "<name> [args]",
        "a benchmark from bench/ (gateway, products_cache, bus, order_flow, ...)",
    ),
    (
        "fuzz",
        "[seconds]",
        "fuzz the gateway's HTTP/1.1 codec (nightly and cargo-fuzz)",
    ),
    (
        "ci",
        "[step...]",
        "what CI runs (.ci/run): infra fmt clippy deps test api topology fuzz",
    ),
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = root();
    let Some((command, rest)) = args.split_first() else {
        usage();
        return ExitCode::from(2);
    };
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    match command.as_str() {
        "run" => cargo(&root, &["run", "--release", "--bin", "ecommerce"]),
        "test" => cargo(&root, &["test", "--workspace"]),
        "test-backends" => bash(&root, ".ci/run", &["test"]),
        "lint" => bash(&root, ".ci/run", &["fmt", "clippy", "deps"]),
        "fmt" => cargo(&root, &["fmt", "--all"]),
        "bench" => match rest.split_first() {
            Some((name, args)) => bash(&root, &format!("bench/{name}.sh"), args),
            None => {
                eprintln!(
                    "cargo xtask bench <name>: one of {}",
                    benches(&root).join(", ")
                );
                ExitCode::from(2)
            }
        },
        "fuzz" => bash(&root, "api-gateway/fuzz/run.sh", &rest),
        "ci" => bash(&root, ".ci/run", &rest),
        "help" | "--help" | "-h" => {
            usage();
            ExitCode::SUCCESS
        }
        other => {
            eprintln!("unknown command `{other}`\n");
            usage();
            ExitCode::from(2)
        }
    }
}

fn usage() {
    println!("cargo xtask <command>\n");
    for (name, args, what) in COMMANDS {
        println!("  {:<28} {what}", format!("{name} {args}"));
    }
}

/// The workspace root: this crate's parent directory.
fn root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

fn benches(root: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root.join("bench"))
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter_map(|e| e.file_name().into_string().ok())
                .filter_map(|n| n.strip_suffix(".sh").map(str::to_owned))
                .filter(|n| n != "common")
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn cargo(root: &Path, args: &[&str]) -> ExitCode {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    status(Command::new(cargo).args(args).current_dir(root))
}

fn bash(root: &Path, script: &str, args: &[&str]) -> ExitCode {
    if !root.join(script).is_file() {
        eprintln!("no such script: {script}");
        return ExitCode::from(2);
    }
    status(
        Command::new("bash")
            .arg(script)
            .args(args)
            .current_dir(root),
    )
}

fn status(command: &mut Command) -> ExitCode {
    match command.status() {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(s) => ExitCode::from(u8::try_from(s.code().unwrap_or(1)).unwrap_or(1)),
        Err(e) => {
            eprintln!("cannot start {:?}: {e}", command.get_program());
            ExitCode::FAILURE
        }
    }
}
