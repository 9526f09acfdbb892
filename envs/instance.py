"""Problem instances: the catalog, the Markov chain choice model and the season length.

An :class:`Instance` holds, for a catalog of ``N`` products (notation of DESIGN.md):

* ``prices`` r_i > 0, ``costs`` c_i >= 0 and ``salvage`` s_i with 0 <= s_i <= c_i;
* ``arrival`` lambda_i >= 0, sum_i lambda_i <= 1 (lambda_0 = 1 - sum is "no purchase");
* ``substitution`` rho (N x N, dense ``numpy`` array or ``scipy.sparse``), rho_ij >= 0,
  rho_ii = 0, row sums <= 1 (1 - sum_j rho_ij is the chance of leaving after a stock-out);
* ``customers`` T, the number of arrivals in a season (``arrivals="fixed"``) or its mean
  (``arrivals="poisson"``);
* optionally ``vendors``: the vendor of each product, labels 0..V-1 with every label used, where
  the label is the vendor's *arrival position* in the sequential problem (vendor 0 is revealed
  first; DESIGN.md 6 and :mod:`envs.vendors`). Simulation, bounds and the one-shot heuristics
  ignore it.

A chain is *valid* when no customer can cycle forever among stocked-out products: every closed
communicating class of rho leaks (has a row summing to less than 1), unless the class is the
whole catalog (for example MNL without an outside option, where every row sums to 1). With the
whole catalog closed, a customer who finds *nothing* in stock leaves, and otherwise reaches a
stocked product with probability 1.

Limits (so that every profit, bound and reward stays a finite float and every input is read in
bounded time and memory): at most ``MAX_PRODUCTS`` = 2^20 - 1 products (the simulator's tables
code a product in 20 bits); prices in [``MIN_PRICE``, ``MAX_MONEY``] = [1e-6, 1e12]; costs and
salvage in [0, 1e12]; T at most 2^31 - 1; an instance file of at most ``MAX_INSTANCE_BYTES``
(256 MiB) and a stock file of at most ``MAX_STOCK_BYTES`` (64 MiB); stock below 2^31 per product.

Numerical tolerance: sums are compared with ``SUM_TOLERANCE`` (1e-9) so that probabilities
written with rounding still load; a row counts as leaking when it sums to less than
``1 - SUM_TOLERANCE``.

The JSON format (:func:`save_instance` / :func:`load_instance`) has exactly the keys ``name``,
``prices``, ``costs``, ``salvage`` (optional), ``arrival``, ``substitution`` (a dense list of
rows, or ``{"rows": [...], "cols": [...], "values": [...]}``), ``customers`` and ``arrivals``
(optional, ``"fixed"`` or ``"poisson"``), ``vendors`` (optional, written only when set: a
list of N integer labels, the vendor of each product), and at most one of the optional
*process blocks* (``PROCESS_KEYS``), which make the ground-truth customer process part of the
file:

* ``"demand_environment"``: ``{"cv_market": 0.4, "cv_popularity": 0.4, "cluster_share": 0.5,
  "clusters": [0, 1, ...], "batch_mean": 1.0}`` (every key optional; defaults 0, 0, 0, one
  cluster per product, 1): the season is shocked (:mod:`envs.shocks`: an uncertain market size
  G, correlated popularity multipliers M_i, households of Geometric size with mean
  ``batch_mean``), and customers are Markov chain customers of the file's own chain. That chain
  is then exactly the fitted MC, and ``arrivals`` must be ``"poisson"``.
* ``"segments"``: ``{"chains": [{"arrival": [...], "substitution": ...}, ...],
  "start_shares": [...], "end_shares": [...]}`` (``end_shares`` optional: a constant mix): a
  latent-class mixture of Markov chain segments whose shares move linearly over the season
  (:mod:`envs.segments`; at most ``MAX_SEGMENTS`` chains, each written like the top-level chain
  and checked by the same rules). The top-level ``arrival`` and ``substitution`` must be the
  mixture's fitted MC (lambda_i = sum_s wbar_s lambda^s_i, rho_ij = sum_s wbar_s lambda^s_i
  rho^s_ij / lambda_i with wbar = (start + end) / 2; to ``FIT_TOLERANCE``), what planners see.

The simulator runs the process of the block; every planner sees only the top-level chain.
Ground-truth processes without a block (the multi-step shopper of :mod:`envs.multistep`) are
saved as their fitted chain only. Floats are written with ``repr`` precision, so loading a
saved instance gives back identical arrays and the same process.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Literal

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from envs.validation import (
    InputError,
    InputTypeError,
    choice_iv,
    describe,
    integer_iv,
    is_integer,
    number_array_iv,
    read_json_file,
    vector_iv,
)

SUM_TOLERANCE = 1e-9
MAX_CUSTOMERS = 2**31 - 1
"""The largest season length T (customer indices and counts stay within 32-bit integers)."""
MAX_PRODUCTS = (1 << 20) - 1
"""The largest catalog: the simulator's tables code a product (or "leave") in 20 bits."""
MIN_PRICE = 1e-6
MAX_MONEY = 1e12
"""Prices lie in [MIN_PRICE, MAX_MONEY], costs and salvage in [0, MAX_MONEY]: T times any
money amount, and its square in a variance, stay far inside float range."""
MAX_STOCK = 2**31 - 1
MAX_NAME_LENGTH = 200
MAX_INSTANCE_BYTES = 256 * 2**20
MAX_STOCK_BYTES = 64 * 2**20
ARRIVAL_MODES = ("fixed", "poisson")
PROCESS_KEYS = ("demand_environment", "segments")
"""The optional JSON blocks that hold a ground-truth customer process (module docstring)."""
MAX_SEGMENTS = 16
"""The most segment chains a ``"segments"`` block may hold."""
FIT_TOLERANCE = 1e-9
"""Absolute tolerance of the check that a file's chain is the fitted MC of its process."""
JSON_KEYS = (
    "name",
    "prices",
    "costs",
    "salvage",
    "arrival",
    "substitution",
    "customers",
    "arrivals",
    *PROCESS_KEYS,
    "vendors",
)
REQUIRED_JSON_KEYS = ("name", "prices", "costs", "arrival", "substitution", "customers")

