"""Customer segments: a latent-class mixture of Markov chain customers, with a drifting mix.

A ground-truth customer process (DESIGN.md 3). The season has T customers (fixed, or Poisson(T)
as for MC instances). Customer t of a season of T' customers (t = 0, ..., T' - 1) belongs to
segment s = 1..S with probability

    w_s(tau_t) = (1 - tau_t) w_s^start + tau_t w_s^end,   tau_t = (t + 1/2) / T'

(``start_shares`` and ``end_shares``; equal vectors give a constant mix, the latent-class
model; different ones a mix that drifts during the season, so early customers deplete what
late customers want), and then behaves as a Markov chain customer of her segment's chain
(lambda^s, rho^s): first choice i ~ lambda^s (or no purchase), substitution walk through
rho^s. A segment may be MNL (the exact MC map, :func:`envs.choice.mnl_instance`); a *loyal*
segment has rho^s = 0 (a stock-out of her product loses her).

**Fitted MC approximation** (DESIGN.md 2), exact and in closed form: a customer at a uniformly
random position belongs to s with probability wbar_s = (w_s^start + w_s^end) / 2 (the mean of
w_s(tau_t) over the season's customers), and a segment-s customer facing every product but i
changes only the walk that starts at i, which moves one step: P^s_j(all minus i) - P^s_j(all)
= lambda^s_i rho^s_ij. Hence

    lambda_i = sum_s wbar_s lambda^s_i,   rho_ij = sum_s wbar_s lambda^s_i rho^s_ij / lambda_i

(rho_i. = 0 when lambda_i = 0), which equals :func:`envs.choice.markov_chain_approximation` of
the mixture's choice probabilities (tested). The mixture is not an MC model when S > 1: a
customer who walks past two stocked-out products keeps her own segment's continuation, while
the fitted chain mixes the segments again at every step; and with drift the order of the
customers matters, which no time-homogeneous chain sees.

**Streams** (:mod:`envs.streams`): customer t of season k uses customer_key(season_key(seed,
k), t): draw 0 (a uniform against the cumulative shares at her position) picks her segment,
draw 1 her first choice (the segment's packed first-choice table, :class:`envs.tables.
ChoiceTables`), draw j + 1 her j-th substitution step (the segment's row tables). A Poisson
season's count uses customer_key(season_key(seed, k), POISSON_CUSTOMER) as in
:mod:`envs.simulate`. Every segment's tables are concatenated into one slot array.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from numba import njit, prange

from envs.instance import (
    FIT_TOLERANCE,
    MAX_SEGMENTS,
    SUM_TOLERANCE,
    Instance,
    make_instance,
    register_process,
    substitution_from_json,
    substitution_to_json,
)
from envs.multistep import SPARSE_ABOVE
from envs.streams import POISSON_CUSTOMER, customer_key, draw, season_key, table_sample, to_uniform
from envs.tables import ChoiceTables, poisson_count
from envs.validation import InputError, InputTypeError, describe, vector_iv

BLOCK_KEYS = ("chains", "start_shares", "end_shares")
"""The keys of the ``"segments"`` block of the instance JSON (``end_shares`` optional)."""
CHAIN_KEYS = ("arrival", "substitution")


@dataclass(frozen=True, eq=False)
class SegmentShopper:
    """A mixture of Markov chain segments whose shares move linearly from ``start_shares`` to
    ``end_shares`` over the season (module docstring).

    ``chains``: one validated :class:`~envs.instance.Instance` per segment, of which only
    ``arrival`` and ``substitution`` are used (build them with :func:`segment_chain`);
    ``start_shares`` and ``end_shares`` (None: equal to the start): S non-negative shares
    summing to 1 (within ``SUM_TOLERANCE``; normalized)."""

    chains: tuple[Instance, ...]
    start_shares: np.ndarray
    end_shares: np.ndarray | None = None
    row_start: np.ndarray = field(init=False, repr=False)
    slots: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        chains = tuple(self.chains) if isinstance(self.chains, (list, tuple)) else None
        if not chains or len(chains) > MAX_SEGMENTS:
            raise InputError(
                f"`chains` must hold between 1 and {MAX_SEGMENTS} segment chains; "
                f"got {describe(self.chains)}"
            )
        for s, chain in enumerate(chains):
            if not isinstance(chain, Instance):
                raise InputTypeError(
                    f"`chains` entry {s} must be an Instance (see segment_chain); "
                    f"got {describe(chain)}"
                )
            if chain.n_products != chains[0].n_products:
                raise InputError(
                    f"`chains` entry {s} has {chain.n_products} products; entry 0 has "
                    f"{chains[0].n_products}, they must match"
                )
        start = _shares_iv("start_shares", self.start_shares, len(chains))
        end = (
            start
            if self.end_shares is None
            else _shares_iv("end_shares", self.end_shares, len(chains))
        )
        tables = [ChoiceTables.from_instance(chain) for chain in chains]
        offsets = np.cumsum([0] + [t.slots.shape[0] for t in tables])
        row_start = np.stack(
            [
                np.concatenate([[0], t.row_start.astype(np.int64)]) + offset
                for t, offset in zip(tables, offsets[:-1])
            ]
        )
        slots = np.concatenate([t.slots for t in tables])
        for name, value in (
            ("chains", chains),
            ("start_shares", start),
            ("end_shares", end),
            ("row_start", row_start),
            ("slots", slots),
        ):
            if isinstance(value, np.ndarray):
                value.setflags(write=False)
            object.__setattr__(self, name, value)

    @property
    def n_products(self) -> int:
        return self.chains[0].n_products

    @property
    def mean_shares(self) -> np.ndarray:
        """wbar = (w^start + w^end) / 2: the share of each segment among a season's customers."""
        return 0.5 * (self.start_shares + self.end_shares)

    def shares_at(self, tau: float) -> np.ndarray:
        """w(tau) = (1 - tau) w^start + tau w^end."""
        return (1.0 - tau) * self.start_shares + tau * self.end_shares

    def fit_markov_chain(self) -> tuple[np.ndarray, np.ndarray | sp.csr_array]:
        """(lambda, rho) of the fitted MC approximation (module docstring; exact). rho is dense
        up to ``SPARSE_ABOVE`` products, CSR beyond."""
        w = self.mean_shares
        n = self.n_products
        arrival = np.zeros(n)
        flow = sp.csr_array((n, n))
        for w_s, chain in zip(w, self.chains):
            arrival += w_s * chain.arrival
            flow = flow + sp.diags_array(w_s * chain.arrival) @ chain.substitution_csr
        safe = np.where(arrival > 0, arrival, 1.0)
        rho = sp.csr_array(sp.diags_array(np.where(arrival > 0, 1.0 / safe, 0.0)) @ flow)
        rho.eliminate_zeros()
        rho.sort_indices()
        return arrival, (rho.toarray() if n <= SPARSE_ABOVE else rho)

    def json_block(self) -> tuple[str, dict[str, Any]]:
        """``("segments", block)`` for the instance JSON."""
        chains = [
            {
                "arrival": chain.arrival.tolist(),
                "substitution": substitution_to_json(chain.substitution),
            }
            for chain in self.chains
        ]
        block = {"chains": chains, "start_shares": self.start_shares.tolist()}
        if not np.array_equal(self.start_shares, self.end_shares):
            block["end_shares"] = self.end_shares.tolist()
        return "segments", block

    def run_seasons(
        self,
        stock: np.ndarray,
        seed: int,
        first_season: int,
        customers: int,
        poisson: bool,
        sales: np.ndarray,
        kpis: np.ndarray,
    ) -> None:
        """The hook of :func:`envs.simulate.simulate` (contract of :mod:`envs.multistep`).
        Bit-identical for any number of threads."""
        n = self.n_products
        stock = np.ascontiguousarray(stock, dtype=np.int64)
        assert stock.shape == (n,) and sales.dtype == np.int64 and sales.shape[1:] == (n,)
        assert kpis.dtype == np.int64 and kpis.shape == (sales.shape[0], 3)
        _run_seasons(
            stock,
            np.uint64(seed),
            np.int64(first_season),
            np.int64(customers),
            bool(poisson),
            self.start_shares,
            self.end_shares,
            self.row_start,
            self.slots,
            sales,
            kpis,
        )


