"""Embedded central system (CSMS) for the simulator and the scenario tests.

Built on the Mobility House `ocpp` package (which validates every frame it
receives against the official OCPP 1.6 schemas) and `websockets`. It records
every raw frame in both directions so tests can check transcripts.

Fault injection for the outage tests (nothing is armed by default):
  csms.drop_after(k, "in"|"out"|"lost")  abort the TCP connection right after the k-th frame
                                  received from (not answered) / sent to the chargers, or instead
                                  of answering the k-th received frame after processing it; once;
  csms.go_down() / csms.come_up() abort every connection and refuse new ones (HTTP 503) / serve again;
  csms.fail_action(action, n)     answer the next n CALLs of `action` with a CALLERROR (n=None: always);
  csms.ignore_action(action, n)   do not answer the next n CALLs of `action` at all (n=None: never);
  csms.hang_action(action, n)     on the next n CALLs of `action`, stop reading that connection (no
                                  answer, no pong: a hung CSMS) until the charger connects again.
"""
import asyncio
import base64
import datetime
import itertools
import json

import websockets
from websockets.asyncio.server import serve
from websockets.http11 import Response
from websockets.datastructures import Headers

from ocpp.routing import on
from ocpp.v16 import ChargePoint as OcppChargePoint
from ocpp.v16 import call_result
from ocpp.v16.enums import Action

HEARTBEAT_INTERVAL_S = 300


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Station(OcppChargePoint):
    """One connected charge point as seen from the CSMS."""

    def __init__(self, csms, cp_id, connection):
        super().__init__(cp_id, connection, response_timeout=30)
        self.csms = csms
        self.frames = []            # (direction, raw text): "in" from the charger, "out" to it
        self.transactions = {}      # transactionId -> dict(start=..., stop=..., meter_values=[...])
        self._lose_answer = False

    # record raw traffic in both directions
    async def route_message(self, raw_msg):
        self.frames.append(("in", raw_msg))
        self.csms._note(self, "in", raw_msg)
        csms = self.csms
        csms.received += 1
        if csms.received == csms.drop_in:
            csms.dropped.append(("in", csms.received, raw_msg))
            self.abort()
            return None
        if csms.received == csms.lose_answer:
            self._lose_answer = True   # processed, but _send drops the link instead of answering
        fault = csms._fault_for(raw_msg)
        if fault is not None:
            kind, msg = fault
            if kind == "ignore":
                return None
            if kind == "hang":
                csms.hung.append(msg[1])
                transport = getattr(self._connection, "transport", None)
                if transport is not None:
                    transport.pause_reading()
                return None
            return await self._send(json.dumps([4, msg[1], csms.error_code, "injected fault", {}]))
        return await super().route_message(raw_msg)

    async def _send(self, message):
        if self._lose_answer:
            self._lose_answer = False
            self.csms.dropped.append(("lost", self.csms.received, message))
            self.abort()
            return
        self.frames.append(("out", message))
        self.csms._note(self, "out", message)
        await super()._send(message)
        csms = self.csms
        csms.sent += 1
        if csms.sent == csms.drop_out:
            csms.dropped.append(("out", csms.sent, message))
            self.abort()

    def abort(self):
        """Drop the TCP connection without a closing handshake (a lost link)."""
        transport = getattr(self._connection, "transport", None)
        if transport is not None:
            transport.abort()

    @on(Action.boot_notification)
    def on_boot(self, charge_point_vendor, charge_point_model, **kw):
        status, interval = self.csms.boot_answer(self)
        return call_result.BootNotification(current_time=utcnow(), interval=interval, status=status)

    @on(Action.heartbeat)
    def on_heartbeat(self):
        return call_result.Heartbeat(current_time=utcnow())

    @on(Action.authorize)
    def on_authorize(self, id_tag):
        return call_result.Authorize(id_tag_info={"status": self.csms.tag_status(id_tag)})

    @on(Action.status_notification)
    def on_status(self, connector_id, error_code, status, **kw):
        return call_result.StatusNotification()

    @on(Action.meter_values)
    def on_meter_values(self, connector_id, meter_value, transaction_id=None, **kw):
        t = self.transactions.get(transaction_id)
        if t is not None:
            t["meter_values"].append(meter_value)
        return call_result.MeterValues()

    @on(Action.start_transaction)
    def on_start(self, connector_id, id_tag, meter_start, timestamp, **kw):
        tx_id = next(self.csms.tx_ids)
        self.transactions[tx_id] = {"connector": connector_id, "id_tag": id_tag, "meter_start": meter_start,
                                    "start": timestamp, "stop": None, "meter_stop": None,
                                    "reason": None, "meter_values": []}
        return call_result.StartTransaction(transaction_id=tx_id,
                                            id_tag_info={"status": self.csms.tag_status(id_tag)})

    @on(Action.stop_transaction)
    def on_stop(self, meter_stop, timestamp, transaction_id, reason=None, **kw):
        t = self.transactions.get(transaction_id)
        if t is not None:
            t.update(stop=timestamp, meter_stop=meter_stop, reason=reason)
        return call_result.StopTransaction(id_tag_info={"status": "Accepted"})

    @on(Action.data_transfer)
    def on_data_transfer(self, vendor_id, **kw):
        return call_result.DataTransfer(status="UnknownVendorId")


