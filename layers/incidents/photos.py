"""Incident photos: checked (JPEG, PNG or WebP, at most 10 MB, really an image) and stored
under their SHA-256, durably, before the database row that points at them is committed.

A photo is written to a temporary file in its final directory, flushed to disk,
renamed into place and the directory flushed too: once the report is
acknowledged, both the row and the file survive a crash. Equal photos are stored once.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from layers.errors import Invalid
from layers.incidents.workflow import StoredPhoto

MAX_BYTES = 10 * 1024 * 1024
MAX_PHOTOS = 3
#: Larger pictures are refused before decoding (a small file can claim huge dimensions).
MAX_PIXELS = 50_000_000
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
_PIL_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


class PhotoRefused(Invalid):
    """A photo refused; ``status`` is the HTTP answer (413 too large, 415 not an image)."""

    def __init__(self, message: str, status: int):
        super().__init__(message, "photos")
        self.status = status


def sniff(data: bytes) -> str | None:
    """The image type by its magic bytes, or None."""
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def check(data: bytes, name: str = "") -> str:
    """The MIME type of a valid photo, or :class:`PhotoRefused`.

    The magic bytes must name an allowed type *and* Pillow must parse the file
    as that type: a renamed text file or a truncated header is refused.
    """
    label = f"“{name}” " if name else ""
    if len(data) > MAX_BYTES:
        raise PhotoRefused(f"照片{label}超过 10 MB / photo {label}is over 10 MB", 413)
    if not data:
        raise PhotoRefused(f"照片{label}是空文件 / photo {label}is empty", 422)
    mime = sniff(data)
    refused = PhotoRefused(
        f"{label}不是 JPEG、PNG 或 WebP 图片 / {label}is not a JPEG, PNG or WebP image", 415
    )
    if mime is None:
        raise refused
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                if _PIL_FORMATS.get(img.format or "") != mime:
                    raise refused
                if img.width * img.height > MAX_PIXELS:
                    raise PhotoRefused(
                        f"照片{label}像素过多 / photo {label}has too many pixels", 413
                    )
                img.verify()
    except PhotoRefused:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Warning) as exc:
        raise refused from exc
    return mime


def prepare(data: bytes, mime: str) -> StoredPhoto:
    """The hash, type and size of a checked photo (nothing written yet)."""
    return StoredPhoto(hashlib.sha256(data).hexdigest(), mime, len(data))


def store(root: Path, data: bytes, mime: str) -> StoredPhoto:
    """Write ``data`` under ``root/ab/<sha256>.<ext>`` (once) and flush it to disk."""
    photo = prepare(data, mime)
    digest = photo.sha256
    path = path_of(root, digest, mime)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{digest}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return photo


def path_of(root: Path, sha256: str, mime: str) -> Path:
    """Where the photo with hash ``sha256`` lives."""
    return root / sha256[:2] / f"{sha256}.{EXTENSIONS[mime]}"