Substitution = np.ndarray | sp.csr_array


@dataclass(frozen=True, eq=False)
class Instance:
    """A validated instance. Build it with :func:`make_instance`, which checks every rule.

    ``shopper`` optionally holds a ground-truth customer process that is not a Markov chain
    (:class:`envs.multistep.MultiStepShopper`, :class:`envs.shocks.ShockShopper`,
    :class:`envs.segments.SegmentShopper`); the simulator then runs it, while ``arrival`` and
    ``substitution`` hold its fitted MC approximation, the model planners see. A shopper has
    ``run_seasons(stock, seed, first_season, customers, poisson, sales, kpis)`` (contract in
    :mod:`envs.multistep`) and, when the JSON format can hold it, ``json_block()``.

    Arrays are read-only float64; ``substitution`` is either a dense ``(N, N)`` array or a
    ``scipy.sparse.csr_array`` with sorted indices and no explicit zeros.
    """

    name: str
    prices: np.ndarray
    costs: np.ndarray
    salvage: np.ndarray
    arrival: np.ndarray
    substitution: Substitution
    customers: int
    arrivals: Literal["fixed", "poisson"] = "fixed"
    shopper: Any = None
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)
    vendors: np.ndarray | None = None
    """int64[N] vendor labels 0..V-1 (the vendor's arrival position), or None."""

    @property
    def n_products(self) -> int:
        return int(self.prices.shape[0])

    @property
    def is_sparse(self) -> bool:
        return sp.issparse(self.substitution)

    @property
    def n_vendors(self) -> int:
        """V, the number of vendors (0 when the instance has no vendor labels)."""
        return 0 if self.vendors is None else int(self.vendors.max()) + 1

    @property
    def no_purchase_probability(self) -> float:
        """lambda_0 = 1 - sum_i lambda_i (clipped at 0 within ``SUM_TOLERANCE``)."""
        return max(0.0, 1.0 - float(self.arrival.sum()))

    @cached_property
    def substitution_csr(self) -> sp.csr_array:
        """rho as a CSR array (sorted indices, explicit zeros removed), whatever its storage."""
        return _to_csr(self.substitution)

    @cached_property
    def leave_probability(self) -> np.ndarray:
        """1 - sum_j rho_ij: the chance of leaving after finding product i out of stock."""
        rows = np.asarray(self.substitution_csr.sum(axis=1)).ravel()
        return np.maximum(0.0, 1.0 - rows)

    def substitution_dense(self) -> np.ndarray:
        """rho as a dense array (a copy for sparse instances; avoid for large N)."""
        if self.is_sparse:
            return self.substitution.toarray()
        return self.substitution

    def with_customers(self, customers: int) -> Instance:
        """The same catalog and choice model with another season length T."""
        return make_instance(
            name=self.name,
            prices=self.prices,
            costs=self.costs,
            salvage=self.salvage,
            arrival=self.arrival,
            substitution=self.substitution,
            customers=customers,
            arrivals=self.arrivals,
            shopper=self.shopper,
            metadata=dict(self.metadata),
            vendors=self.vendors,
        )


