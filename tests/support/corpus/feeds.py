"""Each corpus model's inputs, made as its package makes them (sizes, normalisation, channel
order, tokenizer, context and state), from the drawings, audio, text and file bytes of
`inputs.py`. Each function takes (samples, rng, model file) and returns arrays by input name."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.support.corpus import inputs as make

Arrays = dict[str, np.ndarray]


SILERO_CHUNK, SILERO_CONTEXT = 512, 64
"""At 16 kHz silero-vad's ONNX models take 512 new samples with the 64 before them (576); its
Python wrapper keeps that context, as it keeps the recurrent state, between calls."""


def _stream_chunks(rng: np.random.Generator, count: int) -> np.ndarray:
    audio = make.speech(count * SILERO_CHUNK / 16000 + 0.1, 16000, rng)
    return audio[: count * SILERO_CHUNK].reshape(count, SILERO_CHUNK)


def silero(samples: int, rng: np.random.Generator, path: Path) -> Arrays:
    """Chunks from three seconds of a speech-like stream, spread over it (speech and pauses),
    each as silero-vad's wrapper hands it to the model: input [N, 576] (the 64 samples before
    the chunk, then its 512), state [2, N, 128] the recurrent state carried into it (computed
    here on the original, as a streaming caller holds it; the batch axis is second), sr a rank-0
    int64 (16000, shared by every sample)."""
    import onnxruntime as ort

    chunks = _stream_chunks(rng, 94)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    state, context = np.zeros((2, 1, 128), np.float32), np.zeros(SILERO_CONTEXT, np.float32)
    frames, states = [], []
    for chunk in chunks:
        frames.append(np.concatenate([context, chunk]))
        states.append(state[:, 0])
        _, state = session.run(None, {"input": frames[-1][None], "state": state, "sr": np.array(16000, np.int64)})
        context = chunk[-SILERO_CONTEXT:]
    picked = np.linspace(4, len(chunks) - 1, samples).astype(int)
    return {"input": np.stack([frames[i] for i in picked]).astype(np.float32),
            "state": np.stack([states[i] for i in picked], axis=1).astype(np.float32), "sr": np.array(16000, np.int64)}


def silero_jit(samples: int, rng: np.random.Generator, path: Path) -> Arrays:
    return {"x": _stream_chunks(rng, samples), "sr": np.array(16000, np.int64)}


def silero_sequence(samples: int, rng: np.random.Generator, path: Path) -> Arrays:
    """faster-whisper's way: one stream as N consecutive 512-sample chunks, each with the 64
    samples before it (input [N, 576]); the LSTM runs over the chunks with h, c [1, 1, 128]."""
    audio = make.speech(samples * SILERO_CHUNK / 16000 + 0.1, 16000, rng)[: samples * SILERO_CHUNK]
    padded = np.concatenate([np.zeros(64, np.float32), audio])
    frames = np.stack([padded[i * SILERO_CHUNK: i * SILERO_CHUNK + 576] for i in range(samples)])
    zeros = np.zeros((1, 1, 128), np.float32)
    return {"input": frames.astype(np.float32), "h": zeros, "c": zeros.copy()}


def ppocr_det(samples: int, rng: np.random.Generator, path: Path) -> Arrays:
    """Pages and scenes with text, at 320x448 (multiples of 32, as RapidOCR resizes them)."""
    images = [make.document(320, 448, rng) if i % 2 else _scene_with_text(320, 448, rng) for i in range(samples)]
    return {"x": make.nchw(images, mean=(0.5,) * 3, std=(0.5,) * 3)}


def _scene_with_text(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    image = make.scene(height, width, rng)
    line = make.text_line(height // 6, width // 2, rng)
    y, x = int(rng.integers(0, height - line.shape[0])), int(rng.integers(0, width - line.shape[1]))
    image[y:y + line.shape[0], x:x + line.shape[1]] = line
    return image


def ppocr_rec(samples: int, rng: np.random.Generator, path: Path) -> Arrays:
    lines = [make.text_line(48, 320, rng, make.WORDS[i % len(make.WORDS)]) for i in range(samples)]
    return {"x": make.nchw(lines, mean=(0.5,) * 3, std=(0.5,) * 3)}


def ppocr_cls(samples: int, rng: np.random.Generator, path: Path) -> Arrays:
    """Text lines at 48x192, half of them upside down (what the classifier is for)."""
    lines = [make.text_line(48, 192, rng, make.WORDS[i % len(make.WORDS)]) for i in range(samples)]
    lines = [np.ascontiguousarray(line[::-1, ::-1]) if i % 2 else line for i, line in enumerate(lines)]
    return {"x": make.nchw(lines, mean=(0.5,) * 3, std=(0.5,) * 3)}


def _sentences(samples: int, rng: np.random.Generator) -> list[str]:
    return [make.SENTENCES[i] for i in rng.permutation(len(make.SENTENCES))[:samples]]


def minilm_int8(samples: int, rng: np.random.Generator, path: Path) -> Arrays:
    return make.tokenize(_sentences(samples, rng), 32)


def minilm_embedding(samples: int, rng: np.random.Generator, path: Path) -> Arrays:
    tokens = make.tokenize(_sentences(samples, rng), 32)
    return {"input_ids": tokens["input_ids"], "attention_mask": tokens["attention_mask"]}


def nudenet(samples: int, rng: np.random.Generator, path: Path) -> Arrays:
    """Photos at 320x320, RGB scaled to [0, 1] (nudenet pads to a square and resizes to 320)."""
    return {"images": make.nchw([make.scene(320, 320, rng) for _ in range(samples)])}


def ddddocr_ocr(samples: int, rng: np.random.Generator, path: Path) -> Arrays:
    """Captchas (160x60) resized to height 64 as ddddocr does (width 170), grayscale in [0, 1]."""
    from PIL import Image

    gray = [np.asarray(Image.fromarray(make.captcha(60, 160, rng)).resize((170, 64)).convert("L"), np.float32) / 255
            for _ in range(samples)]
    return {"input1": np.stack(gray)[:, None]}


def ddddocr_det(samples: int, rng: np.random.Generator, path: Path) -> Arrays:
    """Click-captcha scenes letterboxed to 416x416 (pad 114), 0-255 floats, as ddddocr does."""
    images = []
    for _ in range(samples):
        canvas = np.full((416, 416, 3), 114, np.uint8)
        canvas[:312] = make.scene(312, 416, rng)
        for _ in range(4):
            glyph = make.captcha(56, 56, rng)
            y, x = int(rng.integers(0, 250)), int(rng.integers(0, 350))
            canvas[y:y + 56, x:x + 56] = glyph
        images.append(canvas)
    return {"images": make.nchw(images, scale=1.0)}


def magika(samples: int, rng: np.random.Generator, path: Path) -> Arrays:
    files = make.real_files(rng)
    return {"bytes": np.stack([make.magika_features(content) for _, content in files[:samples]])}


def basic_pitch(samples: int, rng: np.random.Generator, path: Path) -> Arrays:
    """Two-second windows (43844 samples at 22050 Hz) of piano-like melodies: [N, 43844, 1]."""
    return {"serving_default_input_2:0": np.stack([make.notes(43844 / 22050, 22050, rng)[:43844, None]
                                                    for _ in range(samples)])}


def layout(samples: int, rng: np.random.Generator, path: Path) -> Arrays:
    """Pages resized to 800x608, ImageNet-normalised (PP-PicoDet layout)."""
    pages = [make.document(800, 608, rng) for _ in range(samples)]
    return {"image": make.nchw(pages, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))}


def orientation(samples: int, rng: np.random.Generator, path: Path) -> Arrays:
    pages = [make.document(224, 224, rng, rotate=i % 4) for i in range(samples)]
    return {"x": make.nchw(pages, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))}


def orinet(samples: int, rng: np.random.Generator, path: Path) -> Arrays:
    pages = [make.document(320, 320, rng, rotate=i % 4) for i in range(samples)]
    return {"x": make.nchw(pages, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))}


IRIS = np.array([[5.1, 3.5], [4.9, 3.0], [7.0, 3.2], [6.4, 3.2], [6.3, 3.3], [5.8, 2.7],
                 [5.0, 3.6], [5.9, 3.0], [6.7, 3.1], [5.4, 3.9], [6.9, 3.1], [6.5, 3.0]], np.float32)
"""Sepal length and width (cm) of iris flowers from Fisher's data set."""


