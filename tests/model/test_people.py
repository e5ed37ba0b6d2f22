"""The Faker pool: sized by the people a tenant employs, grown when it hires far more, seeded."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from simulator.model import Tenant
from simulator.model._people import PersonPool


def people(pool: PersonPool, n: int) -> list[tuple[str, str, str]]:
    return [(p.given_name, p.family_name, p.email) for p in (pool.draw() for _ in range(n))]


@pytest.mark.parametrize(
    ("users", "names"),
    [
        pytest.param(1, 8 + 12, id="one-user-floor"),
        pytest.param(5, 8 + 12, id="five-users-floor"),
        pytest.param(20, 20 + 40, id="twenty-users-proportional"),
        pytest.param(100, 100 + 200, id="hundred-users-proportional"),
        pytest.param(10_000, 400 + 600, id="ten-thousand-users-capped"),
    ],
)
def test_the_pool_is_sized_by_the_users(users: int, names: int) -> None:
    # What a pool costs to build is the names it asks Faker for: a 5-user tenant, drawn by the
    # hundred in Hypothesis tests, must not pay for hundreds.
    assert PersonPool(seed=1, size_hint=users).names_drawn == names


def test_a_small_tenant_builds_a_small_pool() -> None:
    tenant = Tenant(seed=1, users=5)
    assert tenant.people.names_drawn <= 20
    assert len({u.email for u in tenant.users}) == len({u.display_name for u in tenant.users}) == 5


def test_the_pool_grows_when_a_small_tenant_hires_many() -> None:
    pool = PersonPool(seed=2, size_hint=5)
    drawn = people(pool, 300)
    assert len({email for _, _, email in drawn}) == 300
    # Distinct people, not numbered copies of a few names.
    assert len({(given, family) for given, family, _ in drawn}) == 300
    assert not any(any(c.isdigit() for c in email.split("@")[0]) for _, _, email in drawn)
    assert 20 < pool.names_drawn <= 512 + 600


def test_a_tenant_near_its_size_keeps_its_pool() -> None:
    tenant = Tenant(seed=3, users=5)
    before = tenant.people.names_drawn
    tenant.random_activity(400)
    assert tenant.people.names_drawn == before


def test_same_seed_same_people_whatever_else_the_process_built() -> None:
    alone = people(PersonPool(seed=4, size_hint=3), 60)
    first, other = PersonPool(seed=4, size_hint=3), PersonPool(seed=5, size_hint=3)
    interleaved = []
    for _ in range(60):
        interleaved.extend(people(first, 1))
        people(other, 2)  # grows its own pool in between
    assert interleaved == alone


def test_pools_built_in_threads_match_pools_built_in_turn() -> None:
    def build(seed: int) -> tuple[str, list[tuple[str, str, str]]]:
        pool = PersonPool(seed=seed, size_hint=4)
        return pool.domain, people(pool, 40)

    in_turn = [build(seed) for seed in range(8)]
    with ThreadPoolExecutor(max_workers=4) as executor:
        assert list(executor.map(build, range(8))) == in_turn
