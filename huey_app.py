"""The consumer's entry: `huey_consumer huey_app.huey`.

The Huey instance, with the job ledger's hooks, lives in `paydash.broker`. This module
tells the ledger's bridge how to build the Flask app that tasks run in (the worker's app,
without the web's pages and their imports), then imports the tasks last, so the consumer
registers every one of them.
"""
from sqlalchemy.orm import configure_mappers

from paydash.broker import huey  # noqa: F401  (named on the consumer's command line)
from paydash.config import is_consumer
from paydash.factory import create_worker_app
from paydash.ledger import bridge
from paydash.ledger import memory
from paydash.ledger import workers

bridge.set_app_factory(create_worker_app)

import tasks  # noqa: E402,F401  Registers every task with `huey`.

if is_consumer():
    # Its forked workers and scheduler die with it: orphans ran jobs under a dead id.
    workers.die_with_consumer()
    # Before any worker starts: big blocks stay mappings of their own, given back when freed.
    memory.tune_allocator()
    # Build the app, and set up the ORM's mappers, before the consumer forks its process
    # workers, so they share both instead of each doing it while the queue waits.
    bridge.flask_app()
    configure_mappers()
    # Last: the app is built, and no later garbage collection needs to walk what it is made of.
    memory.freeze_startup()
