"""Image files: decoded in full when a dataset is opened, read as RGB arrays when training.

Three choices hold for every function here:

* **Every image is decoded at the door.** :func:`image_problem` decodes the whole pixel stream, not
  only the container (``Image.verify`` passes a PNG whose IDAT data is garbled, and training then
  fails on it). The verdict and the image's size are kept in a process-wide cache keyed by
  (resolved path, file size, modification time in ns), bounded to :data:`CHECK_CACHE_LIMIT`
  entries, so a second dataset check in the same process (the API validating a second job on
  the same files, the search driver preparing candidates) does not decode an unchanged file
  again; a file rewritten on disk has a new size or mtime and is decoded again. The cache is not
  persistent: each new process (a trial's, for one) decodes every image once.
* **EXIF orientation is applied**, as the labelling tools (CVAT, Label Studio, Roboflow) and the
  browsers display a photo: :func:`image_size` is the size after the orientation (tags 5 to 8
  swap width and height) and :func:`read_rgb` returns the oriented pixels, the same pixels
  ``PIL.ImageOps.exif_transpose`` gives, so boxes drawn on what the tool showed land on the
  right pixels. An unreadable EXIF block counts as no orientation.
* **Every colour mode loads as (H, W, 3) uint8 RGB**: grayscale and bilevel are repeated on the
  three channels, palettes are looked up, CMYK and YCbCr are converted by PIL, alpha is dropped
  (the colour channels are kept as they are, not composited on a background: what ``cv2.imread``
  gives for such a file), and 16-bit grayscale is scaled by 255 / 65535 (PIL's own conversion
  clips every value above 255 to white).

Truncated files are errors: PIL's ``ImageFile.LOAD_TRUNCATED_IMAGES`` must stay False (its
default), or a truncated file would be padded with grey and pass; :func:`image_problem` refuses to
run when something in the process has set it.
"""

from __future__ import annotations

import functools
import stat
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageFile, UnidentifiedImageError

from workers.data.dataset import DatasetError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")

CHECK_CACHE_LIMIT = 200_000
"""Most image checks kept; the oldest go first (a COCO train2017 is 118k images)."""

SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I"})
"""Grayscale modes read as 16-bit values (a 16-bit PNG or TIFF opens as one of these)."""

ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
"""The transposition that shows an image the way its EXIF orientation tag says (1: as stored)."""


@dataclass(frozen=True, slots=True)
class ImageCheck:
    """The verdict on one image file: ``problem`` (None when it decodes) and its oriented size."""

    problem: str | None
    width: int = 0
    height: int = 0
    decoded: bool = True  # False: only the header was read (a trial's re-check, see image_problem)


_checks: dict[tuple[str, int, int], ImageCheck] = {}
_checks_lock = threading.Lock()


def image_problem(path: Path, decode: bool = True) -> str | None:
    """Why ``path`` is not a readable image, or None: the file is decoded in full (see the module
    docstring for the cache that spares decoding an unchanged file twice). ``decode=False`` reads
    the header only: for a process that re-opens a dataset the door has decoded (a trial), where
    an image broken since then fails the trial as a data error when it is read."""
    return check_image(path, decode).problem


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) of the image as displayed, after its EXIF orientation. Raises
    :class:`ValueError` for a file :func:`image_problem` reports."""
    check = check_image(path)
    if check.problem is not None:
        raise ValueError(f"{path}: {check.problem}")
    return check.width, check.height


def read_rgb(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB pixels, turned by the EXIF orientation, from an image of any mode.
    A file that cannot be read (gone or changed since the dataset was checked) is a
    :class:`DatasetError`: a fault of the data, which a retry would meet again."""
    try:
        with Image.open(path) as image:
            oriented = _oriented(image)
            return _to_rgb(oriented)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        reason = f"image {path.name!r} cannot be read ({type(error).__name__}: {error})"
        raise DatasetError(path.parent, [reason]) from error


def check_image(path: Path, decode: bool = True) -> ImageCheck:
    """The cached verdict on ``path``, or a new one from decoding it (its header only when not
    ``decode``; a decoded verdict answers both)."""
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise RuntimeError(
            "PIL.ImageFile.LOAD_TRUNCATED_IMAGES is set in this process: truncated images would pass "
            "the image check; leave it False"
        )
    try:
        status = path.stat()
    except OSError:
        return ImageCheck("file missing")
    if not stat.S_ISREG(status.st_mode):
        return ImageCheck("file missing")
    key = (str(path.resolve()), status.st_size, status.st_mtime_ns)
    with _checks_lock:
        cached = _checks.get(key)
    if cached is not None and (cached.decoded or not decode):
        return cached
    check, keep = _decode(path, decode)
    if keep:
        with _checks_lock:
            while len(_checks) >= CHECK_CACHE_LIMIT:
                del _checks[next(iter(_checks))]
            _checks[key] = check
    return check


def clear_image_checks() -> None:
    """Forget every cached verdict (the next check of each file decodes it again)."""
    with _checks_lock:
        _checks.clear()


def _decode(path: Path, decode: bool = True) -> tuple[ImageCheck, bool]:
    """The verdict from decoding ``path`` (its header only when not ``decode``), and whether it may
    be cached (not when the file could not be read at all: its permissions may change without a
    new mtime)."""
    try:
        with Image.open(path) as image:
            if decode:
                image.load()
            width, height = image.size
            mode = image.mode
            orientation = _orientation(image)
    except PermissionError as error:
        return ImageCheck(f"file not readable ({error.strerror})"), False
    except Image.DecompressionBombError as error:
        return ImageCheck(f"image too large to decode ({error})"), True
    except MemoryError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        return ImageCheck(f"corrupt image file ({type(error).__name__}: {error})"), True
    except Exception as error:  # PIL's plugins let low-level errors through (struct.error, EOFError, …)
        return ImageCheck(f"corrupt image file ({type(error).__name__}: {error})"), True
    if width < 1 or height < 1:
        return ImageCheck(f"image has no pixels ({width}×{height})"), True
    if not _convertible(mode):
        return ImageCheck(f"unsupported colour mode {mode!r}"), True
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return ImageCheck(None, width, height, decode), True


def _orientation(image: Image.Image) -> int:
    """The EXIF (or XMP) orientation tag, 1 to 8; 1 when missing, out of range or unreadable."""
    try:
        value = image.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:  # a garbled EXIF block is read as no orientation, as browsers do
        return 1
    return value if isinstance(value, int) and value in ORIENTATION_TRANSPOSE else 1


def _oriented(image: Image.Image) -> Image.Image:
    transpose = ORIENTATION_TRANSPOSE.get(_orientation(image))
    return image if transpose is None else image.transpose(transpose)


def _to_rgb(image: Image.Image) -> np.ndarray:
    if image.mode == "RGB":
        return np.asarray(image)
    if image.mode in SIXTEEN_BIT_MODES:
        values = np.clip(np.asarray(image).astype(np.int64), 0, 65535)
        gray = ((values * 255 + 32767) // 65535).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    return np.asarray(image.convert("RGB"))


@functools.cache
def _convertible(mode: str) -> bool:
    """Whether :func:`_to_rgb` handles images of ``mode`` (PIL converts nearly all to RGB)."""
    try:
        _to_rgb(Image.new(mode, (1, 1)))
    except (ValueError, OSError, KeyError, TypeError):
        return False
    return True
