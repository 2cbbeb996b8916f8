"""Password hashing: argon2id with the configured cost, bounded concurrency, low CPU priority."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher

from app.core.security import HASHING_NICENESS, PasswordHashing
from tests.conftest import make_settings


def test_hash_and_verify_use_the_configured_argon2id_cost() -> None:
    hashing = PasswordHashing(make_settings("sqlite://", ARGON2_TIME_COST="2", ARGON2_MEMORY_COST_KIB="2048"))
    hashed = hashing.hash("correct horse")
    assert hashed.startswith("$argon2id$v=19$m=2048,t=2,p=1$")
    assert hashing.verify(hashed, "correct horse")
    assert not hashing.verify(hashed, "wrong horse")
    assert not hashing.verify("not a hash", "correct horse")
    assert not hashing.needs_rehash(hashed)
    assert hashing.needs_rehash(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash("x"))


def test_hashes_run_on_at_most_n_low_priority_threads() -> None:
    hashing = PasswordHashing(make_settings("sqlite://", ARGON2_MAX_CONCURRENT="2"))
    with ThreadPoolExecutor(max_workers=6) as callers:
        hashes = list(callers.map(hashing.hash, [f"password {n}" for n in range(12)]))
    assert len(set(hashes)) == 12
    hashing_threads = hashing._pool._threads  # the pool's own threads: the bound on concurrent hashes
    assert 1 <= len(hashing_threads) <= 2
    base = os.getpriority(os.PRIO_PROCESS, 0)
    assert {os.getpriority(os.PRIO_PROCESS, t.native_id) for t in hashing_threads if t.native_id} == {
        base + HASHING_NICENESS
    }
