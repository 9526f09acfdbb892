"""A per-product actor-critic for stable-baselines3 that plays a catalog of any size.

The observation is the catalog observation of :mod:`envs.observation`: N rows of C columns
(product features, fluid LP columns, the k largest substitutes of each product with their
weights) and a catalog block of G columns; the network recovers N from the length, so one set
of weights decides the stock of any N. With H = ``hidden``, x_i product i's chosen feature
columns and c the chosen catalog columns:

* encoder: h_i = MLP([x_i, c]) (the same MLP for every product);
* ``rounds`` times (message passing along the substitution graph rho):
  h_i <- LayerNorm(h_i + MLP([h_i, sum_j rho_ij h_j, sum_j rho_ji h_j, pool(h)])),
  with sum_j rho_ij h_j gathered over i's k out-edges, sum_j rho_ji h_j the scatter-add of the
  same edges (what substitutes into i), and pool(h) = [mean_i h_i, max_i h_i] the catalog
  context;
* actor: mean_i = w . h_i + b, a linear head shared by all products and initialized at zero, so
  that the first policy is the action 0 (on a residual scale: the anchor); one learned
  log-standard deviation shared by all products;
* critic: its own encoder e_i = MLP([x_i, c]), pooled [mean_i e_i, max_i e_i] -> MLP -> value.

Every operation is either per product or a symmetric pooling, and messages follow the edges,
so permuting the products (rows, and the neighbour indices with them) permutes the action
(tested): the policy is permutation equivariant. ``columns="size-free"`` reads only the columns
whose meaning does not depend on N or T (:data:`envs.observation.SIZE_FREE_COLUMNS`), the
choice for one network across catalog sizes.

``layout="sequential"`` reads the observation of the sequential environments
(:mod:`envs.sequential`): rows of C + 5 columns (the catalog observation of the revealed
sub-catalog, then present / new vendor / committed / committed stock / anchor stock) and a
catalog block of G + 3 columns (then vendors left, share of rows revealed, number of vendors).
The five row columns and three catalog columns are always read, and the padding rows (present
= 0) are left out of every pooling (masked mean and max), so the network plays any N and any
number of vendors.

SB3 extension point: an ``ActorCriticPolicy`` subclass whose ``_build_mlp_extractor`` builds
this network (``latent_pi`` is the per-product mean, so ``action_net`` is the identity) and
whose ``log_std`` is one parameter broadcast by SB3's ``DiagGaussianDistribution``. It is
passed to PPO or A2C as the policy class (``policy: CatalogPolicy`` in an experiment file);
:meth:`CatalogPolicy.deterministic_action` plays an observation of any N (SB3's ``predict``
checks the shape against the training space).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.policies import ActorCriticPolicy
from torch import nn

from envs.observation import (
    BASE_COLUMNS,
    CATALOG_COLUMNS,
    DEFAULT_NEIGHBOURS,
    SIZE_FREE_CATALOG_COLUMNS,
    SIZE_FREE_COLUMNS,
    product_columns,
)
from envs.sequential import SEQUENTIAL_CATALOG_COLUMNS, SEQUENTIAL_COLUMNS

COLUMN_SETS = {
    "all": (tuple(range(BASE_COLUMNS)), tuple(range(CATALOG_COLUMNS))),
    "size-free": (SIZE_FREE_COLUMNS, SIZE_FREE_CATALOG_COLUMNS),
}
"""Named choices of the product and catalog columns the network reads."""
LAYOUTS = ("one-shot", "sequential")
"""The observation layouts: the one-shot catalog observation or the sequential one."""


def mlp(sizes: Sequence[int], last_activation: bool = True) -> nn.Sequential:
    """Linear layers of the given widths with SiLU between (and after, if asked)."""
    layers: list[nn.Module] = []
    for index in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[index], sizes[index + 1]))
        if index < len(sizes) - 2 or last_activation:
            layers.append(nn.SiLU())
    return nn.Sequential(*layers)


def pooled(h: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """[mean_i h_i, max_i h_i] over the products (dimension 1); with ``mask`` (B, N) of 0/1,
    over the products where it is 1 only (a catalog with none gives zeros)."""
    if mask is None:
        return torch.cat([h.mean(dim=1), h.amax(dim=1)], dim=-1)
    weight = mask.unsqueeze(-1)
    count = weight.sum(dim=1).clamp(min=1.0)
    mean = (h * weight).sum(dim=1) / count
    floor = torch.finfo(h.dtype).min
    top = torch.where(weight > 0, h, torch.full_like(h, floor)).amax(dim=1)
    top = torch.where(weight.sum(dim=1) > 0, top, torch.zeros_like(top))
    return torch.cat([mean, top], dim=-1)


class CatalogNetwork(nn.Module):
    """SB3 ``mlp_extractor``: observations (B, N C + G) -> (per-product means (B, N), critic
    latent (B, critic_hidden)); see the module docstring."""

    def __init__(
        self,
        *,
        hidden: int,
        rounds: int,
        critic_hidden: int,
        columns: str,
        neighbours: int,
        layout: str = "one-shot",
    ) -> None:
        super().__init__()
        self.neighbours = neighbours
        base = product_columns(neighbours)
        feature_columns, catalog_columns = COLUMN_SETS[columns]
        self.feature_columns = list(feature_columns)
        self.catalog_columns = list(catalog_columns)
        self.sequential = layout == "sequential"
        self.width = base
        self.catalog_width = CATALOG_COLUMNS
        if self.sequential:
            self.width = base + len(SEQUENTIAL_COLUMNS)
            self.catalog_width = CATALOG_COLUMNS + len(SEQUENTIAL_CATALOG_COLUMNS)
            self.feature_columns += list(range(base, self.width))
            self.catalog_columns += list(range(CATALOG_COLUMNS, self.catalog_width))
        self.present_column = base
        inputs = len(self.feature_columns) + len(self.catalog_columns)
        self.encoder = mlp([inputs, hidden, hidden])
        self.messages = nn.ModuleList(
            mlp([5 * hidden, hidden, hidden], last_activation=False) for _ in range(rounds)
        )
        self.norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(rounds))
        self.head = nn.Linear(hidden, 1)
        self.critic_encoder = mlp([inputs, critic_hidden, critic_hidden])
        self.critic = mlp([2 * critic_hidden, critic_hidden])
        self.latent_dim_pi = 1
        self.latent_dim_vf = critic_hidden

    def split(
        self, obs: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(inputs (B, N, F + G'), neighbour indices (B, N, k), weights (B, N, k), the mask of
        revealed rows (B, N) in the sequential layout, else None)."""
        batch, length = obs.shape
        n = (length - self.catalog_width) // self.width
        table = obs[:, : n * self.width].reshape(batch, n, self.width)
        catalog = obs[:, n * self.width :][:, self.catalog_columns]
        inputs = torch.cat(
            [table[..., self.feature_columns], catalog.unsqueeze(1).expand(batch, n, -1)], dim=-1
        )
        index = table[..., BASE_COLUMNS : BASE_COLUMNS + self.neighbours].round().long()
        weight = table[..., BASE_COLUMNS + self.neighbours : BASE_COLUMNS + 2 * self.neighbours]
        weight = torch.where(index >= 0, weight, torch.zeros_like(weight))
        mask = table[..., self.present_column] if self.sequential else None
        return inputs, index.clamp(min=0), weight, mask

    @staticmethod
    def propagate(
        h: torch.Tensor, index: torch.Tensor, weight: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(sum_j rho_ij h_j, sum_j rho_ji h_j) over the k out-edges i -> index[i, :]."""
        batch, n, width = h.shape
        k = index.shape[-1]
        flat = (index + torch.arange(batch, device=h.device).view(batch, 1, 1) * n).reshape(-1)
        rows = h.reshape(batch * n, width)
        out_message = (rows[flat].view(batch, n, k, width) * weight.unsqueeze(-1)).sum(dim=2)
        sent = (h.unsqueeze(2) * weight.unsqueeze(-1)).reshape(batch * n * k, width)
        in_message = torch.zeros_like(rows).index_add_(0, flat, sent).view(batch, n, width)
        return out_message, in_message

    def forward_actor(self, obs: torch.Tensor) -> torch.Tensor:
        inputs, index, weight, mask = self.split(obs)
        h = self.encoder(inputs)
        for message, norm in zip(self.messages, self.norms):
            out_message, in_message = self.propagate(h, index, weight)
            context = pooled(h, mask).unsqueeze(1).expand(-1, h.shape[1], -1)
            h = norm(h + message(torch.cat([h, out_message, in_message, context], dim=-1)))
        return self.head(h).squeeze(-1)

    def forward_critic(self, obs: torch.Tensor) -> torch.Tensor:
        inputs, _, _, mask = self.split(obs)
        return self.critic(pooled(self.critic_encoder(inputs), mask))

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.forward_actor(obs), self.forward_critic(obs)


class CatalogPolicy(ActorCriticPolicy):
    """SB3 actor-critic around :class:`CatalogNetwork` (module docstring).

    ``hidden``: width H of the product embeddings; ``rounds``: message-passing rounds;
    ``critic_hidden``: width of the critic; ``columns``: ``"all"`` or ``"size-free"``;
    ``neighbours``: k of the observation (the environment's ``neighbours``);
    ``layout``: ``"one-shot"`` or ``"sequential"`` (module docstring);
    ``log_std_init``: initial log standard deviation of the actions.
    """

    def __init__(
        self,
        observation_space: spaces.Box,
        action_space: spaces.Box,
        lr_schedule: Callable[[float], float],
        hidden: int = 64,
        rounds: int = 2,
        critic_hidden: int = 64,
        columns: str = "all",
        neighbours: int = DEFAULT_NEIGHBOURS,
        layout: str = "one-shot",
        log_std_init: float = -1.5,
        optimizer_class: type[torch.optim.Optimizer] = torch.optim.Adam,
        optimizer_kwargs: dict[str, Any] | None = None,
        use_sde: bool = False,
    ) -> None:
        assert not use_sde, "gSDE is not supported (the settings check refuses it)"
        self.network_kwargs = {
            "hidden": hidden,
            "rounds": rounds,
            "critic_hidden": critic_hidden,
            "columns": columns,
            "neighbours": neighbours,
            "layout": layout,
        }
        super().__init__(
            observation_space,
            action_space,
            lr_schedule,
            ortho_init=False,
            log_std_init=log_std_init,
            optimizer_class=optimizer_class,
            optimizer_kwargs=optimizer_kwargs,
        )

    def _build_mlp_extractor(self) -> None:
        self.mlp_extractor = CatalogNetwork(**self.network_kwargs)

    def _build(self, lr_schedule: Callable[[float], float]) -> None:
        self._build_mlp_extractor()
        self.action_net = nn.Identity()
        self.log_std = nn.Parameter(torch.full((1,), float(self.log_std_init)))
        self.value_net = nn.Linear(self.mlp_extractor.latent_dim_vf, 1)
        nn.init.zeros_(self.mlp_extractor.head.weight)
        nn.init.zeros_(self.mlp_extractor.head.bias)
        self.value_net.apply(partial(self.init_weights, gain=1.0))
        self.optimizer = self.optimizer_class(
            self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs
        )

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        unused = (
            "net_arch",
            "activation_fn",
            "ortho_init",
            "squash_output",
            "full_std",
            "use_expln",
            "share_features_extractor",
            "features_extractor_class",
            "features_extractor_kwargs",
            "normalize_images",
            "optimizer_class",
        )
        for name in unused:
            data.pop(name, None)
        data.update(self.network_kwargs)
        return data

    @torch.no_grad()
    def deterministic_action(self, observation: np.ndarray) -> np.ndarray:
        """The mean action, clipped to [-1, 1], for one observation of any N (float32[N])."""
        obs = torch.as_tensor(np.asarray(observation, dtype=np.float32)[None])
        mean = self.mlp_extractor.forward_actor(self.extract_features(obs))
        return np.clip(mean[0].numpy(), -1.0, 1.0)