def _shares_iv(label: str, shares: Any, n_segments: int) -> np.ndarray:
    w = vector_iv(label, shares, n_segments, low=0.0, length_of="chains")
    total = float(w.sum())
    if abs(total - 1.0) > SUM_TOLERANCE:
        raise InputError(f"`{label}` sums to {total!r}; segment shares must sum to 1")
    return w / total


def segment_chain(arrival: Any, substitution: Any, template: Instance, label: str) -> Instance:
    """One segment's chain, validated by every rule of :func:`envs.instance.make_instance`
    (the catalog's economics and T are copied from ``template`` and unused); an error names
    the chain by ``label``."""
    try:
        return make_instance(
            name=label,
            prices=template.prices,
            costs=template.costs,
            salvage=template.salvage,
            arrival=arrival,
            substitution=substitution,
            customers=template.customers,
        )
    except InputError as exc:
        raise type(exc)(f"{label}: {exc}") from exc


def segment_instance(
    shopper: SegmentShopper,
    *,
    prices: Any,
    costs: Any,
    customers: int,
    salvage: Any = None,
    arrivals: str = "fixed",
    name: str = "segments",
) -> Instance:
    """An :class:`Instance` whose simulator runs the mixture ``shopper`` and whose chain is its
    fitted MC approximation (what planners see)."""
    if not isinstance(shopper, SegmentShopper):
        raise InputTypeError(f"`shopper` must be a SegmentShopper; got {describe(shopper)}")
    arrival, rho = shopper.fit_markov_chain()
    try:
        return make_instance(
            name=name,
            prices=prices,
            costs=costs,
            salvage=salvage,
            arrival=arrival,
            substitution=rho,
            customers=customers,
            arrivals=arrivals,
            shopper=shopper,
            metadata={
                "choice_model": "segments",
                "start_shares": shopper.start_shares.tolist(),
                "end_shares": shopper.end_shares.tolist(),
            },
        )
    except InputError as exc:
        raise type(exc)(f"the fitted Markov chain of the segments: {exc}") from exc


