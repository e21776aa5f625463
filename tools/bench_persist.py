# Under micropython: the flash cost of persisting a running transaction's meter reading
# (ocpp16/chargepoint.py _PERSIST_WH / _PERSIST_MS), on real LittleFS (vfs.VfsLfs2) over the
# counting RAM block device of host_tests/powercut.py sized as the device's data partition.
# One simulated hour of charging online, with and without periodic MeterValues; prints the
# bytes programmed and blocks erased per hour and the years until LittleFS's wear-levelled
# blocks reach ERASE_CYCLES, charging around the clock.
import json

import log
import powercut
from hal.sim import build
from evse.connector import Evse
from limits import limit
from ocpp16.chargepoint import ChargePoint
from ocpp16.config import Config
from ocpp16.queue import MessageQueue

PERSIST_WH = limit("ocpp16.chargepoint", "_PERSIST_WH")
PERSIST_MS = limit("ocpp16.chargepoint", "_PERSIST_MS")

BLOCKS = 128             # 512 KB partition of 4 KB blocks (boards/*: the LittleFS data partition)
POINT = "/bp"
DATA = POINT + "/data"
TICK_MS = 1000           # control period of this bench (the device's is 100 ms; the writes do not depend on it)
HOUR_MS = 3600 * 1000
ERASE_CYCLES = 100000    # NOR flash endurance per block
HOURS_PER_YEAR = 8766


def answer(action, p):
    if action == "BootNotification":
        return {"status": "Accepted", "interval": 3600, "currentTime": "2026-11-23T12:00:00Z"}
    if action == "StartTransaction":
        return {"transactionId": 77, "idTagInfo": {"status": "Accepted"}}
    if action in ("Authorize", "StopTransaction"):
        return {"idTagInfo": {"status": "Accepted"}}
    if action == "Heartbeat":
        return {"currentTime": "2026-11-23T12:00:00Z"}
    return {}


def hour(sample_s, amps):
    dev = powercut.CutBlockDevice.formatted(BLOCKS)
    powercut.mount(dev, POINT)
    import os
    os.mkdir(DATA)
    hw = build({"connectors": 1, "max_current_a": amps})
    world = hw.sim
    evses = [Evse(1, hw.connectors[0])]
    config = Config(DATA + "/config.json", {"NumberOfConnectors": 1})
    config.values["MeterValueSampleInterval"] = sample_s
    q = MessageQueue(DATA + "/queue")
    cp = ChargePoint({"charge_point_id": "B"}, config, evses, q, data_dir=DATA, reader=hw.reader, now=0)
    now = [0]

    def run(ms):
        end = now[0] + ms
        while now[0] < end:
            world.step(now[0])
            evses[0].step(now[0])
            cp.tick(now[0])
            while cp.outbox:
                m = json.loads(cp.outbox.pop(0))
                if m[0] == 2:
                    cp.receive(json.dumps([3, m[1], answer(m[2], m[3])]), now[0])
            now[0] += TICK_MS

    cp.on_connect(0)
    run(5000)
    world.tap("BENCH")
    world.connectors[0].plug()
    run(10000)  # started, charging
    saves = [0]
    save = cp._save_tx

    def counted(t):
        saves[0] += 1
        save(t)
    cp._save_tx = counted
    p0, e0 = dev.programmed, dev.erased
    evses[0].read_meter()
    wh0 = evses[0].energy_wh()
    run(HOUR_MS)
    evses[0].read_meter()
    wh = evses[0].energy_wh() - wh0
    programmed, erased = dev.programmed - p0, dev.erased - e0
    q.close()
    powercut.umount(POINT)
    years = ERASE_CYCLES * BLOCKS / erased / HOURS_PER_YEAR if erased else None
    print("MeterValueSampleInterval %2d s, %d A (%d Wh in the hour): tx.json saves %d (one per %.1f s); "
          "%d bytes programmed/h, %d blocks erased/h; %s years to %d erase cycles charging 24 h a day"
          % (sample_s, amps, wh, saves[0], 3600 / saves[0] if saves[0] else 0, programmed, erased,
             "%.1f" % years if years else "inf", ERASE_CYCLES))


log.set_level("warning")
print("meter reading persisted every %d Wh or %d s of charging, whichever first; %d KB LittleFS partition"
      % (PERSIST_WH, PERSIST_MS // 1000, BLOCKS * 4))
hour(0, 16)   # persistence alone: ~3.7 kW, 10 Wh every ~9.7 s: one save per ~10 s
hour(10, 16)  # + a MeterValues sample every 10 s (queued on flash, sent, acknowledged)
hour(0, 32)   # 7.4 kW: the energy bound saves every ~5 s