def make_instance(
    *,
    prices: Any,
    costs: Any,
    arrival: Any,
    substitution: Any,
    customers: int,
    salvage: Any = None,
    arrivals: str = "fixed",
    name: str = "instance",
    shopper: Any = None,
    metadata: dict[str, Any] | None = None,
    vendors: Any = None,
) -> Instance:
    """Validate the parameters and return an :class:`Instance`.

    Raises :class:`~envs.validation.InputError` (``InputTypeError`` for a wrong type) naming
    the argument, the rule and the offending value for every rule in the module docstring.
    """
    if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME_LENGTH:
        error = InputError if isinstance(name, str) else InputTypeError
        raise error(
            f"`name` must be a non-empty string of at most {MAX_NAME_LENGTH} characters; "
            f"got {describe(name)}"
        )
    prices_arr = vector_iv("prices", prices, low=MIN_PRICE, high=MAX_MONEY)
    n = prices_arr.shape[0]
    if not 1 <= n <= MAX_PRODUCTS:
        raise InputError(f"`prices` must list between 1 and {MAX_PRODUCTS:,} products; got {n:,}")
    costs_arr = vector_iv("costs", costs, n, low=0.0, high=MAX_MONEY)
    salvage_arr = (
        np.zeros(n)
        if salvage is None
        else vector_iv("salvage", salvage, n, low=0.0, high=MAX_MONEY)
    )
    arrival_arr = vector_iv("arrival", arrival, n, low=0.0, high=1.0)
    above = np.flatnonzero(salvage_arr > costs_arr)
    if above.size:
        i = int(above[0])
        raise InputError(
            f"`salvage` of product {i} is {float(salvage_arr[i])!r}, above its cost "
            f"{float(costs_arr[i])!r}; salvage must satisfy 0 <= s_i <= c_i"
        )
    total = float(arrival_arr.sum())
    if total > 1.0 + SUM_TOLERANCE:
        raise InputError(
            f"`arrival` sums to {total!r}; arrival probabilities must sum to at most 1"
        )
    rho = _substitution_iv(substitution, n)
    customers_int = integer_iv(
        "customers", customers, low=1, high=MAX_CUSTOMERS, integral_float=True
    )
    choice_iv("arrivals", arrivals, ARRIVAL_MODES)
    vendors_arr = None if vendors is None else vendors_iv(vendors, n)
    for arr in (prices_arr, costs_arr, salvage_arr, arrival_arr, vendors_arr):
        if arr is not None:
            arr.setflags(write=False)
    if isinstance(rho, np.ndarray):
        rho.setflags(write=False)
    return Instance(
        name=name,
        prices=prices_arr,
        costs=costs_arr,
        salvage=salvage_arr,
        arrival=arrival_arr,
        substitution=rho,
        customers=customers_int,
        arrivals=arrivals,  # type: ignore[arg-type]
        shopper=shopper,
        metadata=dict(metadata or {}),
        vendors=vendors_arr,
    )


