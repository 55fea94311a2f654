"""Topic codebook: spherical mini-batch k-means in torch (runs on the GPU when there is one).

Grain: one centre per topic, unit length, in the embedding space of one model. Fitted on a
population sample of prompts (rows L2-normalised); a prompt's topic is its most cosine-similar
centre. Initialisation is k-means++ on cosine distance; updates follow Sculley (2010): each centre
moves towards the batch points assigned to it with a per-centre learning rate 1/count, then is
renormalised. Centres that never win are re-seeded on random points.
"""

from __future__ import annotations

import numpy as np
import torch


def _as_tensor(x: np.ndarray | torch.Tensor, device: str) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.to(device=device, dtype=torch.float32)
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(device)


def _normalise(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=-1, keepdim=True).clamp_min(1e-12)


class TopicCodebook:
    """Spherical mini-batch k-means.

    Parameters: n_topics (k), batch_size (points per update), max_iter (updates), tol (stop when
    the largest centre move, in cosine distance, falls below it), random_state, device.
    Learned: ``cluster_centers_`` (k, dim) float32 unit rows, ``n_iter_``, ``counts_`` (points
    assigned per centre over training).
    """

    def __init__(self, n_topics: int = 64, batch_size: int = 2048, max_iter: int = 100,
                 tol: float = 1e-4, random_state: int = 0, device: str = "cpu") -> None:
        self.n_topics = n_topics
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.device = device

    def _check(self, n_samples: int) -> None:
        if not isinstance(self.n_topics, int) or self.n_topics < 1:
            raise ValueError(f"n_topics: expected an integer >= 1, got {self.n_topics!r}")
        if n_samples < self.n_topics:
            raise ValueError(f"n_topics: expected at most n_samples={n_samples} topics, got {self.n_topics}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size: expected an integer >= 1, got {self.batch_size!r}")

    def _init_centres(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """k-means++ with cosine distance, on at most max(4096, 32 k) points."""
        n = x.shape[0]
        size = min(n, max(4096, 32 * self.n_topics))
        pool = x[torch.randperm(n, generator=gen, device="cpu")[:size].to(x.device)]
        first = int(torch.randint(pool.shape[0], (1,), generator=gen).item())
        centres = [pool[first]]
        dist = (1.0 - pool @ pool[first]).clamp_min(0)
        for _ in range(1, self.n_topics):
            total = float(dist.sum())
            if total <= 0:
                idx = int(torch.randint(pool.shape[0], (1,), generator=gen).item())
            else:
                probs = (dist / total).cpu()
                idx = int(torch.multinomial(probs, 1, generator=gen).item())
            centres.append(pool[idx])
            dist = torch.minimum(dist, (1.0 - pool @ pool[idx]).clamp_min(0))
        return torch.stack(centres)

    def fit(self, X: np.ndarray | torch.Tensor) -> TopicCodebook:
        """Fit on X (n, dim), rows L2-normalised."""
        x = _normalise(_as_tensor(X, self.device))
        self._check(x.shape[0])
        gen = torch.Generator(device="cpu").manual_seed(int(self.random_state))
        centres = self._init_centres(x, gen)
        counts = torch.zeros(self.n_topics, device=x.device)
        n = x.shape[0]
        it = 0
        for it in range(1, self.max_iter + 1):  # noqa: B007
            idx = torch.randint(n, (min(self.batch_size, n),), generator=gen).to(x.device)
            batch = x[idx]
            labels = (batch @ centres.T).argmax(dim=1)
            onehot = torch.nn.functional.one_hot(labels, self.n_topics).to(batch.dtype)
            sums = onehot.T @ batch  # a matrix product: far faster than index_add_ on CPU
            hits = onehot.sum(0)
            counts += hits
            eta = (hits / counts.clamp_min(1)).unsqueeze(1)
            won = hits > 0
            means = sums / hits.clamp_min(1).unsqueeze(1)
            new = torch.where(won.unsqueeze(1), _normalise((1 - eta) * centres + eta * means), centres)
            move = float((1.0 - (new * centres).sum(1)).max())
            centres = new
            dead = counts == 0
            if it % 10 == 0 and bool(dead.any()):
                pick = torch.randint(n, (int(dead.sum()),), generator=gen).to(x.device)
                centres[dead] = x[pick]
            if move < self.tol and it >= 10 and not bool(dead.any()):
                break
        self.cluster_centers_ = centres.cpu().numpy().astype(np.float32)
        self.counts_ = counts.cpu().numpy()
        self.n_iter_ = it
        return self

    def predict(self, X: np.ndarray | torch.Tensor) -> np.ndarray:
        """Topic index (0..k-1) of each row of X."""
        if not hasattr(self, "cluster_centers_"):
            raise ValueError("TopicCodebook: call fit() (or load centres) before predict()")
        x = _as_tensor(X, self.device)
        centres = _as_tensor(self.cluster_centers_, self.device)
        out = [(x[i:i + 65536] @ centres.T).argmax(dim=1) for i in range(0, x.shape[0], 65536)]
        if not out:
            return np.zeros(0, dtype=np.int64)
        return torch.cat(out).cpu().numpy()

    @classmethod
    def from_centres(cls, centres: np.ndarray, device: str = "cpu") -> TopicCodebook:
        """A fitted codebook from stored centres."""
        book = cls(n_topics=int(centres.shape[0]), device=device)
        book.cluster_centers_ = np.asarray(centres, dtype=np.float32)
        book.counts_ = np.zeros(centres.shape[0])
        book.n_iter_ = 0
        return book
