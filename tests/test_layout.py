"""The shape of the code is checked, not remembered: import contracts and lint run with the suite."""
import pathlib
import subprocess
import sys

from conftest import ROOT

BIN = pathlib.Path(sys.executable).parent


def run_tool(name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / name), *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def test_every_import_contract_in_pyproject_is_kept():
    result = run_tool("lint-imports", "--no-cache")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_ruff_finds_nothing():
    result = run_tool("ruff", "check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_the_readme_picture_names_every_package_and_module_of_the_domain():
    readme = (ROOT / "README.md").read_text()
    picture = readme.split("### The packages", 1)[1].split("### The path of one upload", 1)[0]
    missing = []
    for package in sorted((ROOT / "paydash").glob("*/__init__.py")):
        folder = package.parent
        if f"paydash/{folder.name}/" not in picture:
            missing.append(f"paydash/{folder.name}/")
        missing += [f"paydash/{folder.name}/{module.stem}" for module in sorted(folder.glob("*.py"))
                    if module.stem != "__init__" and folder.name != "web" and module.stem not in picture]
    assert not missing, f"README 'The packages' does not show: {missing}"
