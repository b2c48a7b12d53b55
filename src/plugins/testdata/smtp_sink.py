"""A local SMTP server for tests: every mail it accepts is written to <dir>/mail-<n>.eml.

usage: smtp_sink.py DIR PORT_FILE [--user U --password P] [--tls CERT KEY]

It listens on 127.0.0.1 at a free port, writes the port to PORT_FILE once it accepts
connections, and runs until killed. With --user/--password it offers AUTH PLAIN and LOGIN
(without TLS) and accepts only that login. With --tls it offers STARTTLS with that certificate.
"""
import argparse
import logging
import os
import socket
import ssl
import time
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    def __init__(self, folder):
        self.folder = folder
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        path = os.path.join(self.folder, "mail-%d.eml" % self.count)
        with open(path + ".tmp", "wb") as out:
            out.write(("X-Envelope-From: %s\r\n" % envelope.mail_from).encode())
            out.write(("X-Envelope-To: %s\r\n" % ",".join(envelope.rcpt_tos)).encode())
            login = session.auth_data or ""
            if isinstance(login, bytes):
                login = login.decode()
            out.write(("X-Login: %s\r\n" % login).encode())
            out.write(envelope.original_content)
        os.rename(path + ".tmp", path)
        return "250 OK"


def main():
    warnings.simplefilter("ignore")  # "AUTH without TLS": on purpose, on the loopback
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("port_file")
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    args = parser.parse_args()

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == args.user
              and auth_data.password.decode() == args.password)
        return AuthResult(success=ok, handled=False, auth_data=args.user if ok else None)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    kwargs = {}
    if args.user:
        kwargs = dict(authenticator=authenticate, auth_require_tls=False,
                      auth_required=True)
    if args.tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls[0], args.tls[1])
        kwargs["tls_context"] = context
    controller = Controller(Sink(args.folder), hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    with open(args.port_file + ".tmp", "w") as out:
        out.write(str(port))
    os.rename(args.port_file + ".tmp", args.port_file)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
