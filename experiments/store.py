"""A crash-safe store of evaluation results, one small file per (policy, instance, seed).

Layout under the store's root folder::

    decisions/<policy>/<instance>.json           what a policy stocks on an instance (+ solve time)
    bounds/<instance>.json                       the scenario (MMW) bound of an instance
    evaluations/<policy>/<instance>/seed<S>.json  mean profit, standard error, KPIs of that stock
    evaluations/<policy>/<instance>/seed<S>.<H>.npy  the per-season profits (float64), for paired
                                                  statistics; <H> is the first 16 hex digits of
                                                  their SHA-256, and the JSON names the file

Every record carries a *fingerprint*: the SHA-256 of everything that determines its numbers.
For an evaluation that is the instance definition hash, the stock vector hash, the number of
seasons, the seed and the code tag; for a decision it is the policy's identity (name and knobs,
or the hashes of a trained model's files), the instance hash, the planning seed and the code
tag; for a bound it is the instance hash, the bound's settings (scenarios, replications, seed)
and the source of the modules that compute it. A lookup returns a record only when the stored
fingerprint equals the one asked for, so a
changed instance, stock or seed is recomputed rather than silently reused, and adding a policy
never touches the records of the others.

Writes are atomic: each file is written to a temporary file in the same folder, flushed,
``fsync``-ed and moved over the target with ``os.replace``; the ``.npy`` goes first, under a
name given by its content, and the JSON, which names that file and records the SHA-256 of its
bytes, commits the pair. A reader that finds a missing, truncated or mismatching file treats the
key as absent. Concurrent writers (threads, processes, Ray workers on several machines sharing
the folder) of the same key never mix their files: each JSON names its own ``.npy``, so
whatever the interleaving, a reader sees one writer's complete record or none, and once the
writers are done the key holds the record of the last JSON renamed into place. A ``.npy`` that
no JSON names any more is deleted by a later write of the key once it is
:data:`STALE_PROFITS_SECONDS` old (never one a concurrent writer has just written); left-over
temporary files (names starting with ``.tmp-``) are ignored. Records written before ``.npy``
names carried a hash (``seed<S>.npy``) are still read.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.util
import io
import json
import os
import re
import tempfile
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from envs.instance import Instance
from envs.validation import InputError

STORE_FORMAT = 1
STALE_PROFITS_SECONDS = 600.0
"""A ``.npy`` of profits that no record names is deleted once it is this old (seconds)."""
_PROFITS_FILE = re.compile(r"seed\d+(\.[0-9a-f]{16})?\.npy")


def _package_version() -> str:
    try:
        return version("assort-testbed")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "unknown"


SIMULATOR_MODULES = (
    "envs.instance",
    "envs.simulate",
    "envs.streams",
    "envs.tables",
    "envs.multistep",
)
"""The modules whose source determines a simulated profit (given instance, stock and seed)."""


@functools.lru_cache(maxsize=None)
def source_hash(*names: str) -> str:
    """SHA-256 of the Python source of modules and packages (a package: every ``.py`` file under
    it), by their dotted ``names``; names that cannot be found are skipped. Any edit to that
    source changes the hash, so results computed by older code are not reused."""
    digest = hashlib.sha256()
    for name in names:
        try:
            spec = importlib.util.find_spec(name)
        except ModuleNotFoundError:
            spec = None
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin)
        files = sorted(origin.parent.rglob("*.py")) if spec.submodule_search_locations else [origin]
        for path in files:
            digest.update(f"{name}:{path.relative_to(origin.parent)}\0".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


CODE_TAG = (
    f"assort-testbed-{_package_version()}/store-{STORE_FORMAT}/"
    f"sim-{source_hash(*SIMULATOR_MODULES)[:16]}"
)
"""Default code tag of evaluations: the package version, the store format and the hash of the
simulator's source (:data:`SIMULATOR_MODULES`); any change recomputes stored evaluations."""

_SAFE = re.compile(r"[^A-Za-z0-9._=+-]+")


