"""The CPython side of the bench's esp32-devkitc session (tools/bench_memory.py): the host
fakes and the device models wired as boards/esp32-devkitc.json wires the chips, served over
the wire of host_tests/fakes/wire (host_tests/wire_host.py) on this process's stdin, and the
timeline: a card at CARD s, the plug at PLUG s, the unplug at UNPLUG s after the first request.
Once a second it asks the micropython process for a heap sample ("[heap] alloc=... booted=
tx=", booted after 2 s, tx from PLUG to UNPLUG), and for every interned name once, 2 s after
the unplug. Without --timeline: the wire only (the bench's probes).

  python tools/bench_esp32_host.py --timeline 3,4,9 --wifi SSID:PASSWORD   (stdin: the socket)
"""
import argparse
import os
import socket
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "host_tests"))
from wire_host import WireHost, machine, network  # noqa: E402
import mfrc522_model  # noqa: E402
import modbus_model  # noqa: E402
import pilot_model  # noqa: E402

CARD_UID = b"\x04\xa2\xb3\xc4"
CHARGE_A = 16.0     # what the EV draws while the contactor is closed
VOLTAGE_V = 230.0


def wire_board(wifi):
    """The esp32-devkitc's chips on the fake buses; returns (reader, ev, meter)."""
    if wifi:
        ssid, password = wifi.split(":", 1)
        network.access_points[ssid] = password
    # The contactor: its auxiliary contact (GPIO34, active low) follows the coil (GPIO26).
    machine.drive(34, 1)
    machine.watch(26, lambda level: machine.drive(34, 0 if level else 1))
    meter = modbus_model.Rs485Bus(2, 4).add(modbus_model.Sdm120Model(1))
    reader = mfrc522_model.Mfrc522Model(0x92, 2, 5, 22)
    ev = pilot_model.PilotFrontEnd(pilot_model.EvModel(), 25, 36).ev
    return reader, ev, meter


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--timeline", help="CARD,PLUG,UNPLUG seconds after the first request")
    ap.add_argument("--wifi", help="SSID:PASSWORD of the access point in range")
    args = ap.parse_args(argv)
    host = WireHost(socket.socket(fileno=sys.stdin.fileno()))
    reader, ev, meter = wire_board(args.wifi)
    tick = None
    if args.timeline:
        card, plug, unplug = (int(s) for s in args.timeline.split(","))
        kwh = [0.0]

        def tick(t):
            if t == card:
                reader.present(mfrc522_model.Card(CARD_UID))
            elif t == plug:
                reader.remove()
                ev.state = "C"
            elif t == unplug:
                ev.state = "A"
            # The meter: the EV draws CHARGE_A while the contactor (GPIO26) is closed.
            amps = CHARGE_A if ev.state == "C" and machine.level(26) else 0.0
            kwh[0] += VOLTAGE_V * amps / 3600000.0
            meter.set_reading(VOLTAGE_V, amps, VOLTAGE_V * amps, kwh[0])
            host.reports.append("booted=%d tx=%d" % (t > 2, plug <= t <= unplug))
            if t == unplug + 2:
                host.reports.append("")  # every interned name (which are the fakes')
    try:
        host.serve(tick)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the micropython process ended
    print("[wire] %d requests answered, %d meter answers, %d card frames, %d reader resets, resets asked: %s"
          % (host.requests, meter.answered, len(reader.frames), reader.soft_resets, machine.resets or "none"))


if __name__ == "__main__":
    main()
