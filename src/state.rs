//! Persistent node state in the state directory (`/var/lib/heartbeat`, spec §4.2,
//! §12.4): the heartbeat generation, incremented at every start, and the node UUID.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use anyhow::Context as _;

/// Writes a file atomically: a temporary file beside it, fsync, rename.
fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("new");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
    Ok(())
}

/// The next generation (`hb_generation`: the decimal value right-aligned in 15
/// characters and a newline). Without a readable file it starts at `now + 1`, as
/// 3.0.6 does, and says so.
pub fn next_generation(
    dir: &Path,
    now_secs: u64,
    by_time: bool,
) -> anyhow::Result<(u64, Option<String>)> {
    if by_time {
        return Ok((now_secs, None));
    }
    let path = dir.join("hb_generation");
    let previous = std::fs::read_to_string(&path)
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok());
    let (gen, note) = match previous {
        Some(g) => (g + 1, None),
        None => (
            now_secs + 1,
            Some(format!(
                "No Previous generation - starting at {}",
                now_secs + 1
            )),
        ),
    };
    write_atomic(&path, format!("{gen:>15}\n").as_bytes())?;
    Ok((gen, note))
}

/// The node UUID (`hb_uuid`, 16 raw bytes), created at random on first start.
pub fn node_uuid(dir: &Path) -> anyhow::Result<[u8; 16]> {
    let path = dir.join("hb_uuid");
    if let Ok(bytes) = std::fs::read(&path) {
        if let Ok(uuid) = <[u8; 16]>::try_from(bytes.as_slice()) {
            return Ok(uuid);
        }
    }
    let mut uuid = [0u8; 16];
    let mut urandom = std::fs::File::open("/dev/urandom").context("opening /dev/urandom")?;
    std::io::Read::read_exact(&mut urandom, &mut uuid).context("reading /dev/urandom")?;
    uuid[6] = (uuid[6] & 0x0f) | 0x40;
    uuid[8] = (uuid[8] & 0x3f) | 0x80;
    write_atomic(&path, &uuid)?;
    Ok(uuid)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Files an attacker placed in the state directory are replaced, never
    /// written through.
    #[test]
    fn planted_symlinks_are_replaced_not_followed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious\n").expect("victim");
        for name in [
            "hb_generation",
            "hb_generation.new",
            "hb_uuid",
            "hb_uuid.new",
        ] {
            std::os::unix::fs::symlink(&victim, dir.path().join(name)).expect("symlink");
        }
        next_generation(dir.path(), 100, false).expect("generation");
        node_uuid(dir.path()).expect("uuid");
        assert_eq!(
            std::fs::read_to_string(&victim).expect("read"),
            "precious\n"
        );
        for name in ["hb_generation", "hb_uuid"] {
            let meta = std::fs::symlink_metadata(dir.path().join(name)).expect("meta");
            assert!(meta.file_type().is_file(), "{name} is a regular file now");
        }
    }

    #[test]
    fn generation_starts_from_time_then_increments_in_3_0_6_format() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (g, note) = next_generation(dir.path(), 1_795_644_259, false).expect("first");
        assert_eq!(g, 1_795_644_260);
        assert_eq!(
            note.as_deref(),
            Some("No Previous generation - starting at 1795644260")
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("hb_generation")).expect("read"),
            "     1795644260\n"
        );
        let (g, note) = next_generation(dir.path(), 5, false).expect("second");
        assert_eq!((g, note), (1_795_644_261, None));
    }

    #[test]
    fn uuid_is_created_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = node_uuid(dir.path()).expect("created");
        let b = node_uuid(dir.path()).expect("read back");
        assert_eq!(a, b);
        assert_eq!(
            std::fs::read(dir.path().join("hb_uuid"))
                .expect("read")
                .len(),
            16
        );
    }
}
