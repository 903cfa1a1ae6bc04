//! Times one argon2id verification with the service's parameters (`ARGON2_MEMORY_KIB`, default
//! 19456 KiB; t=2, p=1) on this thread: the median of `ROUNDS` (default 30) runs, in milliseconds.
//! Used by `bench/logins.sh` for the bound logins/s can reach (cores ÷ this time). The allocator
//! is the launcher's, so that argon2's 19 MiB of working memory is reused as it is there.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a benchmark tool reports on the terminal"
)]

use auth_service::app::password::Passwords;
use std::time::Instant;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let memory: u32 = std::env::var("ARGON2_MEMORY_KIB").map_or(Ok(19456), |v| v.parse())?;
    let rounds: usize = std::env::var("ROUNDS").map_or(Ok(30), |v| v.parse())?;
    let passwords = Passwords::new(memory, 1).await?;
    let hash = passwords.hash("password123").await?;
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        assert!(passwords.verify("password123", Some(&hash)).await?);
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    println!("{:.3}", times[times.len() / 2]);
    Ok(())
}
