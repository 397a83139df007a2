"""Which version and variant a ModelDeployment serves."""

from __future__ import annotations

from modelyard.api.validation import parse_object
from modelyard.core.variants import Choice, NoChoice, choose
from tests.support import builders
from tests.support.builders import served_version


def dep(**spec):
    return parse_object(builders.model_deployment(**spec))


def versions(*bodies):
    return [parse_object(b) for b in bodies]


def conversion(output: str, speedup: float, target: str = "openvino"):
    body = builders.conversion_job(f"cvj-{output}", target={"format": target, "hardware": "cpu"})
    body["status"] = {"phase": "Succeeded", "outputVersion": output, "benchmark": {"speedupBatch1": speedup}}
    return parse_object(body)


FAMILY = versions(
    served_version("classifier-1-0-0"),
    served_version("classifier-int8", format="onnx-int8", parent="classifier-1-0-0", hardware="arm"),
    served_version("classifier-ov", format="openvino", parent="classifier-1-0-0", hardware="cpu"),
    served_version("classifier-fp16", format="onnx-fp16", parent="classifier-1-0-0", hardware="gpu"),
)


def test_each_hardware_gets_its_variant_and_the_reason_says_why():
    for hardware, expected in (("arm", "classifier-int8"), ("cpu", "classifier-ov"), ("gpu", "classifier-fp16")):
        found = choose(dep(hardware=hardware), FAMILY, [])
        assert isinstance(found, Choice), found
        assert found.variant.name == expected
        assert found.version.name == "classifier-1-0-0"
        assert hardware in found.reason and "gates passed" in found.reason


def test_measured_speed_up_beats_the_preference_order():
    found = choose(dep(hardware="cpu"), FAMILY, [conversion("classifier-ov", 0.7)])
    # openvino measured slower than its source: the source onnx (1.0) wins
    assert found.variant.name == "classifier-1-0-0"
    found = choose(dep(hardware="cpu"), FAMILY, [conversion("classifier-ov", 2.5)])
    assert found.variant.name == "classifier-ov" and "2.50x faster" in found.reason
    assert found.format == "openvino"


def test_a_converted_versions_served_format_is_its_conversions_target():
    int8 = choose(dep(hardware="arm"), FAMILY, [conversion("classifier-int8", 1.5, "onnx-int8")])
    assert int8.variant.spec.format == "onnx" and int8.format == "onnx-int8"


def test_format_override_and_a_pinned_converted_version_are_served_as_asked():
    assert choose(dep(hardware="cpu", format="onnx"), FAMILY, []).variant.name == "classifier-1-0-0"
    found = choose(dep(hardware="arm", versionRef={"name": "classifier-int8"}), FAMILY, [])
    assert found.variant.name == "classifier-int8"


def test_a_variant_without_passing_gates_is_not_served_and_the_message_says_which():
    family = versions(served_version("classifier-1-0-0", gates=None),
                      served_version("classifier-int8", format="onnx-int8", parent="classifier-1-0-0", hardware="arm",
                                     gates=False))
    found = choose(dep(hardware="arm"), family, [])
    assert isinstance(found, NoChoice) and found.reason == "NotGated" and not found.final
    assert "classifier-int8: gates failed" in found.message and "classifier-1-0-0: not evaluated" in found.message


def test_no_variant_for_the_hardware_names_what_exists_and_what_to_do():
    family = versions(served_version("classifier-1-0-0", format="pytorch-exportedprogram"))
    found = choose(dep(hardware="gpu"), family, [])
    assert isinstance(found, NoChoice) and found.reason == "NoVariantForHardware"
    assert "ConversionJob" in found.message and "pytorch-exportedprogram" in found.message


def test_pinned_version_missing_pending_failed_or_of_another_model():
    assert choose(dep(), [], []).reason == "VersionNotFound"
    pending = versions(served_version("classifier-1-0-0", phase="Importing"))
    assert choose(dep(), pending, []).reason == "WaitingForVersion"
    failed = versions(served_version("classifier-1-0-0", phase="Failed"))
    assert choose(dep(), failed, []).final
    other = builders.with_spec(served_version("classifier-1-0-0"), modelRef={"name": "other"})
    assert choose(dep(), versions(other), []).reason == "VersionOfAnotherModel"


def test_ascend_has_no_builtin_server_and_says_so():
    found = choose(dep(hardware="ascend"), FAMILY, [])
    assert found.final and "MindIE" in found.message


def test_latest_passing_follows_the_newest_version_that_passed():
    family = [*FAMILY, *versions(
        served_version("classifier-2-0-0", version="2.0.0", gates=False),
        served_version("classifier-1-1-0", version="1.1.0"),
    )]
    found = choose(dep(versionRef=None, track="LatestPassing", hardware="cpu", format="onnx"), family, [])
    assert found.version.name == "classifier-1-1-0"
    none = choose(dep(versionRef=None, track="LatestPassing"), versions(served_version("classifier-1-0-0", gates=None)), [])
    assert none.reason == "NoPassingVersion" and not none.final
