"""The init container of an image-source import."""

from __future__ import annotations

from modelyard.api.modelversion import ImageSource
from modelyard.workloads.image_source import image_copy_container, image_source_volume, imported_path


def test_copy_container_is_exact_and_restricted():
    source = ImageSource(image="registry.example.com/vision/model:1.0", path="/models/resnet.onnx")
    container = image_copy_container(source)
    assert container["image"] == "registry.example.com/vision/model:1.0"
    assert container["command"] == ["cp", "-R", "--", "/models/resnet.onnx", "/modelyard/image/"]
    assert container["volumeMounts"] == [{"name": "model-image", "mountPath": "/modelyard/image"}]
    security = container["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert image_source_volume()["emptyDir"] == {"sizeLimit": "50Gi"}
    assert imported_path(source) == "/modelyard/image/resnet.onnx"


def test_folder_paths_keep_their_name():
    source = ImageSource(image="registry.example.com/m:2", path="/models/bert/")
    assert image_copy_container(source)["command"][3] == "/models/bert/"
    assert imported_path(source) == "/modelyard/image/bert"
