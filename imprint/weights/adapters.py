"""Per-space adapter registry: numbered versions in PEFT format, a manifest each, one current.

    <data_dir>/adapters/<space>/v3/adapter_model.safetensors   (PEFT: loadable by vLLM and others)
                                  or adapter_model.safetensors.sealed (an encrypted space's)
    <data_dir>/adapters/<space>/v3/adapter_config.json
    <data_dir>/adapters/<space>/v3/manifest.json               (ours: base, memories, hash, metrics)
    <data_dir>/adapters/<space>/CURRENT                        ("v3"; replaced atomically)

A version is written under a temporary name and renamed into place, and CURRENT is swapped with
os.replace, so a crash leaves the last promoted adapter current.

In an encrypted space the weights are sealed with the space's key (`adapter_model.safetensors.sealed`,
AES-GCM): an adapter holds the facts it learned, and they can be asked back out of it. The plaintext
weights exist only in memory-backed temporary storage (/dev/shm where there is one): written there by
training before sealing, and decrypted there once per process for a model to load (`readable`).
"""

import json
import os
import shutil
import tempfile
import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..errors import EncryptionError, InputError, NotFoundError
from ..store.crypto import SpaceCipher

WEIGHTS = "adapter_model.safetensors"
SEALED = WEIGHTS + ".sealed"

# decrypted copies of sealed versions, one per sealed file and process, removed with it or at exit
_unsealed: dict[tuple[str, int], tempfile.TemporaryDirectory] = {}
_unsealed_lock = threading.Lock()


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


@dataclass
class AdapterVersion(Manifest):
    """A version as listed: its manifest, the bytes of its weights, and whether a memory it learned
    was replaced by a newer version since (stale)."""

    bytes: int = 0
    stale: bool = False


class AdapterRegistry:
    def __init__(self, root: Path, space: str, cipher: SpaceCipher | None = None) -> None:
        self.space = space
        self.dir = Path(root) / "adapters" / space
        self.cipher = cipher

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
        return sum(f.stat().st_size for f in self.path(version).glob(WEIGHTS + "*"))

    def save(self, model, manifest: Manifest) -> Path:
        """Write a new version (PEFT files + manifest) atomically; promote it if the gate passed."""
        import peft

        manifest.peft_version = peft.__version__
        self.dir.mkdir(parents=True, exist_ok=True)
        partial = self.dir / f".v{manifest.version}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        if self.cipher is None:
            model.save_pretrained(partial)
        else:
            with tempfile.TemporaryDirectory(prefix="imprint-adapter-", dir=_memory_backed()) as plain:
                model.save_pretrained(plain)
                _copy_all_but(Path(plain), partial, WEIGHTS)
                (partial / SEALED).write_bytes(
                    self.cipher.seal(Path(plain, WEIGHTS).read_bytes(), self._field(manifest.version))
                )
        (partial / "manifest.json").write_text(json.dumps(asdict(manifest), indent=2))
        partial.rename(self.path(manifest.version))
        if manifest.promoted:
            self._point_to(manifest.version)
        return self.path(manifest.version)

    def next_version(self) -> int:
        return max((m.version for m in self.versions()), default=0) + 1

    @property
    def teacher_dir(self) -> Path | None:
        """Where the teacher's answers (distill.py) and questions (synth.py) per memory are cached;
        none in an encrypted space, whose cache would hold its facts in the clear."""
        return None if self.cipher else self.dir / "teacher"

    def forget(self, memory_ids: set[int]) -> list[int]:
        """Delete every version that learned any of these memories (its weights hold them), and make
        the newest promoted version that never saw them current (or none). Returns the deleted versions.
        The teacher's cached answers about them go too."""
        for memory_id in memory_ids:
            for cached in (self.dir / "teacher").glob(f"{memory_id}-*"):
                cached.unlink(missing_ok=True)
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
            _drop_unsealed(self.path(version))
            shutil.rmtree(self.path(version))
        return doomed

    def delete_all(self) -> None:
        """Every version of the space, and their decrypted copies."""
        _drop_unsealed(self.dir)
        shutil.rmtree(self.dir, ignore_errors=True)

    def readable(self, version: int) -> Path:
        """A folder a model can load the version from: its own, or for a sealed version a decrypted copy
        in memory-backed temporary storage, made once per process."""
        folder = self.path(version)
        sealed = folder / SEALED
        if not sealed.exists():
            return folder
        if self.cipher is None:
            raise EncryptionError(f"adapter v{version} of {self.space!r} is encrypted: open the space with its key")
        key = (str(sealed.resolve()), sealed.stat().st_mtime_ns)
        with _unsealed_lock:
            if key not in _unsealed:
                weights = self.cipher.open(sealed.read_bytes(), self._field(version))  # refused before any copy
                copy = tempfile.TemporaryDirectory(prefix="imprint-adapter-", dir=_memory_backed())
                _copy_all_but(folder, Path(copy.name), SEALED)
                Path(copy.name, WEIGHTS).write_bytes(weights)
                _unsealed[key] = copy
            return Path(_unsealed[key].name)

    def export(self, version: int | None, target: Path) -> Path:
        """The version (default: the current one) as plain PEFT files in `target`, a new or empty folder:
        what vLLM (`--enable-lora`), PEFT's `PeftModel.from_pretrained` and others load. A sealed
        version is written decrypted."""
        if version is None:
            current = self.current()
            if current is None:
                raise NotFoundError(
                    f"space {self.space!r} has no current adapter: consolidate first, or give a version"
                )
            version = current.version
        self.manifest(version)  # NotFoundError for an unknown version
        target = Path(target)
        if target.exists() and any(target.iterdir()):
            raise InputError(f"{target} is not empty: export into a new or empty folder")
        target.mkdir(parents=True, exist_ok=True)
        source = self.readable(version)
        for name in (WEIGHTS, "adapter_config.json"):
            shutil.copyfile(source / name, target / name)
        return target

    def _field(self, version: int) -> str:
        """Bound into the ciphertext: a sealed file moved to another version or space does not open."""
        return f"adapter {self.space} v{version}"

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


def _memory_backed() -> str | None:
    """/dev/shm (RAM) where it exists, else the system's temporary folder."""
    return "/dev/shm" if os.access("/dev/shm", os.W_OK) else None


def _drop_unsealed(folder: Path) -> None:
    prefix = str(folder.resolve()) + os.sep
    with _unsealed_lock:
        for key in [key for key in _unsealed if key[0].startswith(prefix)]:
            _unsealed.pop(key).cleanup()


def _copy_all_but(source: Path, target: Path, weights: str) -> None:
    """The files beside the weights (config, manifest), copied between a version and its plaintext twin."""
    target.mkdir(exist_ok=True)
    for name in os.listdir(source):
        if name != weights:
            shutil.copy(source / name, target)
