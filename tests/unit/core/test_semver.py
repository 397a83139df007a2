"""Semantic version precedence."""

from modelyard.core.semver import SemVer


def test_precedence_follows_semver_org():
    ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
               "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.2.0", "1.10.0", "2.0.0"]
    assert sorted(ordered[::-1], key=SemVer) == ordered


def test_build_metadata_is_ignored():
    assert SemVer("1.0.0+onnx-fp16.gpu") == SemVer("1.0.0")