def safe_name(label: str) -> str:
    """A file-name-safe version of ``label`` (runs of other characters become ``_``)."""
    if not isinstance(label, str) or not label:
        raise InputError(f"a store label must be a non-empty string; got {label!r}")
    name = _SAFE.sub("_", label).strip("._")
    if not name:
        raise InputError(f"store label {label!r} has no file-name-safe characters")
    return name


# ------------------------------------------------------------------------------- hashing


def _feed(digest: Any, obj: Any) -> None:
    """Feed a canonical, type-tagged byte encoding of ``obj`` into ``digest``."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        digest.update(b"j" + json.dumps(obj).encode() + b";")
    elif isinstance(obj, np.ndarray):
        arr = np.ascontiguousarray(obj)
        digest.update(f"a{arr.dtype.str}{arr.shape};".encode())
        digest.update(arr.tobytes())
    elif isinstance(obj, np.generic):
        _feed(digest, obj.item())
    elif sp.issparse(obj):
        csr = sp.csr_array(obj)
        csr.sort_indices()
        digest.update(f"s{csr.shape};".encode())
        for part in (csr.data, csr.indices.astype(np.int64), csr.indptr.astype(np.int64)):
            _feed(digest, part)
    elif isinstance(obj, dict):
        digest.update(f"d{len(obj)};".encode())
        for key in sorted(obj, key=str):
            _feed(digest, str(key))
            _feed(digest, obj[key])
    elif isinstance(obj, (list, tuple)):
        digest.update(f"l{len(obj)};".encode())
        for item in obj:
            _feed(digest, item)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        digest.update(f"c{type(obj).__qualname__};".encode())
        _feed(digest, {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)})
    elif hasattr(obj, "__dict__"):
        digest.update(f"o{type(obj).__qualname__};".encode())
        _feed(digest, {k: v for k, v in vars(obj).items() if not k.startswith("_")})
    else:
        raise TypeError(f"cannot fingerprint an object of type {type(obj).__name__}")


def fingerprint(obj: Any) -> str:
    """SHA-256 (hex) of a canonical encoding of ``obj`` (JSON scalars, arrays, dicts, lists,
    dataclasses, scipy sparse arrays). Equal inputs give equal fingerprints across runs."""
    digest = hashlib.sha256()
    _feed(digest, obj)
    return digest.hexdigest()


def instance_hash(instance: Instance) -> str:
    """Fingerprint of what defines the instance's customers and economics: prices, costs,
    salvage, arrival, substitution (as canonical CSR, so dense and sparse storage agree),
    customers, arrivals and, when set, the ground-truth ``shopper`` (its public attributes)
    and the ``vendors`` (their arrival order decides what a sequential policy sees).
    ``name`` and ``metadata`` are not part of it."""
    if not isinstance(instance, Instance):
        raise TypeError(
            f"`instance` must be an envs.instance.Instance; got {type(instance).__name__}"
        )
    defined = {
        "prices": instance.prices,
        "costs": instance.costs,
        "salvage": instance.salvage,
        "arrival": instance.arrival,
        "substitution": instance.substitution_csr,
        "customers": instance.customers,
        "arrivals": instance.arrivals,
        "shopper": instance.shopper,
    }
    if instance.vendors is not None:  # instances without vendors keep their former hash
        defined["vendors"] = instance.vendors
    return fingerprint(defined)


def stock_hash(stock: np.ndarray) -> str:
    """Fingerprint of a stock vector (as int64, so ``[1, 2]`` and ``[1.0, 2.0]`` agree)."""
    return fingerprint(np.asarray(stock, dtype=np.int64))


# ------------------------------------------------------------------------------- records


@dataclass(frozen=True)
class EvaluationKey:
    """What one evaluation is stored under (``policy``, ``instance``, ``seed``) and what its
    numbers depend on (the other fields, folded into :attr:`fingerprint`)."""

    policy: str
    instance: str
    seed: int
    seasons: int
    instance_hash: str
    stock_hash: str
    code_tag: str

    @property
    def fingerprint(self) -> str:
        return fingerprint(
            {
                "instance_hash": self.instance_hash,
                "stock_hash": self.stock_hash,
                "seasons": self.seasons,
                "seed": self.seed,
                "code_tag": self.code_tag,
            }
        )


@dataclass(frozen=True)
class EvaluationRecord:
    """Per-season profits of one stock vector on one instance, and summary KPIs."""

    key: EvaluationKey
    profits: np.ndarray
    stock: tuple[int, ...]
    kpis: dict[str, float]

    @property
    def mean_profit(self) -> float:
        return float(self.profits.mean())

    @property
    def std_error(self) -> float:
        k = self.profits.shape[0]
        return float(self.profits.std(ddof=1) / np.sqrt(k)) if k > 1 else float("nan")


@dataclass(frozen=True)
class Decision:
    """What a policy stocks on an instance, with the wall-clock time it took to decide."""

    policy: str
    instance: str
    fingerprint: str
    stock: tuple[int, ...]
    seconds: float
    info: dict[str, Any]


# ------------------------------------------------------------------------------- writing


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # platforms without directory handles
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _file_mode() -> int:
    """0o666 minus the process umask: the mode ``open()`` would give a new file."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_FILE_MODE = _file_mode()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one (with
    the permissions a plain ``open()`` would give, not ``mkstemp``'s private 0o600)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".tmp-{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _json_bytes(data: dict[str, Any]) -> bytes:
    text = json.dumps(data, indent=1, sort_keys=True, allow_nan=True, default=_jsonable)
    return (text + "\n").encode()


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return repr(obj)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class ResultStore:
    """Decisions and evaluations under ``root`` (created on first write).

    ``get_*`` return ``None`` when the key is absent, unreadable or stored with another
    fingerprint; ``put_*`` overwrite atomically.
    """

    def __init__(self, root: str | Path, *, code_tag: str = CODE_TAG) -> None:
        if not isinstance(code_tag, str) or not code_tag:
            raise InputError(f"`code_tag` must be a non-empty string; got {code_tag!r}")
        self.root = Path(root)
        self.code_tag = code_tag

    def evaluation_key(
        self,
        policy: str,
        instance: str,
        instance_hash_: str,
        stock: np.ndarray,
        seed: int,
        seasons: int,
    ) -> EvaluationKey:
        """The key of evaluating ``stock`` on an instance, tagged with this store's code tag."""
        return EvaluationKey(
            policy=policy,
            instance=instance,
            seed=int(seed),
            seasons=int(seasons),
            instance_hash=instance_hash_,
            stock_hash=stock_hash(stock),
            code_tag=self.code_tag,
        )

    def decision_fingerprint(self, identity: Any, instance_hash_: str) -> str:
        """The fingerprint of a decision: the policy identity, the instance and the code tag."""
        return fingerprint(
            {"identity": identity, "instance_hash": instance_hash_, "code_tag": self.code_tag}
        )

    # decisions ----------------------------------------------------------------------------

    def decision_path(self, policy: str, instance: str) -> Path:
        return self.root / "decisions" / safe_name(policy) / f"{safe_name(instance)}.json"

    def get_decision(self, policy: str, instance: str, fingerprint_: str) -> Decision | None:
        data = _read_json(self.decision_path(policy, instance))
        if data is None or data.get("fingerprint") != fingerprint_:
            return None
        try:
            return Decision(
                policy=policy,
                instance=instance,
                fingerprint=fingerprint_,
                stock=tuple(int(v) for v in data["stock"]),
                seconds=float(data["seconds"]),
                info=dict(data.get("info", {})),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def put_decision(self, decision: Decision) -> None:
        payload = {
            "policy": decision.policy,
            "instance": decision.instance,
            "fingerprint": decision.fingerprint,
            "stock": list(decision.stock),
            "seconds": decision.seconds,
            "info": decision.info,
            "format": STORE_FORMAT,
        }
        path = self.decision_path(decision.policy, decision.instance)
        atomic_write_bytes(path, _json_bytes(payload))

    # bounds -------------------------------------------------------------------------------

    def bound_path(self, instance: str) -> Path:
        return self.root / "bounds" / f"{safe_name(instance)}.json"

    def get_bound(self, instance: str, fingerprint_: str) -> dict[str, Any] | None:
        """The stored bound record of ``instance`` (a JSON mapping), if its fingerprint
        matches."""
        data = _read_json(self.bound_path(instance))
        if data is None or data.get("fingerprint") != fingerprint_:
            return None
        record = data.get("bound")
        return record if isinstance(record, dict) else None

    def put_bound(self, instance: str, fingerprint_: str, record: dict[str, Any]) -> None:
        payload = {
            "instance": instance,
            "fingerprint": fingerprint_,
            "bound": record,
            "format": STORE_FORMAT,
        }
        atomic_write_bytes(self.bound_path(instance), _json_bytes(payload))

    # evaluations --------------------------------------------------------------------------

    def evaluation_folder(self, key: EvaluationKey) -> Path:
        return self.root / "evaluations" / safe_name(key.policy) / safe_name(key.instance)

    def evaluation_paths(self, key: EvaluationKey) -> tuple[Path, Path]:
        """The JSON record of ``key`` and the ``.npy`` of profits it names now (``seed<S>.npy``
        when it names none)."""
        json_path = self.evaluation_folder(key) / f"seed{key.seed}.json"
        return json_path, self._profits_path(json_path, _read_json(json_path), key.seed)

    def _profits_path(self, json_path: Path, data: dict[str, Any] | None, seed: int) -> Path:
        name = data.get("profits_file") if data is not None else None
        if not isinstance(name, str) or not _PROFITS_FILE.fullmatch(name):
            name = f"seed{seed}.npy"  # records written before content-named files
        return json_path.parent / name

    def get_evaluation(self, key: EvaluationKey) -> EvaluationRecord | None:
        json_path = self.evaluation_folder(key) / f"seed{key.seed}.json"
        data = _read_json(json_path)
        if data is None or data.get("fingerprint") != key.fingerprint:
            return None
        try:
            raw = self._profits_path(json_path, data, key.seed).read_bytes()
        except OSError:
            return None
        if hashlib.sha256(raw).hexdigest() != data.get("profits_sha256"):
            return None
        try:
            profits = np.load(io.BytesIO(raw), allow_pickle=False)
            record = EvaluationRecord(
                key=key,
                profits=profits,
                stock=tuple(int(v) for v in data["stock"]),
                kpis={str(k): float(v) for k, v in data["kpis"].items()},
            )
        except (KeyError, TypeError, ValueError, OSError):
            return None
        if profits.dtype != np.float64 or profits.shape != (key.seasons,):
            return None
        return record

    def put_evaluation(self, record: EvaluationRecord) -> None:
        key = record.key
        profits = np.ascontiguousarray(record.profits, dtype=np.float64)
        if profits.shape != (key.seasons,):
            raise ValueError(
                f"`record.profits` has shape {profits.shape}; expected ({key.seasons},), one per "
                "season"
            )
        buffer = io.BytesIO()
        np.save(buffer, profits, allow_pickle=False)
        raw = buffer.getvalue()
        digest = hashlib.sha256(raw).hexdigest()
        folder = self.evaluation_folder(key)
        npy_name = f"seed{key.seed}.{digest[:16]}.npy"
        atomic_write_bytes(folder / npy_name, raw)
        payload = {
            **dataclasses.asdict(key),
            "fingerprint": key.fingerprint,
            "profits_file": npy_name,
            "profits_sha256": digest,
            "stock": list(record.stock),
            "mean_profit": record.mean_profit,
            "std_error": record.std_error,
            "kpis": record.kpis,
            "format": STORE_FORMAT,
        }
        atomic_write_bytes(folder / f"seed{key.seed}.json", _json_bytes(payload))
        _drop_stale_profits(folder, key.seed, keep=npy_name)


def _drop_stale_profits(folder: Path, seed: int, keep: str) -> None:
    """Delete the ``.npy`` files of ``seed`` other than ``keep`` that are older than
    :data:`STALE_PROFITS_SECONDS` (a concurrent writer's fresh file is left alone)."""
    now = time.time()
    for path in folder.glob(f"seed{seed}.*npy"):
        if path.name == keep or not _PROFITS_FILE.fullmatch(path.name):
            continue
        try:
            if now - path.stat().st_mtime > STALE_PROFITS_SECONDS:
                path.unlink()
        except OSError:
            pass  # another writer removed it first
