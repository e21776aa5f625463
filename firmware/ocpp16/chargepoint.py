# OCPP-J 1.6 charge point core, what an idle or charging charger runs every period:
# heartbeat, statuses, authorization, transactions, meter values, sending, and the dispatch of
# answers and of CSMS calls. The rest is imported for its work and unloaded (on_demand):
# start-up and registration (ocpp16.boot), failed CALLs and bad frames (ocpp16.failures),
# offline authorization (ocpp16.offline), clock-aligned data (ocpp16.aligned), the handlers
# of the CSMS's calls (ocpp16.profiles). Sans-I/O: text frames in (receive), text frames out
# (outbox); time is the `now` argument (monotonic ms). It never sleeps, never touches a
# socket, and writes flash only through the message queue and store.save.
import log
import store
from compat import const
from ocpp16 import profiles
from ocpp16 import rpc
from ocpp16 import timefmt
from ocpp16.auth import AuthStore
from ocpp16.queue import QueueError

# How long we wait for the CSMS to answer one of our CALLs (OCPP-J message timeout).
CALL_TIMEOUT_MS = const(30000)
# Why a CALL got no usable answer (ocpp16.failures): only REFUSED counts towards
# TransactionMessageAttempts.
REFUSED = const(0)  # CALLERROR or an answer that fails validation
TIMEOUT = const(1)  # no answer within CALL_TIMEOUT_MS
LOST = const(2)  # the link dropped before the answer
# BootNotification retry when the CSMS gave no usable interval.
BOOT_RETRY_DEFAULT_S = const(60)
# Non-transaction messages held in RAM while waiting for their turn (offline
# StatusNotifications are coalesced per connector, so this bounds the rest).
MAX_RAM_MESSAGES = const(16)
# A stopped transaction's meterStop is read when the contactor opens, at most this
# long after the stop (the interlock forces it open after 6 s; a welded one cannot).
STOP_SETTLE_MS = const(7000)
# A running transaction's meter reading goes to tx.json (for a PowerLoss meterStop) when
# it has grown this much since the last save, or has grown at all and this long passed,
# whichever comes first; independent of MeterValueSampleInterval.
PERSIST_WH = const(10)
PERSIST_MS = const(30000)
# Recent core events kept for the app and tests (ChargePoint.events).
MAX_EVENTS = const(32)
# State files in data_dir: the open transactions (for power-loss recovery, ocpp16.recovery)
# and the connectors' availability (ChangeAvailability, ocpp16.core_ops).
TX_FILE = "tx.json"
AVAIL_FILE = "avail.json"
# Epoch seconds before which the wall clock is considered not set (2020-01-01).
CLOCK_VALID_AFTER = 1577836800
# A correction of a set clock larger than this (s) is a SettingSystemTime security event
# (smaller ones are the drift every Heartbeat corrects; ocpp16.boot handles the others).
CLOCK_EVENT_JUMP_S = const(60)


class WallClock:
    """Epoch seconds derived from the monotonic `now`; set by the CSMS's currentTime."""

    def __init__(self, epoch=0, now=0):
        self.base_epoch = epoch
        self.base_ms = now

    set = __init__  # setting the clock: the same two numbers anew

    def epoch(self, now):
        return self.base_epoch + (now - self.base_ms) // 1000

    def known(self):
        return self.base_epoch >= CLOCK_VALID_AFTER

    def stamp(self, now):
        return timefmt.format_datetime(self.epoch(now))


class Transaction:
    def __init__(self, connector, id_tag, tx_ref, meter_start, start_ms, start_epoch):
        self.connector = connector
        self.id_tag = id_tag
        self.tx_ref = tx_ref          # queue seq of its StartTransaction
        self.tx_id = None             # assigned by the CSMS
        self.meter_start = meter_start
        self.start_ms = start_ms
        self.start_epoch = start_epoch
        self.next_sample_ms = None
        self.begin_values = None      # Transaction.Begin sampled values for StopTxnSampledData
        self.stop_seq = None          # queue seq its StopTransaction gets (recorded before the push)
        self.saved_wh = meter_start   # meter reading last written to tx.json, and when
        self.saved_ms = start_ms
        self.stopping = None          # (reason, idTag, since) once a stop was asked for