class Csms:
    """A central system on 127.0.0.1. `async with Csms() as csms:` then csms.url."""

    def __init__(self, host="127.0.0.1", port=0, boot_status="Accepted", boot_interval=HEARTBEAT_INTERVAL_S,
                 invalid_tags=(), passwords=None, on_frame=None, ssl=None):
        self.ssl = ssl                       # an ssl.SSLContext: serve wss:// instead of ws://
        self.host = host
        self.port = port
        self.boot_status = boot_status       # or a list: answers in turn, the last one repeats
        self.boot_interval = boot_interval
        self.invalid_tags = set(invalid_tags)
        self.passwords = passwords           # {cp_id: password} -> HTTP Basic auth required
        self.on_frame = on_frame             # callback(station, direction, raw)
        self.stations = {}
        self.tx_ids = itertools.count(1001)
        self.server = None
        self.log = []               # (station, direction, raw) for every frame, in order
        self.log_times = []         # loop.time() of each entry of log (retry spacing in tests)
        self._cursor = 0            # wait_for scans the log from here
        self._changed = None
        self.boots = 0
        # fault injection (see the module docstring); frame counters count every station
        self.received = 0           # frames received from chargers so far
        self.sent = 0               # frames sent to chargers so far
        self.drop_in = None         # abort the connection when `received` reaches this
        self.drop_out = None        # ... when `sent` reaches this
        self.lose_answer = None     # process the frame received as this count, then drop instead of answering
        self.dropped = []           # (direction, count, raw frame) of every injected drop
        self.down = False           # refuse connections
        self.refused = 0            # connection attempts refused while down
        self.error_code = "InternalError"
        self._faults = {}           # action -> [kind "error"/"ignore"/"hang", remaining or None (always)]
        self.hung = []              # message ids of the CALLs a hang_action fault hung on

    # -------------------------------------------------------------- fault injection
    def drop_after(self, k, direction="in"):
        """Abort the connection right after the k-th frame (counted since start) in `direction`:
        "in" = received from the charger, not processed nor answered; "out" = sent to it;
        "lost" = the k-th received frame is processed (a transaction recorded, ...) but the
        connection drops instead of its answer. Once."""
        if direction == "lost":
            self.lose_answer = k
        elif direction == "in":
            self.drop_in = k
        elif direction == "out":
            self.drop_out = k
        else:
            raise ValueError("direction is 'in' or 'out', not %r" % (direction,))

    def go_down(self):
        """Abort every open connection; refuse new ones until come_up()."""
        self.down = True
        for station in self.stations.values():
            station.abort()

    def come_up(self):
        self.down = False

    def fail_action(self, action, times=None, code="InternalError"):
        """Answer the next `times` CALLs of `action` with a CALLERROR `code` (None: always)."""
        self.error_code = code
        self._faults[action] = ["error", times]

    def ignore_action(self, action, times=None):
        """Leave the next `times` CALLs of `action` unanswered (None: always)."""
        self._faults[action] = ["ignore", times]

    def hang_action(self, action, times=1):
        """On the next `times` CALLs of `action` stop reading that connection: no answer, no pong,
        until the charger reconnects (the hung connection is then dropped)."""
        self._faults[action] = ["hang", times]

    def _fault_for(self, raw):
        if not self._faults:
            return None
        msg = json.loads(raw)
        if msg[0] != 2 or msg[2] not in self._faults:
            return None
        f = self._faults[msg[2]]
        if f[1] is not None:
            if f[1] <= 0:
                return None
            f[1] -= 1
        return f[0], msg

    @property
    def url(self):
        return "%s://%s:%d" % ("wss" if self.ssl else "ws", self.host, self.port)

    async def __aenter__(self):
        self.server = await serve(self._handler, self.host, self.port, subprotocols=["ocpp1.6"],
                                  process_request=self._check_auth, ping_interval=None,
                                  max_size=2 ** 20, ssl=self.ssl)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc):
        self.server.close()
        await self.server.wait_closed()

    def boot_answer(self, station):
        self.boots += 1
        status = self.boot_status
        if isinstance(status, (list, tuple)):
            status = status[min(self.boots, len(status)) - 1]
        return status, self.boot_interval

    def tag_status(self, id_tag):
        return "Invalid" if id_tag in self.invalid_tags else "Accepted"

    def _check_auth(self, connection, request):
        if self.down:
            self.refused += 1
            return Response(503, "Service Unavailable", Headers(), b"")
        if self.passwords is None:
            return None
        cp_id = request.path.rstrip("/").rsplit("/", 1)[-1]
        want = self.passwords.get(cp_id)
        got = request.headers.get("Authorization", "")
        expect = "Basic " + base64.b64encode(("%s:%s" % (cp_id, want)).encode()).decode()
        if want is None or got != expect:
            return Response(401, "Unauthorized", Headers({"WWW-Authenticate": "Basic"}), b"")
        return None

    async def _handler(self, ws):
        if self.down:  # went down during the handshake
            ws.transport.abort()
            return
        cp_id = ws.request.path.rstrip("/").rsplit("/", 1)[-1]
        station = self.stations.get(cp_id)
        if station is None:
            station = Station(self, cp_id, ws)
            self.stations[cp_id] = station
        else:  # reconnect: keep the records, take the new connection
            station.abort()  # the old one, if still open (hung)
            station._connection = ws
        try:
            await station.start()
        except websockets.ConnectionClosed:
            pass

    def _note(self, station, direction, raw):
        self.log.append((station, direction, raw))
        self.log_times.append(asyncio.get_running_loop().time())
        if self.on_frame is not None:
            self.on_frame(station, direction, raw)
        if self._changed is not None:
            self._changed.set()

    async def wait_for(self, action=None, direction="in", timeout=30, pred=None):
        """The next frame after the last one a wait_for returned (by default a CALL
        of `action` from the charger). Frames are never missed: the log is scanned."""
        def match(d, raw):
            if d != direction:
                return False
            msg = json.loads(raw)
            if pred is not None:
                return pred(msg)
            return action is None or (msg[0] == 2 and msg[2] == action)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            while self._cursor < len(self.log):
                _, d, raw = self.log[self._cursor]
                self._cursor += 1
                if match(d, raw):
                    return json.loads(raw)
            left = deadline - loop.time()
            if left <= 0:
                raise asyncio.TimeoutError("no %s frame %s within %s s" % (direction, action or pred, timeout))
            self._changed = asyncio.Event()
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except asyncio.TimeoutError:
                pass

    async def connected(self, cp_id, timeout=30):
        for _ in range(int(timeout * 20)):
            if cp_id in self.stations:
                return self.stations[cp_id]
            await asyncio.sleep(0.05)
        raise TimeoutError("charge point %s did not connect" % cp_id)


def summary(station):
    """Closing lines for the simulator: one per transaction."""
    lines = []
    for tx_id, t in sorted(station.transactions.items()):
        dur = "open"
        if t["stop"]:
            a = datetime.datetime.fromisoformat(t["start"].replace("Z", "+00:00"))
            b = datetime.datetime.fromisoformat(t["stop"].replace("Z", "+00:00"))
            dur = "%d s" % (b - a).total_seconds()
        energy = "-" if t["meter_stop"] is None else "%d Wh" % (t["meter_stop"] - t["meter_start"])
        lines.append("transaction %s: idTag %s, connector %s, energy %s, duration %s, %d MeterValues, stop reason %s"
                     % (tx_id, t["id_tag"], t["connector"], energy, dur, len(t["meter_values"]), t["reason"]))
    return lines
