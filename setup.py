"""Which packages the wheel carries, and the check that its front-end assets were built.

Everything else (metadata, dependencies, package data, entry points) is in setup.cfg. These
two need code: ``find:`` does not follow ``package_dir``, and the built-in collectors live in
``plugins/`` but install as ``netstats_plugins``, so each tree is searched on its own here.
"""

import shutil
import warnings
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py
from setuptools.errors import FileError

PLUGINS = "netstats_plugins"
VENDOR = Path(__file__).parent / "netstats" / "static" / "vendor"
# Written by scripts/vendor-assets.mjs once it has copied every file: one path a line.
ASSETS_STAMP = VENDOR / ".built"
MAKE_ASSETS = "run `make assets` (npm ci && npm run build) before building a wheel"

# The plugins/ mapping makes an editable install use an import finder, and setuptools says so
# on every `make install` ("be careful with folders ... with the same name as your package"):
# for netstats those folders are the very sources the finder maps. Nothing to act on.
warnings.filterwarnings("ignore", r"(?s)Editable installation\..*folders in your working dir")


def packages() -> list[str]:
    """Every package under netstats/, and every package under plugins/ as netstats_plugins."""
    return [
        *find_packages(include=["netstats", "netstats.*"]),
        PLUGINS,
        *(f"{PLUGINS}.{name}" for name in find_packages("plugins")),
    ]


class CleanBuildPy(build_py):
    """Build a wheel from the tree as it is, with its front-end assets, or refuse to.

    ``pip wheel .`` builds in build/lib and packs all of it, so a module deleted or moved
    since the last build would still ship: start from an empty build/lib. And a wheel
    without Bootstrap and Chart.js would serve pages without CSS: stop instead. Editable
    installs are exempt from both; they serve the tree, whose assets are built after install.
    """

    def run(self) -> None:
        if not self.editable_mode:
            check_assets()
            shutil.rmtree(self.build_lib, ignore_errors=True)
        super().run()


def check_assets() -> None:
    """Fail unless vendor-assets.mjs ran to the end and every file it copied is still there."""
    if not ASSETS_STAMP.exists():
        raise FileError(
            f"the front-end assets are not built ({ASSETS_STAMP} is missing): {MAKE_ASSETS}"
        )
    missing = [name for name in ASSETS_STAMP.read_text().split() if not (VENDOR / name).exists()]
    if missing:
        raise FileError(
            f"front-end assets missing from {VENDOR}: {', '.join(missing)}: {MAKE_ASSETS}"
        )


setup(
    packages=packages(),
    package_dir={"": ".", PLUGINS: "plugins"},
    cmdclass={"build_py": CleanBuildPy},
)
