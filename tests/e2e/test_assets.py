"""The class screen's script is a file of its own (Sources/HRHub/Web/class.js), bundled by SwiftPM beside the
binary: the hub serves it as the repository has it, finds it through a symlink to the binary, and refuses to
start, saying where it looked, when the binary was copied without it."""

from __future__ import annotations

import shutil
import subprocess
import urllib.request

from conftest import REPO_ROOT, _hub_binary

SCRIPT = REPO_ROOT / "Sources/HRHub/Web/class.js"


def test_the_class_screen_loads_its_script_by_url(hub):
    http = hub.replace("ws://", "http://", 1)
    page = urllib.request.urlopen(f"{http}/classes/demo", timeout=5).read().decode()
    assert '<script src="/assets/class.js"></script>' in page
    with urllib.request.urlopen(f"{http}/assets/class.js", timeout=5) as response:
        assert response.headers["Content-Type"] == "text/javascript; charset=utf-8"
        assert response.read() == SCRIPT.read_bytes()


def test_a_symlinked_binary_finds_the_bundle(tmp_path):
    link = tmp_path / "hrhub"
    link.symlink_to(_hub_binary().resolve())
    hub = subprocess.Popen([str(link), "--port", "0", "--log-level", "warning"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    try:
        assert hub.stdout.readline().startswith("hrhub listening on ws://")
    finally:
        hub.terminate()
        assert hub.wait(timeout=5) == 0


def test_a_binary_without_its_bundle_refuses_to_start(tmp_path):
    alone = tmp_path / "hrhub"
    shutil.copy(_hub_binary(), alone)
    result = subprocess.run([str(alone), "--port", "0"], capture_output=True, text=True, timeout=10)
    assert result.returncode == 2
    assert "hrhub listening" not in result.stdout
    assert f"cannot read {tmp_path}/HRHub_HRHub.resources/class.js" in result.stderr, result.stderr
