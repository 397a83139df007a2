"""`modelyard local console` and `modelyard console`: the arguments, and what is said when there
is nothing to serve."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelyard.cli import build_parser, main


def test_local_console_without_state_says_what_to_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["local", "console", "--home", str(tmp_path / "nothing")]) == 1
    assert "no local state in" in capsys.readouterr().err and not (tmp_path / "nothing").exists()


def test_the_cluster_console_takes_namespaces_like_kubectl():
    args = build_parser().parse_args(["console", "-n", "ml", "--namespace=team-b", "--port", "0"])
    assert args.namespaces == ["ml", "team-b"] and args.port == 0 and args.address == "127.0.0.1"
    assert build_parser().parse_args(["console", "-A"]).all_namespaces is True


def test_the_cluster_console_without_any_cluster_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert main(["console", "-n", "ml"]) == 1
    assert "no cluster to read" in capsys.readouterr().err


def test_a_taken_port_is_an_error_message_not_a_trace(capsys: pytest.CaptureFixture[str]):
    import socket

    from modelyard.console.serve import serve

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert serve(object(), "127.0.0.1", port) == 1
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
