"""moto's server (a local DynamoDB, SNS, SES...) answering one request at a time.

`moto_server` serves requests on threads, and moto's TransactWriteItems is not isolated
between threads (it checks conditions, writes, and on failure restores a deep copy of the
table, so concurrent transactions can lose each other's writes). Real DynamoDB serializes
transactions; answering one request at a time gives tests that isolation, while clients
still race each other between their reads and their conditional writes.

Usage: python3 scripts/moto_serial.py PORT [PARENT_PID]
With PARENT_PID the server exits once that process is gone, so a test binary that cannot
run destructors (statics) never leaves it behind.
"""

import os
import sys
import threading
import time

from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple


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
    run_simple("127.0.0.1", port, app, threaded=False)


if __name__ == "__main__":
    main()
