"""Small labelled datasets the tests train and evaluate on (built in the test, nothing fetched)."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

TOPICS = {
    "cooking": (["chef", "recipe", "oven", "garlic", "pasta", "soup", "dough", "sauce"],
                ["simmered", "baked", "seasoned", "chopped", "stirred", "roasted"]),
    "sport": (["striker", "goalkeeper", "referee", "team", "league", "coach", "match", "stadium"],
              ["scored", "defended", "trained", "won", "lost", "tackled"]),
    "weather": (["storm", "rain", "forecast", "wind", "snow", "cloud", "heatwave", "fog"],
                ["arrived", "cleared", "lingered", "swept", "cooled", "fell"]),
}
FRAMES = ["the {n} {v} all {t}", "yesterday a {n} {v} near the {m}", "why the {n} {v} before the {m} {t}",
          "our {n} {v} quickly", "nobody expected the {n} that {v} this {t}"]
TIMES = ["morning", "evening", "week", "weekend", "night"]


def topic_texts(count: int, seed: int) -> list[tuple[str, str]]:
    """(text, topic) pairs: short sentences built from each topic's nouns and verbs."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        topic = sorted(TOPICS)[i % len(TOPICS)]
        nouns, verbs = TOPICS[topic]
        frame = rng.choice(FRAMES)
        rows.append((frame.format(n=rng.choice(nouns), v=rng.choice(verbs), m=rng.choice(nouns), t=rng.choice(TIMES)), topic))
    return rows


def write_texts(path: Path, rows: list[tuple[str, str]]) -> Path:
    """As csv (text,label) or, for a .jsonl path, one {"text", "label"} object per line."""
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps({"text": t, "label": label}) + "\n" for t, label in rows))
        return path
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return path


def glyph_archive(folder: Path) -> Path:
    """Four classes of scikit-learn's bundled digits as PNG files, one folder per class, tarred
    (an imagefolder dataset)."""
    import tarfile

    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    for index, (image, label) in enumerate(zip(digits.images, digits.target, strict=True)):
        if label < 4 and index < 600:
            (folder / "train" / str(label)).mkdir(parents=True, exist_ok=True)
            Image.fromarray((image * 16).clip(0, 255).astype(np.uint8)).save(folder / "train" / str(label) / f"{index}.png")
    with tarfile.open(folder / "glyphs.tar.gz", "w:gz") as tar:
        tar.add(folder / "train", arcname="train")
    return folder / "glyphs.tar.gz"