def vendors_iv(vendors: Any, n: int) -> np.ndarray:
    """int64[N] vendor labels: integers (not bools or fractions), one per product, using every
    label 0..V-1 (a label is a vendor's arrival position, so none may be skipped)."""
    if isinstance(vendors, (str, bytes, dict)) or vendors is None:
        raise InputTypeError(
            f"`vendors` must be a list of {n} integer vendor labels; got {describe(vendors)}"
        )
    arr = number_array_iv("vendors", vendors)
    if arr.shape != (n,):
        raise InputError(
            f"`vendors` must list one vendor label per product ({n}); got shape {arr.shape}"
        )
    raw = np.asarray(vendors)
    if raw.dtype.kind not in "iu" and not np.all(arr == np.round(arr)):
        i = int(np.flatnonzero(arr != np.round(arr))[0])
        raise InputTypeError(f"`vendors` entry {i} is {float(arr[i])!r}; labels must be integers")
    outside = np.flatnonzero((arr < 0) | (arr > n - 1))
    if outside.size:
        i = int(outside[0])
        raise InputError(
            f"`vendors` entry {i} is {arr[i]:g}; labels must lie in [0, {n - 1}] (at most one "
            "vendor per product)"
        )
    labels = arr.astype(np.int64)
    used = np.zeros(int(labels.max()) + 1, dtype=bool)
    used[labels] = True
    if not used.all():
        missing = int(np.flatnonzero(~used)[0])
        raise InputError(
            f"`vendors` skips label {missing} but uses {int(labels.max())}; labels must be "
            "0..V-1 with every label used (a label is the vendor's arrival position)"
        )
    return labels


def _to_csr(matrix: Substitution) -> sp.csr_array:
    csr = sp.csr_array(matrix, dtype=np.float64, copy=True)
    csr.sum_duplicates()
    csr.eliminate_zeros()
    csr.sort_indices()
    return csr


def _substitution_iv(substitution: Any, n: int) -> Substitution:
    if sp.issparse(substitution):
        if substitution.shape != (n, n):
            raise InputError(
                f"`substitution` must have shape ({n}, {n}) to match `prices`; "
                f"got {substitution.shape}"
            )
        if substitution.dtype.kind not in "iuf":
            raise InputTypeError(
                f"`substitution` must hold real numbers; got dtype {substitution.dtype}"
            )
        rho: Substitution = _to_csr(substitution)
        values = rho.data
    else:
        rho = number_array_iv("substitution", substitution, ndim=2)
        values = rho
    if rho.shape != (n, n):
        raise InputError(
            f"`substitution` must have shape ({n}, {n}) to match `prices`; got {rho.shape}"
        )
    if not np.all(np.isfinite(values)):
        raise InputError("`substitution` has a non-finite entry; entries must be finite")
    if np.any(values < 0):
        i, j = _first_entry(rho, lambda v: v < 0)
        raise InputError(
            f"`substitution` entry ({i}, {j}) is {float(rho[i, j])!r}; entries must be non-negative"
        )
    diagonal = rho.diagonal()
    bad = np.flatnonzero(diagonal != 0)
    if bad.size:
        i = int(bad[0])
        raise InputError(
            f"`substitution` diagonal entry ({i}, {i}) is {float(diagonal[i])!r}; rho_ii must be 0"
        )
    row_sums = np.asarray(rho.sum(axis=1)).ravel()
    bad = np.flatnonzero(row_sums > 1.0 + SUM_TOLERANCE)
    if bad.size:
        i = int(bad[0])
        raise InputError(
            f"`substitution` row {i} sums to {float(row_sums[i])!r}; rows must sum to at most 1"
        )
    _trap_iv(_to_csr(rho) if not sp.issparse(rho) else rho, row_sums)
    return rho


