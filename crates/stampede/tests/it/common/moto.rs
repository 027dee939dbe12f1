//! A local moto server (DynamoDB, SNS, SES, Secrets Manager) on a free loopback port, one
//! request at a time (see scripts/moto_serial.py); killed on drop.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

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
    pub fn start() -> Moto {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/moto_serial.py");
        let child = Command::new("python3")
            .args([script, &port.to_string(), &std::process::id().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 with moto (scripts/test.sh installs it)");
        let moto = Moto { child, url: format!("http://127.0.0.1:{port}") };
        for _ in 0..300 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return moto;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("moto did not start");
    }
}
