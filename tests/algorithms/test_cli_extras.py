"""A command that needs the mujoco extra says so in one line when torch is missing."""

import pytest

from algorithms.cli.main import main


@pytest.mark.parametrize("missing", ["torch", "gymnasium"])
def test_missing_extra_is_one_line_exit_2(monkeypatch, capsys, missing):
    import algorithms.backends.distributed.node as node

    def absent():
        raise ModuleNotFoundError(f"No module named '{missing}'", name=missing)

    monkeypatch.setattr(node, "quiet_torch_logs", absent)
    assert main(["launch", "--dry-run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and missing in err[0] and "pip install -e '.[mujoco]'" in err[0]


def test_other_missing_modules_are_not_hidden(monkeypatch, capsys):
    import algorithms.backends.distributed.node as node

    def absent():
        raise ModuleNotFoundError("No module named 'nonesuch'", name="nonesuch")

    monkeypatch.setattr(node, "quiet_torch_logs", absent)
    assert main(["launch", "--dry-run"]) == 1
    assert "internal error" in capsys.readouterr().err
