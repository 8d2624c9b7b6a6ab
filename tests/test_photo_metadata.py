"""Photos lose their EXIF/XMP (GPS position, camera, owner) before they are stored."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from layers.incidents.photos import check, strip_metadata

GPS_TAG = 0x8825  # GPSInfo


def photo(fmt: str) -> bytes:
    img = Image.new("RGB", (32, 24), (200, 30, 30))
    exif = Image.Exif()
    exif[0x013B] = "王某某0001"  # Artist: a person's name
    exif[0x0110] = "DemoPhone"  # Model
    exif[GPS_TAG] = {1: "N", 2: (38.0, 12.0, 30.0), 3: "E", 4: (116.0, 6.0, 10.0)}
    buf = io.BytesIO()
    img.save(buf, fmt, exif=exif.tobytes())
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_exif_is_removed_and_the_picture_kept(fmt):
    data = photo(fmt)
    with Image.open(io.BytesIO(data)) as img:
        assert img.getexif().get(GPS_TAG)  # the fixture really carries a position
    mime = check(data)
    clean = strip_metadata(data, mime)
    assert b"DemoPhone" not in clean
    assert "王某某".encode() not in clean
    assert check(clean) == mime  # still a valid image of the same type
    with Image.open(io.BytesIO(clean)) as img, Image.open(io.BytesIO(data)) as orig:
        assert not img.getexif()
        assert img.size == orig.size
        assert img.convert("RGB").tobytes() == orig.convert("RGB").tobytes()


def test_a_photo_without_metadata_is_unchanged():
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "JPEG")
    assert strip_metadata(buf.getvalue(), "image/jpeg") == buf.getvalue()
