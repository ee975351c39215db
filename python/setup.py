"""Builds the _ipfs_kit_arrow extension from python/src and the C library sources in ../lib
(compiled in, so `pip install ./python` works from a fresh clone without `make`), linking the
system libraries libipfskit needs: sqlite3, jansson, lz4, zstd (scripts/bootstrap installs
their -dev packages)."""
import glob
import os

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def sources():
    own = sorted(glob.glob(os.path.join(HERE, "src", "*.c")))
    lib = sorted(glob.glob(os.path.join(ROOT, "lib", "*", "*.c")))
    if not lib:
        raise SystemExit(f"ipfs-kit-arrow: the C library sources are missing ({ROOT}/lib); "
                         "install from a clone of the whole repository: pip install ./python")
    # setuptools wants paths relative to setup.py; objects of ../lib land in build/lib/… (not
    # the build/lib.<platform> wheel directory)
    return [os.path.relpath(p, HERE) for p in own + lib]


class ParallelBuildExt(build_ext):
    """Compiles the ~50 C files on every core (setuptools' own --parallel, on by default)."""

    def finalize_options(self):
        super().finalize_options()
        if not self.parallel:
            self.parallel = os.cpu_count() or 1


ext = Extension(
    "ipfs_kit_arrow._ipfs_kit_arrow",
    sources=sources(),
    include_dirs=[os.path.join(ROOT, "include"), os.path.join(ROOT, "lib"),
                  os.path.join(HERE, "src")],
    define_macros=[("_GNU_SOURCE", None)],
    extra_compile_args=["-std=c11", "-O2", "-fvisibility=hidden"],
    libraries=["sqlite3", "jansson", "lz4", "zstd", "curl", "m", "pthread"],
)

setup(ext_modules=[ext], cmdclass={"build_ext": ParallelBuildExt})
