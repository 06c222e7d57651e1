"""Sign-in limits (issue 16, item 3): per account across addresses, per address across
accounts, counted atomically, in Redis when configured."""
import threading
import uuid

import pytest
from conftest import PASSWORD
from conftest import REDIS_URL
from conftest import People
from conftest import _port_open
from conftest import base_config
from conftest import dispose_app
from conftest import make_app
from conftest import missing_service

WRONG = "not-the-password"


def attempt(client, email: str, password: str = WRONG, ip: str = "10.0.0.1"):
    return client.post("/login", data={"email": email, "password": password},
                       environ_base={"REMOTE_ADDR": ip})


def test_ten_bad_passwords_lock_the_account_from_every_address(client, people):
    for n in range(10):
        assert attempt(client, "hr@acme.test", ip=f"10.0.0.{n}").status_code == 401
    blocked = attempt(client, "hr@acme.test", PASSWORD, ip="10.9.9.9")
    assert blocked.status_code == 429
    assert 0 < int(blocked.headers["Retry-After"]) <= 15 * 60
    assert b"too many sign-in attempts" in blocked.data and b"Traceback" not in blocked.data


def test_a_locked_account_does_not_lock_out_other_accounts(client, people):
    for _ in range(11):
        attempt(client, "hr@acme.test")
    assert attempt(client, "admin@acme.test", PASSWORD).status_code == 302


def test_spraying_many_accounts_from_one_address_is_limited(app, people):
    app.config["LOGIN_LIMIT_PER_ADDRESS"] = "20 per 15 minutes"
    client = app.test_client()
    for n in range(20):
        assert attempt(client, f"guess{n}@acme.test", ip="10.6.6.6").status_code == 401
    assert attempt(client, "hr@acme.test", PASSWORD, ip="10.6.6.6").status_code == 429
    # Another address is not held back by it.
    assert attempt(client, "hr@acme.test", PASSWORD, ip="10.1.1.1").status_code == 302


def test_the_json_api_gets_429_in_json(client, people):
    for _ in range(10):
        attempt(client, "hr@acme.test")
    response = client.post("/login", data={"email": "hr@acme.test", "password": WRONG},
                           headers={"Accept": "application/json"})
    assert response.status_code == 429 and response.is_json and "Retry-After" in response.headers


def parallel_bad_sign_ins(apps, count: int = 40) -> dict:
    """`count` wrong passwords for one account at once, spread over `apps` (processes)."""
    barrier = threading.Barrier(count)
    statuses = []
    lock = threading.Lock()

    def one(n):
        client = apps[n % len(apps)].test_client()
        barrier.wait()
        status = attempt(client, "hr@acme.test", ip=f"10.2.{n // 250}.{n % 250}").status_code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return {status: statuses.count(status) for status in set(statuses)}


def test_forty_parallel_bad_passwords_let_at_most_ten_through_in_memory(app, people):
    seen = parallel_bad_sign_ins([app])
    assert seen.get(401, 0) <= 10 and seen.get(401, 0) + seen.get(429, 0) == 40, seen


@pytest.fixture
def redis_limit_prefix():
    if not _port_open("127.0.0.1", 6379):
        missing_service("Redis at 127.0.0.1:6379")
    import redis  # noqa: PLC0415
    prefix = f"paydash_t_limits_{uuid.uuid4().hex[:10]}"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


def test_forty_parallel_bad_passwords_across_two_processes_share_one_redis_limit(
        tmp_path, sqlite_url, redis_limit_prefix):
    config = base_config(tmp_path, sqlite_url, LOGIN_LIMIT_STORAGE=REDIS_URL,
                         LOGIN_LIMIT_PREFIX=redis_limit_prefix)
    first = make_app(config)
    People(first)
    second = make_app(dict(config))  # another web process: same database, same Redis
    try:
        seen = parallel_bad_sign_ins([first, second])
        assert seen.get(401, 0) <= 10 and seen.get(401, 0) + seen.get(429, 0) == 40, seen
        assert seen.get(401, 0) >= 1  # the limit let the first attempts be checked
    finally:
        dispose_app(first)
        dispose_app(second)


def test_with_the_limit_store_unreachable_sign_in_works_and_is_still_limited(tmp_path, sqlite_url):
    app = make_app(base_config(tmp_path, sqlite_url, LOGIN_LIMIT_STORAGE="redis://127.0.0.1:1/0"))
    People(app)
    client = app.test_client()
    try:
        assert attempt(client, "hr@acme.test", PASSWORD).status_code == 302
        for _ in range(9):
            assert attempt(client, "hr@acme.test").status_code == 401
        assert attempt(client, "hr@acme.test").status_code == 429
    finally:
        dispose_app(app)
