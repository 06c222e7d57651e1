"""The overview's run-time percentiles are kept between requests, and follow every new success."""
import datetime as dt
import uuid

import pytest
from conftest import statements_during

from paydash.clock import utcnow
from paydash.extensions import db
from paydash.ledger import stats
from paydash.ledger.models import Job
from paydash.ledger.models import JobState


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_app(request, tmp_path):
    from conftest import base_config  # noqa: PLC0415
    from conftest import dispose_app  # noqa: PLC0415
    from conftest import make_app  # noqa: PLC0415
    url = (f"sqlite:///{tmp_path / 'ledger.db'}" if request.param == "sqlite"
           else request.getfixturevalue("pg_url"))
    app = make_app(base_config(tmp_path, url))
    stats._RUNTIME_CACHE.clear()
    yield app
    dispose_app(app)


def add_success(runtime: float, finished: dt.datetime, tenant_id: int | None = 1) -> None:
    db.session.add(Job(id=str(uuid.uuid4()), task_name="noop", queue="maintenance",
                       tenant_id=tenant_id, state=JobState.SUCCESS.value, created_at=finished,
                       finished_at=finished, runtime_seconds=runtime))
    db.session.commit()


def sample_queries(app, call) -> tuple[list[str], object]:
    seen, result = statements_during(call)
    return [s for s in seen if "LIMIT" in s.upper() and "UNION" not in s.upper()
            and "runtime_seconds" in s and "finished_at, job.id" not in s], result


def test_percentiles_are_kept_while_nothing_finishes_and_follow_a_new_success(ledger_app):
    now = utcnow().replace(second=5)
    with ledger_app.app_context():
        for i in range(10):
            add_success(1.0 + i, now - dt.timedelta(minutes=30 + i))
        # Two task names: the newest-success check is then one UNION of probes.
        first = stats.runtime_percentiles(None, ["noop", "other"], now)
        queries, again = sample_queries(ledger_app, lambda: stats.runtime_percentiles(None, ["noop", "other"], now))
        assert again == first and queries == []          # kept: only the one-probe check ran
        add_success(100.0, now - dt.timedelta(minutes=1))
        queries, after = sample_queries(ledger_app, lambda: stats.runtime_percentiles(None, ["noop", "other"], now))
    assert first[0]["count"] == 10 and first[0]["p99"] == 10.0
    assert len(queries) == 1 and after[0]["count"] == 11 and after[0]["p99"] == 100.0


def test_each_tenant_has_its_own_percentiles(ledger_app):
    now = utcnow().replace(second=5)
    with ledger_app.app_context():
        add_success(2.0, now - dt.timedelta(minutes=5), tenant_id=1)
        add_success(9.0, now - dt.timedelta(minutes=4), tenant_id=2)
        one = stats.runtime_percentiles(1, ["noop"], now)
        two = stats.runtime_percentiles(2, ["noop"], now)
        everyone = stats.runtime_percentiles(None, ["noop"], now)
    assert one[0]["p50"] == 2.0 and two[0]["p50"] == 9.0 and everyone[0]["count"] == 2
