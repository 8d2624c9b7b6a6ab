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


def strip_metadata(data: bytes, mime: str) -> bytes:
    """The photo without EXIF and XMP (GPS position, camera, owner name), pixels untouched.

    Metadata blocks are cut out of the container; nothing is decoded or
    re-encoded, so the picture keeps its quality.
    """
    if mime == "image/jpeg":
        return _strip_jpeg(data)
    if mime == "image/png":
        return _strip_chunks(data, 8, _png_chunks, {b"eXIf", b"iTXt", b"tEXt", b"zTXt"})
    if mime == "image/webp":
        return _strip_webp(data)
    return data


def _strip_jpeg(data: bytes) -> bytes:
    out, i = [data[:2]], 2
    while i + 4 <= len(data) and data[i] == 0xFF:
        marker = data[i + 1]
        if marker == 0xDA:  # start of scan: the image data follows, keep the rest as is
            break
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        segment = data[i : i + 2 + length]
        # APP1 carries EXIF and XMP; APP13 carries Photoshop IPTC with names and places.
        if marker not in (0xE1, 0xED):
            out.append(segment)
        i += 2 + length
    out.append(data[i:])
    return b"".join(out)


def _png_chunks(data: bytes, start: int):
    i = start
    while i + 8 <= len(data):
        length = int.from_bytes(data[i : i + 4], "big")
        end = i + 12 + length
        yield data[i + 4 : i + 8], data[i:end]
        i = end


def _strip_chunks(data: bytes, header: int, chunks, drop: set[bytes]) -> bytes:
    kept = [chunk for kind, chunk in chunks(data, header) if kind not in drop]
    return data[:header] + b"".join(kept)


def _strip_webp(data: bytes) -> bytes:
    body, i = [], 12
    while i + 8 <= len(data):
        kind = data[i : i + 4]
        size = int.from_bytes(data[i + 4 : i + 8], "little")
        chunk = data[i : i + 8 + size + (size & 1)]  # chunks are padded to even sizes
        if kind == b"VP8X":  # clear the "has EXIF" (0x08) and "has XMP" (0x04) flags
            chunk = chunk[:8] + bytes([chunk[8] & ~0x0C]) + chunk[9:]
        if kind not in (b"EXIF", b"XMP "):
            body.append(chunk)
        i += 8 + size + (size & 1)
    payload = b"WEBP" + b"".join(body)
    return b"RIFF" + len(payload).to_bytes(4, "little") + payload


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
