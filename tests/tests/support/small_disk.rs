//! A small tmpfs for the full-disk tests (`tests/tests/disk_full.rs` and
//! server-mock's backup test include this file by path).

use std::path::Path;
use std::process::Command;

/// A tmpfs of a few MiB, unmounted when dropped. Mounting needs root (or
/// CAP_SYS_ADMIN).
pub struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    /// Mounts a tmpfs of `size` (`mount -o size=`), or prints one loud
    /// SKIPPED line naming `test` and returns `None` when it cannot.
    pub fn mount(size: &str, test: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            println!("!!!!!!!! cannot mount a tmpfs here (needs root): {test} is SKIPPED !!!!!!!!");
            return None;
        }
        Some(SmallDisk { dir })
    }

    /// Where it is mounted.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}
