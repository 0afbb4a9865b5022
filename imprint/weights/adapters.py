"""Per-space adapter registry: numbered versions in PEFT format, a manifest each, one current.

    <data_dir>/adapters/<space>/v3/adapter_model.safetensors   (PEFT: loadable by vLLM and others)
    <data_dir>/adapters/<space>/v3/adapter_config.json
    <data_dir>/adapters/<space>/v3/manifest.json               (ours: base, memories, hash, metrics)
    <data_dir>/adapters/<space>/CURRENT                        ("v3"; replaced atomically)

A version is written under a temporary name and renamed into place, and CURRENT is swapped with
os.replace, so a crash leaves the last promoted adapter current.
"""

import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..errors import InputError, NotFoundError


@dataclass
class Manifest:
    version: int
    base_model: str
    memory_ids: list[int]
    data_hash: str
    metrics: dict[str, float]
    promoted: bool
    reason: str
    created_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    peft_version: str = ""


class AdapterRegistry:
    def __init__(self, root: Path, space: str) -> None:
        self.space = space
        self.dir = Path(root) / "adapters" / space

    def versions(self) -> list[Manifest]:
        if not self.dir.exists():
            return []
        manifests = [json.loads(p.read_text()) for p in self.dir.glob("v*/manifest.json")]
        return sorted((Manifest(**m) for m in manifests), key=lambda m: m.version)

    def current(self) -> Manifest | None:
        pointer = self.dir / "CURRENT"
        if not pointer.exists():
            return None
        return self.manifest(int(pointer.read_text().strip().lstrip("v")))

    def manifest(self, version: int) -> Manifest:
        path = self.path(version) / "manifest.json"
        if not path.exists():
            raise NotFoundError(f"no adapter version {version} for space {self.space!r}")
        return Manifest(**json.loads(path.read_text()))

    def path(self, version: int) -> Path:
        return self.dir / f"v{version}"

    def size_bytes(self, version: int) -> int:
        """Bytes of the adapter weights of a version (what a server has to load)."""
        return sum(f.stat().st_size for f in self.path(version).glob("*.safetensors"))

    def save(self, model, manifest: Manifest) -> Path:
        """Write a new version (PEFT files + manifest) atomically; promote it if the gate passed."""
        import peft

        manifest.peft_version = peft.__version__
        self.dir.mkdir(parents=True, exist_ok=True)
        partial = self.dir / f".v{manifest.version}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        model.save_pretrained(partial)
        (partial / "manifest.json").write_text(json.dumps(asdict(manifest), indent=2))
        partial.rename(self.path(manifest.version))
        if manifest.promoted:
            self._point_to(manifest.version)
        return self.path(manifest.version)

    def next_version(self) -> int:
        return max((m.version for m in self.versions()), default=0) + 1

    def forget(self, memory_ids: set[int]) -> list[int]:
        """Delete every version that learned any of these memories (its weights hold them), and make
        the newest promoted version that never saw them current (or none). Returns the deleted versions."""
        versions = self.versions()
        doomed = [m.version for m in versions if memory_ids & set(m.memory_ids)]
        if not doomed:
            return []
        survivors = [m.version for m in versions if m.promoted and m.version not in doomed]
        if survivors:
            self._point_to(survivors[-1])
        else:
            (self.dir / "CURRENT").unlink(missing_ok=True)
        for version in doomed:
            shutil.rmtree(self.path(version))
        return doomed

    def rollback(self, version: int) -> Manifest:
        manifest = self.manifest(version)
        if not manifest.promoted:
            raise InputError(f"version {version} never passed its gate ({manifest.reason}); not rolling back to it")
        self._point_to(version)
        return manifest

    def _point_to(self, version: int) -> None:
        tmp = self.dir / "CURRENT.tmp"
        tmp.write_text(f"v{version}\n")
        os.replace(tmp, self.dir / "CURRENT")
