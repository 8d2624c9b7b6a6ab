#!/usr/bin/env python3
"""Re-create static/vendor/ from pinned npm packages (and one file of the folium wheel).

Government intranets cannot reach a CDN, so every script, stylesheet, font and
image a map page loads is committed under static/vendor/<package>@<version>/,
with the package's own relative layout kept so the CSS ``url(...)``s resolve.
This script is the only way those files change: to update a package, edit its
version in PACKAGES below, run

    .venv/bin/python tools/vendor-assets.py

and commit static/vendor/ (manifest.json lists every file with its package,
version, licence and sha256). Nothing here runs at app start or in CI; it needs
`npm` and the npm registry, and `pip` with PyPI for the folium wheel.

The Python side (webgis/maps/offline.py) names the same paths; the browser tests
fail when a page asks for a file that is missing here.

Only the standard library is used, so any Python 3.11 runs it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "static" / "vendor"

# Folium's version whose patched Leaflet.heat we take (see FOLIUM_FILES).
FOLIUM_VERSION = "0.20.0"


@dataclass(frozen=True)
class Package:
    """One npm package and the files of its tarball we keep.

    ``files`` are paths inside the tarball's ``package/`` folder; a trailing
    ``/`` keeps a whole folder (images, fonts). ``license`` is written to the
    manifest when package.json has no ``license`` field.
    """

    name: str
    version: str
    files: tuple[str, ...]
    license: str | None = None
    note: str = ""
    # Some packages bundle other packages into their dist file; their licences
    # travel with the file, so the manifest says so.
    bundles: tuple[str, ...] = field(default=())


PACKAGES: tuple[Package, ...] = (
    # Leaflet 1.x: folium's templates use the global `L`, which Leaflet 2 drops.
    Package(
        "leaflet",
        "1.9.4",
        ("LICENSE", "dist/leaflet.js", "dist/leaflet.css", "dist/images/"),
    ),
    Package("jquery", "3.7.1", ("LICENSE.txt", "dist/jquery.min.js")),
    # folium 0.20's pins; the bundle carries Popper.
    Package(
        "bootstrap",
        "5.2.2",
        ("LICENSE", "dist/css/bootstrap.min.css", "dist/js/bootstrap.bundle.min.js"),
        bundles=("@popperjs/core@2 (MIT)",),
    ),
    # folium's Icon names are Font Awesome 6.2 names.
    Package(
        "@fortawesome/fontawesome-free",
        "6.2.0",
        ("LICENSE.txt", "css/all.min.css", "webfonts/"),
    ),
    # The npm copy of the cdnjs Leaflet.awesome-markers 2.0.2 folium loads.
    Package(
        "drmonty-leaflet-awesome-markers",
        "2.0.2",
        ("js/leaflet.awesome-markers.min.js", "css/leaflet.awesome-markers.css", "css/images/"),
        license="MIT",
        note="package.json has only the old `licenses` array (MIT); no LICENSE file in the tarball",
    ),
    # folium.Icon's default prefix is `glyphicon`; Bootstrap 5 dropped the
    # glyphicons, and folium's netdna URL (Bootstrap 3.0.0 RC) has no npm copy.
    # This package is Bootstrap 3.3.7's glyphicon rules and fonts only.
    Package(
        "glyphicons-only-bootstrap",
        "1.0.1",
        ("css/bootstrap.min.css", "fonts/"),
        note="Bootstrap 3.3.7 glyphicons (MIT); replaces folium's bootstrap-glyphicons.css",
    ),
    Package(
        "leaflet-draw",
        "1.0.4",
        (
            "dist/leaflet.draw.js",
            "dist/leaflet.draw.css",
            "dist/images/spritesheet.png",
            "dist/images/spritesheet-2x.png",
            "dist/images/spritesheet.svg",
        ),
        note="no LICENSE file in the tarball; MIT per package.json",
    ),
    Package(
        "leaflet.markercluster",
        "1.5.3",
        (
            "MIT-LICENCE.txt",
            "dist/leaflet.markercluster.js",
            "dist/MarkerCluster.css",
            "dist/MarkerCluster.Default.css",
        ),
    ),
    # Kept for its LICENSE only: folium's HeatMap needs folium's patched copy
    # of this package's dist file (FOLIUM_FILES below).
    Package("leaflet.heat", "0.2.0", ("LICENSE",), license="BSD-2-Clause"),
    # MVT overlays. Leaflet.VectorGrid 1.3.0 (its last release, 2019) calls
    # L.DomEvent.fakeStop, gone since Leaflet 1.8, so interactive layers throw
    # on click; this one is written against Leaflet's public API and its UMD
    # build bundles pbf and @mapbox/vector-tile.
    Package(
        "leaflet-vector-tile-layer",
        "0.15.0",
        ("LICENCE", "dist/VectorTileLayer.umd.min.js"),
        bundles=("pbf (BSD-3-Clause)", "@mapbox/vector-tile (BSD-3-Clause)"),
    ),
    # folium.plugins.Realtime: on-demand JSON layers (incidents by bbox).
    Package(
        "leaflet-realtime",
        "2.2.0",
        ("LICENSE.md", "dist/leaflet-realtime.min.js"),
    ),
)

# Files taken from the folium wheel on PyPI: (path in wheel, vendored path,
# license, note).
FOLIUM_FILES = (
    (
        "folium/templates/leaflet_heat.min.js",
        f"leaflet.heat@0.2.0-folium-{FOLIUM_VERSION}/leaflet_heat.min.js",
        "BSD-2-Clause",
        "Leaflet.heat 0.2.0 with the weights fix of Leaflet.heat PR #78, as folium's HeatMap "
        "loads it; the npm 0.2.0 build lacks the fix and the `pane` option",
    ),
)


def rotate_css() -> str:
    """The rules of folium's leaflet.awesome.rotate.css (not shipped in its wheel).

    ``folium.Icon(angle=n)`` adds the class ``fa-rotate-<n>``; folium's own file
    lives only in its git repository, so the same rules are generated here.
    """
    rules = (f".fa-rotate-{d}{{transform:rotate({d}deg)}}" for d in range(360))
    return "/* generated by tools/vendor-assets.py: folium Icon(angle=n) */\n" + "\n".join(rules)


def run(cmd: list[str], cwd: Path) -> str:
    return subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True).stdout


def npm_pack(pkg: Package, tmp: Path) -> tuple[Path, dict]:
    """Download ``pkg``'s tarball; return it and npm's metadata (integrity)."""
    out = run(["npm", "pack", "--json", "--pack-destination", str(tmp), spec(pkg)], tmp)
    meta = json.loads(out)[0]
    return tmp / meta["filename"], meta


def spec(pkg: Package) -> str:
    return f"{pkg.name}@{pkg.version}"


def extract(tarball: Path, pkg: Package, dest: Path) -> tuple[list[Path], dict]:
    """Copy the listed files of ``tarball`` into ``dest``; return them and package.json."""
    written: list[Path] = []
    with tarfile.open(tarball) as tar:
        members = {m.name.removeprefix("package/"): m for m in tar.getmembers() if m.isfile()}
        package_json = json.load(tar.extractfile(members["package.json"]))
        for wanted in pkg.files:
            names = (
                sorted(n for n in members if n.startswith(wanted))
                if wanted.endswith("/")
                else [wanted]
            )
            if not names or names[0] not in members:
                sys.exit(f"{spec(pkg)}: {wanted} not in the tarball")
            for name in names:
                target = dest / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(tar.extractfile(members[name]).read())
                written.append(target)
    return written, package_json


def folium_wheel(tmp: Path) -> Path:
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "--dest",
            str(tmp),
            f"folium=={FOLIUM_VERSION}",
        ],
        tmp,
    )
    return next(tmp.glob(f"folium-{FOLIUM_VERSION}-*.whl"))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build(out: Path, tmp: Path) -> dict:
    """Write every vendored file under ``out``; return the manifest."""
    files: dict[str, dict] = {}
    packages: dict[str, dict] = {}

    def record(path: Path, **info: str) -> None:
        files[path.relative_to(out).as_posix()] = {**info, "sha256": sha256(path)}

    for pkg in PACKAGES:
        tarball, meta = npm_pack(pkg, tmp)
        dest = out / spec(pkg)
        written, package_json = extract(tarball, pkg, dest)
        license_ = package_json.get("license") or pkg.license
        if not license_:
            sys.exit(f"{spec(pkg)}: no licence known; set Package.license")
        packages[spec(pkg)] = {
            "source": "npm",
            "license": license_,
            "integrity": meta["integrity"],
            **({"bundles": list(pkg.bundles)} if pkg.bundles else {}),
            **({"note": pkg.note} if pkg.note else {}),
        }
        for path in written:
            record(path, package=pkg.name, version=pkg.version, license=license_)

    wheel = folium_wheel(tmp)
    with zipfile.ZipFile(wheel) as zf:
        for inner, rel, license_, note in FOLIUM_FILES:
            target = out / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(zf.read(inner))
            packages[rel.split("/")[0]] = {
                "source": f"PyPI folium=={FOLIUM_VERSION}, {inner}",
                "license": license_,
                "note": note,
            }
            record(target, package="folium", version=FOLIUM_VERSION, license=license_)
        # The patched file's licence is Leaflet.heat's; ship it beside the file.
        shutil.copy(out / "leaflet.heat@0.2.0" / "LICENSE", target.parent / "LICENSE")
        record(
            target.parent / "LICENSE",
            package="leaflet.heat",
            version="0.2.0",
            license="BSD-2-Clause",
        )

    rotate = out / f"folium@{FOLIUM_VERSION}" / "leaflet.awesome.rotate.css"
    rotate.parent.mkdir(parents=True)
    rotate.write_text(rotate_css() + "\n", encoding="utf-8")
    packages[f"folium@{FOLIUM_VERSION}"] = {
        "source": "generated by tools/vendor-assets.py",
        "license": "MIT",
        "note": "same rules as folium's leaflet.awesome.rotate.css (not in its wheel)",
    }
    record(rotate, package="folium", version=FOLIUM_VERSION, license="MIT")

    return {
        "comment": "Generated by tools/vendor-assets.py; do not edit. Paths are relative "
        "to static/vendor/.",
        "packages": dict(sorted(packages.items())),
        "files": dict(sorted(files.items())),
    }


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="wangge-vendor-") as tmpdir:
        tmp = Path(tmpdir)
        out = tmp / "vendor"
        out.mkdir()
        manifest = build(out, tmp)
        (out / "manifest.json").write_text(
            json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        # Replace the old tree only once the new one is complete.
        if VENDOR.exists():
            shutil.rmtree(VENDOR)
        shutil.copytree(out, VENDOR)
    total = sum(p.stat().st_size for p in VENDOR.rglob("*") if p.is_file())
    print(f"static/vendor: {len(manifest['files'])} files, {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
