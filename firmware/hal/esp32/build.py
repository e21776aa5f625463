# A real board file's device sections and its building (on demand: hal.board.validate()
# loads it for check(), hal.board.build() for build(), each unloads it after the call; a sim
# board never loads it). check(): pins, pilot, relay, reader, RS485 and meters, watchdog, ADC,
# then the portal's button pin, with messages that name the offending key (no machine import:
# the host tools check boards too). build() turns a checked board dict into hal.Hardware; it
# holds nothing after boot.
from compat import const
from hal import Connector, Hardware
from hal.board import _Checker, _check_portal

_SPI_BAUD = const(1000000)  # MFRC522 SPI clock when the board file names none
_UART_RXBUF = const(512)  # UART ring buffer: two maximum Modbus frames
# The driver (module, class) of each meter model, in hal.board.METER_MODELS' order: only the
# model in use is imported.
_METER_DRIVERS = const((("hal.esp32.meters", "Sdm120"), ("hal.esp32.meter_sdm630", "Sdm630"),
                        ("hal.esp32.meter_abb_b23", "AbbB23")))
# check(): what the chips and buses allow.
_SINGLE_PHASE_METERS = const(("sdm120",))  # models whose "phases" can only be 1
_MODBUS_BAUDS = const((1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200))
_SPI_BAUD_RANGE = const((100000, 10000000))  # MFRC522 SPI clock limits
_SETTLE_MS_RANGE = const((20, 5000))  # relay feedback settle time limits
_WATCHDOG_MS_RANGE = const((1000, 120000))  # hardware watchdog timeout limits
_ESP8266_ADC_FULL_SCALE_MV = const(1000)  # ESP8266 A0 spans 0..1.0 V
# GPIO facts per chip.
_ESP32_GPIOS = const((0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
                      21, 22, 23, 25, 26, 27, 32, 33, 34, 35, 36, 37, 38, 39))
_ESP32_INPUT_ONLY = const((34, 35, 36, 37, 38, 39))
_ESP32_ADC1 = const((32, 33, 34, 35, 36, 37, 38, 39))
_ESP8266_GPIOS = const((0, 1, 2, 3, 4, 5, 12, 13, 14, 15, 16))
_ESP8266_HSPI = const((("sck", 14), ("mosi", 13), ("miso", 12)))  # fixed hardware SPI pins
_FLASH_PINS = const((6, 7, 8, 9, 10, 11))  # wired to the SPI flash on both chips
_REPL_PINS = const((1, 3))  # UART0 TX/RX: REPL, boot log and flashing on both chips

_TOP_KEYS = const(("name", "kind", "connectors", "max_current_a", "phases", "voltage_v", "pilot", "relay",
                   "reader", "rs485", "meter", "watchdog", "adc_full_scale_mv", "portal", "notes"))


class _DeviceChecker(_Checker):
    """hal.board's checker plus GPIO bookkeeping (`pins`: GPIO -> key that uses it) and the
    per-connector sections. `path`: the section a key is in (hal.board's _Checker)."""

    def pin(self, d, key, path, output=False, required=True):
        """GPIO `key` of section `path` ("" at the top level), checked against the chip."""
        v = self.get(d, key, path, (int,), required)
        if v is None:
            return None
        path = path + "." + key if path else key
        if v in _FLASH_PINS:
            self.fail("%s %d is wired to the SPI flash (GPIO6-11)" % (path, v))
        if v in _REPL_PINS:
            self.fail("%s %d is UART0 (the REPL and flashing port, GPIO1/3)" % (path, v))
        esp32 = self.kind == "esp32"  # else the esp8266 (hal.board checked the kind)
        gpios = _ESP32_GPIOS if esp32 else _ESP8266_GPIOS
        if v not in gpios:
            self.fail("%s %d is not a GPIO of the %s" % (path, v, self.kind.upper()))
        if output and esp32 and v in _ESP32_INPUT_ONLY:
            self.fail("%s %d is input-only (GPIO34-39) and cannot drive an output" % (path, v))
        if output and not esp32 and v == 16 and key == "pwm_pin":
            self.fail("%s 16 cannot run PWM on the ESP8266" % path)
        if v in self.pins:
            self.fail("pin %d used by both %s and %s" % (v, self.pins[v], path))
        self.pins[v] = path
        return v

    def items(self, key, n, required):
        """A per-connector section: one dict (n == 1) or a list of n dicts."""
        v = self.board.get(key)
        if v is None:
            if required:
                self.fail("missing key %s" % key)
            return []
        if isinstance(v, dict):
            if n != 1:
                self.fail("%s must be a list of %d entries, one per connector" % (key, n))
            return [(v, key)]
        if not isinstance(v, list) or len(v) != n:
            self.fail("%s must be an object (1 connector) or a list of %d objects" % (key, n))
        out = []
        for i, item in enumerate(v):
            path = "%s[%d]" % (key, i)
            if not isinstance(item, dict):
                self.fail("%s must be an object, got %r" % (path, item))
            out.append((item, path))
        return out


