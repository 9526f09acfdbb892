"""Vendors: the products of a catalog grouped by the vendor that offers them (DESIGN.md 6).

An instance with vendor labels (:attr:`envs.instance.Instance.vendors`, labels 0..V-1) is
revealed one vendor at a time: the label is the vendor's arrival position, so after step k the
retailer knows the products of vendors 0..k. What is known then is the *revealed sub-catalog*
(:func:`sub_catalog`): the revealed products' prices, costs, salvage values and first-choice
probabilities lambda_i (each product's own data), and the substitution rho_ij among revealed
products only. Where a revealed product's customers go among products not yet revealed is not
part of it: that mass appears as leaving (the rows of rho_RR sum to less than the rows of rho),
so the sub-catalog is a valid instance of its own on which any planner can run.

:func:`relabel_vendors` plays the same catalog in another arrival order; the sequential
environments draw one per episode (:func:`draw_vendor_order`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from envs.instance import Instance, make_instance
from envs.validation import InputError, integer_iv


class MissingVendorsError(InputError):
    """An instance without vendor labels was given where vendors are needed."""


def vendors_of(instance: Instance) -> np.ndarray:
    """The instance's vendor labels; refuses an instance without them."""
    if instance.vendors is None:
        raise MissingVendorsError(
            f"instance {instance.name!r} has no vendor labels; the sequential problem needs "
            "them (use a vendor family such as 'vendors-small', or give `vendors` in the "
            "instance)"
        )
    return instance.vendors


def revealed_products(instance: Instance, step: int) -> np.ndarray:
    """int64 indices of the products of vendors 0..step, ordered by vendor, then by index
    (the row order of the sequential observation: earlier vendors first)."""
    vendors = vendors_of(instance)
    step = integer_iv("step", step, low=0, high=instance.n_vendors - 1)
    index = np.flatnonzero(vendors <= step)
    return index[np.argsort(vendors[index], kind="stable")]


def sub_catalog(instance: Instance, products: np.ndarray, *, name: str | None = None) -> Instance:
    """The instance restricted to ``products`` (module docstring): their prices, costs, salvage
    and lambda, rho among them only, the same T and arrivals, vendor labels renumbered 0..
    in the order of the original labels. A ground-truth shopper is dropped (the sub-catalog
    is the Markov chain model a planner sees)."""
    index = np.asarray(products, dtype=np.int64)
    if index.ndim != 1 or index.size == 0:
        raise InputError(f"`products` must list at least one product index; got {index.shape}")
    if index.min() < 0 or index.max() >= instance.n_products:
        raise InputError(
            f"`products` must be indices in [0, {instance.n_products - 1}]; got "
            f"[{int(index.min())}, {int(index.max())}]"
        )
    rho = instance.substitution_csr[index][:, index]
    vendors = None
    if instance.vendors is not None:
        _, vendors = np.unique(instance.vendors[index], return_inverse=True)
    return make_instance(
        name=name or f"{instance.name}-sub{index.size}",
        prices=instance.prices[index],
        costs=instance.costs[index],
        salvage=instance.salvage[index],
        arrival=instance.arrival[index],
        substitution=rho if instance.is_sparse else rho.toarray(),
        customers=instance.customers,
        arrivals=instance.arrivals,
        metadata=dict(instance.metadata),
        vendors=vendors,
    )


def relabel_vendors(instance: Instance, order: np.ndarray) -> Instance:
    """The same instance with vendor ``order[p]`` arriving at position p (labels renumbered)."""
    vendors = vendors_of(instance)
    order = np.asarray(order, dtype=np.int64)
    v = instance.n_vendors
    if order.shape != (v,) or not np.array_equal(np.sort(order), np.arange(v)):
        raise InputError(
            f"`order` must be a permutation of the {v} vendor labels; got {order.tolist()}"
        )
    position = np.empty(v, dtype=np.int64)
    position[order] = np.arange(v)
    relabelled = position[vendors]
    relabelled.setflags(write=False)
    return replace(instance, vendors=relabelled)


def draw_vendor_order(rng: np.random.Generator, n_vendors: int) -> np.ndarray:
    """A uniformly random arrival order of ``n_vendors`` vendors."""
    return rng.permutation(n_vendors)