def _first_entry(rho: Substitution, predicate) -> tuple[int, int]:
    coo = sp.coo_array(rho) if sp.issparse(rho) else None
    if coo is None:
        i, j = np.argwhere(predicate(rho))[0]
        return int(i), int(j)
    k = int(np.flatnonzero(predicate(coo.data))[0])
    return int(coo.row[k]), int(coo.col[k])


def _trap_iv(rho: sp.csr_array, row_sums: np.ndarray) -> None:
    """Reject a closed communicating class that does not leak and is not the whole catalog."""
    n = rho.shape[0]
    n_classes, labels = connected_components(rho, directed=True, connection="strong")
    if n_classes == 1 and n > 1:
        return
    coo = rho.tocoo()
    crossing = labels[coo.row] != labels[coo.col]
    has_exit = np.zeros(n_classes, dtype=bool)
    has_exit[labels[coo.row[crossing]]] = True
    leaks = np.zeros(n_classes, dtype=bool)
    leaks[labels[row_sums < 1.0 - SUM_TOLERANCE]] = True
    traps = np.flatnonzero(~has_exit & ~leaks)
    if traps.size:
        members = np.flatnonzero(labels == traps[0])
        shown = ", ".join(str(int(i)) for i in members[:10]) + (
            ", ..." if members.size > 10 else ""
        )
        raise InputError(
            f"`substitution` traps customers: products [{shown}] form a closed class whose rows "
            "all sum to 1 (no chance of leaving) but is not the whole catalog, so a customer could "
            "cycle forever among them when they are out of stock; let some row in the class sum "
            "to less than 1"
        )


# ----------------------------------------------------------------------------------- JSON


ProcessLoader = Callable[[Any, Instance], Any]
"""(the JSON block, the Markov chain instance of the file's other keys) -> the ``shopper``."""

_PROCESS_LOADERS: dict[str, ProcessLoader] = {}


def register_process(key: str, loader: ProcessLoader) -> None:
    """Make the process block ``key`` (one of ``PROCESS_KEYS``) loadable. :mod:`envs.shocks`
    and :mod:`envs.segments` register theirs when imported, and ``import envs`` (which any
    ``import envs.<module>`` runs first) imports both."""
    assert key in PROCESS_KEYS, key
    _PROCESS_LOADERS[key] = loader


def process_block(instance: Instance) -> tuple[str, Any] | None:
    """``(key, block)`` of the instance's ground-truth process when the JSON format can hold
    it (its ``shopper`` has a ``json_block()`` method), else None (no shopper, or one that is
    saved as its fitted chain only)."""
    to_block = getattr(instance.shopper, "json_block", None)
    return None if to_block is None else to_block()


def substitution_to_json(substitution: Substitution) -> Any:
    """rho as written in the JSON format: a dense list of rows, or rows/cols/values (sparse)."""
    if sp.issparse(substitution):
        coo = _to_csr(substitution).tocoo()
        return {"rows": coo.row.tolist(), "cols": coo.col.tolist(), "values": coo.data.tolist()}
    return np.asarray(substitution).tolist()


def substitution_from_json(substitution: Any, n: int) -> Any:
    """The JSON value of a substitution matrix as something :func:`make_instance` validates
    (a sparse rows/cols/values mapping becomes a CSR array; a dense list is passed on)."""
    if isinstance(substitution, dict):
        return _sparse_from_dict(substitution, n)
    return substitution