def check(board):
    """The device sections of `board` (hal.board.validate checked the common keys): the board, or BoardError."""
    from hal.board import METER_MODELS
    c = _DeviceChecker(board)
    esp8266 = c.kind != "esp32"  # the other kind a device section is checked for
    c.pins = {}
    for k in board:
        if k not in _TOP_KEYS:
            c.fail("unknown key %r (known: %s)" % (k, ", ".join(_TOP_KEYS)))
    n = board["connectors"]
    for p, path in c.items("pilot", n, True):
        if esp8266:
            adc = c.get(p, "adc_pin", path, (int,))
            if adc != 0:
                c.fail("%s.adc_pin %d: the ESP8266 has one ADC, A0 (adc_pin 0)" % (path, adc))
        else:
            adc = c.pin(p, "adc_pin", path)
            if adc not in _ESP32_ADC1:
                c.fail("%s.adc_pin %d is not an ADC1 pin (GPIO32-39)" % (path, adc))
        c.pin(p, "pwm_pin", path, output=True)
        t = c.get(p, "thresholds_mv", path, (dict,))
        prev = None
        for k in ("A", "B", "C", "D", "E", "diode"):
            v = c.number(t, k, path + ".thresholds_mv", (0, 3300))
            if prev is not None and v >= prev[1]:
                c.fail("%s.thresholds_mv.%s %d must be below %s %d (states from +12 V down)"
                       % (path, k, v, prev[0], prev[1]))
            prev = (k, v)
    for r, path in c.items("relay", n, True):
        c.pin(r, "pin", path, output=True)
        c.pin(r, "feedback_pin", path, required=False)
        fa = c.get(r, "feedback_active", path, (int,), required=False, default=1)
        if fa not in (0, 1):
            c.fail("%s.feedback_active must be 0 or 1, got %r" % (path, fa))
        c.number(r, "settle_ms", path, _SETTLE_MS_RANGE, required=False)
    if board.get("reader") is not None:
        r = c.get(board, "reader", "", (dict,))
        t = c.get(r, "type", "reader", (str,))
        if t != "mfrc522":
            c.fail("reader.type %r is not supported (mfrc522)" % t)
        c.number(r, "baudrate", "reader", _SPI_BAUD_RANGE, required=False)
        if esp8266:
            for k, fixed in _ESP8266_HSPI:
                v = r.get(k, fixed)
                if v != fixed:
                    c.fail("reader.%s %r: ESP8266 hardware SPI uses GPIO%d" % (k, v, fixed))
                c.pin({k: fixed}, k, "reader")
        else:
            bus = c.get(r, "spi", "reader", (int,))
            if bus not in (1, 2):
                c.fail("reader.spi %r must be 1 (HSPI) or 2 (VSPI)" % (bus,))
            c.pin(r, "sck", "reader", output=True)
            c.pin(r, "mosi", "reader", output=True)
            c.pin(r, "miso", "reader")
        c.pin(r, "cs", "reader", output=True)
        c.pin(r, "rst", "reader", output=True, required=False)
    meters = c.items("meter", n, False)
    if meters:
        r = c.get(board, "rs485", "", (dict,))
        if esp8266:
            c.fail("rs485: the ESP8266 has no free UART (UART0 is the REPL, UART1 transmits only)")
        u = c.get(r, "uart", "rs485", (int,))
        if u not in (1, 2):
            c.fail("rs485.uart %r must be 1 or 2 (UART0 is the REPL)" % (u,))
        c.pin(r, "tx", "rs485", output=True)
        c.pin(r, "rx", "rs485")
        c.pin(r, "de_pin", "rs485", output=True, required=False)
        baud = c.get(r, "baud", "rs485", (int,))
        if baud not in _MODBUS_BAUDS:
            c.fail("rs485.baud %r is not one of %s" % (baud, ", ".join(str(x) for x in _MODBUS_BAUDS)))
        parity = r.get("parity")
        if parity not in (None, 0, 1) or isinstance(parity, bool):
            c.fail("rs485.parity must be null (none), 0 (even) or 1 (odd), got %r" % (parity,))
        stop = r.get("stop", 1)
        if stop not in (1, 2) or isinstance(stop, bool):
            c.fail("rs485.stop must be 1 or 2, got %r" % (stop,))
        seen = {}
        for m, path in meters:
            model = c.get(m, "model", path, (str,))
            if model not in METER_MODELS:
                c.fail("%s.model %r is not one of %s" % (path, model, ", ".join(METER_MODELS)))
            addr = c.number(m, "address", path, (1, 247), required=False, default=1)
            if addr in seen:
                c.fail("%s.address %d is used by %s too (one RS485 bus)" % (path, addr, seen[addr]))
            seen[addr] = path
            ph = c.get(m, "phases", path, (int,), required=False)
            if ph is not None and (ph not in (1, 3) or model in _SINGLE_PHASE_METERS and ph != 1):
                c.fail("%s.phases %r does not fit a %s" % (path, ph, model))
    elif board.get("rs485") is not None:
        c.fail("rs485 is set but no meter uses it")
    wd = board.get("watchdog")
    if wd is not None:
        wd = c.get(board, "watchdog", "", (dict,))
        c.number(wd, "timeout_ms", "watchdog", _WATCHDOG_MS_RANGE, required=False)
        loops = c.get(wd, "loops", "watchdog", (list,), required=False)
        if loops is not None and (not loops or not all(isinstance(x, str) for x in loops)):
            c.fail("watchdog.loops must be a non-empty list of loop names")
    _check_portal(c, board)  # after the device pins: a clash names the device first
    if "adc_full_scale_mv" in board:
        if not esp8266:
            c.fail("adc_full_scale_mv applies to the esp8266 only (ESP32 reads calibrated microvolts)")
        c.number(board, "adc_full_scale_mv", "", (100, 3300))
    elif esp8266:
        board["adc_full_scale_mv"] = _ESP8266_ADC_FULL_SCALE_MV
    return board


