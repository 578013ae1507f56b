"""The real SCIM servers that are not Python packages of the portal, installed on first use (as
scripts/run_tests.py installs Chromium) into var/targets/, outside the portal's own environment:

* django-scim2 needs Django < 6.1, so it gets a virtualenv of its own (var/targets/django-scim2);
* SCIMMY is an npm library: its packages and Express go to var/targets/scimmy/node_modules (node from the machine).

A stamp file holds the pins installed, so a later run costs nothing and a changed pin installs again."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TARGETS = ROOT / "var" / "targets"
DJANGO_SCIM2 = ["django-scim2==0.23.0", "Django==6.0.10"]
SCIMMY = {"scimmy": "1.3.5", "scimmy-routers": "1.3.2", "express": "5.3.0"}


def _installed(folder, pins):
    stamp = folder / "installed.json"
    return stamp.exists() and stamp.read_text() == json.dumps(pins)


def _stamp(folder, pins):
    (folder / "installed.json").write_text(json.dumps(pins))


def ensure_django_scim2():
    """The Python of a virtualenv holding django-scim2."""
    folder = TARGETS / "django-scim2"
    python = folder / "bin" / "python"
    if not _installed(folder, DJANGO_SCIM2):
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(folder)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *DJANGO_SCIM2], check=True)
        _stamp(folder, DJANGO_SCIM2)
    return python


def ensure_scimmy():
    """The folder whose node_modules hold scimmy, scimmy-routers and express."""
    folder = TARGETS / "scimmy"
    if not _installed(folder, SCIMMY):
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("npm is missing: install Node.js (node and npm) to run the SCIMMY target tests.")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "package.json").write_text(json.dumps({"name": "scimmy-target", "private": True, "type": "module"}))
        subprocess.run([npm, "install", "--no-audit", "--no-fund", "--silent", *(f"{n}@{v}" for n, v in SCIMMY.items())],
                       cwd=folder, check=True)
        _stamp(folder, SCIMMY)
    return folder
