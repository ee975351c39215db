"""Builds the _ipfs_kit_arrow extension from python/src and the C library's sources, linking the
system libraries libipfskit needs: sqlite3, jansson, lz4, zstd (scripts/bootstrap installs
their -dev packages).

The library's sources (lib/ and include/) are compiled in, so `pip install ./python` works
from a clone without `make`. In a clone they are the repository's ../lib and ../include; the
sdist carries a copy of them in csrc/ (copied there by the sdist command below), so an sdist
builds on its own."""
import glob
import os
import shutil

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.sdist import sdist

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
VENDOR = os.path.join(HERE, "csrc")


def lib_root():
    """Where lib/ and include/ are: csrc/ in an sdist, else the repository."""
    for root in (VENDOR, ROOT):
        if glob.glob(os.path.join(root, "lib", "*", "*.c")):
            return root
    raise SystemExit(f"ipfs-kit-arrow: the C library sources are missing (neither {VENDOR}/lib "
                     f"nor {ROOT}/lib); install from a clone of the whole repository "
                     "(pip install ./python) or from the sdist")


class BuildExt(build_ext):
    """Finds the library's sources at build time and compiles the ~50 C files on every core
    (setuptools' own --parallel)."""

    def finalize_options(self):
        super().finalize_options()
        if not self.parallel:
            self.parallel = os.cpu_count() or 1

    def build_extensions(self):
        root = lib_root()
        own = sorted(glob.glob(os.path.join(HERE, "src", "*.c")))
        # lib/flight (gRPC) is the daemon's, not the binding's
        lib = sorted(p for p in glob.glob(os.path.join(root, "lib", "*", "*.c"))
                     if os.path.basename(os.path.dirname(p)) != "flight")
        for ext in self.extensions:
            # relative to setup.py, as setuptools wants; objects of ../lib land in build/lib/…
            ext.sources = [os.path.relpath(p, HERE) for p in own + lib]
            ext.include_dirs = [os.path.join(root, "include"), os.path.join(root, "lib"),
                                os.path.join(HERE, "src")]
        super().build_extensions()


class SDist(sdist):
    """Copies the library's sources (lib/, include/: *.c, *.h) into csrc/ for the archive
    (MANIFEST.in grafts it), and removes the copy afterwards."""

    def run(self):
        made = False
        if not os.path.isdir(VENDOR):
            made = True
            for part in ("lib", "include"):
                for p in glob.glob(os.path.join(ROOT, part, "**", "*.[ch]"), recursive=True):
                    dst = os.path.join(VENDOR, os.path.relpath(p, ROOT))
                    os.makedirs(os.path.dirname(dst), exist_ok=True)
                    shutil.copy2(p, dst)
        try:
            super().run()
        finally:
            if made:
                shutil.rmtree(VENDOR, ignore_errors=True)


ext = Extension(
    "ipfs_kit_arrow._ipfs_kit_arrow",
    sources=sorted(os.path.relpath(p, HERE) for p in glob.glob(os.path.join(HERE, "src", "*.c"))),
    define_macros=[("_GNU_SOURCE", None)],
    extra_compile_args=["-std=c11", "-O2", "-fvisibility=hidden"],
    libraries=["sqlite3", "jansson", "lz4", "zstd", "m", "pthread"],
)

setup(ext_modules=[ext], cmdclass={"build_ext": BuildExt, "sdist": SDist})