def instance_to_dict(instance: Instance) -> dict[str, Any]:
    """The JSON-ready dictionary of an instance (sparse substitution as rows/cols/values, and
    the process block of :func:`process_block` when there is one)."""
    data = {
        "name": instance.name,
        "prices": instance.prices.tolist(),
        "costs": instance.costs.tolist(),
        "salvage": instance.salvage.tolist(),
        "arrival": instance.arrival.tolist(),
        "substitution": substitution_to_json(instance.substitution),
        "customers": instance.customers,
        "arrivals": instance.arrivals,
    }
    block = process_block(instance)
    if block is not None:
        data[block[0]] = block[1]
    if instance.vendors is not None:
        data["vendors"] = instance.vendors.tolist()
    return data


def instance_from_dict(data: Any) -> Instance:
    """Build an instance from the JSON dictionary, rejecting missing and unknown keys; a
    process block is validated and built by its registered loader."""
    if not isinstance(data, dict):
        raise InputTypeError(f"an instance must be a JSON object; got {describe(data)}")
    unknown = [key for key in data if key not in JSON_KEYS]
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(str(key), JSON_KEYS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; known keys are {list(JSON_KEYS)}"
        raise InputError(f"unknown instance key {key!r}{hint}")
    missing = [key for key in REQUIRED_JSON_KEYS if key not in data]
    if missing:
        raise InputError(f"instance is missing the required key {missing[0]!r}")
    blocks = [key for key in PROCESS_KEYS if key in data]
    if len(blocks) > 1:
        raise InputError(
            f"an instance holds at most one process block; got {blocks[0]!r} and {blocks[1]!r}"
        )
    n = vector_iv("prices", data["prices"]).shape[0]
    instance = make_instance(
        name=data["name"],
        prices=data["prices"],
        costs=data["costs"],
        salvage=data.get("salvage"),
        arrival=data["arrival"],
        substitution=substitution_from_json(data["substitution"], n),
        customers=data["customers"],
        arrivals=data.get("arrivals", "fixed"),
        vendors=data.get("vendors"),
    )
    if not blocks:
        return instance
    loader = _PROCESS_LOADERS.get(blocks[0])
    if loader is None:  # only when envs/__init__.py did not run: a broken installation
        raise InputError(f"the process block {blocks[0]!r} has no loader; import envs first")
    return replace(instance, shopper=loader(data[blocks[0]], instance))


def _sparse_from_dict(data: dict[str, Any], n: int) -> sp.csr_array:
    keys = ("rows", "cols", "values")
    unknown = [key for key in data if key not in keys]
    if unknown or any(key not in data for key in keys):
        raise InputError(
            f"sparse `substitution` must have exactly the keys {list(keys)}; "
            f"got {sorted(map(str, data))}"
        )
    for key in keys:
        if not isinstance(data[key], list):
            raise InputTypeError(
                f"sparse `substitution` {key!r} must be a list; got {describe(data[key])}"
            )
    lengths = {key: len(data[key]) for key in keys}
    if len(set(lengths.values())) != 1:
        raise InputError(f"sparse `substitution` lists must have equal lengths; got {lengths}")
    for key in ("rows", "cols"):
        for v in data[key]:
            if not is_integer(v):
                raise InputTypeError(
                    f"sparse `substitution` {key!r} must hold integer indices in [0, {n}); "
                    f"got {describe(v)}"
                )
            if not 0 <= v < n:
                raise InputError(
                    f"sparse `substitution` {key!r} holds index {v}; indices must lie in [0, {n})"
                )
    rows = np.asarray(data["rows"], dtype=np.int64)
    cols = np.asarray(data["cols"], dtype=np.int64)
    values = vector_iv("substitution values", data["values"])
    coo = sp.coo_array((values, (rows, cols)), shape=(n, n))
    if coo.nnz and np.unique(rows * n + cols).size != rows.size:
        raise InputError(
            "sparse `substitution` lists an entry twice; each (row, col) must appear once"
        )
    return sp.csr_array(coo)


def save_instance(instance: Instance, path: str | Path) -> None:
    """Write ``instance`` as JSON to ``path`` (floats in round-trip precision)."""
    Path(path).write_text(json.dumps(instance_to_dict(instance), allow_nan=False) + "\n")


def load_instance(path: str | Path) -> Instance:
    """Read and validate an instance JSON file (a regular file of at most
    ``MAX_INSTANCE_BYTES``; every failure is an :class:`~envs.validation.InputError` that
    names the file)."""
    data = read_json_file(path, "instance file", MAX_INSTANCE_BYTES)
    try:
        return instance_from_dict(data)
    except InputError as exc:
        raise type(exc)(f"instance file {str(path)!r}: {exc}") from exc


def stock_iv(stock: Any, n_products: int, label: str = "stock") -> np.ndarray:
    """Validate a stock vector: N non-negative integers below 2**31 (whole-number floats such
    as 3.0 are accepted; strings, bools and fractions are not)."""
    rule = f"`{label}` must be a list of {n_products} non-negative integers"
    if isinstance(stock, (str, bytes, dict)) or stock is None:
        raise InputTypeError(f"{rule}; got {describe(stock)}")
    try:
        arr = np.asarray(stock)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InputError(f"{rule}; got {describe(stock)}") from exc
    if arr.ndim != 1 or arr.shape[0] != n_products:
        raise InputError(f"{rule}, one per product; got shape {arr.shape}")
    if arr.dtype.kind not in "iuf":
        raise InputTypeError(f"{rule}; got entries of dtype {arr.dtype}")
    if arr.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(arr) | (arr != np.round(arr)))
        if bad.size:
            i = int(bad[0])
            raise InputError(
                f"`{label}` entry {i} is {arr[i].item()!r}; stock must be a whole number of units"
            )
    if arr.size and arr.min() < 0:
        i = int(np.flatnonzero(arr < 0)[0])
        raise InputError(f"`{label}` entry {i} is {arr[i].item()!r}; stock must be non-negative")
    if arr.size and arr.max() > MAX_STOCK:
        i = int(np.argmax(arr))
        raise InputError(f"`{label}` entry {i} is {arr[i].item()!r}; stock must be below 2**31")
    return arr.astype(np.int64)


