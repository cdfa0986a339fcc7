"""``image-folder:PATH``: any folder of images (e.g. CelebA), centre-cropped and resized, cached.

The decoded images are cached as one safetensors file (never a pickle) under
``<cache_root()>/image-folder/``, keyed by a hash of the folder's absolute path, its sorted
file list with sizes and modification times, and the image size: any change rebuilds it.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from genzoo.data.files import cache_root
from genzoo.errors import CorruptFileError, DataNotFoundError, UserInputError
from genzoo.io import atomic_path

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
_CACHE_VERSION = 1  # bump when the decoding below changes


def list_images(folder: Path) -> list[Path]:
    """Image files under ``folder`` (recursively; hidden files skipped), sorted by relative path.

    Raises:
        DataNotFoundError: ``folder`` does not exist.
        UserInputError: it is not a folder, or holds no images.
    """
    if not folder.exists():
        raise DataNotFoundError(f"image folder {folder} does not exist; check the path")
    if not folder.is_dir():
        raise UserInputError(f"{folder} is not a folder; give 'image-folder:PATH' a folder")
    files = sorted(
        (p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
         and not any(part.startswith(".") for part in p.relative_to(folder).parts)),
        key=lambda p: p.relative_to(folder).as_posix(),
    )  # fmt: skip
    if not files:
        raise UserInputError(
            f"no images ({', '.join(IMAGE_SUFFIXES)}) found under {folder}; "
            "point 'image-folder:PATH' at a folder of images"
        )
    return files


def cache_file(folder: Path, files: list[Path], size: int) -> Path:
    """The cache file for these files at this size (a hash of path, names, sizes, mtimes)."""
    stats = [(p.relative_to(folder).as_posix(), st.st_size, st.st_mtime_ns)
             for p in files for st in [p.stat()]]  # fmt: skip
    key = json.dumps([_CACHE_VERSION, str(folder), size, stats]).encode()
    return cache_root() / "image-folder" / f"{hashlib.sha256(key).hexdigest()[:32]}.safetensors"


def decode_image(path: Path, size: int) -> np.ndarray:
    """Read an image as RGB, crop the largest centred square, resize it to ``size``.

    Resizing uses PIL's bicubic filter, which antialiases when shrinking.

    Returns:
        uint8 (size, size, 3).

    Raises:
        CorruptFileError: PIL cannot decode the file.
    """
    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im).convert("RGB")  # camera rotation applied
            w, h = im.size
            s = min(w, h)
            box = ((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s)
            im = im.resize((size, size), Image.Resampling.BICUBIC, box=box)
            return np.asarray(im, dtype=np.uint8)
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as e:
        raise CorruptFileError(
            f"cannot read image {path} ({e}); delete or replace it, or move it out of the folder"
        ) from e


def load_image_folder(folder: str | Path, size: int) -> torch.Tensor:
    """All images of ``folder`` as uint8 (N, 3, size, size), from the cache when it is current.

    A missing or unreadable cache file is (re)built: decoded with a few threads (PIL releases
    the GIL), then written atomically (temporary file, then ``os.replace``).
    """
    folder = Path(folder).expanduser().resolve()
    files = list_images(folder)
    cached = cache_file(folder, files, size)
    if cached.is_file():
        try:
            images = load_file(cached)["images"]
            if images.dtype == torch.uint8 and images.shape == (len(files), 3, size, size):
                return images
        except (SafetensorError, OSError, KeyError):
            pass  # a damaged cache is rebuilt below
    out = np.empty((len(files), size, size, 3), dtype=np.uint8)  # (N, S, S, 3)
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        for i, array in enumerate(pool.map(lambda p: decode_image(p, size), files)):
            out[i] = array
    images = torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()  # (N, 3, S, S)
    with atomic_path(cached) as tmp:
        save_file({"images": images}, str(tmp), metadata={"folder": str(folder)})
    return images
