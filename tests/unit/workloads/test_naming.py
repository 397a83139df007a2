"""Child names fit Kubernetes' limits and stay deterministic."""

from modelyard.workloads.naming import job_name, label_value


def test_short_names_are_kept():
    assert job_name("import", "resnet-1-0-0") == "import-resnet-1-0-0"


def test_long_names_are_truncated_with_a_hash_and_stay_unique():
    a = job_name("convert", "a" * 100 + "-one")
    b = job_name("convert", "a" * 100 + "-two")
    assert len(a) <= 63 and len(b) <= 63
    assert a != b
    assert a == job_name("convert", "a" * 100 + "-one")
    assert a[-1].isalnum()


def test_dots_become_dashes_and_labels_fit():
    assert job_name("import", "resnet.v1") == "import-resnet-v1"
    assert len(label_value("x" * 253)) == 63
