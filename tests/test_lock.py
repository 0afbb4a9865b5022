"""requirements.lock pins what pyproject.toml asks for: a clean install next month gets the versions
the tests last passed with."""

from pathlib import Path

import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line and not line.startswith((" ", "#")):
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version.strip()
    return pins


def test_every_requirement_of_pyproject_is_pinned_in_the_lock_at_a_version_it_allows():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = _pins()
    extras = {name: needs for name, needs in project["optional-dependencies"].items() if name != "all"}
    wanted = [Requirement(r) for r in project["dependencies"] + sum(extras.values(), [])]
    disagree = []
    for requirement in wanted:
        name = canonicalize_name(requirement.name)
        if name == "llama-cpp-python":  # built for the CPU's baseline (scripts/llama-wheel.sh), never locked
            continue
        if name not in pins or not requirement.specifier.contains(pins[name], prereleases=True):
            disagree.append(f"{requirement} vs {pins.get(name, 'missing')}")
    assert not disagree, f"run `make lock`: {disagree}"
    assert len(pins) > len(wanted)  # transitive dependencies are pinned too


def test_the_lock_pins_exact_versions_and_never_a_local_build_label():
    pins = _pins()
    assert all(version[0].isdigit() and "+" not in version for version in pins.values())
    assert pins["torch"] == "2.13.0"


def test_all_installs_every_extra_but_dev():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert Requirement(extras["all"][0]).extras == set(extras) - {"all", "dev"}
