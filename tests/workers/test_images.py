"""Image files at the door (decoded in full, verdict cached) and in training (EXIF-oriented RGB)."""

from __future__ import annotations

import os
import shutil
import struct
import zlib

import numpy as np
import pytest
from PIL import ExifTags, Image, ImageFile, ImageOps

from workers.data import images
from workers.data.dataset import DatasetError
from workers.data.images import image_problem, image_size, read_rgb
from workers.data.open import open_dataset

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


@pytest.fixture(autouse=True)
def _fresh_checks():
    images.clear_image_checks()
    yield
    images.clear_image_checks()


def _quadrants(width=40, height=20):
    """Top-left red, top-right green, bottom-left blue, bottom-right white."""
    pixels = np.full((height, width, 3), 255, np.uint8)
    pixels[: height // 2, : width // 2] = RED
    pixels[: height // 2, width // 2 :] = GREEN
    pixels[height // 2 :, : width // 2] = BLUE
    return pixels


def _write_png(path, pixels):
    Image.fromarray(pixels).save(path, "PNG")
    return path


def _garble_idat(path):
    """Flip bytes in the middle of the first IDAT chunk's compressed data and give the chunk a
    correct CRC again: the container is intact (``verify`` passes), the pixel stream is not."""
    data = bytearray(path.read_bytes())
    position = 8
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        if data[position + 4 : position + 8] == b"IDAT":
            start, end = position + 8, position + 8 + length
            for index in range(start + length // 2, min(start + length // 2 + 8, end - 4)):
                data[index] ^= 0xFF
            data[end : end + 4] = struct.pack(">I", zlib.crc32(data[position + 4 : end]))
            path.write_bytes(bytes(data))
            return path
        position += 12 + length
    raise AssertionError(f"{path} has no IDAT chunk")


def _container_passes(path):
    with Image.open(path) as image:
        image.verify()
    return True


def _count_opens(monkeypatch):
    opened = []
    real_open = Image.open

    def counting_open(*arguments, **options):
        opened.append(arguments[0])
        return real_open(*arguments, **options)

    monkeypatch.setattr(images.Image, "open", counting_open)
    return opened


def test_valid_png_passes(tmp_path):
    path = _write_png(tmp_path / "ok.png", _quadrants())
    assert image_problem(path) is None
    assert image_size(path) == (40, 20)


def test_missing_file_is_named(tmp_path):
    assert image_problem(tmp_path / "nowhere.png") == "file missing"
    assert image_problem(tmp_path) == "file missing"


def test_garbled_idat_passes_verify_but_is_reported(tmp_path):
    path = _garble_idat(_write_png(tmp_path / "garbled.png", _quadrants(64, 64)))
    assert _container_passes(path)  # the old container-only check let this file through
    problem = image_problem(path)
    assert problem is not None and problem.startswith("corrupt image file")
    with pytest.raises(ValueError, match="corrupt image file"):
        image_size(path)


@pytest.mark.parametrize("kind", ["JPEG", "PNG"])
def test_truncated_file_is_reported_not_padded(tmp_path, kind):
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    path = tmp_path / f"whole.{kind.lower()}"
    Image.fromarray(noise).save(path, kind)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    if kind == "JPEG":
        assert _container_passes(path)  # the old container-only check let this file through
    problem = image_problem(path)
    assert problem is not None and "truncated" in problem.lower()


def test_check_refuses_to_run_when_truncated_images_would_be_padded(tmp_path, monkeypatch):
    path = _write_png(tmp_path / "ok.png", _quadrants())
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(RuntimeError, match="LOAD_TRUNCATED_IMAGES"):
        image_problem(path)


def test_unchanged_file_is_decoded_once(tmp_path, monkeypatch):
    good = _write_png(tmp_path / "good.png", _quadrants())
    bad = _garble_idat(_write_png(tmp_path / "bad.png", _quadrants(64, 64)))
    opened = _count_opens(monkeypatch)
    for _ in range(3):
        assert image_problem(good) is None and image_size(good) == (40, 20)
        assert image_problem(bad) is not None
    assert len(opened) == 2  # one decode each, verdicts (bad ones too) and sizes from the cache
    assert image_problem(tmp_path / "." / "good.png") is None and len(opened) == 2  # same resolved path


def test_changed_file_is_decoded_again(tmp_path, monkeypatch):
    path = _write_png(tmp_path / "image.png", _quadrants())
    opened = _count_opens(monkeypatch)
    assert image_size(path) == (40, 20) and len(opened) == 1
    _write_png(path, _quadrants(30, 10))  # new size on disk
    assert image_size(path) == (30, 10) and len(opened) == 2
    status = path.stat()
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns + 1_000_000_000))  # only mtime moves
    assert image_problem(path) is None and len(opened) == 3
    _garble_idat(path)  # same size, new mtime
    assert image_problem(path) is not None and len(opened) == 4


def test_cache_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "CHECK_CACHE_LIMIT", 2)
    paths = [_write_png(tmp_path / f"{index}.png", _quadrants()) for index in range(3)]
    opened = _count_opens(monkeypatch)
    for path in paths:
        image_problem(path)
    assert len(opened) == 3
    image_problem(paths[2])
    assert len(opened) == 3  # still cached
    image_problem(paths[0])
    assert len(opened) == 4  # the oldest verdict was dropped


def _with_orientation(path, pixels, orientation, kind):
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    Image.fromarray(pixels).save(path, kind, exif=exif.tobytes())
    return path


def test_phone_photo_rotated_by_exif(tmp_path):
    # stored 40 wide × 20 high; Orientation 6: shown turned 90° clockwise, 20 wide × 40 high
    path = _with_orientation(tmp_path / "phone.jpg", _quadrants(), 6, "JPEG")
    assert image_problem(path) is None
    assert image_size(path) == (20, 40)
    pixels = read_rgb(path)
    assert pixels.shape == (40, 20, 3) and pixels.dtype == np.uint8
    # turned clockwise: the stored top-left (red) is now top-right, the stored bottom-left (blue)
    # top-left, top-right (green) bottom-right, bottom-right (white) bottom-left
    for (row, column), colour in {(3, 16): RED, (3, 3): BLUE, (36, 16): GREEN, (36, 3): (255,) * 3}.items():
        np.testing.assert_allclose(pixels[row, column], colour, atol=40)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_orientation_is_what_exif_transpose_shows(tmp_path, orientation):
    path = _with_orientation(tmp_path / "oriented.png", _quadrants(), orientation, "PNG")
    with Image.open(path) as image:
        shown = ImageOps.exif_transpose(image).convert("RGB")
    assert image_size(path) == shown.size == ((20, 40) if orientation >= 5 else (40, 20))
    np.testing.assert_array_equal(read_rgb(path), np.asarray(shown))


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_garbled_exif_counts_as_no_orientation(tmp_path):
    path = tmp_path / "odd.jpg"
    Image.fromarray(_quadrants()).save(path, "JPEG", exif=b"Exif\x00\x00MM\x00*garbage")
    assert image_problem(path) is None
    assert image_size(path) == (40, 20) and read_rgb(path).shape == (20, 40, 3)


def _saved(path, image, kind="PNG", **options):
    image.save(path, kind, **options)
    return path


def test_grayscale_loads_as_rgb(tmp_path):
    gray = np.array([[0, 100], [200, 255]], np.uint8)
    path = _saved(tmp_path / "gray.png", Image.fromarray(gray, "L"))
    pixels = read_rgb(path)
    assert pixels.shape == (2, 2, 3) and pixels.dtype == np.uint8
    np.testing.assert_array_equal(pixels, np.repeat(gray[:, :, None], 3, axis=2))


def test_bilevel_loads_as_rgb(tmp_path):
    path = _saved(tmp_path / "bilevel.png", Image.fromarray(np.array([[0, 255]], np.uint8)).convert("1"))
    np.testing.assert_array_equal(read_rgb(path), [[[0, 0, 0], [255, 255, 255]]])


def test_sixteen_bit_grayscale_is_scaled_not_clipped(tmp_path):
    deep = np.array([[0, 257, 32768, 65535]], np.uint16)
    path = _saved(tmp_path / "deep.png", Image.fromarray(deep))
    with Image.open(path) as image:
        assert image.mode.startswith("I")  # a 16-bit file, not downsampled by PIL on reading
    assert image_problem(path) is None
    pixels = read_rgb(path)
    assert pixels.shape == (1, 4, 3) and pixels.dtype == np.uint8
    np.testing.assert_array_equal(pixels[..., 0], [[0, 1, 128, 255]])  # PIL's convert gives 0 255 255 255
    assert (pixels == pixels[..., :1]).all()


def test_32_bit_integer_grayscale_is_read_as_sixteen_bit(tmp_path):
    wide = np.array([[-5, 0, 65535, 100_000]], np.int32)
    path = _saved(tmp_path / "wide.tif", Image.fromarray(wide, "I"), "TIFF")
    np.testing.assert_array_equal(read_rgb(path)[..., 0], [[0, 0, 255, 255]])


@pytest.mark.parametrize("transparent", [False, True])
def test_palette_loads_as_rgb(tmp_path, transparent):
    palette_image = Image.new("P", (2, 1))
    palette_image.putpalette([*RED, *GREEN] + [0] * 762)
    palette_image.putdata([0, 1])
    options = {"transparency": 0} if transparent else {}
    path = _saved(tmp_path / "palette.png", palette_image, **options)
    with Image.open(path) as image:
        assert image.mode == "P" and ("transparency" in image.info) == transparent
    np.testing.assert_array_equal(read_rgb(path), [[RED, GREEN]])


@pytest.mark.parametrize("mode", ["LA", "RGBA"])
def test_alpha_is_dropped(tmp_path, mode):
    rgba = np.array([[[10, 20, 30, 0], [40, 50, 60, 255]]], np.uint8)
    image = Image.fromarray(rgba, "RGBA")
    expected = np.asarray(image.convert("RGB"))
    if mode == "LA":
        image = image.convert("LA")
        expected = np.repeat(np.asarray(image.convert("L"))[:, :, None], 3, axis=2)
    path = _saved(tmp_path / f"{mode}.png", image)
    np.testing.assert_array_equal(read_rgb(path), expected)  # colour kept under alpha 0


def test_cmyk_jpeg_loads_as_rgb(tmp_path):
    cmyk = np.zeros((16, 32, 4), np.uint8)
    cmyk[:, :16] = (0, 255, 255, 0)  # red
    cmyk[:, 16:] = (255, 0, 255, 0)  # green
    path = _saved(tmp_path / "print.jpg", Image.fromarray(cmyk, "CMYK"), "JPEG", quality=95)
    with Image.open(path) as image:
        assert image.mode == "CMYK"
    assert image_problem(path) is None and image_size(path) == (32, 16)
    pixels = read_rgb(path)
    assert pixels.shape == (16, 32, 3) and pixels.dtype == np.uint8
    np.testing.assert_allclose(pixels[8, 4], RED, atol=12)
    np.testing.assert_allclose(pixels[8, 28], GREEN, atol=12)


def test_dataset_with_a_garbled_image_is_refused_naming_it(synth_dataset, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(synth_dataset, root)
    garbled = [root / "images" / "train" / "000002.png", root / "images" / "val" / "000001.png"]
    for path in garbled:
        _garble_idat(path)
        assert _container_passes(path)
    with pytest.raises(DatasetError) as error:
        open_dataset(root)
    problems = error.value.problems
    for split, path in zip(("train", "val"), garbled, strict=True):
        assert any(
            p.startswith(f"{split}: ") and path.name in p and "corrupt image file" in p for p in problems
        ), problems


def test_a_header_check_spares_the_decode_and_a_decoded_verdict_answers_it(tmp_path, monkeypatch):
    """A trial re-opens a dataset the door decoded: headers only (``decode=False``), so a big
    dataset is not decoded again in every trial's process; a full check still decodes."""
    path = tmp_path / "garbled.png"
    _write_png(path, _quadrants())
    _garble_idat(path)
    assert image_problem(path, decode=False) is None  # the header is fine
    assert "corrupt" in image_problem(path)  # the full check decodes it (not answered by the header's)
    assert "corrupt" in image_problem(path, decode=False)  # the decoded verdict answers both
