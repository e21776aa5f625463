# OCPP-J 1.6 charge point core, what an idle or charging charger runs every period:
# heartbeat, statuses, the transactions' state (the stop, persisted readings), sending, and
# the dispatch of answers. The rest is imported for its work and unloaded (on_demand):
# start-up, registration and the clock (ocpp16.boot), failed CALLs and bad frames
# (ocpp16.failures), authorizing an idTag (ocpp16.offline), its transaction's start and
# StopTransaction and building meter values (ocpp16.aligned), power-loss recovery
# (ocpp16.recovery), the CSMS's calls (ocpp16.calls, their handlers in ocpp16.profiles), the
# resident features' loading, the security events and idle() (ocpp16.calls, through __getattr__).
# Sans-I/O: text frames in (receive), text frames out (outbox); time is the `now` argument
# (monotonic ms). It never sleeps, never touches a socket, and writes flash only through the
# message queue and store.save.
import gc
import sys

import log
import store
from compat import const
from ocpp16 import profiles
from ocpp16 import rpc
from ocpp16 import timefmt
from ocpp16.queue import QueueError

# How long we wait for the CSMS to answer one of our CALLs (OCPP-J message timeout).
_CALL_TIMEOUT_MS = const(30000)
# BootNotification retry when the CSMS gave no usable interval.
BOOT_RETRY_DEFAULT_S = const(60)
# Non-transaction messages held in RAM while waiting for their turn (offline
# StatusNotifications are coalesced per connector, so this bounds the rest).
_MAX_RAM_MESSAGES = const(16)
# A stopped transaction's meterStop is read when the contactor opens, at most this
# long after the stop (the interlock forces it open after 6 s; a welded one cannot).
_STOP_SETTLE_MS = const(7000)
# A running transaction's meter reading goes to tx.json (for a PowerLoss meterStop) when
# it has grown this much since the last save, or has grown at all and this long passed,
# whichever comes first; independent of MeterValueSampleInterval.
_PERSIST_WH = const(10)
_PERSIST_MS = const(30000)
# Recent core events kept for the tests (ChargePoint.events; a session makes ~4: 32 of them
# held ~2.4 KB of a long-running charger's heap, these 8 ~0.6 KB).
_MAX_EVENTS = const(8)
# ChargePoint.__getattr__: the on-demand module of each rarely used method, as "module: name
# name ;" groups in one string; then the attributes only rare paths set, as "=value: name ;"
# groups (the value they read as until set; "=" alone: None).
_RARE = const("calls: feature drop_feature security_event idle ;failures: receive_too_large ;"
              "aligned: _sampled _meter_values ;"
              # Last FirmwareStatusNotification / DiagnosticsStatusNotification status
              # (TriggerMessage sends these; Firmware Management sets them).
              "=Idle: firmware_status diagnostics_status ;"
              # when the last InvalidMessages security event was reported (ocpp16.failures)
              "=: invalid_event_ms ;"
              # ocpp16.smart.State while that feature is resident
              "=: smart ;")
# State files in data_dir: the open transactions (for power-loss recovery, ocpp16.recovery)
# and the connectors' availability (ChangeAvailability, ocpp16.core_ops).
# tx.json: {connector id: [idTag, its StartTransaction's queue seq, transactionId or None,
# meterStart, start epoch, its StopTransaction's queue seq or None, last saved reading (Wh),
# and when (epoch)]} (ocpp16.recovery reads it; it also reads the dict of earlier versions).
TX_FILE = "tx.json"
AVAIL_FILE = "avail.json"
# Epoch seconds before which the wall clock is considered not set (2020-01-01).
CLOCK_VALID_AFTER = 1577836800


class WallClock:
    """Epoch seconds derived from the monotonic `now`; set by the CSMS's currentTime."""

    def __init__(self, epoch=0, now=0):
        self.base = (epoch, now)      # the epoch seconds at the monotonic ms `now`

    set = __init__  # setting the clock: the same two numbers anew

    def epoch(self, now):
        base = self.base
        return base[0] + (now - base[1]) // 1000

    def known(self):
        return self.base[0] >= CLOCK_VALID_AFTER

    def stamp(self, now):
        return timefmt.format_datetime(self.epoch(now))


