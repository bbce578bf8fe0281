"""The command line: extract, info, and one-line errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from contaffect.cli import main

from conftest import make_folder_corpus


def test_help_lists_the_commands(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "extract" in out and "info" in out


def test_console_script_is_installed():
    exe = shutil.which("contaffect")
    cmd = [exe, "--version"] if exe else [sys.executable, "-m", "contaffect.cli", "--version"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    assert out.startswith("contaffect ")


def test_extract_and_info(tmp_path, capsys):
    root = make_folder_corpus(tmp_path / "mini")
    store = tmp_path / "store"
    assert main(["-q", "extract", str(root), "--store", str(store), "--workers", "2",
                 "--features", "compare2016_lld", "gemaps_v01b_func"]) == 0
    out = capsys.readouterr().out
    assert "mini / compare2016_lld: 4 extracted" in out
    assert "mini / gemaps_v01b_func: 4 extracted" in out
    assert main(["-q", "extract", str(root), "--store", str(store)]) == 0
    assert "0 extracted, 4 read from the store" in capsys.readouterr().out
    assert main(["info", str(store)]) == 0
    out = capsys.readouterr().out
    assert "compare2016_lld" in out and "gemaps_v01b_func" in out and "130" in out
    assert main(["info", str(store), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["feature_set"]: r["features"] for r in rows} == {
        "compare2016_lld": 130, "gemaps_v01b_func": 62}


def test_errors_are_one_line_with_exit_2(tmp_path, capsys):
    assert main(["extract", str(tmp_path / "none"), "--store", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("contaffect: error: corpus folder")
    assert main(["info", str(tmp_path)]) == 2
    assert "not a contaffect feature store" in capsys.readouterr().err


def test_bad_file_stops_or_is_skipped(tmp_path, capsys):
    root = make_folder_corpus(tmp_path / "mini")
    (root / "audio" / "s1_u0.wav").write_bytes(b"")
    store = tmp_path / "store"
    assert main(["-q", "extract", str(root), "--store", str(store)]) == 2
    err = capsys.readouterr().err
    assert "s1_u0.wav: audio file is empty" in err and "--skip-bad" in err
    assert not store.exists() or not list(store.rglob("*.h5"))
    assert main(["-q", "extract", str(root), "--store", str(store), "--skip-bad"]) == 1
    out = capsys.readouterr().out
    assert "3 extracted" in out and "skipped s1_u0" in out
