"""A real SMTP server (aiosmtpd) and a real HTTP webhook receiver, started by the tests."""
import email
import json
import threading
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer

from aiosmtpd.controller import Controller
from conftest import free_port


class Mailbox:
    """Every message the SMTP server accepted: (recipients, subject, body)."""

    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        with self.lock:
            self.messages.append((sorted(envelope.rcpt_tos), str(message["Subject"]),
                                  message.get_content()))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[str]:
        with self.lock:
            return [subject for rcpts, subject, _ in self.messages if address in rcpts]


class SmtpServer:
    def __init__(self):
        self.mailbox = Mailbox()
        self.port = free_port()
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()


class WebhookReceiver:
    """Collects JSON POSTs by path; `fail_next` makes the next N answers HTTP 500."""

    def __init__(self):
        self.posts = []
        self.fail_next = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if receiver.fail_next > 0:
                    receiver.fail_next -= 1
                    self.send_response(500)
                    self.end_headers()
                    return
                receiver.posts.append((self.path, self.headers.get("Content-Type"), json.loads(body)))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def texts(self, path: str) -> list[str]:
        return [payload["text"] for p, _, payload in self.posts if p == path]
