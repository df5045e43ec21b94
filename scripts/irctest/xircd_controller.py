"""irctest controller for xircd.

Every test gets a fresh xircd: its own configuration, an empty state
directory and a new XMPP session, so that nothing one test did (rooms
joined, away state, the shared nick) reaches the next. The XMPP side is an
account on a running XMPP server, taken from the [xmpp] section of the
configuration named by $XIRCD_XMPP_CONFIG (the one the demo writes); each
test logs in with its own resource. $XIRCD_BIN is the xircd binary.

scripts/irctest/run sets both and passes this module to pytest as
--controller xircd_controller.
"""

import atexit
import json
import os
from pathlib import Path
import subprocess
import time
import tomllib
from typing import List, Optional, Set, Type

from irctest.basecontrollers import BaseServerController, DirectoryBasedController
from irctest.runner import NotImplementedByController


# Every xircd started, so that none outlives pytest: a test whose setUp was
# interrupted (a timeout) never runs its tearDown.
_started: List[subprocess.Popen] = []


@atexit.register
def _stop_all() -> None:
    for proc in _started:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    return json.dumps(str(v))  # a JSON string is a TOML basic string


class XircdController(BaseServerController, DirectoryBasedController):
    software_name = "xircd"
    supported_sasl_mechanisms: Set[str] = set()
    supports_sts = False
    _runs = 0

    def run(
        self,
        hostname: str,
        port: int,
        *,
        password: Optional[str],
        ssl: bool,
        run_services: bool,
        faketime: Optional[str],
        websocket_hostname: Optional[str],
        websocket_port: Optional[int],
    ) -> None:
        if websocket_hostname is not None or websocket_port is not None:
            raise NotImplementedByController("Websocket")
        if run_services:
            raise NotImplementedByController("services")
        assert self.proc is None
        self.port = port
        self.hostname = hostname
        self.create_config()
        assert self.directory
        XircdController._runs += 1

        base = tomllib.loads(Path(os.environ["XIRCD_XMPP_CONFIG"]).read_text())
        xmpp = dict(base["xmpp"])
        xmpp["resource"] = "irctest-%d-%d" % (os.getpid(), XircdController._runs)
        # irctest picks 0.0.0.0 as the hostname; xircd listens on loopback
        # only (anything else needs irc.password), which 0.0.0.0 reaches.
        irc = {"server_name": "My.Little.Server", "network": "xircd-irctest"}
        if ssl:
            self.gen_ssl()
            irc.update(listen="", tls_listen="127.0.0.1:%d" % port,
                       tls_cert=str(self.pem_path), tls_key=str(self.key_path))
        else:
            irc["listen"] = "127.0.0.1:%d" % port
        if password is not None:
            irc["password"] = password
        bridge = {"state_dir": str(self.directory / "state")}

        with self.open_file("xircd.toml") as fd:
            for name, section in (("irc", irc), ("xmpp", xmpp), ("bridge", bridge)):
                fd.write("[%s]\n" % name)
                for k, v in section.items():
                    fd.write("%s = %s\n" % (k, toml_value(v)))
        log_path = self.directory / "xircd.log"
        with log_path.open("wb") as log:
            self.proc = self.execute(
                [os.environ["XIRCD_BIN"], "-config", self.directory / "xircd.toml"],
                stdout=log,
                stderr=log,
            )
        _started.append(self.proc)
        # Tests expect a gateway that is logged in: the roster and rooms work.
        deadline = time.monotonic() + 30
        while b'msg="xmpp connected"' not in log_path.read_bytes():
            self.proc.poll()
            if self.proc.returncode is not None or time.monotonic() > deadline:
                # unittest skips tearDown when setUp fails: stop it here.
                self.kill_proc()
                raise RuntimeError(
                    "xircd did not start and log in to XMPP:\n"
                    + log_path.read_text(errors="replace")
                )
            time.sleep(0.05)
        self.wait_for_port()


def get_irctest_controller_class() -> Type[XircdController]:
    return XircdController
