"""One torch Dataset for all three benchmarks: images decoded (and WIDER boxes cropped) lazily,
labels available up front without touching a pixel."""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from benchmark.data.records import InstanceTable, Records
from benchmark.data.wider import crop_box
from benchmark.errors import DataError

Item = tuple[torch.Tensor, torch.Tensor, int]


class MultiLabelDataset(Dataset):
    """Samples ``(image 3×S×S, target codes C, index)``.

    Target codes: 1 positive, 0 negative, -1 ignored in every metric, -2 ignored in AP only.
    With ``skip_bad`` an undecodable image yields None instead of raising; ``collate`` drops it
    and returns its file name, so a long run survives one corrupt file and still says which.
    """

    def __init__(
        self,
        records: Records,
        transform: Callable[[Image.Image], torch.Tensor],
        skip_bad: bool = False,
        image_size: int | None = None,
    ) -> None:
        self.classes: list[str] = list(records.classes)
        self.files: list[str] = list(records.files)
        self.targets: torch.Tensor = torch.from_numpy(np.ascontiguousarray(records.targets)).to(
            torch.int8
        )
        self.instances: InstanceTable = records.instances
        self.boxes = records.boxes
        self.transform = transform
        self.skip_bad = skip_bad
        self.image_size = image_size  # only to shape an all-skipped batch
        # Files that failed in this process since the last collate (see ``collate``).
        self._bad_since_collate: list[str] = []

    def __len__(self) -> int:
        return len(self.files)

    def load_image(self, index: int) -> Image.Image:
        """The decoded RGB image of a sample, cropped to its person box when it has one (past
        the image edge the crop is black, as PIL pads it: docs/spec.md §2)."""
        path = self.files[index]
        try:
            with Image.open(path) as img:
                img = img.convert("RGB")
        except (OSError, ValueError, Image.DecompressionBombError) as err:
            raise DataError(f"{path}: cannot decode image ({err})") from None
        if self.boxes is not None:
            img = img.crop(crop_box(self.boxes[index]))
        return img

    def __getitem__(self, index: int) -> Item | None:
        try:
            img = self.load_image(index)
        except DataError:
            if not self.skip_bad:
                raise
            self._bad_since_collate.append(os.fspath(self.files[index]))
            return None
        return self.transform(img), self.targets[index].float(), int(index)

    def collate(
        self, batch: list[Item | None]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[str]]:
        """Stack a batch, dropping skipped samples; returns (images, targets, indices, bad).

        A DataLoader calls ``__getitem__`` for a batch and then ``collate`` in the same process
        (worker or main), so the files that failed there are exactly this batch's bad files.
        """
        good = [item for item in batch if item is not None]
        bad, self._bad_since_collate = self._bad_since_collate, []
        if not good:
            side = self.image_size or 1
            return (
                torch.zeros(0, 3, side, side),
                torch.zeros(0, len(self.classes)),
                torch.zeros(0, dtype=torch.long),
                bad,
            )
        images = torch.stack([item[0] for item in good])
        targets = torch.stack([item[1] for item in good])
        indices = torch.tensor([item[2] for item in good], dtype=torch.long)
        return images, targets, indices, bad