def load_stock(path: str | Path, n_products: int) -> np.ndarray:
    """The stock vector of a stock file: a JSON list of N non-negative integers, one per
    product (whole-number floats such as 3.0 are accepted), at most ``MAX_STOCK_BYTES``."""
    rule = (
        f"a stock file must be a JSON list of {n_products} non-negative integers, one per product"
    )
    data = read_json_file(path, "stock file", MAX_STOCK_BYTES)

    def refuse(problem: str) -> InputError:
        return InputError(f"stock file {str(path)!r} {problem}; {rule}")

    if not isinstance(data, list):
        raise refuse(f"holds {describe(data)}, not a list")
    if len(data) != n_products:
        raise refuse(f"lists {len(data)} entries but the instance has {n_products} products")
    for i, value in enumerate(data):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise refuse(f"entry {i} is {json.dumps(value)[:40]}, not a number")
        if isinstance(value, float) and not value.is_integer():
            raise refuse(f"entry {i} is {value!r}, not a whole number")
        if value < 0:
            raise refuse(f"entry {i} is {value!r}, a negative number")
        if value > MAX_STOCK:
            raise refuse(f"entry {i} is {value!r}, above the limit 2**31 - 1")
    return np.array(data, dtype=np.int64)


def save_stock(stock: np.ndarray, path: str | Path) -> None:
    """Write a stock vector as a stock file (a JSON list of integers)."""
    Path(path).write_text(json.dumps([int(v) for v in stock]) + "\n")


def profit_of(instance: Instance, stock: np.ndarray, sales: np.ndarray) -> np.ndarray | float:
    """profit = sum_i r_i sales_i + s_i (x_i - sales_i) - c_i x_i (sales may be a batch).

    Summed elementwise rather than by BLAS: integer-float products take a slow BLAS path, and
    BLAS threads contend with the simulator's threads.
    """
    margin = instance.prices - instance.salvage
    fixed = float(((instance.salvage - instance.costs) * stock).sum())
    return (np.asarray(sales) * margin).sum(axis=-1) + fixed
