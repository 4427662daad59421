//! Reading a stack's own text files (`stack.toml`, a kind's `kind.toml`): only a regular
//! file, only up to [`MAX_BYTES`], only UTF-8. A FIFO would block every command until
//! something writes to it, `/dev/zero` would read until memory runs out, and invalid
//! UTF-8 is named by its byte offset, line and column.

use std::io::Read;
use std::path::Path;

use crate::error::Problem;
use crate::stack::syntax::line_col;

/// The largest stack file stackgen reads: 1 MiB, far above any real one.
pub const MAX_BYTES: u64 = 1 << 20;

/// The text of the file at `path`; `name` is how problems name it (`stack.toml`).
pub fn read(path: &Path, name: &str) -> Result<String, Problem> {
    use std::os::unix::fs::OpenOptionsExt;
    // Non-blocking, so opening a FIFO returns at once instead of waiting for a writer;
    // it changes nothing for a regular file.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| Problem::new(path.display().to_string(), format!("cannot read: {e}")))?;
    let meta = file
        .metadata()
        .map_err(|e| Problem::new(path.display().to_string(), format!("cannot read: {e}")))?;
    if !meta.is_file() {
        return Err(Problem::new(
            path.display().to_string(),
            format!("not a regular file, but {}", describe(meta.file_type())),
        )
        .hint(format!(
            "`{name}` must be a plain file (a symlink to one is fine)"
        )));
    }
    let mut bytes = Vec::new();
    file.take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Problem::new(path.display().to_string(), format!("cannot read: {e}")))?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(Problem::new(
            name,
            format!(
                "larger than {} KiB, the most stackgen reads",
                MAX_BYTES / 1024
            ),
        )
        .hint("a stack file is a few kilobytes; is this the right file?"));
    }
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let bad = e.as_bytes()[offset];
        let valid = std::str::from_utf8(&e.as_bytes()[..offset]).unwrap_or_default();
        let (line, col) = line_col(valid, offset);
        Problem::new(
            format!("{name}:{line}:{col}"),
            format!(
                "not UTF-8: byte 0x{bad:02x} at byte offset {offset} starts no valid character"
            ),
        )
        .hint(format!("save `{name}` as UTF-8 (TOML files are UTF-8)"))
    })
}

/// What a file that is not a regular file is, for a message: `a FIFO (named pipe)`.
pub fn describe(t: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_file() {
        "a regular file"
    } else if t.is_symlink() {
        "a symlink"
    } else if t.is_dir() {
        "a folder"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "something else"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_small_regular_utf8_files_are_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ok = dir.path().join("ok.toml");
        std::fs::write(&ok, "a = 1\n").expect("write");
        assert_eq!(read(&ok, "ok.toml").expect("read"), "a = 1\n");

        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, b"a = 1\nb = \"\xff\"\n").expect("write");
        let got = read(&bad, "bad.toml")
            .expect_err("invalid UTF-8")
            .to_string();
        assert!(
            got.starts_with("bad.toml:2:6: not UTF-8: byte 0xff at byte offset 11"),
            "{got}"
        );

        let big = dir.path().join("big.toml");
        std::fs::write(&big, vec![b'#'; MAX_BYTES as usize + 1]).expect("write");
        let got = read(&big, "big.toml").expect_err("too big").to_string();
        assert!(got.contains("larger than 1024 KiB"), "{got}");

        let fifo = dir.path().join("fifo.toml");
        let c = std::ffi::CString::new(fifo.to_str().expect("utf8")).expect("cstring");
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let got = read(&fifo, "fifo.toml").expect_err("a FIFO").to_string();
        assert!(got.contains("not a regular file, but a FIFO"), "{got}");

        let zero = read(Path::new("/dev/zero"), "stack.toml").expect_err("a device");
        assert!(zero.to_string().contains("a device"), "{zero}");
    }
}
