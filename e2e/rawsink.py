"""aiosmtpd handler for the e2e suite: a byte-exact SMTP sink.

    PYTHONPATH=e2e python3 -m aiosmtpd -n -l 127.0.0.1:PORT -c rawsink.RawSink DIR [EXTRA ...]

Every accepted message becomes two files in DIR, named by a per-process sequence number:
  NNNNNN.eml  envelope.original_content: the DATA as received, dot-unstuffed, CRLF kept
  NNNNNN.env  peer, EHLO name, MAIL FROM and RCPT TO (one per line)
Both are written under a temporary name and renamed, so a file that exists is complete
(the .env is renamed last: waiting for it means the message is there). Every MAIL FROM the
sink sees, delivered or not, is appended to DIR/mail_from.log (to prove that something
never reached it).

EXTRA arguments are EHLO keywords to add to the reply (e.g. PIPELINING, or decoys such as
STARTTLS that the gateway in front must take out). aiosmtpd itself does not offer
PIPELINING, although it reads pipelined commands in order.
"""
import itertools
import os


class RawSink:
    def __init__(self, directory, extra=()):
        self.dir = directory
        self.extra = list(extra)
        os.makedirs(directory, exist_ok=True)
        self.seq = itertools.count(1)

    @classmethod
    def from_cli(cls, parser, *args):
        if not args:
            parser.error("RawSink: DIR [EXTRA-EHLO-KEYWORD ...]")
        return cls(args[0], args[1:])

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        # The 5-argument hook replaces aiosmtpd's own bookkeeping of the EHLO name.
        session.host_name = hostname
        last = responses[-1]  # "250 HELP"
        body = responses[:-1] + ["250-" + kw for kw in self.extra]
        return body + [last]

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        # With this hook present aiosmtpd leaves the envelope to the handler.
        with open(os.path.join(self.dir, "mail_from.log"), "a", encoding="utf-8") as f:
            f.write(address + "\n")
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        n = next(self.seq)
        base = os.path.join(self.dir, f"{n:06d}")
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content)
        with open(base + ".env.tmp", "w", encoding="utf-8") as f:
            f.write(f"peer: {session.peer[0]}:{session.peer[1]}\n")
            f.write(f"helo: {session.host_name}\n")
            f.write(f"mail_from: {envelope.mail_from}\n")
            for rcpt in envelope.rcpt_tos:
                f.write(f"rcpt_to: {rcpt}\n")
        os.rename(base + ".eml.tmp", base + ".eml")
        os.rename(base + ".env.tmp", base + ".env")
        return "250 2.0.0 OK stored"
