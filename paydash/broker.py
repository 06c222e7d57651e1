"""The one Huey instance, with the ledger's hooks, and the decorators tasks are made with.

A leaf: it imports neither the Flask app nor the tasks. Task modules import their
decorator from here; `huey_app.py` (the consumer's entry) imports the tasks last.
"""
import functools

from paydash.config import Config
from paydash.ledger import bridge
from paydash.ledger.queue import make_huey

huey = make_huey(Config.as_dict())
bridge.install_hooks(huey)

task = functools.partial(bridge.task, huey)
periodic_task = functools.partial(bridge.periodic_task, huey)
