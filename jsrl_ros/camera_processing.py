"""Any camera frame -> the learner's S×S RGB observation image, with OpenCV.

One code path for simulated and real cameras, so a policy trained on the sim's frames sees
real frames prepared exactly the same way: crop box, optional centre square (resizing a
non-square region to S×S would distort the scene), INTER_AREA resize (averages pixels, no
aliasing when shrinking), and a colour conversion to RGB.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from jsrl_ros.contract.conversions import MalformedMessage

_TO_RGB = {"bgr8": cv2.COLOR_BGR2RGB, "mono8": cv2.COLOR_GRAY2RGB}


def to_rgb(image: np.ndarray, encoding: str) -> np.ndarray:
    """An (H, W, 3) RGB uint8 image from an (H, W, C) rgb8/bgr8/mono8 one (rgb8 is returned as is)."""
    if encoding == "rgb8":
        return image
    code = _TO_RGB.get(encoding)
    if code is None:
        raise MalformedMessage(f"image encoding {encoding!r} not supported (use rgb8, bgr8 or mono8)")
    return cv2.cvtColor(np.ascontiguousarray(image), code)


@dataclass(frozen=True)
class ImageProcessor:
    """Crop box ``(x, y, w, h)`` in pixels (``w``/``h`` = 0: to the frame's edge), then the
    centre square of it if ``square``, resized to ``size``×``size`` RGB."""

    size: int = 64
    crop: tuple[int, int, int, int] = (0, 0, 0, 0)
    square: bool = True

    def __post_init__(self) -> None:
        if self.size <= 0:
            raise ValueError(f"size must be a positive number of pixels, got {self.size}")
        if len(self.crop) != 4 or min(self.crop) < 0:
            raise ValueError(f"crop must be 4 non-negative pixel counts [x, y, w, h], got {list(self.crop)}")

    def region(self, height: int, width: int) -> tuple[slice, slice]:
        """Row and column slices of the region to keep in a ``width``×``height`` frame."""
        x, y, w, h = self.crop
        w, h = w or width - x, h or height - y
        if w <= 0 or h <= 0 or x + w > width or y + h > height:
            raise MalformedMessage(f"a {width}x{height} frame does not contain the crop box "
                                   f"[x={x}, y={y}, w={w}, h={h}]")
        if self.square:
            side = min(w, h)
            x, y, w, h = x + (w - side) // 2, y + (h - side) // 2, side, side
        return slice(y, y + h), slice(x, x + w)

    def __call__(self, image: np.ndarray, encoding: str) -> np.ndarray:
        """The (size, size, 3) uint8 RGB observation of an (H, W, C) frame."""
        rows, cols = self.region(image.shape[0], image.shape[1])
        region = np.ascontiguousarray(image[rows, cols])
        if region.shape[:2] != (self.size, self.size):
            region = cv2.resize(region, (self.size, self.size), interpolation=cv2.INTER_AREA)
        if region.ndim == 2:  # cv2 drops a single channel's axis
            region = region[:, :, None]
        return np.ascontiguousarray(to_rgb(region, encoding))
