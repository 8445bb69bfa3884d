"""Parallel IIR filters driven by white noise, advanced a fixed block of samples at a
time: the band-limited noise of the simulated EEG (and the ECG's baseline wander)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import linalg, signal


def _unit_rms(b: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scale b so that the filter turns unit white noise into unit-variance output."""
    A, B, C, D = signal.tf2ss(b, a)
    P = linalg.solve_discrete_lyapunov(A, B @ B.T)
    return b / math.sqrt(float((C @ P @ C.T + D * D)[0, 0])), a


class FilterBank:
    """Parallel IIR filters driven by white noise, advanced ``n`` samples per step.

    Same result as ``lfilter`` with carried ``zi`` per filter (checked in the tests), but
    the block response of every filter is precomputed as one matrix
    [y; x_next] = M [x; u], so one block of all filters is one batched matmul. Dreamers
    share the bank (and M stays in cache); each keeps its own state."""

    def __init__(self, filters: Sequence[tuple[np.ndarray, np.ndarray]], n: int) -> None:
        self.filters = [_unit_rms(np.asarray(b), np.asarray(a)) for b, a in filters]
        ss = [signal.tf2ss(b, a) for b, a in self.filters]
        f, p = len(ss), max(s[0].shape[0] for s in ss)
        A, B, C, D = np.zeros((f, p, p)), np.zeros((f, p)), np.zeros((f, p)), np.zeros(f)
        for i, (a_, b_, c_, d_) in enumerate(ss):
            k = a_.shape[0]
            A[i, :k, :k], B[i, :k], C[i, :k], D[i] = a_, b_[:, 0], c_[0], d_[0, 0]
        X = np.zeros((f, p, p + n))
        X[:, :, :p] = np.eye(p)
        self.M = np.zeros((f, n + p, p + n))
        for k in range(n):  # responses to the initial state and to each input sample
            self.M[:, k] = np.einsum("fp,fpc->fc", C, X)
            self.M[:, k, p + k] += D
            X = A @ X
            X[:, :, p + k] += B
        self.M[:, n:] = X
        self.Mt = np.ascontiguousarray(self.M.transpose(0, 2, 1))  # vector @ Mt is faster
        self.n, self.shape = n, (f, p)
        self._ss = [(s[0], s[1]) for s in ss]

    def stationary_state(self, z: np.ndarray) -> np.ndarray:
        """A state drawn from the stationary distribution (so no warm-up transient)."""
        state = np.zeros(self.shape)
        for i, (a_, b_) in enumerate(self._ss):
            k = a_.shape[0]
            P = linalg.solve_discrete_lyapunov(a_, b_ @ b_.T)
            w, V = np.linalg.eigh(0.5 * (P + P.T))  # P is near-singular: no Cholesky
            state[i, :k] = V @ (np.sqrt(np.clip(w, 0.0, None)) * z[i, :k])
        return state

    def step(self, state: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Filter one block: (outputs (f, n), next state) from state (f, p) and u (f, n)."""
        out = np.matmul(np.concatenate((state, u), axis=1)[:, None, :], self.Mt)[:, 0, :]
        return out[:, : self.n], out[:, self.n :]