class ChargePoint:
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
        self.smart = None             # ocpp16.smart.State while that feature is resident
        self.ids = rpc.MessageIds(id_prefix)
        self.outbox = []              # text frames to send, in order
        self.online = False
        self.boot_status = None       # None, "Pending", "Rejected", "Accepted"
        self.next_boot_ms = 0
        self.pending = None           # our CALL awaiting its answer
        self.link_suspect = False     # a CALL timed out: the app checks the link (ping; reconnect without pong)
        self.ram = []                 # [barrier seq, action, payload, on_answer]
        self.attempts = {}            # queue seq -> failed deliveries so far
        self.retry_at = 0             # earliest time the queue head may be sent again
        self.tx = {}                  # connector id -> Transaction
        self.finishing = set()
        self.auth = None              # granted authorization waiting for a plug: dict
        self.reported = {}            # connector id -> (status, errorCode) last queued
        self.seen = {}                # connector id -> (status, errorCode, since ms)
        self.last_call_ms = now
        self.next_aligned_epoch = None
        self.scheduled_unavailable = set()
        self.reboot = None            # "Soft" / "Hard" once a Reset was accepted and its stops are out (ocpp16.reset)
        self.reader_fault = None
        # seq of the newest queued transaction message: statuses made from now on go after it,
        # also after a reboot with a backlog on flash
        self.last_pushed = queue.next_seq - 1
        self.events = []              # recent (kind, detail...) notes for the app and tests, bounded
        self.available = True         # connector 0 availability
        self.auth_store = AuthStore(data_dir, timefmt.parse_datetime)
        self.clock_offset = None      # seconds the clock jumped when it was first set (timestamp repair)
        self.features = {}            # name -> resident feature module (ocpp16.profiles.BOOT_FEATURES)
        self.jobs = []                # (module, args) for the app to run as background tasks (I/O)
        # Last FirmwareStatusNotification / DiagnosticsStatusNotification status (TriggerMessage
        # sends these; Firmware Management sets them).
        self.firmware_status = "Idle"
        self.diagnostics_status = "Idle"
        self.invalid_event_ms = None  # when the last InvalidMessages security event was reported
        self.profile_change = None    # (previous, new) SecurityProfile: the app reconnects (ocpp16.secprofile)
        self.on_demand("boot", "start", now)  # state files, resident features

    # ------------------------------------------------------------------ on-demand code
    def on_demand(self, name, fn, *args):
        """fn(cp, *args) of the module ocpp16.<name>, imported for the call and unloaded after it
        (unless it is a resident feature). None when it cannot be imported: logged, charging goes on."""
        mod = self._load(name)
        if mod is not None:
            try:
                return getattr(mod, fn)(self, *args)
            finally:
                if name not in self.features:
                    profiles.unload(name)

    def _load(self, name):
        try:
            return profiles.load(name)
        except Exception as e:  # ImportError, MemoryError: tried again on the next use
            log.error("%s not loaded: %r", name, e)

    def feature(self, name, now):
        """The feature module `name`, loaded and kept resident until drop_feature;
        None when it cannot be loaded (charging goes on without it)."""
        mod = self.features.get(name)
        if mod is None:
            mod = self._load(name)
            if mod is not None:
                self.features[name] = mod
                attach = getattr(mod, "attach", None)
                if attach is not None:
                    attach(self, now)
        return mod

    def drop_feature(self, name):
        """A feature holds no more state: its module leaves RAM."""
        if self.features.pop(name, None) is not None:
            profiles.unload(name)

    def _hooks(self, hook):
        out = []
        for name in self.features:
            fn = getattr(self.features[name], hook, None)
            if fn is not None:
                out.append(fn)
        return out

    def security_event(self, kind, now, info=None):
        """Report a Security whitepaper event (ocpp16.secevents, loaded for the call):
        logged on flash, sent to the CSMS (the critical ones through the queue)."""
        try:
            self.on_demand("secevents", "report", kind, now, info)
        except Exception as e:  # MemoryError, flash: charging goes on
            log.error("%s failed: %r", kind, e)

    def _event(self, e):
        self.events.append(e)
        if len(self.events) > MAX_EVENTS:
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
                t.saved_wh = self.evses[c - 1].energy_wh()
                t.saved_ms = now
                d[str(c)] = {"c": c, "tag": t.id_tag, "ref": t.tx_ref, "id": t.tx_id, "ms": t.meter_start,
                             "t0": t.start_epoch, "stop": t.stop_seq, "last": t.saved_wh,
                             "lt": self.clock.epoch(now)}
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
            self.on_demand("failures", "failed", self.pending, None, now, LOST)
        self.pending = None

    # ------------------------------------------------------------------ authorization
    def card(self, id_tag, now):
        """A card was presented at the reader."""
        for c in self.tx:
            if self.tx[c].id_tag == id_tag:
                self.stop_transaction(c, "Local", now, id_tag=id_tag)
                return
        self._authorize(id_tag, None, now)

    def _authorize(self, id_tag, connector, now):
        if not self.online or self.boot_status != "Accepted":
            self.on_demand("offline", "authorize", id_tag, connector, now)
        elif self.config.get("LocalPreAuthorize") and self._local_status(id_tag, now)[1] == "Accepted":
            # Known locally as valid: start at once, no Authorize round trip.
            self._auth_result(id_tag, connector, "Accepted", now)
        else:
            def answered(payload, now, cp=self):  # its idTagInfo is remembered (_answered)
                if payload is None:  # no answer: decide as offline
                    return cp.on_demand("offline", "authorize", id_tag, connector, now)
                info = payload.get("idTagInfo", {})
                cp._auth_result(id_tag, connector, info.get("status"), now, info)
            self._ram("Authorize", {"idTag": id_tag}, answered)

    def _local_status(self, id_tag, now):
        return self.auth_store.lookup(id_tag, self.clock.epoch(now) if self.clock.known() else None,
                                      use_list=self.config.get("LocalAuthListEnabled"),
                                      use_cache=self.config.get("AuthorizationCacheEnabled"))

    def _auth_result(self, id_tag, connector, status, now, info=None):
        """info: the idTagInfo of an Authorize answer (None when decided locally)."""
        self._event(("authorize", id_tag, status))
        why = None if status == "Accepted" else status
        for hook in self._hooks("authorized") if why is None else ():
            why = hook(self, id_tag, connector, info, now)
            if why:
                self._event(("refused", why))
                break
        if why:
            log.info("idTag %s refused: %s", id_tag, why)
        else:
            self.auth = {"tag": id_tag, "connector": connector,
                         "until": now + self.config.get("ConnectionTimeOut") * 1000}

    # ------------------------------------------------------------------ transactions
    def start_transaction(self, evse, id_tag, now):
        if not self.queue.room_for_transaction():
            log.error("%s not queued: %s", "StartTransaction", "queue full")
            self._event(("refused", "queue full"))
            return None
        evse.read_meter()
        meter = evse.energy_wh()
        epoch = self.clock.epoch(now)
        payload = {"connectorId": evse.id, "idTag": id_tag, "meterStart": meter,
                   "timestamp": timefmt.format_datetime(epoch)}
        for hook in self._hooks("start_payload"):
            hook(self, evse, payload)
        # The transaction is on flash (tx.json, with the seq its Start will get) before its
        # Start is queued: a power cut in between is recovered without a dangling Start.
        t = Transaction(evse.id, id_tag, self.queue.next_seq, meter, now, epoch)
        self.tx[evse.id] = t
        self._save_tx(now)
        ref = self._push("StartTransaction", payload, None)
        if ref is None:
            del self.tx[evse.id]
            self._save_tx(now)
            return None
        if ref != t.tx_ref:
            t.tx_ref = ref
            self._save_tx(now)
        interval = self.config.get("MeterValueSampleInterval")
        t.next_sample_ms = now + interval * 1000 if interval else None
        t.begin_values = self._sampled(evse, "StopTxnSampledData", "Transaction.Begin", now)
        self.finishing.discard(evse.id)
        evse.permit(True)
        log.info("transaction on connector %d %s: %s", evse.id, "started", id_tag)
        return t

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
            self._finish_stop(connector, now)
        return True

    def _finish_stop(self, connector, now):
        t = self.tx[connector]
        reason, id_tag, _ = t.stopping
        evse = self.evses[connector - 1]
        evse.read_meter()
        payload = {"meterStop": evse.energy_wh(), "timestamp": self.clock.stamp(now),
                   "transactionId": t.tx_id, "reason": reason}
        if id_tag:
            payload["idTag"] = id_tag
        data = []
        for v in (t.begin_values, self._sampled(evse, "StopTxnSampledData", "Transaction.End", now)):
            if v:
                data.append(v)
        if data:
            payload["transactionData"] = data
        # Record the Stop's seq before queueing it: after a cut in between, recovery can
        # tell whether this Stop made it to the queue (and must not send a second one).
        t.stop_seq = self.queue.next_seq
        self._save_tx(now)
        self._push("StopTransaction", payload, t.tx_ref)
        del self.tx[connector]
        if evse.plugged:
            self.finishing.add(connector)
        self._save_tx(now)
        self._event(("stopped", connector, reason, payload["meterStop"] - t.meter_start))
        for hook in self._hooks("tx_ended"):
            hook(self, connector, now)
        log.info("transaction on connector %d %s: %s", connector, "stopped", reason)
        if connector in self.scheduled_unavailable:  # a ChangeAvailability waited for this stop
            self.on_demand("core_ops", "out_of_use", connector)

    def _sampled(self, evse, key, context, now):
        """One meterValue element with the measurands listed in configuration key `key`
        (ocpp16.config_keys.MEASURANDS)."""
        measurands = self.config.csl(key)
        r = evse.read_meter()
        if not measurands or r is None:
            return None
        values = []
        for m in measurands:
            if m == "Energy.Active.Import.Register":
                series, unit = [str(int(r["energy_wh"]))], "Wh"
            elif m == "Power.Active.Import":
                series, unit = [str(int(r["power_w"]))], "W"
            elif m == "Current.Offered":
                series, unit = [str(evse.offer_amps)], "A"
            else:  # Current.Import, Voltage: per phase
                series, unit = [], "V" if m == "Voltage" else "A"
                for v in r["voltage_v" if unit == "V" else "current_a"]:
                    series.append("%.1f" % v)
            for i in range(len(series)):
                sv = {"value": series[i], "context": context, "measurand": m, "unit": unit}
                if len(series) > 1:
                    sv["phase"] = ("L1", "L2", "L3")[i] + ("-N" if m == "Voltage" else "")
                values.append(sv)
        return {"timestamp": self.clock.stamp(now), "sampledValue": values}

    def _meter_values(self, evse, key, context, now, tx):
        mv = self._sampled(evse, key, context, now)
        if mv is None:
            return
        payload = {"connectorId": evse.id, "meterValue": [mv]}
        if tx is not None:
            payload["transactionId"] = tx.tx_id
            self._push("MeterValues", payload, tx.tx_ref)
        elif self.online:
            self._ram("MeterValues", payload, None)

    # ------------------------------------------------------------------ tick
    def tick(self, now):
        """Time passed: drive status, transactions, meter values, retries, sending."""
        if self.reader is not None:
            try:
                tag = self.reader.poll()
                self.reader_fault = None
            except Exception as e:  # HalError: reader gone
                tag = None
                self.reader_fault = getattr(e, "code", "ReaderFailure")
            if tag:
                self.card(tag, now)
        if self.auth is not None and now >= self.auth["until"]:
            log.info("authorization for %s expired", self.auth["tag"])
            self.auth = None
        for evse in self.evses:
            self._connector_tick(evse, now)
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
        self._statuses(now)
        self._pump(now)

    def _connector_tick(self, evse, now):
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
                self.auth = None
                for hook in self._hooks("may_start"):
                    why = hook(self, evse, a["tag"], now)
                    if why:
                        log.info("idTag %s refused: %s", a["tag"], why)
                        self._event(("refused", why))
                        return
                self.start_transaction(evse, a["tag"], now)
        elif t.stopping is not None:
            # Waiting for the contactor to open (bounded: a welded contact cannot).
            if not evse.contactor_closed or now - t.stopping[2] >= STOP_SETTLE_MS:
                self._finish_stop(c, now)
        elif not evse.plugged and self.config.get("StopTransactionOnEVSideDisconnect"):
            self.stop_transaction(c, "EVDisconnected", now)
        elif t.next_sample_ms is not None and now >= t.next_sample_ms:
            self._meter_values(evse, "MeterValuesSampledData", "Sample.Periodic", now, t)
            interval = self.config.get("MeterValueSampleInterval")
            t.next_sample_ms = t.next_sample_ms + interval * 1000 if interval else None
            self._save_tx(now)
        else:
            evse.read_meter()  # no I/O where a meter task reads it
            grown = evse.energy_wh() - t.saved_wh
            if grown >= PERSIST_WH or (grown > 0 and now - t.saved_ms >= PERSIST_MS):
                self._save_tx(now)  # bounds what a power cut loses of this transaction's energy

    def _statuses(self, now):
        if self.boot_status != "Accepted":
            return
        min_ms = self.config.get("MinimumStatusDuration") * 1000
        items = [(0, "Available" if self.available else "Unavailable", self.reader_fault or "NoError")]
        for evse in self.evses:
            c = evse.id
            t = self.tx.get(c)
            if t is not None and t.stopping is not None:
                s = evse.status(False, True)  # stopped, waiting only for its meterStop: Finishing
            else:
                s = evse.status(t is not None, c in self.finishing)
            a = self.auth
            if s == "Available" and a is not None and a["connector"] in (None, c):
                s = "Preparing"
            for hook in self._hooks("status"):
                s = hook(self, c, s, now)
            items.append((c, s, evse.error_code()))
        for c, s, err in items:
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
            self._ram("StatusNotification", payload, None, coalesce=c)

    # ------------------------------------------------------------------ sending
    def _push(self, action, payload, tx_ref):
        try:
            seq = self.queue.push(action, payload, tx_ref=tx_ref)
        except (QueueError, OSError) as e:  # queue full, record too large, flash error: named, reported
            log.error("%s not queued: %s", action, e)
            self._event(("queue-error", action, str(e)))
            return None
        self.last_pushed = seq
        return seq

    def _ram(self, action, payload, on_answer, coalesce=None):
        if coalesce is not None and not self.online:
            # Offline, only the latest status of a connector matters; it goes where the
            # latest one belongs, after the transaction messages queued before it.
            for m in self.ram:
                if m[1] == action and m[2].get("connectorId") == coalesce:
                    self.ram.remove(m)
                    break
        if len(self.ram) >= MAX_RAM_MESSAGES:
            log.warning("RAM buffer full: %s dropped", self.ram.pop(0)[1])
        self.ram.append([self.last_pushed, action, payload, on_answer])

    def _pump(self, now):
        if not self.online:
            return
        p = self.pending
        if p is not None:
            if now - p["sent"] < CALL_TIMEOUT_MS:
                return
            self.pending = None
            self.link_suspect = True
            self.on_demand("failures", "failed", p, None, now, TIMEOUT)
        if self.boot_status != "Accepted":
            if now >= self.next_boot_ms:
                self.next_boot_ms = now + BOOT_RETRY_DEFAULT_S * 1000  # sooner if so answered
                self.on_demand("boot", "send", now)
            return
        head = self.queue.peek()
        if self.ram and (head is None or self.ram[0][0] < head[0]):
            r = self.ram.pop(0)
            m = {"action": r[1], "payload": r[2], "cb": r[3], "seq": None}
        elif head is not None and now >= self.retry_at:
            m = {"action": head[1], "payload": head[2], "cb": None, "seq": head[0]}
        else:
            interval = self.config.get("HeartbeatInterval")
            if not interval or now - self.last_call_ms < interval * 1000:
                return
            m = {"action": "Heartbeat", "payload": {}, "cb": None, "seq": None}
        self._send_call(m, now)

    def _send_call(self, m, now):
        if self.clock_offset is not None:  # timestamps taken before the clock was set
            self.on_demand("boot", "repair", m["payload"])
        m["id"] = self.ids.next()
        m["sent"] = now
        self.pending = m
        self.last_call_ms = now
        self.outbox.append(rpc.encode_call(m["id"], m["action"], m["payload"]))

    # ------------------------------------------------------------------ receiving
    def receive(self, text, now):
        """One text frame from the CSMS."""
        try:
            frame = rpc.parse(text)
        except rpc.RpcError as e:
            self.on_demand("failures", "bad_frame", e, now)
            return
        if frame[0] == rpc.CALL:
            self._incoming_call(frame[1], frame[2], frame[3], now)
        else:
            m = self.pending
            if m is None or m["id"] != frame[1]:
                log.warning("answer to unknown message id %s ignored", frame[1])
            else:
                self.pending = None
                if frame[0] == rpc.CALLRESULT:
                    self._answered(m, frame[2], now)
                else:  # CALLERROR
                    self.on_demand("failures", "failed", m, frame, now, REFUSED)
        self._pump(now)

    def receive_too_large(self, head, size, now):
        """A frame above the WebSocket's limit, read to its end and dropped: head is its first bytes."""
        self.on_demand("failures", "bad_frame", rpc.too_large(head, size), now)

    def _incoming_call(self, msg_id, action, payload, now):
        name = profiles.handler(action)
        try:
            # unknown actions: NotImplemented; known ones no module handles: NotSupported
            rpc.validate_call(action, payload, (action,) if name else ())
            # an import that fails (ImportError, MemoryError) is an InternalError, tried again next time
            result = getattr(profiles.load(name), "on_" + action)(self, payload, now)
        except rpc.RpcError as e:
            self.outbox.append(rpc.encode_error(msg_id, e.code, e.description))
            return
        except Exception as e:  # a bug must not stop the firmware; the CSMS learns of it
            log.error("%s failed: %r", action, e)
            self.outbox.append(rpc.encode_error(msg_id, rpc.InternalError, "%s failed" % action))
            if isinstance(e, MemoryError):
                self.security_event("MemoryExhaustion", now, action)
            return
        finally:
            if name is not None and name not in self.features:
                profiles.unload(name)
        self.outbox.append(rpc.encode_result(msg_id, result))

    def _answered(self, m, p, now):
        """The CALLRESULT p to our CALL m: checked, acked when it came from the queue, then
        what its action needs, then the callback of the one who sent it."""
        action = m["action"]
        try:
            rpc.validate_result(action, p)
        except rpc.RpcError as e:
            self.on_demand("failures", "failed", m, e, now, REFUSED)
            return
        seq = m["seq"]
        if seq is not None:
            if action == "StartTransaction":
                self.queue.resolve_tx(seq, p["transactionId"])
            self.queue.ack(seq)
            self.attempts.pop(seq, None)
        if action == "Heartbeat":
            self._set_clock(p.get("currentTime"), now)
        elif action == "BootNotification":
            self.on_demand("boot", "answered", p, now)
        info = p.get("idTagInfo")  # Authorize, StartTransaction, StopTransaction
        if info and self.config.get("AuthorizationCacheEnabled"):
            self.auth_store.remember(m["payload"].get("idTag"), info)
        if action == "StartTransaction":
            for t in list(self.tx.values()):
                if t.tx_ref == seq:
                    t.tx_id = p["transactionId"]
                    log.info("transactionId %s assigned", t.tx_id)  # the portal browser test waits for it
                    self._save_tx(now)
                    self._event(("txid", t.connector, t.tx_id))
                    status = info.get("status")
                    if status != "Accepted" and self.config.get("StopTransactionOnInvalidId"):
                        log.info("idTag %s refused: %s", t.id_tag, status)
                        self.stop_transaction(t.connector, "DeAuthorized", now)
        if m["cb"] is not None:  # Authorize, a profile's own CALL (DataTransfer, SignCertificate, ...)
            m["cb"](p, now)

    def _set_clock(self, text, now):
        if not text:
            return
        try:
            epoch = timefmt.parse_datetime(text)
        except ValueError:
            log.warning("currentTime %s not understood", text)
            return
        jump = epoch - self.clock.epoch(now)
        known = self.clock.known()
        self.clock.set(epoch, now)
        self.next_aligned_epoch = None  # the clock moved: align again from the new time
        if not known or jump > CLOCK_EVENT_JUMP_S or jump < -CLOCK_EVENT_JUMP_S:
            self.on_demand("boot", "clock_set", known, jump, now)

    # ------------------------------------------------------------------ queries
    def idle(self):
        """Nothing waiting to be sent or answered."""
        return self.pending is None and not self.ram and self.queue.peek() is None