def load_block(block: Any, instance: Instance) -> SegmentShopper:
    """The loader of the ``"segments"`` block (:func:`envs.instance.register_process`): the
    chains, the shares, and the check that the file's chain is the mixture's fitted MC."""
    if not isinstance(block, dict):
        raise InputTypeError(
            f"`segments` must be a JSON object with keys {list(BLOCK_KEYS)}; got {describe(block)}"
        )
    unknown = [key for key in block if key not in BLOCK_KEYS]
    missing = [key for key in BLOCK_KEYS[:2] if key not in block]
    if unknown or missing:
        raise InputError(
            f"`segments` must have the keys 'chains' and 'start_shares' (and optionally "
            f"'end_shares'); got {sorted(map(str, block))}"
        )
    chains = block["chains"]
    if not isinstance(chains, list) or not 1 <= len(chains) <= MAX_SEGMENTS:
        raise InputError(
            f"`segments.chains` must be a list of 1 to {MAX_SEGMENTS} chains; "
            f"got {describe(chains)}"
        )
    built = []
    for s, chain in enumerate(chains):
        label = f"`segments.chains` entry {s}"
        if not isinstance(chain, dict) or sorted(chain) != sorted(CHAIN_KEYS):
            raise InputError(
                f"{label} must be a JSON object with exactly the keys {list(CHAIN_KEYS)}; "
                f"got {describe(chain)}"
            )
        rho = substitution_from_json(chain["substitution"], instance.n_products)
        built.append(segment_chain(chain["arrival"], rho, instance, label))
    shopper = SegmentShopper(tuple(built), block["start_shares"], block.get("end_shares"))
    arrival, rho = shopper.fit_markov_chain()
    _fit_iv("arrival", instance.arrival, arrival)
    _fit_iv("substitution", instance.substitution_csr, sp.csr_array(rho))
    return shopper


