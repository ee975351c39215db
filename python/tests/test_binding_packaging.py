"""Packaging: the stubs and annotations type-check (mypy, pinned) and match the running module
(stubtest against the text signatures); the sdist carries the C library's sources, so a wheel
builds from it alone; that wheel, pip-installed into a fresh venv, runs the README example."""
import glob
import os
import subprocess
import sys
import sysconfig
import tarfile
import textwrap

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.dirname(HERE)  # python/


def run(args, **kw):
    r = subprocess.run(args, capture_output=True, text=True, timeout=kw.pop("timeout", 600), **kw)
    assert r.returncode == 0, (args, r.stdout[-3000:], r.stderr[-3000:])
    return r


def mypy(tmp_path, *args):
    return run([sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "mypy"),
                "--config-file", os.path.join(PKG, "pyproject.toml"), *args], cwd=PKG)


def test_package_type_checks(tmp_path):
    mypy(tmp_path, "ipfs_kit_arrow")
    # user code, strictly, against the stubs (errors inside the package are the line above's)
    mypy(tmp_path, "--strict", "--follow-imports=silent", "tests/typing_usage.py")


def test_stubs_match_the_running_module(tmp_path):
    run([sys.executable, "-m", "mypy.stubtest", "--mypy-config-file",
         os.path.join(PKG, "pyproject.toml"), "ipfs_kit_arrow._ipfs_kit_arrow"],
        cwd=str(tmp_path))


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    had_egg = os.path.exists(os.path.join(PKG, "ipfs_kit_arrow.egg-info"))
    try:
        run([sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir", str(out),
             PKG])
    finally:
        if not had_egg:
            subprocess.run(["rm", "-rf", os.path.join(PKG, "ipfs_kit_arrow.egg-info")])
    assert not os.path.exists(os.path.join(PKG, "csrc")), "the sdist's copy is removed"
    (sdist,) = glob.glob(str(out / "*.tar.gz"))
    return out, sdist


def test_sdist_is_self_contained(dist, tmp_path):
    out, sdist = dist
    with tarfile.open(sdist) as t:
        names = t.getnames()
        t.extractall(tmp_path, filter="data")
    top = names[0].split("/")[0]
    for want in ["csrc/lib/client/client.c", "csrc/include/ipfskit/client.h", "src/ikpy.h",
                 "src/client.c", "ipfs_kit_arrow/_ipfs_kit_arrow.pyi", "ipfs_kit_arrow/py.typed",
                 "setup.py", "pyproject.toml"]:
        assert f"{top}/{want}" in names, want
    assert not any(".." in n.split("/") for n in names)
    # a wheel from the unpacked sdist alone: nothing above it holds a lib/
    src = tmp_path / top
    assert not (tmp_path / "lib").exists()
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(out), str(src)], timeout=1800)
    (whl,) = glob.glob(str(out / "*.whl"))
    assert "cp%d%d" % sys.version_info[:2] in os.path.basename(whl)


def test_wheel_in_a_fresh_venv_runs_the_readme_example(dist, tmp_path, pin_daemon):
    out, _ = dist
    wheels = glob.glob(str(out / "*.whl"))
    if not wheels:
        pytest.fail("test_sdist_is_self_contained builds the wheel first")
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    py = str(venv / "bin" / "python")
    run([sys.executable, "-m", "pip", "--python", py, "install", "-q", "--no-deps", "--no-index",
         wheels[0]])
    # pyarrow and duckdb from the test venv, *after* the fresh venv's own site-packages
    site = run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    with open(os.path.join(site.stdout.strip(), "zz_test_deps.pth"), "w") as f:
        f.write(sysconfig.get_paths()["purelib"] + "\n")
    example = textwrap.dedent("""
        import ipfs_kit_arrow as ika, pyarrow as pa, duckdb
        with ika.connect() as c:                       # $IPFS_KIT_PATH or ~/.ipfs_kit
            r = c.pins(filters={"backend": "s3", "size_bytes": {"gt": 1000}})
            pa.table(r); duckdb.sql("select pin_type, count(*) from r group by 1")
            r.method, r.source                         # ('zero_copy', 'arrow_ipc_daemon')
        print(ika.__file__, r.method, r.source, r.rows > 0,
              duckdb.sql("select count(*) from r").fetchall()[0][0] == r.rows)
    """)
    got = run([py, "-c", example], env=dict(os.environ, IPFS_KIT_PATH=pin_daemon.path,
                                            PYTHONPATH=""), cwd=str(tmp_path))
    file, method, source, some, same = got.stdout.split()
    assert file.startswith(str(venv)), file
    assert (method, source, some, same) == ("zero_copy", "arrow_ipc_daemon", "True", "True")
