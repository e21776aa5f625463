# OCPP-J 1.6 charge point core: boot, heartbeat, status, authorization,
# transactions, meter values and the CSMS-initiated Core operations.
# Sans-I/O: text frames in (receive), text frames out (outbox); time is the
# `now` argument (monotonic ms). It never sleeps, never touches a socket, and
# writes flash only through the message queue and store.save.
import log
import store
from ocpp16 import profiles
from ocpp16 import rpc
from ocpp16 import timefmt
from ocpp16.auth import AuthStore
from ocpp16.queue import QueueError

# How long we wait for the CSMS to answer one of our CALLs (OCPP-J message timeout).
CALL_TIMEOUT_MS = 30000
# Why a CALL got no usable answer (ChargePoint._answer_failed): only REFUSED counts
# towards TransactionMessageAttempts.
REFUSED = 0  # CALLERROR or an answer that fails validation
TIMEOUT = 1  # no answer within CALL_TIMEOUT_MS
LOST = 2  # the link dropped before the answer
# BootNotification retry when the CSMS gave no usable interval.
BOOT_RETRY_DEFAULT_S = 60
# Non-transaction messages held in RAM while waiting for their turn (offline
# StatusNotifications are coalesced per connector, so this bounds the rest).
MAX_RAM_MESSAGES = 16
# A stopped transaction's meterStop is read when the contactor opens, at most this
# long after the stop (the interlock forces it open after 6 s; a welded one cannot).
STOP_SETTLE_MS = 7000
# A running transaction's meter reading goes to tx.json (for a PowerLoss meterStop) when
# it has grown this much since the last save, or has grown at all and this long passed,
# whichever comes first; independent of MeterValueSampleInterval.
PERSIST_WH = 10
PERSIST_MS = 30000
# After an accepted Reset, wait at most this long for queued messages to go out.
RESET_DRAIN_MS = 30000
# Recent core events kept for the app and tests (ChargePoint.events).
MAX_EVENTS = 32
# Units of the measurands we sample.
UNITS = {"Energy.Active.Import.Register": "Wh", "Power.Active.Import": "W",
         "Current.Import": "A", "Voltage": "V", "Current.Offered": "A"}
# Epoch seconds before which the wall clock is considered not set (2020-01-01).
CLOCK_VALID_AFTER = 1577836800
# A correction of a set clock larger than this (s) is a SettingSystemTime security event
# (smaller ones are the drift every Heartbeat corrects; setting a clock that was never set
# at boot is no change of the system time).
CLOCK_EVENT_JUMP_S = 60
# At most one InvalidMessages security event per this long (ms): a flood of bad frames
# must not fill the security log and the RAM buffer.
INVALID_MESSAGES_EVENT_MS = 60000