def meter_class(model):
    """The driver class of a board file's meter model."""
    from hal.board import METER_MODELS
    mod, cls = _METER_DRIVERS[METER_MODELS.index(model)]
    return getattr(__import__(mod, None, None, (cls,)), cls)


def build(board):
    from hal.esp32.pilot import Pilot
    from hal.esp32.relay import Relay, SETTLE_MS
    from hal.esp32 import reset
    import machine
    esp8266 = board["kind"] != "esp32"
    # The per-connector sections: one dict or a list (check() made their lengths right).
    pilots, relays, meters = [[v] if isinstance(v, dict) else v for v in
                              (board.get("pilot"), board.get("relay"), board.get("meter"))]
    full_scale = board.get("adc_full_scale_mv") if esp8266 else None
    bus = None
    if meters:  # one RS485 bus for every meter
        from hal.esp32.modbus import ModbusRtu
        b = board["rs485"]
        baud = b["baud"]
        uart = machine.UART(b["uart"], baudrate=baud, bits=8, parity=b.get("parity"), stop=b.get("stop", 1),
                            tx=b["tx"], rx=b["rx"], timeout=0, timeout_char=0, rxbuf=_UART_RXBUF)
        bus = ModbusRtu(uart, b.get("de_pin"), baud)
    connectors = []
    for i in range(board["connectors"]):
        p = pilots[i]
        r = relays[i]
        pilot = Pilot(p["pwm_pin"], p["adc_pin"], p["thresholds_mv"], adc_full_scale_mv=full_scale)
        relay = Relay(r["pin"], r.get("feedback_pin"), r.get("feedback_active", 1),
                      r.get("settle_ms", SETTLE_MS))
        meter = None
        if meters:
            m = meters[i]
            meter = meter_class(m["model"])(bus, m.get("address", 1), m.get("phases"))
        connectors.append(Connector(pilot, relay, meter, board["max_current_a"]))
    reader = None
    r = board.get("reader")
    if r:
        from hal.esp32.mfrc522 import Mfrc522
        if esp8266:  # HSPI on its fixed pins (GPIO14/13/12)
            spi = machine.SPI(1, baudrate=r.get("baudrate", _SPI_BAUD), polarity=0, phase=0)
        else:
            spi = machine.SPI(r["spi"], baudrate=r.get("baudrate", _SPI_BAUD), polarity=0, phase=0,
                              sck=machine.Pin(r["sck"]), mosi=machine.Pin(r["mosi"]), miso=machine.Pin(r["miso"]))
        reader = Mfrc522(spi, r["cs"], r.get("rst"))
    watchdog = None
    wd = board.get("watchdog")
    if wd:
        from hal.esp32.watchdog import Watchdog, TIMEOUT_MS, LOOPS
        watchdog = Watchdog(wd.get("timeout_ms", TIMEOUT_MS), wd.get("loops", LOOPS))
    hw = Hardware(connectors, reader, watchdog, board)
    hw.reset = reset
    hw.chip_id = machine.unique_id()
    return hw
