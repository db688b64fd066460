//! The PyTorch side of the interleaved benchmarks: a Python script in a child process that prints `ready <about>`,
//! then answers each `run <case>` line with that case's time in ms, until `quit`. Shared by the engine's layer
//! benchmark and vst-runtime's mini-step benchmark (included there with `#[path]`).

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

pub struct TorchChild {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// How messages name it ("PyTorch baseline", "PyTorch twin").
    label: &'static str,
}

impl TorchChild {
    /// Starts `script` with `args` under `python3` (or $VST_PYTHON) and prints its banner.
    pub fn start(script: &str, args: &[String], label: &'static str) -> Result<TorchChild, String> {
        let python = std::env::var("VST_PYTHON").unwrap_or_else(|_| "python3".into());
        let mut child = Command::new(&python)
            .arg(script)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {python} {script}: {e}"))?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        let mut t = TorchChild {
            child,
            stdin,
            stdout,
            label,
        };
        let banner = t.read_line()?;
        if !banner.starts_with("ready") {
            return Err(format!("{label} did not start: {banner}"));
        }
        println!("{label}: {}", banner.trim_start_matches("ready ").trim());
        Ok(t)
    }

    fn read_line(&mut self) -> Result<String, String> {
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        if line.is_empty() {
            return Err(format!(
                "{} exited (is torch installed? see scripts/requirements.txt)",
                self.label
            ));
        }
        Ok(line.trim().to_string())
    }

    /// Runs one case, returns its time in ms.
    pub fn run(&mut self, case: &str) -> Result<f64, String> {
        writeln!(self.stdin, "run {case}").map_err(|e| e.to_string())?;
        self.stdin.flush().map_err(|e| e.to_string())?;
        let reply = self.read_line()?;
        reply
            .parse()
            .map_err(|_| format!("{} answered `{reply}` to {case}", self.label))
    }
}

impl Drop for TorchChild {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.child.wait();
    }
}

/// The value after `flag` in `args`, or `default` when absent or unparsable.
pub fn arg<T: std::str::FromStr>(args: &[String], flag: &str, default: T) -> T {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