def _fit_iv(label: str, given: Any, fitted: Any) -> None:
    """Refuse a file chain (vector, or CSR matrix) that differs from the fit by more than
    ``FIT_TOLERANCE`` anywhere, naming the worst entry (sparse differences stay sparse)."""
    if sp.issparse(given):
        difference = sp.coo_array(given - fitted)
        values, where = difference.data, (difference.row, difference.col)
    else:
        values, where = np.asarray(given - fitted), (np.arange(np.size(given)),)
    if values.size == 0 or float(np.max(np.abs(values))) <= FIT_TOLERANCE:
        return
    k = int(np.argmax(np.abs(values)))
    index = tuple(int(w[k]) for w in where)
    shown = index[0] if len(index) == 1 else index
    if len(index) == 1:
        given_value, fitted_value = given[index[0]], fitted[index[0]]
    else:
        given_value = sp.csr_array(given)[[index[0]], :].toarray()[0, index[1]]
        fitted_value = sp.csr_array(fitted)[[index[0]], :].toarray()[0, index[1]]
    raise InputError(
        f"`{label}` must be the fitted Markov chain of the `segments` block (to "
        f"{FIT_TOLERANCE:g}); entry {shown} is {float(given_value)!r}, the fit gives "
        f"{float(fitted_value)!r}"
    )


register_process("segments", load_block)


# ------------------------------------------------------------------------------ kernel


@njit(parallel=True, cache=True)
def _run_seasons(
    stock, seed, first_season, customers, poisson, w0, w1, row_start, slots, sales, kpis
):
    n = stock.shape[0]
    n_segments = w0.shape[0]
    for k in prange(sales.shape[0]):
        skey = season_key(seed, first_season + k)
        n_customers = customers
        if poisson:
            n_customers = poisson_count(customer_key(skey, POISSON_CUSTOMER), np.float64(customers))
        remaining = stock.copy()
        in_stock = 0
        for i in range(n):
            if remaining[i] > 0:
                in_stock += 1
        lost = 0
        substitutions = 0
        for t in range(n_customers):
            ckey = customer_key(skey, t)
            s = 0
            if n_segments > 1:
                tau = (t + 0.5) / n_customers
                u = to_uniform(draw(ckey, 0))
                cumulative = 0.0
                for c in range(n_segments):
                    share = (1.0 - tau) * w0[c] + tau * w1[c]
                    if share > 0.0:
                        s = c  # u beyond a rounded-down total falls to the last possible one
                    cumulative += share
                    if u < cumulative:
                        break
            rows = row_start[s]
            first = table_sample(draw(ckey, 1), rows[0], n + 1, slots)
            if first == n:
                continue
            if in_stock == 0:
                lost += 1
                continue
            i = first
            step = 2
            while i != n and remaining[i] == 0:
                start = rows[i + 1]
                i = table_sample(draw(ckey, step), start, rows[i + 2] - start, slots)
                step += 1
            if i == n:
                lost += 1
                continue
            if i != first:
                substitutions += 1
            remaining[i] -= 1
            sales[k, i] += 1
            if remaining[i] == 0:
                in_stock -= 1
        kpis[k, 0] = n_customers
        kpis[k, 1] = lost
        kpis[k, 2] = substitutions
