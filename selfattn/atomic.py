"""Files written whole or not at all, with the permissions a new file normally gets.

Every file the program writes goes to a temporary file beside the target that is
renamed over it, so a failure never leaves a half-written file or damages the old
one. `tempfile.mkstemp` creates that file with mode 0600: renamed as is, a picture or
preset meant to be shared would be readable by its owner only. `shared_mode` gives
the temporary file the target's own mode when it exists, else what the umask allows.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def shared_mode(tmp: str | os.PathLike[str], target: Path) -> None:
    """Give `tmp` the mode `target` has (or a new file would have) before the rename."""
    with contextlib.suppress(OSError):
        mode = target.stat().st_mode & 0o777 if target.exists() else 0o666 & ~_umask()
        os.chmod(tmp, mode)


def staged_file(target: Path) -> tuple[int, Path]:
    """A new temporary file beside `target` with the shared mode: (open fd, its path)."""
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    shared_mode(name, target)
    return fd, Path(name)


def write_bytes_atomically(path: str | os.PathLike[str], data: bytes, sync: bool = False) -> None:
    """Write `data` to `path` through a renamed temporary file (fsync'd when `sync`)."""
    target = Path(path)
    fd, tmp = staged_file(target)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if sync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomically(path: str | os.PathLike[str], text: str) -> None:
    """UTF-8 text with "\\n" line ends, written like `write_bytes_atomically`."""
    write_bytes_atomically(path, text.encode("utf-8"))
