"""One progress line for a whole build or change: the stage in its label, the texts embedded in its count.

A build reads, splits, embeds chunks, embeds sentences and indexes words; each of these is a stage of the
same tqdm line, which appears as soon as the build starts (not after seconds of silence) and ends as one
line on the terminal.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: texts per call to the embedder between two updates of the line (large enough not to slow it down)
SLICE = 256


def plural(n: int, noun: str) -> str:
    """``1 document``, ``2 documents``: counts in progress labels and the CLI's summaries."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


class Progress:
    """A labelled tqdm line, or nothing when ``enabled`` is false (tqdm is imported only when shown)."""

    def __init__(self, enabled: bool, first: str = "reading documents"):
        self._bar = None
        if enabled:
            from tqdm.auto import tqdm
            self._bar = tqdm(total=0, desc=first, unit="text", dynamic_ncols=True,
                             bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} texts "
                                        "[{elapsed}<{remaining}]")

    def stage(self, label: str, add: int = 0) -> None:
        """Start a stage; ``add`` texts to embed join the total."""
        if self._bar is not None:
            self._bar.total += add
            self._bar.set_description_str(label, refresh=True)

    def embed(self, embedder, texts: Sequence[str], batch_size: int) -> np.ndarray:
        """``embedder.encode_documents(texts)`` in slices of ``SLICE``, moving the line after each. The slices
        are the same whether the line is shown or not, so a build's vectors do not depend on the display."""
        parts = []
        for i in range(0, len(texts), SLICE):
            part = list(texts[i:i + SLICE])
            parts.append(embedder.encode_documents(part, batch_size=batch_size))
            if self._bar is not None:
                self._bar.update(len(part))
        return np.concatenate(parts) if parts else np.zeros((0, embedder.dim), dtype=np.float32)

    def close(self, label: str = "done") -> None:
        """End the line with ``label``."""
        if self._bar is not None:
            self._bar.set_description_str(label, refresh=False)
            self._bar.close()
            self._bar = None

    def discard(self) -> None:
        """Erase the line (the work failed: its one-line error follows alone, not after a "done")."""
        if self._bar is not None:
            self._bar.leave = False
            self._bar.close()
            self._bar = None