class Transaction:
    # Until set (class attributes: no store in __init__, no instance slot while unset):
    tx_id = None                      # assigned by the CSMS
    next_sample_ms = None
    begin_values = None               # Transaction.Begin sampled values for StopTxnSampledData
    stop_seq = None                   # queue seq its StopTransaction gets (recorded before the push)
    stopping = None                   # (reason, idTag, since) once a stop was asked for

    def __init__(self, connector, id_tag, tx_ref, meter_start, now, start_epoch):
        self.connector = connector
        self.id_tag = id_tag
        self.tx_ref = tx_ref          # queue seq of its StartTransaction
        self.meter_start = meter_start
        self.start_epoch = start_epoch
        self.saved = (meter_start, now)  # meter reading (Wh) last written to tx.json, and when (ms)


class ChargePoint:
    # State that starts as these and that most sessions change rarely or never (class
    # attributes: no store in __init__, no instance slot until it is set; what every session
    # sets is made in __init__: a class slot more would cost more than its store):
    link_suspect = False              # a CALL timed out: the app checks the link (ping; reconnect without pong)
    auth = None                       # granted authorization waiting for a plug: dict
    reboot = None                     # "Soft" / "Hard" once a Reset was accepted and its stops are out (ocpp16.reset)
    clock_offset = None               # seconds the clock jumped when it was first set (timestamp repair)
    profile_change = None             # (previous, new) SecurityProfile: the app reconnects (ocpp16.secprofile; read every period)

    def __init__(self, device, config, evses, queue, clock=None, data_dir=None, reader=None, now=0,
                 id_prefix="", board=None):
        self.device = device          # validated config.json
        self.config = config          # ocpp16.config.Config
        self.evses = evses            # evse.connector.Evse, connector i+1 at index i
        self.queue = queue            # ocpp16.queue.MessageQueue
        self.clock = clock or WallClock()
        self.data_dir = data_dir
        self.reader = reader
        self.board = board or {}      # the board file: voltage_v, phases, max_current_a (Smart Charging)
        self.ids = rpc.MessageIds(id_prefix)
        self.outbox = []              # text frames to send, in order
        self.ram = []                 # [barrier seq, action, payload, callback or None (see receive)]
        self.attempts = {}            # queue seq -> failed deliveries so far
        self.tx = {}                  # connector id -> Transaction
        self.finishing = set()
        self.reported = {}            # connector id -> (status, errorCode) last queued
        self.seen = {}                # connector id -> (status, errorCode, since ms)
        self.last_call_ms = now
        self.scheduled_unavailable = set()
        self.events = []              # recent (kind, detail...) notes for the tests, bounded
        self.features = {}            # name -> resident feature module (ocpp16.profiles.BOOT_FEATURES)
        self.jobs = []                # (module, args) for the app to run as background tasks (I/O)
        self.online = False
        self.available = True         # connector 0 availability (ocpp16.boot reads it back)
        self.boot_status = None       # None, "Pending", "Rejected", "Accepted"
        self.pending = None           # our CALL awaiting its answer: {action, payload, cb, seq, id, time (sent)}
        self.next_boot_ms = 0
        self.retry_at = 0             # earliest time the queue head may be sent again
        self.next_aligned_epoch = None
        self._not_loaded = None       # the on-demand module that failed to load last (on_demand)
        self.on_demand("boot", "start", now)  # state files, resident features

    # ------------------------------------------------------------------ on-demand code
    def __getattr__(self, name):
        """The core's methods that do not run every period (looked up here only because the
        class has no such name), each fn(cp, ...) of the on-demand module of its group in
        _RARE, loaded for the call (on_demand: None when it cannot be loaded):
          idle(): nothing waiting to be sent or answered (ocpp16.calls; None when it cannot
              be loaded: a drain waits for its timeout);
          feature(name, now): the feature module `name`, loaded and kept resident (features)
              until drop_feature(name); None when it cannot be loaded (ocpp16.calls);
          security_event(kind, now, info=None): a Security whitepaper event reported
              (ocpp16.calls, through ocpp16.secevents; a failure is logged);
          receive_too_large(head, size, now): a frame above the WebSocket's limit, read to its
              end and dropped, head its first bytes (ocpp16.failures);
          _sampled(evse, key, context, now), _meter_values(evse, key, context, now, tx): a
              meterValue element, a MeterValues message (ocpp16.aligned).
        auth_store: the AuthStore of the Local Authorization List and the Authorization Cache,
            read from flash for this use (ocpp16.offline; None when it cannot be loaded).
        The attributes of the "=value:" groups read as that value until they are set. Another
        name raises AttributeError (getattr(cp, name, default) works)."""
        if name == "auth_store":  # the local list and cache, read from flash for each use
            return self.on_demand("offline", "auth_store")
        mod = profiles.handler(name, _RARE)
        if mod is None:
            raise AttributeError(name)
        if mod[0] == "=":  # an attribute not set yet
            return mod[1:] or None
        return lambda *args: self.on_demand(mod, name, *args)

    def on_demand(self, name, fn, *args):
        """fn(cp, *args) of the module ocpp16.<name>, imported for the call and unloaded after it
        (unless it is a resident feature); fn None: the module itself, left loaded (a feature).
        None when it cannot be imported: logged (once while the same module keeps failing: a
        stop is tried again every tick), charging goes on, tried again on the next use. A module
        already loaded (a call of it asks for more of it) stays for the call that loaded it."""
        held = name in self.features or "ocpp16" + "." + name in sys.modules
        if not held:  # the garbage freed first, so the module's code fills the lowest holes
            gc.collect()
        try:
            mod = profiles.load(name)
        except Exception as e:  # ImportError, MemoryError
            if self._not_loaded != name:
                log.error("%s not loaded: %r", name, e)
            self._not_loaded = name
            return None
        self._not_loaded = None
        if fn is None:
            return mod
        try:
            return getattr(mod, fn)(self, *args)
        finally:
            if not held and name not in self.features:
                profiles.unload(name)

    def _hooks(self, name):
        out = []
        for f in self.features.values():
            fn = getattr(f, name, None)
            if fn is not None:
                out.append(fn)
        return out

    def _event(self, e):
        self.events.append(e)
        if len(self.events) > _MAX_EVENTS:
            self.events.pop(0)

    # ------------------------------------------------------------------ state files
    def _path(self, name):
        return self.data_dir + "/" + name if self.data_dir else None

    def _save_tx(self, now):
        p = self._path(TX_FILE)
        if p:
            d = {}
            for c in self.tx:
                t = self.tx[c]
                t.saved = (self.evses[c - 1].energy_wh(), now)
                # a list, not a dict: its keys were names interned for ever (TX_FILE says the order)
                d[str(c)] = [t.id_tag, t.tx_ref, t.tx_id, t.meter_start, t.start_epoch, t.stop_seq,
                             t.saved[0], self.clock.epoch(now)]
            store.save(p, d)

    # ------------------------------------------------------------------ link events
    def on_connect(self, now):
        self.online = True
        self.pending = None
        self.retry_at = now
        if self.boot_status != "Accepted":
            self.next_boot_ms = now

    def on_disconnect(self, now):
        self.online = False
        if self.pending is not None:
            self.on_demand("failures", "failed", self.pending, None, now)  # None: lost (ocpp16.failures)
        self.pending = None

    # ------------------------------------------------------------------ transactions
    # An idTag is authorized by ocpp16.offline (online or not); its transaction starts and
    # finishes (StopTransaction) in ocpp16.aligned, with its meter values. The stop itself is
    # here: it never waits for an import.
    def stop_transaction(self, connector, reason, now, id_tag=None):
        """End a transaction: the offer stops at once; meterStop is read and the
        StopTransaction queued once the contactor is open, since the EV may draw
        current until it opens S2 (IEC 61851 allows it 3 s; the interlock 6 s)."""
        t = self.tx.get(connector)
        if t is None or t.stopping is not None:
            return t is not None
        evse = self.evses[connector - 1]
        evse.permit(False)
        t.stopping = (reason, id_tag, now)
        if not evse.contactor_closed:
            self.on_demand("aligned", "finish", connector, now)
        return True

    # ------------------------------------------------------------------ tick
    def tick(self, now):
        """Time passed: drive status, transactions, meter values, retries, sending."""
        reader_fault = None           # the reader's errorCode (connector 0's status)
        if self.reader is not None:
            try:
                tag = self.reader.poll()
            except Exception as e:  # HalError: reader gone
                tag = None
                reader_fault = getattr(e, "code", "ReaderFailure")
            if tag:  # a card presented: it stops its own transaction, else it asks to start one
                for c in self.tx:
                    if self.tx[c].id_tag == tag:
                        self.stop_transaction(c, "Local", now, id_tag=tag)
                        break
                else:
                    self.on_demand("offline", "authorize", tag, None, now)
        if self.auth is not None and now >= self.auth["until"]:
            log.info("authorization for %s expired", self.auth["tag"])
            self.auth = None
        for evse in self.evses:
            c = evse.id
            t = self.tx.get(c)
            if t is None:
                if not evse.plugged:
                    self.finishing.discard(c)
                a = self.auth
                # A new authorization also starts a new transaction on a connector still
                # Finishing (the EV stayed plugged after the last one stopped).
                if (a is not None and evse.plugged and (a["connector"] in (None, c))
                        and evse.available and evse.fault is None):
                    # The start (ocpp16.aligned, with its Begin values; the queue's room is checked
                    # there, resident): one on-demand module at this moment, which decides the
                    # smallest heap. Code that cannot load keeps the authorization (spent in there)
                    # for the next tick, while it lasts.
                    self.on_demand("aligned", "start", evse, now)
            elif t.stopping is not None:
                # Waiting for the contactor to open (bounded: a welded contact cannot); its
                # StopTransaction (ocpp16.aligned) is tried again every tick until it is queued.
                if not evse.contactor_closed or now - t.stopping[2] >= _STOP_SETTLE_MS:
                    self.on_demand("aligned", "finish", c, now)
            elif not evse.plugged and self.config.get("StopTransactionOnEVSideDisconnect"):
                self.stop_transaction(c, "EVDisconnected", now)
            elif t.next_sample_ms is not None and now >= t.next_sample_ms:
                # built by ocpp16.aligned: a sample it cannot load is logged and missed, never the transaction
                self.on_demand("aligned", "sample", now, t)
                interval = self.config.get("MeterValueSampleInterval")
                t.next_sample_ms = t.next_sample_ms + interval * 1000 if interval else None
                self._save_tx(now)
            else:
                evse.read_meter()  # no I/O where a meter task reads it
                grown = evse.energy_wh() - t.saved[0]
                if grown >= _PERSIST_WH or (grown > 0 and now - t.saved[1] >= _PERSIST_MS):
                    self._save_tx(now)  # bounds what a power cut loses of this transaction's energy
        interval = self.config.get("ClockAlignedDataInterval")
        due = self.next_aligned_epoch
        if not interval or not self.clock.known():
            self.next_aligned_epoch = None
        elif due is None or self.clock.epoch(now) >= due:
            if due is not None:
                self.on_demand("aligned", "sample", now)
            self.next_aligned_epoch = (self.clock.epoch(now) // interval + 1) * interval
        for hook in self._hooks("tick"):
            hook(self, now)
        if self.boot_status == "Accepted":  # the statuses (none before BootNotification is accepted)
            min_ms = self.config.get("MinimumStatusDuration") * 1000
            a = self.auth
            c = 0  # connector 0 first: the charge point itself (the reader's fault)
            s, err = "Available" if self.available else "Unavailable", reader_fault or "NoError"
            for evse in [None] + self.evses:
                if evse is not None:
                    c = evse.id
                    t = self.tx.get(c)
                    stopped = t is not None and t.stopping is not None  # waiting only for its meterStop: Finishing
                    s = evse.status(t is not None and not stopped, stopped or c in self.finishing)
                    if s == "Available" and a is not None and a["connector"] in (None, c):
                        s = "Preparing"
                    for hook in self._hooks("status"):
                        s = hook(self, c, s, now)
                    err = evse.error_code()
                cur = (s, err)
                seen = self.seen.get(c)
                if seen is None or (seen[0], seen[1]) != cur:
                    self.seen[c] = seen = (s, err, now)
                if self.reported.get(c) == cur:
                    continue
                # MinimumStatusDuration: a status must hold this long before it is reported
                # (faults and the first report go out at once).
                if c in self.reported and err == "NoError" and now - seen[2] < min_ms:
                    continue
                self.reported[c] = cur
                payload = {"connectorId": c, "errorCode": err, "status": s,
                           "timestamp": self.clock.stamp(now)}
                self._ram("StatusNotification", payload, None, c)
        self._pump(now)

    # ------------------------------------------------------------------ sending
    def _push(self, action, payload, tx_ref):
        """A transaction message (or a critical security event) queued on flash: its seq, or None
        when it cannot be (queue full, record too large, flash error: ocpp16.failures names and
        reports it; the caller goes on without it)."""
        try:
            seq = self.queue.push(action, payload, tx_ref=tx_ref)
        except (QueueError, OSError) as e:
            return self.on_demand("failures", "refused", action, e)
        return seq

    def _ram(self, action, payload, cb, c=None):
        """A message that waits in RAM (cb: called with the answer, a function or a (module, fn,
        args...) tuple of on-demand code, see receive; c: a StatusNotification's connector, of
        which only the latest waits while offline)."""
        if c is not None and not self.online:
            # Offline, only the latest status of a connector matters; it goes where the
            # latest one belongs, after the transaction messages queued before it.
            for m in self.ram:
                if m[1] == action and m[2].get("connectorId") == c:
                    self.ram.remove(m)
                    break
        if len(self.ram) >= _MAX_RAM_MESSAGES:
            log.warning("RAM buffer full: %s dropped", self.ram.pop(0)[1])
        # its barrier: the seq of the newest queued message (the queue's next_seq - 1, also after a
        # reboot with a backlog on flash, or a push whose write failed: it may have landed), sent after it
        self.ram.append([self.queue.next_seq - 1, action, payload, cb])

    def _pump(self, now):
        if not self.online:
            return
        p = self.pending
        if p is not None:
            if now - p["time"] < _CALL_TIMEOUT_MS:
                return
            self.pending = None
            self.link_suspect = True
            self.on_demand("failures", "failed", p, "timeout", now)
        r = cb = seq = None
        if self.boot_status != "Accepted":
            # Nothing else is sent until the CSMS accepts this (OCPP 1.6 4.2); its payload is
            # ocpp16.boot's (None when that cannot be loaded: asked again after the retry wait).
            if now < self.next_boot_ms:
                return
            self.next_boot_ms = now + BOOT_RETRY_DEFAULT_S * 1000  # sooner if so answered
            action, payload = "BootNotification", self.on_demand("boot", "payload")
            if payload is None:
                return
        else:
            # the head's seq only: its message is decoded when it is sent (a retry wait with a
            # backlog would decode it every tick, garbage that fragments the heap)
            seq = self.queue.peek(False)
            ram = self.ram
            if ram and (seq is None or ram[0][0] < seq):
                r = ram[0]  # taken from the RAM buffer only once it is sent
                _, action, payload, cb = r
                seq = None
            elif seq is not None and now >= self.retry_at:
                _, action, payload, _ = self.queue.peek()
            else:
                interval = self.config.get("HeartbeatInterval")
                if not interval or now - self.last_call_ms < interval * 1000:
                    return
                action, payload, seq = "Heartbeat", {}, None
        m = {"action": action, "payload": payload, "cb": cb, "seq": seq}
        # Sent now, unless it cannot be encoded (MemoryError below the smallest heap): then
        # nothing was taken (the queue head stays the head, a RAM message stays first, a
        # BootNotification is tried again next tick), it goes on a later tick, and charging goes on.
        try:
            if self.clock_offset is not None:  # timestamps taken before the clock was set
                self.on_demand("boot", "repair", m["payload"])
            m["id"] = self.ids.next()
            m["time"] = now  # when it was sent (its answer is due within _CALL_TIMEOUT_MS)
            self.outbox.append(rpc.encode_call(m["id"], m["action"], m["payload"]))
        except MemoryError as e:
            if self.boot_status != "Accepted":
                self.next_boot_ms = now
            try:
                log.warning("%s not sent now: %r", m["action"], e)
            except MemoryError:
                pass
            return
        self.pending = m
        self.last_call_ms = now
        if r is not None:
            self.ram.pop(0)

    # ------------------------------------------------------------------ receiving
    def receive(self, text, now):
        """One text frame from the CSMS. A CALLRESULT to our CALL m is checked, acked when it came
        from the queue (with a Start's transactionId), then what its action needs (ocpp16.boot
        for a BootNotification or Heartbeat, ocpp16.offline for a transaction's), then the
        callback of the one who sent it."""
        try:
            frame = rpc.parse(text)
        except rpc.RpcError as e:
            self.on_demand("failures", "answer", e, now)  # not OCPP-J: e says why
            return
        m = self.pending
        # rpc.parse's tuples: a CALL has 4 elements, a CALLRESULT 3, a CALLERROR 5
        if len(frame) == 4:  # a CALL, answered by ocpp16.calls; InternalError when it cannot be loaded now
            if self.on_demand("calls", "answer", frame[1], frame[2], frame[3], now) is None:
                self.outbox.append(rpc.encode_error(frame[1], rpc.InternalError, "%s failed" % frame[2]))
        elif len(frame) != 3 or m is None or m["id"] != frame[1]:
            self.on_demand("failures", "answer", frame, now)  # a CALLERROR, or an answer to no CALL of ours
        else:
            self.pending = None
            action, p = m["action"], frame[2]
            try:
                rpc.validate_result(action, p)
            except rpc.RpcError as e:
                self.on_demand("failures", "failed", m, e, now)
            else:
                seq = m["seq"]
                # The queue first: a power cut after it is recovered from the queue (its
                # transactionId map fills the transaction's later messages); the answer is never
                # asked for again (a second StartTransaction would be a second transaction at the CSMS).
                if seq is not None:
                    if action == "StartTransaction":
                        self.queue.resolve_tx(seq, p["transactionId"])
                    self.queue.ack(seq)
                    self.attempts.pop(seq, None)
                if action == "Heartbeat" or action == "BootNotification":  # the clock (and the registration)
                    self.on_demand("boot", "answered", p, now)
                elif action[-11:] == "Transaction":  # Start, Stop. When offline cannot load (logged),
                    # the idTagInfo is not learnt and the transaction keeps no transactionId in RAM
                    # (its messages get it from the queue; a RemoteStopTransaction naming it is rejected)
                    self.on_demand("offline", "_answered", m, p, now)
                cb = m["cb"]
                if type(cb) is tuple:  # (module, fn, args...): its fn(cp, args..., p, now), loaded for the call (Authorize)
                    self.on_demand(*(cb + (p, now)))
                elif cb is not None:  # a profile's own CALL (DataTransfer, SignCertificate, ...)
                    cb(p, now)
        self._pump(now)
