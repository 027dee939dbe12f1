"""moto's server (a local DynamoDB, SNS, SES...) answering one request at a time.

`moto_server` serves requests on threads, and moto's TransactWriteItems is not isolated
between threads (it checks conditions, writes, and on failure restores a deep copy of the
table, so concurrent transactions can lose each other's writes). Real DynamoDB serializes
transactions; answering one request at a time gives tests that isolation, while clients
still race each other between their reads and their conditional writes.

Usage: python3 scripts/moto_serial.py PORT [PARENT_PID]
PORT 0 takes a free port. Once the server holds its port it prints the number on a line of
its own, so a caller waits for that line instead of probing: a probe races whoever else
takes a free port meanwhile, and on loopback a probe of an unbound port in the ephemeral
range can even connect to itself.
With PARENT_PID the server exits once that process is gone, so a test binary that cannot
run destructors (statics) never leaves it behind.
"""

import os
import sys
import threading
import time

from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server


def exit_with(parent: int) -> None:
    while True:
        try:
            os.kill(parent, 0)
        except OSError:
            os._exit(0)
        time.sleep(0.5)


def main() -> None:
    port = int(sys.argv[1])
    if len(sys.argv) > 2:
        threading.Thread(target=exit_with, args=(int(sys.argv[2]),), daemon=True).start()
    app = DomainDispatcherApplication(create_backend_app)
    server = make_server("127.0.0.1", port, app, threaded=False)
    print(server.port, flush=True)
    # The caller may stop reading; nothing else goes to stdout.
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    server.serve_forever()


if __name__ == "__main__":
    main()