class WallClock:
    """Epoch seconds derived from the monotonic `now`; set by the CSMS's currentTime."""

    def __init__(self, epoch=0, now=0):
        self.base_epoch = epoch
        self.base_ms = now

    def set(self, epoch, now):
        self.base_epoch = epoch
        self.base_ms = now

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

    def to_dict(self):
        return {"c": self.connector, "tag": self.id_tag, "ref": self.tx_ref, "id": self.tx_id,
                "ms": self.meter_start, "t0": self.start_epoch, "stop": self.stop_seq}


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
        self.reboot = None            # "Soft" / "Hard" once a Reset was accepted and its stops are out
        self.reset_requested = None
        self.reader_fault = None
        # seq of the newest queued transaction message: statuses made from now on go after it,
        # also after a reboot with a backlog on flash
        self.last_pushed = queue.next_seq - 1
        self.events = []              # recent (kind, detail...) notes for the app and tests, bounded
        self.available = True         # connector 0 availability
        self.auth_store = AuthStore(data_dir, timefmt.parse_datetime)
        config.values["SupportedFeatureProfiles"] = profiles.SUPPORTED_PROFILES
        self.clock_offset = None      # seconds the clock jumped when it was first set (timestamp repair)
        self.features = {}            # name -> resident feature module (ocpp16.profiles.BOOT_FEATURES)
        self.jobs = []                # (module, args) for the app to run as background tasks (I/O)
        # Last FirmwareStatusNotification / DiagnosticsStatusNotification status (TriggerMessage
        # sends these; Firmware Management sets them).
        self.firmware_status = "Idle"
        self.diagnostics_status = "Idle"
        self.invalid_event_ms = None  # when the last InvalidMessages security event was reported
        self.clock_event = None       # a clock jump waiting to be reported (SettingSystemTime)
        self.profile_change = None    # (previous, new) SecurityProfile: the app reconnects (ocpp16.secprofile)
        self._load_state(now)
        for name in profiles.BOOT_FEATURES:
            p = self._path(profiles.BOOT_FEATURES[name])
            if p and store.exists(p):
                self.feature(name, now)

    # ------------------------------------------------------------------ resident features
    def feature(self, name, now):
        """The feature module `name`, loaded and kept resident until drop_feature;
        None when it cannot be loaded (charging goes on without it)."""
        mod = self.features.get(name)
        if mod is None:
            try:
                mod = profiles.load(name)
            except Exception as e:  # ImportError, MemoryError
                log.error("feature %s not loaded: %r", name, e)
                return None
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

    # ------------------------------------------------------------------ state files
    def _path(self, name):
        return self.data_dir + "/" + name if self.data_dir else None

    def _load_state(self, now):
        p = self._path("avail.json")
        if p:
            avail = store.load(p, {})
            self.available = avail.get("0", True)
            for e in self.evses:
                e.set_available(avail.get(str(e.id), True) and self.available)
        p = self._path("tx.json")
        if p:
            saved = store.load(p, {})
            if saved:  # open at power-off: ended by the on-demand recovery module
                try:
                    profiles.load("recovery").recover(self, saved, now)
                finally:
                    profiles.unload("recovery")

    def _save_avail(self):
        p = self._path("avail.json")
        if p:
            d = {"0": self.available}
            for e in self.evses:
                d[str(e.id)] = e.available
            store.save(p, d)

    def _save_tx(self, now):
        p = self._path("tx.json")
        if p:
            d = {}
            for c in self.tx:
                t = self.tx[c]
                d[str(c)] = t.to_dict()
                t.saved_wh = self.evses[c - 1].energy_wh()
                t.saved_ms = now
                d[str(c)]["last"] = t.saved_wh
                d[str(c)]["lt"] = self.clock.epoch(now)
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
            self._answer_failed(self.pending, "connection lost", now, LOST)
        self.pending = None

    # ------------------------------------------------------------------ device events
    def card(self, id_tag, now):
        """A card was presented at the reader."""
        for c in self.tx:
            t = self.tx[c]
            if t.id_tag == id_tag:
                self.stop_transaction(c, "Local", now, id_tag=id_tag)
                return
        self._authorize(id_tag, None, now)

    def _authorize(self, id_tag, connector, now):
        if self.online and self.boot_status == "Accepted":
            if self.config.get("LocalPreAuthorize") and self._local_status(id_tag, now)[1] == "Accepted":
                # Known locally as valid: start at once, no Authorize round trip.
                self._auth_result(id_tag, connector, "Accepted", now)
                return

            def answered(payload, now, cp=self):
                if payload is None:  # no answer: decide as offline
                    return cp._offline_authorize(id_tag, connector, now)
                info = payload.get("idTagInfo", {})
                cp._remember(id_tag, info)
                cp._auth_result(id_tag, connector, info.get("status"), now, info)
            self._ram("Authorize", {"idTag": id_tag}, answered)
        else:
            self._offline_authorize(id_tag, connector, now)

    def _local_status(self, id_tag, now):
        return self.auth_store.lookup(id_tag, self.clock.epoch(now) if self.clock.known() else None,
                                      use_list=self.config.get("LocalAuthListEnabled"),
                                      use_cache=self.config.get("AuthorizationCacheEnabled"))

    def _offline_authorize(self, id_tag, connector, now):
        """OCPP 1.6 3.5: offline, a tag known in the local list or cache is judged by its
        stored status (LocalAuthorizeOffline); an unknown one by AllowOfflineTxForUnknownId."""
        source, status = None, None
        if self.config.get("LocalAuthorizeOffline"):
            source, status = self._local_status(id_tag, now)
        if source is None:
            status = "Accepted" if self.config.get("AllowOfflineTxForUnknownId") else "Invalid"
        self._auth_result(id_tag, connector, status, now)

    def _remember(self, id_tag, info):
        if self.config.get("AuthorizationCacheEnabled"):
            self.auth_store.remember(id_tag, info)

    def _auth_result(self, id_tag, connector, status, now, info=None):
        """info: the idTagInfo of an Authorize answer (None when decided locally)."""
        self._event(("authorize", id_tag, status))
        if status != "Accepted":
            log.info("idTag %s not authorized: %s", id_tag, status)
            return
        for hook in self._hooks("authorized"):
            why = hook(self, id_tag, connector, info, now)
            if why:
                log.info("idTag %s refused: %s", id_tag, why)
                self._event(("refused", why))
                return
        timeout = self.config.get("ConnectionTimeOut") * 1000
        self.auth = {"tag": id_tag, "connector": connector, "until": now + timeout}

    # ------------------------------------------------------------------ transactions
    def _free_connector(self, wanted):
        for e in self.evses:
            if wanted and e.id != wanted:
                continue
            if e.id not in self.tx and e.available and e.fault is None:
                return e
        return None

    def start_transaction(self, evse, id_tag, now):
        if not self.queue.room_for_transaction():
            log.error("message queue full: new transaction on connector %d refused", evse.id)
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
        log.info("transaction started on connector %d for %s (meterStart %d Wh)", evse.id, id_tag, meter)
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
        if t.begin_values:
            data.append(t.begin_values)
        end = self._sampled(evse, "StopTxnSampledData", "Transaction.End", now)
        if end:
            data.append(end)
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
        log.info("transaction on connector %d stopped: %s", connector, reason)
        if connector in self.scheduled_unavailable:
            self.scheduled_unavailable.discard(connector)
            evse.set_available(False)
            self._save_avail()
        return True

    def _sampled(self, evse, key, context, now):
        """One meterValue element with the measurands listed in configuration key `key`."""
        measurands = self.config.csl(key)
        r = evse.read_meter()
        if not measurands or r is None:
            return None
        values = []
        for m in measurands:
            unit = UNITS.get(m)
            if m == "Energy.Active.Import.Register":
                values.append(_sv(str(int(r["energy_wh"])), context, m, unit))
            elif m == "Power.Active.Import":
                values.append(_sv(str(int(r["power_w"])), context, m, unit))
            elif m == "Current.Offered":
                values.append(_sv(str(evse.offer_amps), context, m, unit))
            else:
                series = r["current_a"] if m == "Current.Import" else r["voltage_v"]
                for i, v in enumerate(series):
                    sv = _sv("%.1f" % v, context, m, unit)
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
            self._poll_reader(now)
        if self.auth is not None and now >= self.auth["until"]:
            log.info("authorization for %s expired: no EV plugged in", self.auth["tag"])
            self.auth = None
        for evse in self.evses:
            self._connector_tick(evse, now)
        self._aligned(now)
        for hook in self._hooks("tick"):
            hook(self, now)
        self._statuses(now)
        if self.reset_requested is not None:
            # Reboot once the StopTransactions of the Reset are delivered, or after a bounded
            # wait (they are on flash and go out after the reboot anyway).
            kind, since = self.reset_requested
            if (not self.tx and self.queue.peek() is None) or now - since >= RESET_DRAIN_MS:
                self.reboot = kind
        self._pump(now)

    def _poll_reader(self, now):
        try:
            tag = self.reader.poll()
            self.reader_fault = None
        except Exception as e:  # HalError: reader gone
            tag = None
            self.reader_fault = getattr(e, "code", "ReaderFailure")
        if tag:
            self.card(tag, now)

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
                        log.info("idTag %s may not start on connector %d: %s", a["tag"], c, why)
                        self._event(("refused", why))
                        return
                self.start_transaction(evse, a["tag"], now)
            return
        if t.stopping is not None:
            # Waiting for the contactor to open (bounded: a welded contact cannot).
            if not evse.contactor_closed or now - t.stopping[2] >= STOP_SETTLE_MS:
                self._finish_stop(c, now)
            return
        if not evse.plugged and self.config.get("StopTransactionOnEVSideDisconnect"):
            self.stop_transaction(c, "EVDisconnected", now)
            return
        if t.next_sample_ms is not None and now >= t.next_sample_ms:
            self._meter_values(evse, "MeterValuesSampledData", "Sample.Periodic", now, t)
            interval = self.config.get("MeterValueSampleInterval")
            t.next_sample_ms = t.next_sample_ms + interval * 1000 if interval else None
            self._save_tx(now)
            return
        evse.read_meter()  # no I/O where a meter task reads it
        grown = evse.energy_wh() - t.saved_wh
        if grown >= PERSIST_WH or (grown > 0 and now - t.saved_ms >= PERSIST_MS):
            self._save_tx(now)  # bounds what a power cut loses of this transaction's energy

    def _aligned(self, now):
        interval = self.config.get("ClockAlignedDataInterval")
        if not interval or not self.clock.known():
            self.next_aligned_epoch = None
            return
        epoch = self.clock.epoch(now)
        if self.next_aligned_epoch is None:
            self.next_aligned_epoch = (epoch // interval + 1) * interval
        if epoch < self.next_aligned_epoch:
            return
        self.next_aligned_epoch = (epoch // interval + 1) * interval
        for evse in self.evses:
            self._meter_values(evse, "MeterValuesAlignedData", "Sample.Clock", now, self.tx.get(evse.id))

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
                self.seen[c] = (s, err, now)
                seen = self.seen[c]
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
        except (QueueError, OSError) as e:  # QueueFull, MessageTooLarge, flash error: named, reported
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
            dropped = self.ram.pop(0)
            log.warning("RAM message buffer full: dropped %s", dropped[1])
        self.ram.append([self.last_pushed, action, payload, on_answer])

    def _next_message(self, now):
        head = self.queue.peek()
        if self.ram and (head is None or self.ram[0][0] < head[0]):
            m = self.ram.pop(0)
            return {"action": m[1], "payload": m[2], "cb": m[3], "seq": None}
        if head is None or now < self.retry_at:
            return None
        seq, action, payload, tx_ref = head
        return {"action": action, "payload": payload, "cb": None, "seq": seq, "ref": tx_ref}

    def _pump(self, now):
        if not self.online:
            return
        if self.pending is not None:
            if now - self.pending["sent"] >= CALL_TIMEOUT_MS:
                p = self.pending
                self.pending = None
                self.link_suspect = True
                self._answer_failed(p, "timeout", now, TIMEOUT)
            else:
                return
        if self.boot_status != "Accepted":
            if now >= self.next_boot_ms:
                self._send_call({"action": "BootNotification", "payload": self._boot_payload(),
                                 "cb": None, "seq": None}, now)
            return
        m = self._next_message(now)
        if m is None:
            interval = self.config.get("HeartbeatInterval")
            if interval and now - self.last_call_ms >= interval * 1000:
                m = {"action": "Heartbeat", "payload": {}, "cb": None, "seq": None}
            else:
                return
        self._send_call(m, now)

    def _send_call(self, m, now):
        if self.clock_offset is not None:
            _repair_timestamps(m["payload"], self.clock_offset)
        m["id"] = self.ids.next()
        m["sent"] = now
        self.pending = m
        self.last_call_ms = now
        self.outbox.append(rpc.encode_call(m["id"], m["action"], m["payload"]))

    def _boot_payload(self):
        d = self.device
        import version  # of the application folder that runs (appboot.py): an update changes it
        p = {"chargePointVendor": d.get("vendor") or version.NAME, "chargePointModel": d.get("model") or "ESP32",
             "firmwareVersion": version.VERSION}
        if d.get("serial"):
            p["chargePointSerialNumber"] = d["serial"]
        return p

    def _answer_failed(self, m, why, now, kind=REFUSED):
        """Our CALL m got no usable answer. kind: REFUSED (a CALLERROR or an invalid answer:
        the CSMS failed to process it), TIMEOUT (no answer in time) or LOST (the link dropped)."""
        action = m["action"]
        if m.get("seq") is not None:
            seq = m["seq"]
            if kind == LOST:
                return  # sent again on reconnect
            if kind == TIMEOUT:
                # Not a failure to process: never counted, never given up. The same message
                # goes again (a new id) once the link is checked, at once after a reconnect.
                self.retry_at = now + self.config.get("TransactionMessageRetryInterval") * 1000
                log.warning("%s not answered in %d s: sent again", action, CALL_TIMEOUT_MS // 1000)
                return
            n = self.attempts.get(seq, 0) + 1
            self.attempts[seq] = n
            if n >= self.config.get("TransactionMessageAttempts"):
                log.error("%s given up after %d attempts (%s)", action, n, why)
                self.queue.fail(seq, why)
                self.attempts.pop(seq, None)
                self._event(("gave-up", action, why))
            else:
                # The wait grows with the attempt number (OCPP 1.6 section 4.9 advice).
                self.retry_at = now + self.config.get("TransactionMessageRetryInterval") * 1000 * n
                log.warning("%s failed (%s): attempt %d, retry in %d s", action, why, n,
                            self.config.get("TransactionMessageRetryInterval") * n)
            return
        if action == "BootNotification":
            self.next_boot_ms = now + BOOT_RETRY_DEFAULT_S * 1000
        elif action == "StatusNotification" and kind != REFUSED:
            # Lost with the link or not answered: the CSMS must still learn it, unless a
            # newer status of that connector is already waiting (one CALL at a time, so
            # none can have been sent since).
            c = m["payload"]["connectorId"]
            if not [r for r in self.ram if r[1] == action and r[2]["connectorId"] == c]:
                self.ram.insert(0, [-1, action, m["payload"], None])
            log.warning("%s %s: sent again", action, why)
            return
        elif m.get("cb") is not None:
            m["cb"](None, now)
        log.warning("%s failed: %s", action, why)

    # ------------------------------------------------------------------ receiving
    def receive(self, text, now):
        """One text frame from the CSMS."""
        try:
            frame = rpc.parse(text)
        except rpc.RpcError as e:
            self._bad_frame(e, now)
            return
        kind = frame[0]
        if kind == rpc.CALL:
            self._incoming_call(frame[1], frame[2], frame[3], now)
        elif kind == rpc.CALLRESULT:
            self._incoming_result(frame[1], frame[2], now)
        else:
            self._incoming_error(frame[1], frame[2], frame[3], now)
        self._pump(now)

    def receive_too_large(self, head, size, now):
        """A frame above the WebSocket's limit, read to its end and dropped: head is its first bytes."""
        self._bad_frame(rpc.too_large(head, size), now)

    def _bad_frame(self, e, now):
        log.warning("bad frame: %s", e)
        reply = rpc.reply_for(e)
        if reply is not None:
            self.outbox.append(reply)
        elif self.pending is not None and e.msg_id == self.pending["id"]:
            m = self.pending
            self.pending = None
            self._answer_failed(m, "malformed answer: %s" % e, now)
        if self.invalid_event_ms is None or now - self.invalid_event_ms >= INVALID_MESSAGES_EVENT_MS:
            self.invalid_event_ms = now
            self.security_event("InvalidMessages", now, str(e))

    def _incoming_call(self, msg_id, action, payload, now):
        name = profiles.HANDLERS.get(action)
        try:
            rpc.validate_call(action, payload, profiles.HANDLERS)
            try:
                handler = getattr(profiles.load(name), "on_" + action)
            except Exception as e:  # ImportError, MemoryError: tried again on the next call
                log.error("%s: module %s not loaded: %r", action, name, e)
                raise rpc.RpcError(rpc.InternalError, "%s: handler not loaded" % action)
            result = handler(self, payload, now)
        except rpc.RpcError as e:
            self.outbox.append(rpc.encode_error(msg_id, e.code, e.description))
            return
        except Exception as e:  # a bug must not stop the firmware; the CSMS learns of it
            log.error("%s handler failed: %r", action, e)
            self.outbox.append(rpc.encode_error(msg_id, rpc.InternalError, "%s failed" % action))
            if isinstance(e, MemoryError):
                self.security_event("MemoryExhaustion", now, action)
            return
        finally:
            if name is not None and name not in self.features:
                profiles.unload(name)
        self.outbox.append(rpc.encode_result(msg_id, result))

    def _incoming_result(self, msg_id, payload, now):
        m = self.pending
        if m is None or m["id"] != msg_id:
            log.warning("answer to unknown message id %s ignored", msg_id)
            return
        self.pending = None
        try:
            rpc.validate_result(m["action"], payload)
        except rpc.RpcError as e:
            self._answer_failed(m, "invalid answer: " + e.description, now)
            return
        conf = getattr(self, "conf_" + m["action"], None)
        if conf is not None:
            conf(m, payload, now)
        elif m.get("cb") is not None:  # a profile's own CALL (TriggerMessage, ...): its callback
            m["cb"](payload, now)

    def _incoming_error(self, msg_id, code, description, now):
        m = self.pending
        if m is None or m["id"] != msg_id:
            log.warning("CALLERROR for unknown message id %s ignored", msg_id)
            return
        self.pending = None
        self._answer_failed(m, "CALLERROR %s %s" % (code, description), now)

    # ------------------------------------------------------------------ answers to our CALLs
    def conf_BootNotification(self, m, p, now):
        self._set_clock(p.get("currentTime"), now)
        status = p["status"]
        interval = p.get("interval", 0)
        self.boot_status = status
        self._event(("boot", status))
        if status == "Accepted":
            if interval > 0:
                self.config.set_internal("HeartbeatInterval", interval)
            self.retry_at = now
            log.info("BootNotification accepted; heartbeat every %d s", self.config.get("HeartbeatInterval"))
        else:
            # Pending / Rejected: ask again after `interval` (only answers meanwhile).
            self.next_boot_ms = now + (interval if interval > 0 else BOOT_RETRY_DEFAULT_S) * 1000
            log.warning("BootNotification %s; retry in %d s", status, (self.next_boot_ms - now) // 1000)

    def conf_Heartbeat(self, m, p, now):
        self._set_clock(p.get("currentTime"), now)

    def conf_Authorize(self, m, p, now):
        if m["cb"] is not None:
            m["cb"](p, now)

    def conf_StatusNotification(self, m, p, now):
        pass

    def conf_DataTransfer(self, m, p, now):
        if m["cb"] is not None:
            m["cb"](p, now)

    def conf_FirmwareStatusNotification(self, m, p, now):
        pass

    def conf_DiagnosticsStatusNotification(self, m, p, now):
        pass

    def conf_MeterValues(self, m, p, now):
        self._ack(m)

    def conf_StartTransaction(self, m, p, now):
        tx_id = p["transactionId"]
        self.queue.resolve_tx(m["seq"], tx_id)
        self._ack(m)
        status = p.get("idTagInfo", {}).get("status")
        self._remember(m["payload"].get("idTag"), p.get("idTagInfo"))
        for c in list(self.tx):
            t = self.tx[c]
            if t.tx_ref == m["seq"]:
                t.tx_id = tx_id
                self._save_tx(now)
                self._event(("txid", c, tx_id))
                if status != "Accepted" and self.config.get("StopTransactionOnInvalidId"):
                    log.warning("StartTransaction answered %s: stopping", status)
                    self.stop_transaction(c, "DeAuthorized", now)
        log.info("transactionId %s assigned", tx_id)

    def conf_StopTransaction(self, m, p, now):
        self._remember(m["payload"].get("idTag"), p.get("idTagInfo"))
        self._ack(m)

    # Security extension: SignCertificate's answer goes to its callback (ocpp16.signcert);
    # critical SecurityEventNotifications come from the queue and are acked.
    def conf_SignCertificate(self, m, p, now):
        if m["cb"] is not None:
            m["cb"](p, now)

    def conf_SecurityEventNotification(self, m, p, now):
        self._ack(m)

    def conf_LogStatusNotification(self, m, p, now):
        pass

    def conf_SignedFirmwareStatusNotification(self, m, p, now):
        pass

    def _ack(self, m):
        if m.get("seq") is not None:
            self.queue.ack(m["seq"])
            self.attempts.pop(m["seq"], None)

    def _set_clock(self, text, now):
        if not text:
            return
        try:
            epoch = timefmt.parse_datetime(text)
            jump = epoch - self.clock.epoch(now)
            if self.clock.known() and (jump > CLOCK_EVENT_JUMP_S or jump < -CLOCK_EVENT_JUMP_S):
                self.clock_event = (jump, now)  # reported once the clock is set (stamped with the new time)
            if not self.clock.known() and epoch >= CLOCK_VALID_AFTER:
                # Timestamps taken before this moment came from an unset clock: from now
                # on they are corrected by the jump when sent (see _repair_timestamps).
                self.clock_offset = epoch - self.clock.epoch(now)
            self.clock.set(epoch, now)
            self.next_aligned_epoch = None  # the clock jumped: align again from the new time
        except ValueError:
            log.warning("currentTime %s not understood", text)
            return
        if self.clock_event is not None:
            self.clock_event = None
            self.security_event("SettingSystemTime", now, "clock moved %d s" % jump)

    def security_event(self, kind, now, info=None):
        """Report a Security whitepaper event (ocpp16.secevents, loaded for the call):
        logged on flash, sent to the CSMS (the critical ones through the queue)."""
        try:
            profiles.load("secevents").report(self, kind, now, info)
        except Exception as e:  # MemoryError, ImportError, flash: charging goes on
            log.error("security event %s not reported: %r", kind, e)
        finally:
            profiles.unload("secevents")

    def _event(self, e):
        self.events.append(e)
        if len(self.events) > MAX_EVENTS:
            self.events.pop(0)

    # ------------------------------------------------------------------ queries
    def idle(self):
        """Nothing waiting to be sent or answered."""
        return self.pending is None and not self.ram and self.queue.peek() is None


def _repair_timestamps(payload, offset):
    """Shift timestamps taken before the clock was set (earlier than
    CLOCK_VALID_AFTER) by the jump the clock made when the CSMS set it. A message
    queued before a reboot that happened before the clock was ever set cannot be
    corrected: its timestamp stays in the year 2000, which flags it as unsynced."""
    def fix(d):
        t = d.get("timestamp")
        if t:
            try:
                e = timefmt.parse_datetime(t)
            except ValueError:
                return
            if e < CLOCK_VALID_AFTER:
                d["timestamp"] = timefmt.format_datetime(e + offset)
    fix(payload)
    for key in ("meterValue", "transactionData"):
        for mv in payload.get(key) or ():
            fix(mv)


def _sv(value, context, measurand, unit):
    sv = {"value": value, "context": context, "measurand": measurand}
    if unit:
        sv["unit"] = unit
    return sv
