"""The layering rule of docs/architecture.md: no lib/ folder includes a folder above it
(scripts/check_layers.py, also run by `make lint`)."""
import os
import shutil
import subprocess
import sys

from conftest import ROOT

SCRIPT = os.path.join(ROOT, "scripts", "check_layers.py")


def check(root):
    return subprocess.run([sys.executable, SCRIPT, root], capture_output=True, text=True,
                          timeout=60)


def test_tree_includes_only_lower_layers():
    r = check(ROOT)
    assert r.returncode == 0, r.stdout


def copy_tree(tmp_path):
    for d in ("lib", "include"):
        shutil.copytree(os.path.join(ROOT, d), tmp_path / d)
    return tmp_path


def test_check_names_an_include_from_above(tmp_path):
    root = copy_tree(tmp_path)
    path = root / "lib" / "arrow" / "buffer.c"
    path.write_text('#include "ipfskit/schemas.h"\n' + path.read_text())
    r = check(str(root))
    assert r.returncode == 1
    assert "lib/arrow/buffer.c:1" in r.stdout and "lib/table" in r.stdout


def test_check_refuses_a_sibling_on_the_same_floor(tmp_path):
    root = copy_tree(tmp_path)
    path = root / "lib" / "store" / "pin.c"
    path.write_text('#include "ipfskit/snapshot.h"\n' + path.read_text())
    r = check(str(root))
    assert r.returncode == 1 and "lib/store/pin.c:1" in r.stdout


def test_check_refuses_an_unplaced_header(tmp_path):
    root = copy_tree(tmp_path)
    (root / "include" / "ipfskit" / "new_thing.h").write_text("/* x */\n")
    r = check(str(root))
    assert r.returncode == 1 and "new_thing.h" in r.stdout
