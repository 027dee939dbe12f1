//! A local moto server (DynamoDB, SNS, SES, Secrets Manager) on a free loopback port, one
//! request at a time (see scripts/moto_serial.py); killed on drop.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub struct Moto {
    child: Child,
    pub url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// Starts the server and returns once it holds its port: the script binds a free port
    /// and prints it, so no other process can take the port between choosing and binding.
    pub fn start() -> Moto {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/moto_serial.py");
        let mut child = Command::new("python3")
            .args([script, "0", &std::process::id().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 with moto (scripts/test.sh installs it)");
        let mut line = String::new();
        let _ = BufReader::new(child.stdout.take().expect("piped stdout")).read_line(&mut line);
        let Ok(port) = line.trim().parse::<u16>() else {
            let _ = child.kill();
            panic!("moto did not start (scripts/test.sh installs it: pip install 'moto[server]'); it printed {line:?}");
        };
        Moto { child, url: format!("http://127.0.0.1:{port}") }
    }
}
