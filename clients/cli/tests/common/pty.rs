//! Running `tessera` on a pseudo-terminal: the test types (Enter, PINs,
//! `cancel`, Ctrl-C) and reads the screen.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::FromRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Pty {
    master: File,
    child: Child,
    screen: Arc<Mutex<Vec<u8>>>,
    reader: Option<std::thread::JoinHandle<()>>,
    /// How far `expect` has read.
    seen: usize,
}

impl Pty {
    pub fn spawn(mut cmd: Command) -> Pty {
        let (mut master, mut slave) = (0, 0);
        // SAFETY: openpty writes two descriptors; the others may be null.
        let rc = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: fresh descriptors that we own.
        let (master, slave) = unsafe { (File::from_raw_fd(master), File::from_raw_fd(slave)) };
        cmd.stdin(slave.try_clone().unwrap())
            .stdout(slave.try_clone().unwrap())
            .stderr(slave);
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().unwrap();
        drop(cmd); // closes our copies of the slave side
        let screen = Arc::new(Mutex::new(Vec::new()));
        let mut reading = master.try_clone().unwrap();
        let sink = Arc::clone(&screen);
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // EIO once the child has exited and the slave is closed.
            while let Ok(n) = reading.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Pty {
            master,
            child,
            screen,
            reader: Some(reader),
            seen: 0,
        }
    }

    /// The process id of the program on the terminal.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.screen.lock().unwrap()).into_owned()
    }

    /// Waits until `text` appears after what was already expected.
    pub fn expect(&mut self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let screen = self.screen.lock().unwrap().clone();
            let rest = String::from_utf8_lossy(&screen[self.seen.min(screen.len())..]).into_owned();
            if let Some(i) = rest.find(text) {
                self.seen += rest[..i + text.len()].len();
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out waiting for {text:?}; screen:\n{}",
                    String::from_utf8_lossy(&screen)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn send(&mut self, text: &str) {
        // Let the prompt switch echo off before typing a PIN.
        std::thread::sleep(Duration::from_millis(100));
        self.master.write_all(text.as_bytes()).unwrap();
        self.master.flush().unwrap();
    }

    pub fn wait(mut self) -> (ExitStatus, String) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("tessera did not exit; screen:\n{}", self.screen());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        (status, self.screen())
    }
}
