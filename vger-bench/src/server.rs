//! The server under test: the `vger-server` binary run as a child process
//! on its own data directory, so its CPU and memory can be read from
//! `/proc` apart from the benchmark's.

use std::fs;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process};

use crate::procfs;

/// Token the benchmark gives the servers it starts.
pub const TOKEN: &str = "vger-bench-token-0123456789abcdef";

/// How long a start may take before the benchmark gives up.
const START_PATIENCE: Duration = Duration::from_secs(120);

/// A server child process.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    binary: PathBuf,
    config: PathBuf,
    log: PathBuf,
    addr: SocketAddr,
}

/// Where the server binary is: `explicit`, else beside this program (both
/// are built into the same target directory).
pub fn locate_binary(explicit: Option<&Path>) -> io::Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    let me = std::env::current_exe()?;
    let beside = me.with_file_name("vger-server");
    if beside.is_file() {
        Ok(beside)
    } else {
        Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "no vger-server binary at {}; build it (cargo build --release -p vger-server) or pass --server PATH",
                beside.display()
            ),
        ))
    }
}

fn free_port() -> io::Result<SocketAddr> {
    TcpListener::bind("127.0.0.1:0")?.local_addr()
}

impl ServerProcess {
    /// Starts `binary` on `data_dir` (created if missing) and waits until
    /// it answers `/health`. Its config and log live in `work`.
    pub async fn start(binary: &Path, work: &Path, data_dir: &Path) -> io::Result<Self> {
        Self::start_with(binary, work, data_dir, "").await
    }

    /// As [`ServerProcess::start`], with `extra` lines in `[server]`.
    pub async fn start_with(
        binary: &Path,
        work: &Path,
        data_dir: &Path,
        extra: &str,
    ) -> io::Result<Self> {
        fs::create_dir_all(work)?;
        let addr = free_port()?;
        let config = work.join("vger-server.toml");
        fs::write(
            &config,
            format!(
                "[server]\nlisten = \"{addr}\"\ndata_dir = {data_dir:?}\nlog_format = \"json\"\n{extra}\n"
            ),
        )?;
        let log = work.join("server.log");
        let t0 = Instant::now();
        let mut server = Self {
            child: spawn(binary, &config, &log)?,
            binary: binary.to_path_buf(),
            config,
            log,
            addr,
        };
        server.wait_ready(t0).await?;
        Ok(server)
    }

    /// Waits until `/health` first answers 200 and returns the time since
    /// `t0`, when the process was spawned: the start-up time a client sees.
    async fn wait_ready(&mut self, t0: Instant) -> io::Result<Duration> {
        let client = reqwest::Client::new();
        let url = format!("{}/health", self.base());
        loop {
            if let Ok(r) = client.get(&url).send().await {
                if r.status().is_success() {
                    return Ok(t0.elapsed());
                }
            }
            if let Some(status) = self.child.try_wait()? {
                return Err(io::Error::other(format!(
                    "vger-server exited during start-up ({status}); see {}",
                    self.log.display()
                )));
            }
            if t0.elapsed() > START_PATIENCE {
                return Err(io::Error::other(format!(
                    "vger-server did not answer /health within {START_PATIENCE:?}; see {}",
                    self.log.display()
                )));
            }
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
    }

    /// Stops the server cleanly (SIGTERM) and starts it again; returns the
    /// start-up time.
    pub async fn restart(&mut self) -> io::Result<Duration> {
        self.stop()?;
        let t0 = Instant::now();
        self.child = spawn(&self.binary, &self.config, &self.log)?;
        self.wait_ready(t0).await
    }

    /// Kills the server with SIGKILL, as a crash or the OOM killer would,
    /// and reaps it.
    pub fn kill(&mut self) -> io::Result<()> {
        if self.child.try_wait()?.is_none() {
            kill_process(Pid::from_child(&self.child), Signal::KILL).map_err(io::Error::from)?;
            self.child.wait()?;
        }
        Ok(())
    }

    /// Starts the server again on the same data dir and port after it
    /// stopped or was killed; returns the start-up time.
    pub async fn start_again(&mut self) -> io::Result<Duration> {
        let t0 = Instant::now();
        self.child = spawn(&self.binary, &self.config, &self.log)?;
        self.wait_ready(t0).await
    }

    /// The server's log file.
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn stop(&mut self) -> io::Result<()> {
        if self.child.try_wait()?.is_none() {
            let pid = Pid::from_child(&self.child);
            kill_process(pid, Signal::TERM).map_err(io::Error::from)?;
            let status = self.child.wait()?;
            if !status.success() {
                return Err(io::Error::other(format!(
                    "vger-server stopped with {status}; see {}",
                    self.log.display()
                )));
            }
        }
        Ok(())
    }

    /// `http://host:port`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts a measurement of the server's CPU and peak memory.
    pub fn meter(&self) -> Meter {
        let pid = self.pid();
        // Resetting the peak needs write access to /proc/PID/clear_refs;
        // without it the figure is the peak since start, still an upper bound.
        let _ = procfs::reset_peak_rss(pid);
        Meter {
            pid,
            cpu0: procfs::cpu_seconds(pid).ok(),
        }
    }
}

fn spawn(binary: &Path, config: &Path, log: &Path) -> io::Result<Child> {
    let log = fs::OpenOptions::new().create(true).append(true).open(log)?;
    Command::new(binary)
        .arg("--config")
        .arg(config)
        .env("VGER_TOKEN", TOKEN)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// CPU and peak memory of the server over one measured run.
#[derive(Debug)]
pub struct Meter {
    pid: u32,
    cpu0: Option<f64>,
}

impl Meter {
    /// `(cpu seconds, peak RSS bytes)` since the meter started.
    pub fn read(&self) -> (Option<f64>, Option<u64>) {
        let cpu = match (self.cpu0, procfs::cpu_seconds(self.pid).ok()) {
            (Some(a), Some(b)) => Some(b - a),
            _ => None,
        };
        (cpu, procfs::peak_rss_bytes(self.pid).ok())
    }
}