def iris(samples: int, rng: np.random.Generator, path: Path) -> Arrays:
    return {"float_input": IRIS[:samples]}


def captcha(samples: int, rng: np.random.Generator, path: Path) -> Arrays:
    """Captchas at 160x60, BGR 0-255 floats (captcha-whisperer's preprocessing)."""
    images = [make.captcha(60, 160, rng)[:, :, ::-1] for _ in range(samples)]
    return {"image": make.nchw(images, scale=1.0)}


def khmer(samples: int, rng: np.random.Generator, path: Path) -> Arrays:
    """Khmer sentences as character ids (khmersm's config.json), padded to 24, with the mask."""
    import json

    char2id = json.loads((path.parent / "config.json").read_text())["char2id"]
    texts = [make.KHMER[i % len(make.KHMER)] for i in range(samples)]
    ids = np.zeros((samples, 24), np.int64)
    for row, text in enumerate(texts):
        codes = [char2id.get(ch, 1) for ch in text][:24]
        ids[row, :len(codes)] = codes
    return {"x": ids, "mask": ids != 0}


def crepe(samples: int, rng: np.random.Generator, path: Path) -> Arrays:
    """1024-sample frames (16 kHz, 10 ms hop) of a melody, each normalised to zero mean and unit
    variance as torchcrepe's preprocessing does."""
    audio = make.notes(samples * 0.01 + 0.08, 16000, rng)
    frames = np.stack([audio[i * 160: i * 160 + 1024] for i in range(samples)])
    frames = frames - frames.mean(axis=1, keepdims=True)
    return {"frames": (frames / np.maximum(frames.std(axis=1, keepdims=True), 1e-10)).astype(np.float32)}


def resemblyzer(samples: int, rng: np.random.Generator, path: Path) -> Arrays:
    """Partial utterances: 160 frames of 40-channel power mel spectrogram (25 ms window, 10 ms
    step, 16 kHz), as Resemblyzer slices a speech recording."""
    mels = make.mel_frames(make.speech(1.7 * samples, 16000, rng))
    return {"mels": np.stack([mels[i * 160: i * 160 + 160] for i in range(samples)])}


def _mtcnn(images: list[np.ndarray]) -> np.ndarray:
    return make.nchw(images, mean=(127.5 / 255,) * 3, std=(128 / 255,) * 3)


def pnet(samples: int, rng: np.random.Generator, path: Path) -> Arrays:
    """One level of MTCNN's image pyramid: photos with faces at 96x128, (x - 127.5) / 128."""
    images = []
    for _ in range(samples):
        image = make.scene(96, 128, rng)
        image[20:68, 40:88] = make.face(48, 48, rng)
        images.append(image)
    return {"images": _mtcnn(images)}


def onet(samples: int, rng: np.random.Generator, path: Path) -> Arrays:
    return {"faces": _mtcnn([make.face(48, 48, rng) for _ in range(samples)])}
